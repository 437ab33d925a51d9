package incidentwebhookreceiver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// sloAlert turns the firing/resolved fixture into a Sloth page alert of
// SLO name (commonLabels and the alert's labels gain sloth_slo).
func sloAlert(t *testing.T, file, name string) []byte {
	t.Helper()
	body := fixture(t, file)
	out := bytes.ReplaceAll(body, []byte(`"severity": "critical"}`), []byte(`"severity": "critical", "sloth_slo": "`+name+`"}`))
	require.NotEqual(t, body, out, "fixture changed")
	return out
}

// openConnectorIncident opens an incident as the slo connector does.
func openConnectorIncident(t *testing.T, env *testEnv, id, slo string) incident.Incident {
	t.Helper()
	started := time.Date(2026, 3, 10, 11, 59, 0, 0, time.UTC)
	inc := incident.Incident{
		ID: id, Title: "SLO " + slo + " is burning its error budget at 20x over 1h,5m", Severity: "critical",
		Source: incident.SourceSLO, Status: incident.StatusOpen, StartedAt: started, UpdatedAt: started,
		Scope:  []incident.Matcher{{Key: "service.name", Value: "checkout"}},
		Labels: map[string]string{"slo": slo, "burn_rate": "20", "slo_level": "page"},
	}
	_, err := env.reg.OpenIncident(context.Background(), inc, incident.Event{Kind: incident.EventIncidentOpened, Source: incident.SourceSLO, IncidentID: id})
	require.NoError(t, err)
	return inc
}

// TestAlertmanagerJoinsSLOIncident: a Sloth alert for an SLO whose
// incident the slo connector has open joins it (one incident, the
// connector's title and severity, the alert's labels and links added); the
// alert's resolution leaves it open, for the connector to resolve.
func TestAlertmanagerJoinsSLOIncident(t *testing.T) {
	env := newTestEnv(t, nil)
	conn := openConnectorIncident(t, env, "slo-checkout-availability-1773143940000", "checkout-availability")

	resp := decodeOK(t, env.post("/v1/alertmanager", sloAlert(t, "alertmanager_firing.json", "checkout-availability")))
	assert.Equal(t, []string{conn.ID}, resp.Opened)
	require.Len(t, env.reg.Snapshot().Open, 1, "no second incident")
	inc, ok := env.reg.Incident(conn.ID)
	require.True(t, ok)
	assert.Equal(t, incident.SourceSLO, inc.Source)
	assert.Equal(t, conn.Title, inc.Title)
	assert.Equal(t, conn.Scope, inc.Scope)
	assert.True(t, conn.StartedAt.Equal(inc.StartedAt))
	assert.Equal(t, "checkout-availability", inc.Labels["slo"])
	assert.Equal(t, "20", inc.Labels["burn_rate"])
	assert.Equal(t, "checkout-availability", inc.Labels["sloth_slo"])
	assert.Equal(t, "CheckoutErrorRate", inc.Labels["alertname"])
	assert.NotEmpty(t, inc.Links)
	var extended int
	for _, ev := range env.reg.Events(time.Time{}, time.Now().Add(time.Hour)) {
		if ev.Kind == incident.EventIncidentExtended && ev.Source == incident.SourceAlertmanager {
			extended++
			assert.Equal(t, conn.ID, ev.IncidentID)
			assert.NotEmpty(t, ev.Payload, "the alert is kept as evidence")
		}
	}
	assert.Equal(t, 1, extended)

	done := decodeOK(t, env.post("/v1/alertmanager", sloAlert(t, "alertmanager_resolved.json", "checkout-availability")))
	assert.Empty(t, done.Resolved)
	inc, _ = env.reg.Incident(conn.ID)
	assert.Equal(t, incident.StatusOpen, inc.Status, "the connector resolves its own incident")
	last := env.reg.Events(time.Time{}, time.Now().Add(time.Hour))
	assert.Equal(t, incident.EventAlert, last[len(last)-1].Kind)
	assert.Equal(t, conn.ID, last[len(last)-1].IncidentID)
}

// TestAlertmanagerSLOWithoutConnectorIncident: with no open incident of
// the SLO, or one of another SLO, the alert opens its own as before.
func TestAlertmanagerSLOWithoutConnectorIncident(t *testing.T) {
	env := newTestEnv(t, nil)
	openConnectorIncident(t, env, "slo-other-1", "other")
	resp := decodeOK(t, env.post("/v1/alertmanager", sloAlert(t, "alertmanager_firing.json", "checkout-availability")))
	require.Len(t, resp.Opened, 1)
	assert.NotEqual(t, "slo-other-1", resp.Opened[0])
	assert.Len(t, env.reg.Snapshot().Open, 2)
	// Its resolution resolves it.
	done := decodeOK(t, env.post("/v1/alertmanager", sloAlert(t, "alertmanager_resolved.json", "checkout-availability")))
	assert.Equal(t, resp.Opened, done.Resolved)
}

// TestAlertmanagerExplicitIDNotJoined: an explicit incident ID label wins.
func TestAlertmanagerExplicitIDNotJoined(t *testing.T) {
	env := newTestEnv(t, nil)
	openConnectorIncident(t, env, "slo-checkout-availability-1", "checkout-availability")
	body := bytes.ReplaceAll(sloAlert(t, "alertmanager_firing.json", "checkout-availability"),
		[]byte(`"sloth_slo": "checkout-availability"}`), []byte(`"sloth_slo": "checkout-availability", "incident_id": "INC-9"}`))
	resp := decodeOK(t, env.post("/v1/alertmanager", body))
	assert.Contains(t, resp.Opened, "INC-9")
}
