package timeline

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{bundle1MDir, bundle1MProtoDir} {
		if dir != "" {
			_ = os.RemoveAll(dir) // the benchmarks' bundles
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			_, _ = os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
