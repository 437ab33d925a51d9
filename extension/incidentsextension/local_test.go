package incidentsextension

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/journal"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// eventsByKey counts a replica's recorded events by payload.
func eventsByPayload(e *testExt) map[string]int {
	out := map[string]int{}
	for _, ev := range e.Events(time.Time{}, time.Now().Add(time.Hour)) {
		out[string(ev.Payload)]++
	}
	return out
}

// TestStoreDownIsLocalFirst: with the store refusing everything, opening,
// resolving and recording a deploy succeed at once, subscribers see the
// changes before the store does, nothing is written to the store; when the
// store returns, another replica receives every change once.
func TestStoreDownIsLocalFirst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	flaky := &flakyStore{}
	a := startTestExt(t, dir, "a", testOptions{wrap: func(s store.Store) store.Store { flaky.Store = s; return flaky }})
	b := startTestExt(t, dir, "b", testOptions{})
	rec := &changeRecorder{}
	defer a.Subscribe(rec.record)()

	flaky.failing.Store(true)
	before := len(syncObjects(t, dir))
	ev := func(p string) incident.Event { return incident.Event{Payload: json.RawMessage(`"` + p + `"`)} }
	_, err := a.OpenIncident(ctx, incident.Incident{ID: "INC-down", Title: "store down"}, ev("open"))
	require.NoError(t, err)
	require.NoError(t, a.RecordDeploy(ctx, incident.Deploy{ID: "dep-down", Service: "checkout", Version: "2"}, ev("deploy")))
	require.NoError(t, a.RecordEvent(ctx, ev("alert")))
	_, err = a.ResolveIncident(ctx, "INC-down", time.Now(), ev("resolve"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rec.kinds("INC-down")) == 2 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, []incidentsapi.ChangeKind{incidentsapi.Opened, incidentsapi.Resolved}, rec.kinds("INC-down"))
	assert.NotNil(t, a.Snapshot().DeployFor("checkout", "2", time.Now()))
	assert.Len(t, syncObjects(t, dir), before, "nothing reached the store")
	assert.Empty(t, b.Snapshot().Incidents)

	flaky.failing.Store(false)
	require.Eventually(t, func() bool { return b.status("INC-down") == incident.StatusResolved }, waitFor, 5*time.Millisecond)
	require.Eventually(t, func() bool { return len(eventsByPayload(b)) == 4 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, map[string]int{`"open"`: 1, `"deploy"`: 1, `"alert"`: 1, `"resolve"`: 1}, eventsByPayload(b))
	assert.NotNil(t, b.Snapshot().DeployFor("checkout", "2", time.Now()))
	assert.Len(t, syncObjects(t, dir), before+4, "one object per batch")
}

// TestJournalSurvivesRestartWhileStoreDown: changes recorded while the
// store is down survive a restart of the replica (before they were
// published), are acted on again at start, and are published once.
func TestJournalSurvivesRestartWhileStoreDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	flaky := &flakyStore{}
	wrap := func(s store.Store) store.Store { flaky.Store = s; return flaky }
	a := newTestExt(t, dir, "a", testOptions{wrap: wrap})
	require.NoError(t, a.Start(ctx, a.host))
	b := startTestExt(t, dir, "b", testOptions{})

	flaky.failPut.Store(true)
	_, err := a.OpenIncident(ctx, incident.Incident{ID: "INC-restart"}, incident.Event{Payload: json.RawMessage(`"open"`)})
	require.NoError(t, err)
	require.NoError(t, a.Shutdown(ctx))

	// Restarted (the store takes writes again): the incident is open at
	// once, from the journal, and reaches b once.
	flaky.failPut.Store(false)
	a2 := newTestExt(t, dir, "a", testOptions{wrap: wrap})
	require.NoError(t, a2.Start(ctx, a2.host))
	t.Cleanup(func() { require.NoError(t, a2.Shutdown(ctx)) })
	assert.Equal(t, incident.StatusOpen, a2.status("INC-restart"))
	require.Eventually(t, func() bool { return b.status("INC-restart") == incident.StatusOpen }, waitFor, 5*time.Millisecond)
	require.Eventually(t, func() bool { return eventsByPayload(b)[`"open"`] == 1 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, 1, eventsByPayload(a2)[`"open"`])
}

// TestRepublishedBatchIsAppliedOnce: a batch published but not marked
// published (a crash between the store's answer and the journal's mark) is
// published again under a new key after the restart; the other replica
// applies its events once.
func TestRepublishedBatchIsAppliedOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := startTestExt(t, dir, "a", testOptions{})
	b := startTestExt(t, dir, "b", testOptions{})
	_, err := a.OpenIncident(ctx, incident.Incident{ID: "INC-twice"}, incident.Event{Payload: json.RawMessage(`"open"`)})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return eventsByPayload(b)[`"open"`] == 1 }, waitFor, 5*time.Millisecond)
	objects := len(syncObjects(t, dir))
	require.NoError(t, a.Shutdown(ctx))

	// Drop the published marks from a's journal, as a crash would have.
	jdir := a.cfg.Journal.Directory
	var batches [][]byte
	old, err := journal.Open(jdir, 0, func(r journal.Record) error {
		if r.Type == recBatch {
			batches = append(batches, r.Payload)
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, old.Close())
	entries, err := os.ReadDir(jdir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.Remove(filepath.Join(jdir, e.Name())))
	}
	j, err := journal.Open(jdir, 0, func(journal.Record) error { return nil })
	require.NoError(t, err)
	for _, p := range batches {
		_, _, err := j.Append(recBatch, p)
		require.NoError(t, err)
	}
	require.NoError(t, j.Close())

	a2 := startTestExt(t, dir, "a", testOptions{})
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Len(c, syncObjects(c, dir), objects+len(batches)) }, waitFor, 5*time.Millisecond)
	// b has read the second copies and kept one event.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		objs, err := b.st.List(ctx, incidentsapi.EventsPrefix, "")
		require.NoError(c, err)
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, o := range objs {
			_, ok := b.applied[o.Key]
			assert.True(c, ok, "b has not applied %s", o.Key)
		}
	}, waitFor, 5*time.Millisecond)
	assert.Equal(t, 1, eventsByPayload(b)[`"open"`])
	assert.Equal(t, 1, eventsByPayload(a2)[`"open"`])
}

// TestDamagedJournalDoesNotStopStart: a torn journal is repaired and
// counted; the replica starts with every intact record.
func TestDamagedJournalDoesNotStopStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	flaky := &flakyStore{}
	wrap := func(s store.Store) store.Store { flaky.Store = s; return flaky }
	a := newTestExt(t, dir, "a", testOptions{wrap: wrap})
	require.NoError(t, a.Start(ctx, a.host))
	flaky.failPut.Store(true)
	for _, id := range []string{"INC-1", "INC-2", "INC-3"} {
		_, err := a.OpenIncident(ctx, incident.Incident{ID: id}, incident.Event{})
		require.NoError(t, err)
	}
	require.NoError(t, a.Shutdown(ctx))
	// Tear the last record of the last non-empty segment.
	jdir := a.cfg.Journal.Directory
	entries, err := os.ReadDir(jdir)
	require.NoError(t, err)
	var last string
	for _, e := range entries {
		if fi, _ := e.Info(); fi.Size() > 0 {
			last = filepath.Join(jdir, e.Name())
		}
	}
	fi, err := os.Stat(last)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(last, fi.Size()-5))

	flaky.failPut.Store(false)
	a2 := newTestExt(t, dir, "a", testOptions{wrap: wrap})
	require.NoError(t, a2.Start(ctx, a2.host))
	t.Cleanup(func() { require.NoError(t, a2.Shutdown(ctx)) })
	assert.Equal(t, incident.StatusOpen, a2.status("INC-1"))
	assert.Equal(t, incident.StatusOpen, a2.status("INC-2"))
	assert.Equal(t, incident.Status(""), a2.status("INC-3"), "the torn record is lost")
	assert.Equal(t, 1, a2.logs.FilterMessageSnippet("local journal was damaged").Len())
}

// BenchmarkRecordBatchStoreDown measures what a webhook request waits for
// while the store refuses everything: staging, one fsync'd journal append,
// applying and announcing the change. The store is never on the path.
func BenchmarkRecordBatchStoreDown(b *testing.B) {
	ctx := context.Background()
	flaky := &flakyStore{}
	e := newTestExt(b, b.TempDir(), "bench", testOptions{wrap: func(s store.Store) store.Store { flaky.Store = s; return flaky }})
	require.NoError(b, e.Start(ctx, e.host))
	b.Cleanup(func() { require.NoError(b, e.Shutdown(ctx)) })
	flaky.failing.Store(true)
	ops := alertOps("INC-bench", 9)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.RecordBatch(ctx, ops); err != nil {
			b.Fatal(err)
		}
	}
}
