package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// alertmanagerBinary returns the real Alertmanager from the Debian package
// prometheus-alertmanager (or an alertmanager on PATH). A missing binary
// fails the test: it is a required peer, not an optional one.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("Alertmanager not found (/usr/bin/prometheus-alertmanager): run `make tools` or `bash .ci/run`, " +
		"which install the Debian package prometheus-alertmanager (apt-get install -y prometheus-alertmanager)")
	return ""
}

// startAlertmanager runs Alertmanager on a free loopback port with a single
// webhook receiver pointing at webhookURL behind the bearer token, and fast
// grouping. Gossip is disabled. It is stopped by t.Cleanup, also on failure.
func startAlertmanager(t *testing.T, webhookURL, token string) string {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: otel-evidence
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: otel-evidence
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %q
`, webhookURL, token)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	addr := harness.FreeAddr(t)
	harness.StartProcess(t, dir, nil, bin,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	harness.WaitHTTP(t, "http://"+addr+"/-/ready", 30*time.Second)
	return "http://" + addr
}

// postAlert sends one alert to Alertmanager's API v2.
func postAlert(t *testing.T, amURL string, startsAt, endsAt time.Time) {
	t.Helper()
	alert := map[string]any{
		"labels": map[string]string{
			"alertname": "CheckoutErrorRate",
			"severity":  "critical",
			"service":   "checkout",
		},
		"annotations":  map[string]string{"summary": "Checkout is failing more than 5% of requests"},
		"startsAt":     startsAt.UTC().Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=up",
	}
	if !endsAt.IsZero() {
		alert["endsAt"] = endsAt.UTC().Format(time.RFC3339Nano)
	}
	body, err := json.Marshal([]any{alert})
	require.NoError(t, err)
	status, resp := harness.PostJSON(t, amURL+"/api/v2/alerts", "", string(body))
	require.Equal(t, http.StatusOK, status, resp)
}

// webhookRecord is one log record the incident_webhook receiver emitted.
type webhookRecord struct {
	event, id, source string
	changed           bool
}

// webhookRecords returns the receiver's log records from what the
// collector exported to the sink.
func webhookRecords(sink *otlpsink.Sink) []webhookRecord {
	var out []webhookRecord
	for _, ld := range sink.Logs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			if v, ok := rl.Resource().Attributes().Get("service.name"); !ok || v.Str() != "otel-evidence" {
				continue
			}
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, toWebhookRecord(lrs.At(k)))
				}
			}
		}
	}
	return out
}

func toWebhookRecord(lr plog.LogRecord) webhookRecord {
	str := func(k string) string {
		v, _ := lr.Attributes().Get(k)
		return v.AsString()
	}
	changed, _ := lr.Attributes().Get("incident.changed")
	return webhookRecord{event: lr.EventName(), id: str("incident.id"), source: str("incident.source"), changed: changed.Bool()}
}

// findRecord returns the first record of the event kind that changed the
// registry, if any.
func findRecord(sink *otlpsink.Sink, event string) (webhookRecord, bool) {
	for _, r := range webhookRecords(sink) {
		if r.event == event && r.changed {
			return r, true
		}
	}
	return webhookRecord{}, false
}

// incidentStatus reads incidents/<id>/incident.json from the collector's
// filesystem store; "" when it does not exist yet.
func incidentStatus(t *testing.T, c *harness.Collector, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, "var", "evidence", "incidents", id, "incident.json"))
	if err != nil {
		return ""
	}
	var inc struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(b, &inc) != nil {
		return ""
	}
	return inc.Status
}

// TestAlertmanagerOpensAndResolves drives the receiver with a real
// Alertmanager: an alert posted to Alertmanager's API reaches the
// incident_webhook receiver through a webhook_config with a bearer token,
// opens an incident in the collector, and its resolution resolves it.
func TestAlertmanagerOpensAndResolves(t *testing.T) {
	p := harness.NewPorts(t)
	sink := otlpsink.Start(t)
	c := harness.StartCollector(t, "", harness.Config(t, p, harness.Options{SinkEndpoint: sink.Endpoint}), p.Health)

	// Without the token, the receiver refuses (and the harness token works).
	status, body := harness.PostJSON(t, p.WebhookURL("/v1/alertmanager"), "", `{}`)
	require.Equal(t, http.StatusUnauthorized, status, body)

	am := startAlertmanager(t, p.WebhookURL("/v1/alertmanager"), harness.Token)
	startsAt := time.Now().Add(-time.Minute)
	postAlert(t, am, startsAt, time.Time{})

	var opened webhookRecord
	require.Eventually(t, func() bool {
		var ok bool
		opened, ok = findRecord(sink, "incident.opened")
		return ok
	}, 30*time.Second, 100*time.Millisecond, "no incident.opened record; records so far: %+v", webhookRecords(sink))
	assert.Equal(t, "alertmanager", opened.source)
	require.True(t, strings.HasPrefix(opened.id, "am-"), opened.id)
	require.Eventually(t, func() bool { return incidentStatus(t, c, opened.id) == "open" },
		10*time.Second, 100*time.Millisecond, "incident %s not open in the store", opened.id)

	// An alert whose endsAt is past is resolved; Alertmanager notifies it.
	postAlert(t, am, startsAt, time.Now().Add(-time.Second))
	var resolved webhookRecord
	require.Eventually(t, func() bool {
		var ok bool
		resolved, ok = findRecord(sink, "incident.resolved")
		return ok
	}, 30*time.Second, 100*time.Millisecond, "no incident.resolved record; records so far: %+v", webhookRecords(sink))
	assert.Equal(t, opened.id, resolved.id)
	require.Eventually(t, func() bool { return incidentStatus(t, c, opened.id) == "resolved" },
		10*time.Second, 100*time.Millisecond, "incident %s not resolved in the store", opened.id)
}
