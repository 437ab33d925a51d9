package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// TestEvidenceBundleInS3 runs the collector against versitygw, sends
// telemetrygen traces, logs and metrics, opens an incident through the
// generic webhook with a short window, and checks the bundle the evidence
// exporter leaves in the bucket: a complete manifest, every SHA-256 right,
// and items of every signal.
func TestEvidenceBundleInS3(t *testing.T) {
	const (
		incidentID = "INC-E2E-EVIDENCE-1"
		prefix     = "e2e"
	)
	srv := s3server.Start(t)
	storeCfg, st := harness.S3Store(t, srv, prefix)

	p := harness.NewPorts(t)
	cfg := harness.Config(t, p, harness.Options{
		CollectorID: "e2e-evidence",
		Store:       storeCfg,
		Override: map[string]any{"exporters": map[string]any{"evidence": map[string]any{
			"window": map[string]any{
				"before":                "1m",
				"after":                 "5s",
				"extend_until_resolved": false,
			},
			"flush_interval": "1s",
			"retry_on_failure": map[string]any{
				"initial_interval": "100ms",
				"max_interval":     "1s",
			},
		}}},
	})
	c := harness.StartCollector(t, "", cfg, p.Health)

	harness.Telemetrygen(t, "traces", p.OTLPGRPC, "--traces", "20")
	harness.Telemetrygen(t, "logs", p.OTLPGRPC, "--logs", "20")
	harness.Telemetrygen(t, "metrics", p.OTLPGRPC, "--metrics", "20")

	startedAt := time.Now().UTC()
	body := fmt.Sprintf(`{"id":%q,"title":"e2e evidence","severity":"critical","started_at":%q}`,
		incidentID, startedAt.Format(time.RFC3339Nano))
	code, resp := harness.PostJSON(t, p.WebhookURL("/v1/incidents"), harness.Token, body)
	require.Less(t, code, 300, "webhook answered %d: %s", code, resp)

	// The window ends 5 s after the start; one flush interval of grace, then
	// the last part and the complete manifest.
	rep := harness.WaitBundleComplete(t, st, incidentID, 40*time.Second)

	require.True(t, rep.OK(), "problems: %v", rep.AllProblems())
	require.Len(t, rep.Collectors, 1)
	col := rep.Collectors[0]
	assert.Equal(t, "e2e-evidence", col.CollectorID)
	assert.True(t, col.HasManifest)
	assert.Positive(t, col.Parts)
	assert.Positive(t, col.Totals.Spans, "spans")
	assert.Positive(t, col.Totals.LogRecords, "log records")
	assert.Positive(t, col.Totals.DataPoints, "data points")
	assert.Positive(t, col.Totals.Events, "events")
	require.NotNil(t, rep.Incident)
	assert.Equal(t, incidentID, rep.Incident.ID)
	t.Logf("bundle: %d parts, totals %+v", col.Parts, col.Totals)

	took, err := c.Stop(10 * time.Second)
	require.NoError(t, err, "collector must exit cleanly")
	t.Logf("collector exited %s after SIGTERM", took)
}
