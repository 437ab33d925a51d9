package incidentwebhookreceiver

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// attrs flattens a map of string and bool attributes for comparison.
func attrs(m pcommon.Map) map[string]any {
	out := map[string]any{}
	for k, v := range m.All() {
		out[k] = v.AsRaw()
	}
	return out
}

func TestLogRecordOpened(t *testing.T) {
	env := newTestEnv(t, nil)
	body := fixture(t, "incident_open.json")
	decodeOK(t, env.post("/v1/incidents", body))

	require.Len(t, env.sink.AllLogs(), 1)
	ld := env.sink.AllLogs()[0]
	require.Equal(t, 1, ld.ResourceLogs().Len())
	rl := ld.ResourceLogs().At(0)
	assert.Equal(t, map[string]any{"service.name": "otel-evidence", "service.instance.id": "collector-a"}, attrs(rl.Resource().Attributes()))
	require.Equal(t, 1, rl.ScopeLogs().Len())
	assert.Equal(t, metadata.ScopeName, rl.ScopeLogs().At(0).Scope().Name())

	recs := records(env.sink)
	require.Len(t, recs, 1)
	lr := recs[0]
	assert.Equal(t, "incident.opened", lr.EventName())
	assert.Equal(t, pcommon.NewTimestampFromTime(fixedNow), lr.Timestamp(), "the event time")
	assert.Equal(t, pcommon.NewTimestampFromTime(fixedNow), lr.ObservedTimestamp())
	assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber())
	assert.Equal(t, "critical", lr.SeverityText())
	assert.JSONEq(t, string(body), lr.Body().Str(), "the body is the payload")
	assert.Equal(t, map[string]any{
		"event.name":          "incident.opened",
		"incident.id":         "INC-42",
		"incident.source":     "generic",
		"incident.changed":    true,
		"incident.title":      "Checkout outage",
		"incident.severity":   "critical",
		"incident.status":     "open",
		"incident.scope":      "deployment.environment.name=production,service.name=checkout",
		"incident.started_at": "2026-03-10T11:45:00Z",
	}, attrs(lr.Attributes()))
}

func TestLogRecordResolvedAndDeploy(t *testing.T) {
	env := newTestEnv(t, nil)
	decodeOK(t, env.post("/v1/incidents/resolve", fixture(t, "incident_resolve.json")))
	decodeOK(t, env.post("/v1/deploys", fixture(t, "deploy.json")))

	recs := records(env.sink)
	require.Len(t, recs, 2)
	assert.Equal(t, "incident.resolved", recs[0].EventName())
	assert.Equal(t, plog.SeverityNumberInfo, recs[0].SeverityNumber())
	assert.Equal(t, map[string]any{
		"event.name":           "incident.resolved",
		"incident.id":          "INC-42",
		"incident.source":      "generic",
		"incident.changed":     false,
		"incident.resolved_at": "2026-03-10T12:40:00Z",
	}, attrs(recs[0].Attributes()))

	assert.Equal(t, "deploy", recs[1].EventName())
	assert.Equal(t, map[string]any{
		"event.name":                  "deploy",
		"incident.source":             "deploy",
		"deployment.id":               "deploy-1234",
		"deployment.name":             "checkout 1.4.2 to production",
		"deployment.environment.name": "production",
		"deployment.status":           "succeeded",
		"deployment.service.name":     "checkout",
		"deployment.service.version":  "1.4.2",
		"vcs.ref.head.revision":       "9fceb02d0ae598e95dc970b74767f19372d61af8",
	}, attrs(recs[1].Attributes()))
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(recs[1].Body().Str()), &payload))
	assert.Equal(t, "deploy-1234", payload["id"])
}

func TestLogRecordAlertCarriesTheAlert(t *testing.T) {
	env := newTestEnv(t, nil)
	decodeOK(t, env.post("/v1/alertmanager", fixture(t, "alertmanager_warning.json")))
	recs := records(env.sink)
	require.Len(t, recs, 1)
	assert.Equal(t, "alert", recs[0].EventName())
	var alert map[string]any
	require.NoError(t, json.Unmarshal([]byte(recs[0].Body().Str()), &alert))
	assert.Equal(t, "3c52dc93eec4b431", alert["fingerprint"], "the body is the one alert, not the group")
}

func TestSeverity(t *testing.T) {
	inc := func(sev string) *incident.Incident { return &incident.Incident{Severity: sev} }
	tests := []struct {
		name     string
		ev       incident.Event
		wantNum  plog.SeverityNumber
		wantText string
	}{
		{"critical", incident.Event{Kind: incident.EventIncidentOpened, Incident: inc("critical")}, plog.SeverityNumberError, "critical"},
		{"page", incident.Event{Kind: incident.EventIncidentOpened, Incident: inc("Page")}, plog.SeverityNumberError, "Page"},
		{"P1", incident.Event{Kind: incident.EventIncidentOpened, Incident: inc("P1")}, plog.SeverityNumberError, "P1"},
		{"warning", incident.Event{Kind: incident.EventIncidentOpened, Incident: inc("warning")}, plog.SeverityNumberWarn, "warning"},
		{"low", incident.Event{Kind: incident.EventIncidentOpened, Incident: inc("low")}, plog.SeverityNumberInfo, "low"},
		{"no severity", incident.Event{Kind: incident.EventIncidentOpened, Incident: inc("")}, plog.SeverityNumberWarn, "WARN"},
		{"extended", incident.Event{Kind: incident.EventIncidentExtended}, plog.SeverityNumberWarn, "WARN"},
		{"expired", incident.Event{Kind: incident.EventIncidentExpired}, plog.SeverityNumberWarn, "WARN"},
		{"resolved", incident.Event{Kind: incident.EventIncidentResolved}, plog.SeverityNumberInfo, "INFO"},
		{"deploy", incident.Event{Kind: incident.EventDeploy, Deploy: &incident.Deploy{Status: "succeeded"}}, plog.SeverityNumberInfo, "INFO"},
		{"failed deploy", incident.Event{Kind: incident.EventDeploy, Deploy: &incident.Deploy{Status: "failed"}}, plog.SeverityNumberWarn, "WARN"},
		{"alert", incident.Event{Kind: incident.EventAlert}, plog.SeverityNumberInfo, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, text := severity(&tt.ev)
			assert.Equal(t, tt.wantNum, num)
			assert.Equal(t, tt.wantText, text)
		})
	}
}

func TestFallbackEventWhenParserGivesNone(t *testing.T) {
	// apply pairs each registry call with its parser event; a result without
	// one still records a complete event rather than none.
	env := newTestEnv(t, nil)
	d := incident.Deploy{ID: "d-9", Service: "cart", StartedAt: fixedNow.Add(-time.Minute)}
	resp, applied, err := env.r.apply(t.Context(), resultWith(d))
	require.NoError(t, err)
	assert.Equal(t, []string{"d-9"}, resp.Deploys)
	require.Len(t, applied, 1)
	assert.Equal(t, incident.EventDeploy, applied[0].ev.Kind)
	assert.Equal(t, "d-9", applied[0].ev.DeployID)
	assert.Equal(t, "collector-a", applied[0].ev.CollectorID)
}

func resultWith(d incident.Deploy) triggers.Result {
	return triggers.Result{Deploys: []incident.Deploy{d}}
}
