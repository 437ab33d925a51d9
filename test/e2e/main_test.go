// Package e2e holds the end-to-end tests: the real otelcol-evidence binary
// with real peers (telemetrygen, versitygw, Alertmanager) on loopback.
package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := 0
	func() {
		// The evidencectl binary is built once per process; remove it
		// whatever the tests did.
		defer func() {
			if ctlBin != "" {
				_ = os.RemoveAll(filepath.Dir(ctlBin))
			}
		}()
		code = m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			_, _ = os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
