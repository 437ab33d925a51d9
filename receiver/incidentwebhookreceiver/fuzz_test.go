package incidentwebhookreceiver

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
)

var fuzzPaths = []string{
	"/v1/alertmanager", "/v1/grafana", "/v1/pagerduty", "/v1/incidents", "/v1/incidents/resolve", "/v1/deploys",
}

// FuzzHandler sends arbitrary bodies to every endpoint and checks the
// handler's contract: only 200, 400, 413 (no secrets are configured) and
// 403 stale_event (PagerDuty events outside max_age), always a JSON body,
// no state change unless 200, and exactly one registry call and one log
// record per accepted event.
func FuzzHandler(f *testing.F) {
	seeds := map[int][]string{
		0: {"alertmanager_firing.json", "alertmanager_resolved.json", "alertmanager_warning.json"},
		1: {"grafana_firing.json"},
		2: {"pagerduty_triggered.json", "pagerduty_resolved.json", "pagerduty_acknowledged.json"},
		3: {"incident_open.json"},
		4: {"incident_resolve.json"},
		5: {"deploy.json"},
	}
	for i, names := range seeds {
		for _, n := range names {
			f.Add(uint8(i), fixture(f, n))
		}
	}
	f.Add(uint8(0), []byte(`{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"severity":"critical","incident_id":".."}}]}`))
	f.Add(uint8(3), []byte(`{"id":"a","scope":["x"]}`))
	f.Add(uint8(5), []byte(`null`))

	f.Fuzz(func(t *testing.T, idx uint8, body []byte) {
		env := newTestEnv(t, func(c *Config) { c.MaxRequestBodySize = 64 << 10 })
		rec := env.post(fuzzPaths[int(idx)%len(fuzzPaths)], body)
		switch rec.Code {
		case http.StatusOK:
			var resp response
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
			require.Positive(t, resp.Events, "an accepted payload records at least one event")
			require.Len(t, env.reg.Calls(), resp.Events)
			require.Equal(t, resp.Events, env.sink.LogRecordCount())
			require.Len(t, eventNames(env.sink), resp.Events)
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusForbidden:
			var e errorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			require.NotEmpty(t, e.Error)
			if rec.Code == http.StatusForbidden {
				require.Equal(t, reasonStaleEvent, e.Error)
			}
			require.Empty(t, env.reg.Calls())
			require.Zero(t, env.sink.LogRecordCount())
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
}

// BenchmarkAlertmanager measures one Alertmanager notification through the
// handler (parse, registry, log records), re-sent as Alertmanager does.
func BenchmarkAlertmanager(b *testing.B) {
	for _, bc := range []struct{ name, fixture string }{
		{"firing", "alertmanager_firing.json"},
		{"below_policy", "alertmanager_warning.json"},
		{"deploy", "deploy.json"},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkPath(b, bc.fixture) })
	}
}

func benchmarkPath(b *testing.B, name string) {
	body := fixture(b, name)
	path := "/v1/alertmanager"
	if name == "deploy.json" {
		path = "/v1/deploys"
	}
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	cfg.Limits.EventsPerSecond = 0 // the benchmark is far above any sender's rate
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, r.Shutdown(context.Background())) })
	r.registry = &benchRegistry{}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	env := &testEnv{r: r}
	for b.Loop() {
		rec := env.post(path, body)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}

// benchRegistry accepts every write and keeps nothing, so that the
// benchmark measures the receiver alone.
type benchRegistry struct{ fakeRegistry }

func (*benchRegistry) OpenIncident(context.Context, incident.Incident, incident.Event) (bool, error) {
	return true, nil
}

func (*benchRegistry) ResolveIncident(context.Context, string, time.Time, incident.Event) (bool, error) {
	return true, nil
}
func (*benchRegistry) RecordDeploy(context.Context, incident.Deploy, incident.Event) error {
	return nil
}
func (*benchRegistry) RecordEvent(context.Context, incident.Event) error { return nil }
