package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// replicaSyncInterval is the incidents extension's sync_interval in this test.
const replicaSyncInterval = time.Second

// TestReplicasShareIncidents runs two collector replicas on one versitygw
// bucket. An incident posted to replica A's generic webhook is known to
// replica B within two sync intervals (B logs "Incident opened" for it),
// B still has it open after a restart, and a resolution posted to A
// reaches the restarted B.
func TestReplicasShareIncidents(t *testing.T) {
	srv := s3server.Start(t)
	s3 := map[string]any{
		"backend": "s3",
		"s3": map[string]any{
			"endpoint":          srv.URL(),
			"bucket":            srv.Bucket,
			"prefix":            "e2e",
			"access_key_id":     srv.AccessKey,
			"secret_access_key": srv.SecretKey,
			"force_path_style":  true,
			"insecure":          true,
		},
	}
	start := func(id string) (*harness.Collector, harness.Ports) {
		p := harness.NewPorts(t)
		cfg := harness.Config(t, p, harness.Options{
			CollectorID: id,
			Store:       s3,
			Override: map[string]any{"extensions": map[string]any{
				"incidents": map[string]any{"sync_interval": replicaSyncInterval.String()},
			}},
		})
		return harness.StartCollector(t, "", cfg, p.Health), p
	}
	a, pa := start("replica-a")
	b, _ := start("replica-b")

	posted := time.Now()
	code, body := harness.PostJSON(t, pa.WebhookURL("/v1/incidents"), harness.Token,
		`{"id":"INC-E2E-1","title":"checkout error budget burning","severity":"critical","scope":{"service.name":"checkout"}}`)
	require.Less(t, code, 300, "webhook answered %d: %s", code, body)

	// Two sync intervals, plus slack for process scheduling on a loaded machine.
	seen := waitForLogLine(t, b.Process, 2*replicaSyncInterval+3*time.Second, "Incident opened", `"incident.id": "INC-E2E-1"`)
	t.Logf("replica B learned of the incident %s after replica A accepted it", seen.Sub(posted).Round(time.Millisecond))
	require.Contains(t, logLine(a.Output(), "Incident opened", `"incident.id": "INC-E2E-1"`), `"origin": "local"`)
	require.Contains(t, logLine(b.Output(), "Incident opened", `"incident.id": "INC-E2E-1"`), `"origin": "replica"`)

	// B restarts: it rebuilds the registry from the bucket, with the
	// incident open, and keeps following A.
	b.Restart()
	waitForLogLine(t, b.Process, 10*time.Second, "Incidents registry started")
	require.Contains(t, logLine(b.Output(), "Incidents registry started"), `"open_incidents": 1`)

	code, body = harness.PostJSON(t, pa.WebhookURL("/v1/incidents/resolve"), harness.Token, `{"id":"INC-E2E-1"}`)
	require.Less(t, code, 300, "webhook answered %d: %s", code, body)
	waitForLogLine(t, b.Process, 2*replicaSyncInterval+3*time.Second, "Incident resolved", `"incident.id": "INC-E2E-1"`)

	// Unauthenticated calls are refused and change nothing.
	code, _ = harness.PostJSON(t, pa.WebhookURL("/v1/incidents"), "", `{"id":"INC-E2E-2"}`)
	require.Equal(t, http.StatusUnauthorized, code)

	for _, c := range []*harness.Collector{a, b} {
		_, err := c.Stop(10 * time.Second)
		require.NoError(t, err)
	}
}

// logLine returns the first line of out that contains every part, or "".
func logLine(out string, parts ...string) string {
	for line := range strings.SplitSeq(out, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return line
		}
	}
	return ""
}

// waitForLogLine waits until the process logs a line containing every part
// and returns when it first saw it; on timeout it fails with the output.
func waitForLogLine(t *testing.T, p *harness.Process, timeout time.Duration, parts ...string) time.Time {
	t.Helper()
	var seen time.Time
	if !assert.Eventually(t, func() bool {
		if logLine(p.Output(), parts...) == "" {
			return false
		}
		seen = time.Now()
		return true
	}, timeout, 20*time.Millisecond) {
		t.Fatalf("no log line with %q within %s; output:\n%s", parts, timeout, p.Output())
	}
	return seen
}
