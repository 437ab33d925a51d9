package incidentsextension

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// FuzzApplyEvent feeds arbitrary sync log objects (written by other
// replicas or tools, so outside input) through decoding, validation and
// merging: nothing may panic, and every accepted incident yields a valid
// record.
func FuzzApplyEvent(f *testing.F) {
	f.Add([]byte(`{"kind":"incident.opened","time":"2026-03-01T10:00:00Z","source":"generic","incident_id":"INC-1",
		"incident":{"id":"INC-1","source":"generic","status":"open","started_at":"2026-03-01T09:59:00Z","updated_at":"2026-03-01T10:00:00Z"}}`))
	f.Add([]byte(`{"kind":"incident.resolved","time":"2026-03-01T11:00:00Z","incident":{"id":"INC-1","status":"resolved",
		"started_at":"2026-03-01T09:59:00Z","resolved_at":"2026-03-01T10:30:00Z","labels":{"a":"b"}}}`))
	f.Add([]byte(`{"kind":"deploy","time":"2026-03-01T10:00:00Z","deploy":{"id":"d1","service":"s","started_at":"2026-03-01T10:00:00Z","finished_at":"2026-03-01T10:01:00Z"}}`))
	f.Add([]byte(`{"kind":"incident.resolved","time":"2026-03-01T11:00:00Z","incident":{"id":"x","status":"resolved","started_at":"2026-03-01T09:59:00Z"}}`))
	f.Add([]byte(`{"time":"0001-01-01T00:00:00Z","incident":{"id":"..","status":"open"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev incident.Event
		if json.Unmarshal(data, &ev) != nil || validateEvent(&ev) != nil {
			return
		}
		if ev.Incident != nil {
			s := newStateFromRecord(ev.Incident)
			require.NoError(t, s.rec.Validate())
			s.mergeRecord(ev.Incident)
			again := newStateFromRecord(ev.Incident)
			require.True(t, sameIncident(&s.rec, &again.rec), "merging a record twice changed it")
			diffIncident(nil, &s.rec, ev.Kind)
		}
		if ev.Deploy != nil {
			m := mergeDeploy(ev.Deploy, ev.Deploy)
			require.True(t, sameDeploy(ev.Deploy, &m), "merging a deploy with itself changed it")
		}
	})
}

// FuzzMergeSnapshot feeds arbitrary stored snapshots to the rebuild.
func FuzzMergeSnapshot(f *testing.F) {
	f.Add([]byte(`{"format":1,"collector_id":"a","cursor":"2026-03-01T10:00:00Z",
		"incidents":[{"incident":{"id":"x","status":"open","started_at":"2026-03-01T09:00:00Z"},"opens":[{"at":"2026-03-01T09:00:00Z","by":"a"}],"resolves":["2026-03-01T08:00:00Z"]}],
		"deploys":[{"id":"d","service":"s","started_at":"2026-03-01T09:00:00Z"}],
		"events":[{"key":"control/events/00000000000000000001-a-1.json","event":{"kind":"alert","time":"2026-03-01T09:00:00Z"}}]}`))
	f.Add([]byte(`{"format":1,"incidents":[{"incident":{"id":"x","status":"open","started_at":"2026-03-01T09:00:00Z"},"opens":[]}]}`))
	f.Add([]byte(`{"format":1,"deploys":[{"id":"","service":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var snap storedSnapshot
		if json.Unmarshal(data, &snap) != nil {
			return
		}
		e, err := newExtension(testConfig(t.TempDir(), "fuzz"), extensiontest.NewNopSettings(metadata.Type))
		require.NoError(t, err)
		e.mergeSnapshot(&snap)
		for _, inc := range e.Snapshot().Incidents {
			require.NoError(t, inc.Validate())
		}
		e.tel.Shutdown()
	})
}
