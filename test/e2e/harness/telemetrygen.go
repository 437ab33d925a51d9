package harness

import (
	"testing"
	"time"
)

// Telemetrygen runs the pinned telemetrygen (a real OTLP client) with the
// given signal ("traces", "logs" or "metrics") against a plaintext OTLP/gRPC
// endpoint and waits for it to finish. Extra args follow telemetrygen's
// flags, for example "--traces", "100" or "--otlp-attributes",
// `service.name="checkout"`. Throttling is off (--rate 0) unless args set
// --rate again.
func Telemetrygen(t testing.TB, signal, endpoint string, args ...string) string {
	t.Helper()
	full := append([]string{signal, "--otlp-endpoint", endpoint, "--otlp-insecure", "--rate", "0"}, args...)
	return Run(t, 2*time.Minute, RepoRoot(t), Tool(t, "telemetrygen"), full...)
}
