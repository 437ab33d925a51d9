package incidentsapitest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/goleak"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func open(r *Registry, id, title string) (bool, error) {
	inc := incident.Incident{ID: id, Title: title, Source: incident.SourceGeneric, StartedAt: t0}
	return r.OpenIncident(context.Background(), inc, incident.Event{Kind: incident.EventIncidentOpened, Time: t0, IncidentID: id, Incident: &inc})
}

func TestRegistryKeepsTheExtensionsRules(t *testing.T) {
	ctx := context.Background()
	r := NewRegistry("c1", nil)
	var kinds []incidentsapi.ChangeKind
	cancel := r.Subscribe(func(c incidentsapi.Change) { kinds = append(kinds, c.Kind) })

	changed, err := open(r, "INC-1", "down")
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = open(r, "INC-1", "down")
	require.NoError(t, err)
	assert.False(t, changed, "a re-sent notification changes nothing")
	changed, err = open(r, "INC-1", "still down")
	require.NoError(t, err)
	assert.True(t, changed, "a new title extends the incident")

	snap := r.Snapshot()
	require.Len(t, snap.Open, 1)
	assert.Equal(t, "still down", snap.Open[0].Title)
	assert.Same(t, snap, r.Snapshot(), "an unchanged registry returns the same snapshot")

	changed, err = r.ResolveIncident(ctx, "INC-2", t0, incident.Event{Kind: incident.EventIncidentResolved, Time: t0})
	require.NoError(t, err)
	assert.False(t, changed, "resolving an unknown incident only records the event")
	changed, err = r.ResolveIncident(ctx, "INC-1", t0.Add(time.Minute), incident.Event{Kind: incident.EventIncidentResolved, Time: t0.Add(time.Minute)})
	require.NoError(t, err)
	assert.True(t, changed)
	inc, ok := r.Incident("INC-1")
	require.True(t, ok)
	assert.Equal(t, incident.StatusResolved, inc.Status)
	assert.Empty(t, r.Snapshot().Open)

	cancel()
	_, err = open(r, "INC-3", "x")
	require.NoError(t, err)
	assert.Equal(t, []incidentsapi.ChangeKind{incidentsapi.Opened, incidentsapi.Extended, incidentsapi.Resolved}, kinds,
		"subscribers see each change once, and none after cancel")

	require.NoError(t, r.RecordDeploy(ctx, incident.Deploy{ID: "d1", Service: "checkout", StartedAt: t0}, incident.Event{Kind: incident.EventDeploy, Time: t0}))
	assert.NotNil(t, r.Snapshot().DeployFor("checkout", "", t0))
	assert.Len(t, r.Events(t0, t0), 6, "every write's event at t0 is recorded")
	assert.Len(t, r.Events(t0.Add(time.Second), t0.Add(time.Hour)), 1, "the resolution a minute later")
	assert.Equal(t, []string{"open:INC-1", "open:INC-1", "open:INC-1", "resolve:INC-2", "resolve:INC-1", "open:INC-3", "deploy:d1"}, r.Calls())
}

func TestRegistryFailWrites(t *testing.T) {
	ctx := context.Background()
	r := NewRegistry("c1", nil)
	boom := errors.New("store down")
	r.FailWrites(1, boom)
	_, err := open(r, "INC-1", "a")
	require.NoError(t, err)
	_, err = open(r, "INC-2", "b")
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, r.RecordEvent(ctx, incident.Event{Kind: incident.EventAlert, Time: t0}), boom)
	_, ok := r.Incident("INC-2")
	assert.False(t, ok, "a failed write changes nothing")
	r.FailWrites(-1, nil)
	_, err = open(r, "INC-2", "b")
	require.NoError(t, err)
}

func TestHostFindsTheRegistry(t *testing.T) {
	r := NewRegistry("c1", nil)
	h := NewHost(r, nil)
	got, err := incidentsapi.Find(h, DefaultID)
	require.NoError(t, err)
	assert.Same(t, r, got)
	_, err = incidentsapi.Find(NewHost(nil, nil), DefaultID)
	require.ErrorIs(t, err, incidentsapi.ErrNotFound)
	_, err = incidentsapi.Find(h, component.MustNewID("incidents"))
	require.NoError(t, err)

	h.Report(componentstatus.NewEvent(componentstatus.StatusRecoverableError))
	h.Report(componentstatus.NewEvent(componentstatus.StatusOK))
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, h.Statuses())
}
