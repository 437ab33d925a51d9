package e2e

import (
	"encoding/json"
	"net/http"
	"os"
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

// startAlertmanager runs Alertmanager with a single webhook receiver
// pointing at webhookURL behind the bearer token, grouping by alertname.
func startAlertmanager(t *testing.T, webhookURL, token string) string {
	t.Helper()
	return harness.StartAlertmanager(t, webhookURL, token, []string{"alertname"}, time.Second)
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
