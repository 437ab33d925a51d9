// Package e2e holds the end-to-end tests: the real otelcol-evidence binary
// with real peers (telemetrygen, versitygw, Alertmanager) on loopback.
package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
