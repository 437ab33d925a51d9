package incidentsextension

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// waitFor is the time a replica gets to learn of another's change: two
// sync intervals, plus slack for a loaded -race run.
const waitFor = 2*testInterval + 2*time.Second

func TestOpenExtendResolve(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := startTestExt(t, dir, "a", testOptions{})
	rec := &changeRecorder{}
	cancel := e.Subscribe(rec.record)
	defer cancel()

	inc := incident.Incident{
		ID: "INC-1", Title: "checkout down", Source: incident.SourceGeneric,
		Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}}, StartedAt: time.Now().Add(-time.Minute),
	}
	changed, err := e.OpenIncident(ctx, inc, genericEvent(incident.EventIncidentOpened))
	require.NoError(t, err)
	require.True(t, changed)
	snap := e.Snapshot()
	require.Len(t, snap.Open, 1)
	assert.Equal(t, "checkout down", snap.Open[0].Title)
	assert.Equal(t, "a", snap.Open[0].OpenedBy)

	// The same notification again changes nothing.
	changed, err = e.OpenIncident(ctx, inc, genericEvent(incident.EventIncidentOpened))
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, snap.Version, e.Snapshot().Version)

	// New labels extend it.
	inc.Labels = map[string]string{"team": "payments"}
	changed, err = e.OpenIncident(ctx, inc, genericEvent(incident.EventIncidentOpened))
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, "payments", e.Snapshot().Incidents["INC-1"].Labels["team"])
	assert.Equal(t, "checkout down", e.Snapshot().Incidents["INC-1"].Title, "an update without a title keeps it")

	changed, err = e.ResolveIncident(ctx, "INC-1", time.Now(), genericEvent(incident.EventIncidentResolved))
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Empty(t, e.Snapshot().Open)
	assert.Equal(t, incident.StatusResolved, e.status("INC-1"))

	// Resolving again, or resolving an unknown incident, only records the event.
	changed, err = e.ResolveIncident(ctx, "INC-1", time.Now(), genericEvent(incident.EventIncidentResolved))
	require.NoError(t, err)
	assert.False(t, changed)
	changed, err = e.ResolveIncident(ctx, "INC-unknown", time.Now(), genericEvent(incident.EventIncidentResolved))
	require.NoError(t, err)
	assert.False(t, changed)
	assert.NotContains(t, e.Snapshot().Incidents, "INC-unknown")

	require.Eventually(t, func() bool {
		k := rec.kinds("INC-1")
		return len(k) == 3
	}, waitFor, 5*time.Millisecond)
	assert.Equal(t, []incidentsapi.ChangeKind{incidentsapi.Opened, incidentsapi.Extended, incidentsapi.Resolved}, rec.kinds("INC-1"))

	// incident.json holds the record, once the publisher has written it.
	var stored incident.Incident
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "incidents", "INC-1", "incident.json"))
		return err == nil && json.Unmarshal(b, &stored) == nil && stored.Status == incident.StatusResolved
	}, waitFor, 5*time.Millisecond)
	assert.Equal(t, incident.StatusResolved, stored.Status)
	assert.Equal(t, "payments", stored.Labels["team"])

	// Events: 4 incident events and 2 resolves that changed nothing, in order.
	evs := e.Events(time.Time{}, time.Now().Add(time.Hour))
	require.Len(t, evs, 6)
	kinds := make([]incident.EventKind, len(evs))
	for i, ev := range evs {
		kinds[i] = ev.Kind
		assert.Equal(t, "a", ev.CollectorID)
	}
	assert.Equal(t, []incident.EventKind{
		incident.EventIncidentOpened, incident.EventIncidentOpened, incident.EventIncidentExtended,
		incident.EventIncidentResolved, incident.EventIncidentResolved, incident.EventIncidentResolved,
	}, kinds)
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{})
	start := time.Now().Add(-time.Hour)
	_, err := e.OpenIncident(ctx, incident.Incident{ID: "x", StartedAt: start}, genericEvent(""))
	require.NoError(t, err)
	_, err = e.ResolveIncident(ctx, "x", start.Add(10*time.Minute), genericEvent(""))
	require.NoError(t, err)

	// A late re-send of the original notification does not reopen.
	changed, err := e.OpenIncident(ctx, incident.Incident{ID: "x", StartedAt: start}, genericEvent(""))
	require.NoError(t, err)
	assert.False(t, changed)

	// A new firing after the resolution does.
	changed, err = e.OpenIncident(ctx, incident.Incident{ID: "x", StartedAt: start.Add(30 * time.Minute)}, genericEvent(""))
	require.NoError(t, err)
	assert.True(t, changed)
	got := e.Snapshot().Incidents["x"]
	assert.Equal(t, incident.StatusOpen, got.Status)
	assert.True(t, got.StartedAt.Equal(start.Add(30*time.Minute)))
	assert.Nil(t, got.ResolvedAt)
}

func TestRecordDeploy(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{})
	start := time.Now().Add(-time.Minute).UTC()
	d := incident.Deploy{ID: "dep-1", Service: "checkout", Version: "1.4.2", StartedAt: start, Status: incident.DeployStarted}
	require.NoError(t, e.RecordDeploy(ctx, d, incident.Event{}))
	d.Status, d.FinishedAt = incident.DeploySucceeded, ptr(start.Add(30*time.Second))
	require.NoError(t, e.RecordDeploy(ctx, d, incident.Event{}))

	got := e.Snapshot().DeployFor("checkout", "1.4.2", time.Now())
	require.NotNil(t, got)
	assert.Equal(t, incident.DeploySucceeded, got.Status)
	require.NotNil(t, got.FinishedAt)

	err := e.RecordDeploy(ctx, incident.Deploy{ID: "dep-2"}, incident.Event{})
	require.ErrorContains(t, err, "'service' is required")
}

func TestValidationErrors(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{})
	_, err := e.OpenIncident(ctx, incident.Incident{ID: "../etc"}, incident.Event{})
	require.ErrorIs(t, err, incident.ErrInvalidID)
	_, err = e.ResolveIncident(ctx, "", time.Now(), incident.Event{})
	require.ErrorIs(t, err, incident.ErrInvalidID)
}

func TestNotStarted(t *testing.T) {
	e := newTestExt(t, t.TempDir(), "a", testOptions{})
	_, err := e.OpenIncident(context.Background(), incident.Incident{ID: "x"}, incident.Event{})
	require.ErrorIs(t, err, ErrNotStarted)
	require.NotNil(t, e.Snapshot())
	require.NoError(t, e.Shutdown(context.Background()))
	require.NoError(t, e.Shutdown(context.Background()))
}

// TestSnapshotImmutable reads snapshots from many goroutines while a writer
// changes the registry; -race reports any shared mutation.
func TestSnapshotImmutable(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{wrap: inMemory(newMemStore())})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			var dst []*incident.Incident
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
				snap := e.Snapshot()
				dst = snap.AppendMatching(dst[:0], func(string) (string, bool) { return "checkout", true })
				for _, inc := range snap.Incidents {
					_ = inc.Title + string(inc.Status) + inc.Labels["n"]
				}
				_ = snap.DeployFor("checkout", "", time.Now())
			}
		})
	}
	var versions []uint64
	for i := range 40 {
		before := e.Snapshot()
		beforeOpen := len(before.Open)
		id := fmt.Sprintf("INC-%d", i%10)
		if i%3 == 2 {
			_, err := e.ResolveIncident(ctx, id, time.Now(), incident.Event{})
			require.NoError(t, err)
		} else {
			_, err := e.OpenIncident(ctx, incident.Incident{ID: id, Labels: map[string]string{"n": fmt.Sprint(i)}}, incident.Event{})
			require.NoError(t, err)
		}
		require.NoError(t, e.RecordDeploy(ctx, incident.Deploy{ID: fmt.Sprintf("d%d", i), Service: "checkout"}, incident.Event{}))
		assert.Len(t, before.Open, beforeOpen, "an old snapshot changed")
		versions = append(versions, e.Snapshot().Version)
	}
	close(stop)
	wg.Wait()
	assert.IsIncreasing(t, versions)
}

func TestReplicasSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := startTestExt(t, dir, "replica-a", testOptions{})
	b := startTestExt(t, dir, "replica-b", testOptions{})
	recB := &changeRecorder{}
	defer b.Subscribe(recB.record)()

	_, err := a.OpenIncident(ctx, incident.Incident{ID: "INC-7", Title: "latency", Source: incident.SourceAlertmanager}, genericEvent(incident.EventIncidentOpened))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.status("INC-7") == incident.StatusOpen }, waitFor, 5*time.Millisecond)
	assert.Equal(t, "replica-a", b.Snapshot().Incidents["INC-7"].OpenedBy)
	// B's sync loop stores the new snapshot before it logs the change: the
	// status above can be seen before the log line is written.
	require.Eventually(t, func() bool { return b.logged("Incident opened", "INC-7") }, waitFor, 5*time.Millisecond)

	_, err = a.ResolveIncident(ctx, "INC-7", time.Now(), genericEvent(incident.EventIncidentResolved))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.status("INC-7") == incident.StatusResolved }, waitFor, 5*time.Millisecond)
	require.Eventually(t, func() bool { return len(recB.kinds("INC-7")) == 2 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, []incidentsapi.ChangeKind{incidentsapi.Opened, incidentsapi.Resolved}, recB.kinds("INC-7"))

	require.NoError(t, b.RecordDeploy(ctx, incident.Deploy{ID: "dep-9", Service: "cart", Version: "2"}, incident.Event{}))
	require.Eventually(t, func() bool { return a.Snapshot().DeployFor("cart", "2", time.Now()) != nil }, waitFor, 5*time.Millisecond)

	// B's events include A's, with their payloads.
	var fromA int
	for _, ev := range b.Events(time.Time{}, time.Now().Add(time.Minute)) {
		if ev.CollectorID == "replica-a" {
			fromA++
			assert.JSONEq(t, `{"from":"test"}`, string(ev.Payload))
		}
	}
	assert.Equal(t, 2, fromA)
}

// TestReplicasConcurrent opens, extends and resolves the same incidents on
// two replicas at once; they must end with the same records.
func TestReplicasConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := startTestExt(t, dir, "a", testOptions{})
	b := startTestExt(t, dir, "b", testOptions{})
	start := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	for _, r := range []*testExt{a, b} {
		wg.Go(func() {
			for i := range 20 {
				id := fmt.Sprintf("INC-%d", i%4)
				var err error
				switch i % 5 {
				case 3:
					_, err = r.ResolveIncident(ctx, id, start.Add(time.Duration(i)*time.Minute), incident.Event{})
				default:
					_, err = r.OpenIncident(ctx, incident.Incident{
						ID: id, StartedAt: start.Add(time.Duration(i) * time.Minute), Title: r.id + fmt.Sprint(i),
					}, incident.Event{})
				}
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		sa, sb := a.Snapshot(), b.Snapshot()
		if len(sa.Incidents) != 4 || len(sb.Incidents) != 4 {
			return false
		}
		for id, x := range sa.Incidents {
			if !sameIncident(x, sb.Incidents[id]) {
				return false
			}
		}
		return true
	}, 2*waitFor, 10*time.Millisecond)
}

func TestRestartKeepsOpenIncidents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, withSnapshot := range []bool{true, false} {
		t.Run(fmt.Sprintf("snapshot=%v", withSnapshot), func(t *testing.T) {
			dir := filepath.Join(dir, fmt.Sprint(withSnapshot))
			first := newTestExt(t, dir, "a", testOptions{})
			require.NoError(t, first.Start(ctx, first.host))
			_, err := first.OpenIncident(ctx, incident.Incident{ID: "open-1", Title: "still open"}, genericEvent(""))
			require.NoError(t, err)
			_, err = first.OpenIncident(ctx, incident.Incident{ID: "closed-1"}, genericEvent(""))
			require.NoError(t, err)
			_, err = first.ResolveIncident(ctx, "closed-1", time.Now(), genericEvent(""))
			require.NoError(t, err)
			require.NoError(t, first.RecordDeploy(ctx, incident.Deploy{ID: "d1", Service: "s"}, incident.Event{}))
			require.NoError(t, first.Shutdown(ctx))
			if !withSnapshot {
				require.NoError(t, os.RemoveAll(filepath.Join(dir, "control", "snapshots")))
			}

			second := startTestExt(t, dir, "a", testOptions{})
			snap := second.Snapshot()
			require.Len(t, snap.Open, 1)
			assert.Equal(t, "still open", snap.Open[0].Title)
			assert.Equal(t, incident.StatusResolved, second.status("closed-1"))
			assert.NotNil(t, snap.DeployFor("s", "", time.Now()))
			assert.Len(t, second.Events(time.Time{}, time.Now().Add(time.Minute)), 4)
			assert.False(t, second.logged("Incident opened", "open-1"), "rebuilding is not opening")

			// A new replica sees the same state.
			third := startTestExt(t, dir, "c", testOptions{})
			assert.Len(t, third.Snapshot().Open, 1)
		})
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(time.Now().UTC())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e := startTestExt(t, t.TempDir(), "a", testOptions{
		clock: clock, tel: tel, cfg: func(c *Config) { c.MaxOpenDuration = time.Hour },
	})
	rec := &changeRecorder{}
	defer e.Subscribe(rec.record)()
	start := clock.Now().Add(-10 * time.Minute)
	_, err := e.OpenIncident(ctx, incident.Incident{ID: "old", StartedAt: start, Source: incident.SourcePagerDuty}, incident.Event{})
	require.NoError(t, err)

	clock.Advance(30 * time.Minute)
	require.Never(t, func() bool { return e.status("old") != incident.StatusOpen }, 3*testInterval, testInterval)

	clock.Advance(time.Hour)
	require.Eventually(t, func() bool { return e.status("old") == incident.StatusResolved }, waitFor, 5*time.Millisecond)
	got := e.Snapshot().Incidents["old"]
	require.NotNil(t, got.ResolvedAt)
	assert.True(t, got.ResolvedAt.Equal(start.Add(time.Hour)), "expires at started_at + max_open_duration")
	require.Eventually(t, func() bool { return len(rec.kinds("old")) == 2 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, []incidentsapi.ChangeKind{incidentsapi.Opened, incidentsapi.Expired}, rec.kinds("old"))
	evs := e.Events(time.Time{}, clock.Now())
	require.NotEmpty(t, evs)
	assert.Equal(t, incident.EventIncidentExpired, evs[len(evs)-1].Kind)

	attrs := attribute.NewSet(attribute.String("origin", originLocal), attribute.String("source", incident.SourcePagerDuty))
	metadatatest.AssertEqualExtensionIncidentsExpired(t, tel, []metricdata.DataPoint[int64]{{Attributes: attrs, Value: 1}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionIncidentsOpened(t, tel, []metricdata.DataPoint[int64]{{Attributes: attrs, Value: 1}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionIncidentsOpen(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

func TestPendingResolveOvertakesOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := startTestExt(t, dir, "a", testOptions{})
	flaky := &flakyStore{}
	b := startTestExt(t, dir, "b", testOptions{wrap: func(s store.Store) store.Store {
		flaky.Store = s
		return flaky
	}})
	start := time.Now().Add(-time.Minute)
	// B receives the resolution before it has learned of the incident: it
	// cannot read the log for now.
	flaky.failList.Store(true)
	_, err := a.OpenIncident(ctx, incident.Incident{ID: "flap", StartedAt: start}, incident.Event{})
	require.NoError(t, err)
	changed, err := b.ResolveIncident(ctx, "flap", time.Now(), incident.Event{})
	require.NoError(t, err)
	require.False(t, changed)
	require.NotContains(t, b.Snapshot().Incidents, "flap")
	flaky.failList.Store(false)
	for _, r := range []*testExt{a, b} {
		require.Eventually(t, func() bool { return r.status("flap") == incident.StatusResolved }, waitFor, 5*time.Millisecond)
	}
}

func TestEventsOrderAndRange(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{})
	base := time.Now().Add(-time.Hour).UTC()
	// Recorded out of order.
	for _, m := range []int{30, 10, 20, 40, 10} {
		require.NoError(t, e.RecordEvent(ctx, incident.Event{Time: base.Add(time.Duration(m) * time.Minute), Source: fmt.Sprint(m)}))
	}
	evs := e.Events(base.Add(10*time.Minute), base.Add(30*time.Minute))
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Source)
		assert.Equal(t, incident.EventAlert, ev.Kind)
	}
	assert.Equal(t, []string{"10", "10", "20", "30"}, got)
	assert.Empty(t, e.Events(base.Add(50*time.Minute), base.Add(60*time.Minute)))
}

func TestFind(t *testing.T) {
	e := startTestExt(t, t.TempDir(), "a", testOptions{})
	id := component.MustNewID("incidents")
	other := component.MustNewIDWithName("incidents", "other")
	tests := []struct {
		name    string
		id      component.ID
		wantErr error
	}{
		{name: "found", id: id},
		{name: "not found", id: component.MustNewIDWithName("incidents", "missing"), wantErr: incidentsapi.ErrNotFound},
		{name: "wrong type", id: other, wantErr: incidentsapi.ErrWrongType},
	}
	host := &statusHost{exts: map[component.ID]component.Component{id: e.incidentsExtension, other: nopComponent{}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := incidentsapi.Find(host, tt.id)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.ErrorContains(t, err, tt.id.String())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "a", reg.CollectorID())
		})
	}
}

type nopComponent struct{}

func (nopComponent) Start(context.Context, component.Host) error { return nil }
func (nopComponent) Shutdown(context.Context) error              { return nil }

func TestStartFailsOnUnusableStore(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	e := newTestExt(t, file, "a", testOptions{})
	err := e.Start(context.Background(), e.host)
	require.Error(t, err)
	assert.ErrorContains(t, err, "open the evidence store")
	require.NoError(t, e.Shutdown(context.Background()))

	// A directory that exists but cannot be written.
	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the read-only directory case")
		return
	}
	ro := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(ro, 0o500))
	e = newTestExt(t, ro, "a", testOptions{})
	err = e.Start(context.Background(), e.host)
	require.ErrorContains(t, err, "is not usable")
	require.NoError(t, e.Shutdown(context.Background()))
}

// TestSyncErrorsRecover makes the store fail during sync: the loop keeps
// running, counts and reports the errors, and catches up once it recovers.
func TestSyncErrorsRecover(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	flaky := &flakyStore{}
	b := startTestExt(t, dir, "b", testOptions{tel: tel, wrap: func(s store.Store) store.Store {
		flaky.Store = s
		return flaky
	}})
	a := startTestExt(t, dir, "a", testOptions{})

	flaky.failing.Store(true)
	require.Eventually(t, func() bool { return b.host.last() == componentstatus.StatusRecoverableError }, waitFor, 5*time.Millisecond)
	_, err := a.OpenIncident(ctx, incident.Incident{ID: "during-outage"}, incident.Event{})
	require.NoError(t, err)
	// The registry is local-first: B records and acts on a change while the
	// store is down, and publishes it when the store is back.
	_, err = b.OpenIncident(ctx, incident.Incident{ID: "while-down"}, incident.Event{})
	require.NoError(t, err)
	assert.Equal(t, incident.StatusOpen, b.status("while-down"))
	require.Eventually(t, func() bool {
		got, err := tel.GetMetric("otelcol_extension_incidents_publish_failures")
		return err == nil && got.Data.(metricdata.Sum[int64]).DataPoints[0].Value > 0
	}, waitFor, 5*time.Millisecond, "the publisher tried and failed")
	got, err := tel.GetMetric("otelcol_extension_incidents_journal_pending")
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Data.(metricdata.Gauge[int64]).DataPoints[0].Value)

	flaky.failing.Store(false)
	require.Eventually(t, func() bool { return b.status("during-outage") == incident.StatusOpen }, waitFor, 5*time.Millisecond)
	require.Eventually(t, func() bool { return a.status("while-down") == incident.StatusOpen }, waitFor, 5*time.Millisecond)
	require.Eventually(t, func() bool { return b.host.last() == componentstatus.StatusOK }, waitFor, 5*time.Millisecond)

	require.Eventually(t, func() bool {
		got, err := tel.GetMetric("otelcol_extension_incidents_journal_pending")
		return err == nil && got.Data.(metricdata.Gauge[int64]).DataPoints[0].Value == 0
	}, waitFor, 5*time.Millisecond)
	got, err = tel.GetMetric("otelcol_extension_incidents_sync_errors")
	require.NoError(t, err)
	assert.Positive(t, got.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
	got, err = tel.GetMetric("otelcol_extension_incidents_store_errors")
	require.NoError(t, err)
	var ops []string
	for _, dp := range got.Data.(metricdata.Sum[int64]).DataPoints {
		op, _ := dp.Attributes.Value("operation")
		ops = append(ops, op.AsString())
	}
	assert.Contains(t, ops, "list")
	assert.Contains(t, ops, "put")
	got, err = tel.GetMetric("otelcol_extension_incidents_sync_lag")
	require.NoError(t, err)
	assert.Positive(t, got.Data.(metricdata.Histogram[float64]).DataPoints[0].Count)
	metadatatest.AssertEqualExtensionIncidentsSyncEventsApplied(t, tel, []metricdata.DataPoint[int64]{{Value: 1}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionIncidentsOpened(t, tel, []metricdata.DataPoint[int64]{{
		Attributes: attribute.NewSet(attribute.String("origin", originReplica), attribute.String("source", "")), Value: 1,
	}, {
		Attributes: attribute.NewSet(attribute.String("origin", originLocal), attribute.String("source", "")), Value: 1,
	}}, metricdatatest.IgnoreTimestamp())
}

func TestSubscribers(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{})

	// A blocked subscriber does not block writers nor other subscribers.
	block := make(chan struct{})
	cancelBlocked := e.Subscribe(func(incidentsapi.Change) { <-block })
	rec := &changeRecorder{}
	cancel := e.Subscribe(rec.record)
	for i := range 20 {
		_, err := e.OpenIncident(ctx, incident.Incident{ID: fmt.Sprintf("i%02d", i)}, incident.Event{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.changes) == 20
	}, waitFor, 5*time.Millisecond)
	rec.mu.Lock()
	for i, c := range rec.changes {
		assert.Equal(t, fmt.Sprintf("i%02d", i), c.Incident.ID, "in order")
	}
	rec.mu.Unlock()

	// After cancel no change is delivered.
	cancel()
	_, err := e.OpenIncident(ctx, incident.Incident{ID: "after-cancel"}, incident.Event{})
	require.NoError(t, err)
	require.Never(t, func() bool { return len(rec.kinds("after-cancel")) > 0 }, 3*testInterval, testInterval)

	// A panicking subscriber is contained.
	defer e.Subscribe(func(incidentsapi.Change) { panic("boom") })()
	_, err = e.OpenIncident(ctx, incident.Incident{ID: "panic"}, incident.Event{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return e.logs.FilterMessage("Incident change subscriber panicked").Len() == 1
	}, waitFor, 5*time.Millisecond)

	// Cancel from inside the callback does not deadlock.
	var self func()
	done := make(chan struct{})
	self = e.Subscribe(func(incidentsapi.Change) {
		self()
		close(done)
	})
	_, err = e.OpenIncident(ctx, incident.Incident{ID: "self-cancel"}, incident.Event{})
	require.NoError(t, err)
	<-done

	close(block)
	cancelBlocked()
	cancelBlocked() // idempotent
}

// TestCompaction checks that a replica deletes its own sync events once no
// retention needs them, and never another replica's.
func TestCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock(time.Now().UTC())
	short := func(c *Config) {
		c.EventRetention, c.DeployRetention, c.MaxOpenDuration = time.Minute, time.Minute, time.Minute
	}
	a := newTestExt(t, dir, "a", testOptions{clock: clock, cfg: short})
	a.snapshotEvery, a.compactEvery = 0, 0
	require.NoError(t, a.Start(ctx, a.host))
	t.Cleanup(func() { require.NoError(t, a.Shutdown(ctx)) })
	b := startTestExt(t, dir, "b", testOptions{clock: clock, cfg: short})

	require.NoError(t, a.RecordEvent(ctx, incident.Event{Source: "old-a"}))
	require.NoError(t, b.RecordEvent(ctx, incident.Event{Source: "old-b"}))
	// keys lists the sync log. It runs inside Eventually's condition too,
	// on another goroutine, so it reports a failed listing instead of
	// failing the test there.
	keys := func() ([]string, error) {
		objs, err := a.st.List(ctx, incidentsapi.EventsPrefix, "")
		if err != nil {
			return nil, err
		}
		out := make([]string, 0, len(objs))
		for _, o := range objs {
			out = append(out, o.Key)
		}
		return out, nil
	}
	require.Eventually(t, func() bool {
		now, err := keys()
		return err == nil && len(now) == 2
	}, waitFor, 5*time.Millisecond)

	oldKeys, err := keys()
	require.NoError(t, err)
	clock.Advance(10 * time.Minute)
	require.NoError(t, a.RecordEvent(ctx, incident.Event{Source: "new-a"}))
	// The log holds two keys before new-a is published and three until the
	// compaction deletes old-a: wait for new-a's key and old-a's deletion.
	var final []string
	require.Eventually(t, func() bool {
		now, err := keys()
		if err != nil || len(now) != 2 || slices.Equal(now, oldKeys) {
			return false
		}
		final = now
		return true
	}, waitFor, 5*time.Millisecond, "new-a is published and old-a compacted away")
	var writers []string
	for _, k := range final {
		_, w, _, err := incidentsapi.ParseEventKey(k)
		require.NoError(t, err)
		writers = append(writers, w)
	}
	assert.ElementsMatch(t, []string{"a", "b"}, writers, "a's old event is gone, b's is not a's to delete")
}

// TestRecordNote: a note is kept in its incident's folder, one object per
// note whichever replica records it, besides the sync log.
func TestRecordNote(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := startTestExt(t, dir, "a", testOptions{})
	b := startTestExt(t, dir, "b", testOptions{})
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	note := incident.Event{Kind: incident.EventNote, Time: at, Source: incident.SourceNote, IncidentID: "INC-42",
		Note: &incident.Note{Text: "paged the DB on-call", Author: "alice"}}
	require.NoError(t, a.RecordEvent(ctx, note))
	require.NoError(t, b.RecordEvent(ctx, note), "the same note, sent to the other replica")

	prefix, err := bundle.NotesPrefix("INC-42")
	require.NoError(t, err)
	var objs []store.ObjectInfo
	require.Eventually(t, func() bool { // the publishers write it
		objs, err = a.st.List(ctx, prefix, "")
		return err == nil && len(objs) == 1
	}, waitFor, 5*time.Millisecond)
	var got incident.Event
	require.NoError(t, getJSON(ctx, a.st, objs[0].Key, &got))
	assert.Equal(t, incident.EventNote, got.Kind)
	assert.Equal(t, at, got.Time)
	assert.Equal(t, &incident.Note{Text: "paged the DB on-call", Author: "alice"}, got.Note)
	_, id, err := bundle.ParseNoteKey(objs[0].Key)
	require.NoError(t, err)
	assert.Equal(t, incident.NoteID(&got), id)
	assert.NotEmpty(t, a.Events(at, at), "the note is an event of the registry too")

	// A note without text, or on an invalid incident ID, is refused.
	assert.ErrorContains(t, a.RecordEvent(ctx, incident.Event{Kind: incident.EventNote, IncidentID: "INC-42",
		Note: &incident.Note{}}), "'text' is required")
	assert.ErrorContains(t, a.RecordEvent(ctx, incident.Event{Kind: incident.EventNote, IncidentID: "../x",
		Note: &incident.Note{Text: "x"}}), "invalid id")
	assert.ErrorContains(t, a.RecordEvent(ctx, incident.Event{Kind: incident.EventNote, IncidentID: "INC-42"}),
		"no note")
}

// TestStoreRefusingWrites: a store that still reads but refuses writes is
// reported through component status and the store_writable gauge, from
// the periodic write probe alone (nothing else is written meanwhile), and
// both recover with the store.
func TestStoreRefusingWrites(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	flaky := &flakyStore{}
	e := newTestExt(t, t.TempDir(), "a", testOptions{tel: tel, wrap: func(s store.Store) store.Store {
		flaky.Store = s
		return flaky
	}})
	e.storeProbeEvery = 50 * time.Millisecond
	require.NoError(t, e.Start(context.Background(), e.host))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	writable := func() int64 {
		got, err := tel.GetMetric("otelcol_extension_incidents_store_writable")
		require.NoError(t, err)
		return got.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
	}
	assert.Equal(t, int64(1), writable())

	flaky.failPut.Store(true)
	require.Eventually(t, func() bool { return e.host.last() == componentstatus.StatusRecoverableError }, waitFor, 5*time.Millisecond)
	assert.Equal(t, int64(0), writable())
	assert.ErrorIs(t, e.host.lastErr(), errInjected)

	flaky.failPut.Store(false)
	require.Eventually(t, func() bool { return e.host.last() == componentstatus.StatusOK }, waitFor, 5*time.Millisecond)
	assert.Equal(t, int64(1), writable())
}

// TestChangeFollowsItsEvent: a subscriber told of a change finds the event
// that made it in Events, so it can read the payload behind it.
func TestChangeFollowsItsEvent(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "a", testOptions{})
	var mu sync.Mutex
	var missing []string
	seen := 0
	defer e.Subscribe(func(c incidentsapi.Change) {
		found := false
		for _, ev := range e.Events(time.Time{}, time.Now().Add(time.Hour)) {
			if ev.IncidentID == c.Incident.ID && (c.Kind == incidentsapi.Opened) == (ev.Kind == incident.EventIncidentOpened) {
				found = true
			}
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if !found {
			missing = append(missing, fmt.Sprintf("%s %s", c.Kind, c.Incident.ID))
		}
	})()
	const n = 300
	for i := range n {
		id := fmt.Sprintf("inc-%d", i)
		_, err := e.OpenIncident(ctx, incident.Incident{ID: id}, incident.Event{})
		require.NoError(t, err)
		_, err = e.ResolveIncident(ctx, id, time.Now(), incident.Event{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return seen == 2*n }, waitFor, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, missing, "changes delivered before their event was in the log")
}
