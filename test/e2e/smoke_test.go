package e2e

import (
	"os/exec"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// TestComponentsListed checks that the distribution carries our four
// components beside the core and contrib ones.
func TestComponentsListed(t *testing.T) {
	out, err := exec.Command(harness.Binary(t), "components").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, name := range []string{
		"name: incidents", "name: incident_webhook", "name: incident_context", "name: evidence",
		"name: otlp", "name: otlp_grpc", "name: otlp_http", "name: debug", "name: nop", "name: batch", "name: memory_limiter",
		"name: zpages", "name: file_storage", "name: health_check", "name: pprof", "name: bearertokenauth",
		"name: redaction", "name: transform", "name: filter", "name: attributes", "name: resource",
	} {
		assert.Contains(t, string(out), name)
	}
}

// TestSmoke starts the collector with all four components in traces, logs
// and metrics pipelines, feeds it telemetrygen's traces, logs and metrics,
// and checks that it is healthy, passes the data on, and exits cleanly
// within 5 s of SIGTERM.
func TestSmoke(t *testing.T) {
	p := harness.NewPorts(t)
	sink := otlpsink.Start(t)
	c := harness.StartCollector(t, "", harness.Config(t, p, harness.Options{SinkEndpoint: sink.Endpoint}), p.Health)

	harness.Telemetrygen(t, "traces", p.OTLPGRPC, "--traces", "20")
	harness.Telemetrygen(t, "logs", p.OTLPGRPC, "--logs", "20")
	harness.Telemetrygen(t, "metrics", p.OTLPGRPC, "--metrics", "20")

	// telemetrygen's traces have a parent and a child span each.
	require.Eventually(t, func() bool {
		return sink.SpanCount() >= 40 && sink.LogRecordCount() >= 20 && sink.DataPointCount() >= 20
	}, 30*time.Second, 50*time.Millisecond, "spans %d, logs %d, points %d",
		sink.SpanCount(), sink.LogRecordCount(), sink.DataPointCount())
	assert.Equal(t, 40, sink.SpanCount())
	assert.Equal(t, 20, sink.LogRecordCount())
	assert.Equal(t, 20, sink.DataPointCount())

	took, err := c.Stop(5 * time.Second)
	require.NoError(t, err, "collector must exit 0 within 5 s of SIGTERM")
	t.Logf("collector exited %s after SIGTERM", took)
}
