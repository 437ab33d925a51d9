package pipelinetrigger

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/goleak"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startIncidents starts the real incidents extension on a filesystem store
// in a temporary directory, configured as a collector's YAML would.
func startIncidents(t *testing.T) (component.Component, incidentsapi.Registry) {
	t.Helper()
	f := incidentsextension.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"collector_id": "collector-a",
		"store": map[string]any{
			"backend":    "filesystem",
			"filesystem": map[string]any{"directory": t.TempDir()},
		},
		"journal": map[string]any{"directory": t.TempDir()},
	}).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	ext, err := f.Create(t.Context(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	reg, ok := ext.(incidentsapi.Registry)
	require.True(t, ok, "the incidents extension implements incidentsapi.Registry")
	return ext, reg
}

func TestPipelineOpensAndResolvesAnIncident(t *testing.T) {
	ext, reg := startIncidents(t)
	var mu sync.Mutex
	var changes []incidentsapi.ChangeKind
	cancel := reg.Subscribe(func(c incidentsapi.Change) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, c.Kind)
	})
	defer cancel()

	trig := New(incidentsapitest.DefaultID)
	require.NoError(t, trig.Start(t.Context(), incidentsapitest.NewHost(ext, nil)))

	failedAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	run := Run{Pipeline: "checkout release", Service: "checkout", At: failedAt, URL: "https://ci.example.com/runs/7"}
	id, err := trig.Failed(t.Context(), run)
	require.NoError(t, err)
	require.Equal(t, "pipeline-checkout-release", id)

	snap := reg.Snapshot()
	require.Len(t, snap.Open, 1)
	got := snap.Open[0]
	require.Equal(t, id, got.ID)
	require.Equal(t, Source, got.Source)
	require.True(t, got.StartedAt.Equal(failedAt))
	require.Equal(t, []incident.Matcher{{Key: "service.name", Value: "checkout"}}, got.Scope)
	inScope := func(k string) (string, bool) {
		return map[string]string{"service.name": "checkout"}[k], k == "service.name"
	}
	require.Len(t, snap.AppendMatching(nil, inScope), 1, "checkout's telemetry falls in the incident")

	// The incident record is in the evidence store, in the bundle layout.
	key, err := bundle.IncidentKey(id)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := reg.Store().Stat(context.Background(), key)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "incident.json is written")
	rc, _, err := reg.Store().Get(t.Context(), key)
	require.NoError(t, err)
	body, err := io.ReadAll(rc)
	require.NoError(t, rc.Close())
	require.NoError(t, err)
	var stored incident.Incident
	require.NoError(t, json.Unmarshal(body, &stored))
	require.Equal(t, id, stored.ID)
	require.Equal(t, Source, stored.Source)
	require.Equal(t, "collector-a", stored.OpenedBy)

	// A re-sent failure changes nothing.
	_, err = trig.Failed(t.Context(), run)
	require.NoError(t, err)
	require.Len(t, reg.Snapshot().Open, 1)

	passed := run
	passed.At = failedAt.Add(30 * time.Second)
	require.NoError(t, trig.Passed(t.Context(), passed))
	snap = reg.Snapshot()
	require.Empty(t, snap.Open)
	require.Equal(t, incident.StatusResolved, snap.Incidents[id].Status)
	require.True(t, snap.Incidents[id].ResolvedAt.Equal(passed.At))

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Equal(changes, []incidentsapi.ChangeKind{incidentsapi.Opened, incidentsapi.Resolved})
	}, 10*time.Second, 10*time.Millisecond, "subscribers see the incident open and resolve")

	// The sync log in the store holds both events, for the other replicas,
	// once the extension has published them from its local journal.
	var events []store.ObjectInfo
	require.Eventually(t, func() bool {
		events, err = reg.Store().List(t.Context(), incidentsapi.EventsPrefix, "")
		return err == nil && len(events) >= 2
	}, 10*time.Second, 10*time.Millisecond, "opened and resolved are published")
	for _, obj := range events {
		_, writer, _, err := incidentsapi.ParseEventKey(obj.Key)
		require.NoError(t, err)
		require.Equal(t, "collector-a", writer)
	}
}

func TestTriggerNeedsTheExtension(t *testing.T) {
	trig := New(component.MustNewID("incidents"))
	err := trig.Start(t.Context(), componenttest.NewNopHost())
	require.ErrorIs(t, err, incidentsapi.ErrNotFound)
	_, err = trig.Failed(t.Context(), Run{Pipeline: "x", Service: "y", At: time.Now()})
	require.ErrorContains(t, err, "not started")

	other := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	host := incidentsapitest.NewHost(nil, map[component.ID]component.Component{incidentsapitest.DefaultID: other})
	require.ErrorIs(t, trig.Start(t.Context(), host), incidentsapi.ErrWrongType)
}

func TestIncidentIDIsSafe(t *testing.T) {
	id, err := IncidentID("../../etc/passwd")
	require.NoError(t, err)
	require.NoError(t, incident.ValidateID(id))
	require.NotContains(t, id, "/")
}
