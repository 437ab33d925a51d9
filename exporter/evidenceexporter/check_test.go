package evidenceexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// gatedStore holds every read until its gate is opened (or the reader's
// context ends), like a store check that takes its time; everything else
// goes to the flaky store it wraps.
type gatedStore struct {
	*flakyStore
	gate  chan struct{}
	reads atomic.Int64
}

func newGatedStore(t *testing.T) *gatedStore {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	return &gatedStore{flakyStore: &flakyStore{Store: fs}, gate: make(chan struct{})}
}

func (s *gatedStore) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	s.reads.Add(1)
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, store.ObjectInfo{}, ctx.Err()
	}
	return s.flakyStore.Get(ctx, key)
}

// spooledState reads the committed state of incident id from the spool.
func spooledState(t *testing.T, cfg *Config, id string) *incidentState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, id, stateFile))
	require.NoError(t, err)
	st := new(incidentState)
	require.NoError(t, json.Unmarshal(data, st))
	return st
}

// incidentFiles reads every file the spool holds for incident id.
func incidentFiles(t *testing.T, cfg *Config, id string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, id)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = data
	}
	return files
}

// waitPastSpooled waits until the store check of incident id has started
// and the first flush, which runs beside it, has committed the part
// covering the past.
func waitPastSpooled(t *testing.T, g *gatedStore, cfg *Config, id string) {
	t.Helper()
	require.Eventually(t, func() bool { return g.reads.Load() > 0 }, 5*time.Second, time.Millisecond,
		"the store check never started")
	statePath := filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, id, stateFile)
	require.Eventually(t, func() bool { _, err := os.Stat(statePath); return err == nil }, 5*time.Second, time.Millisecond,
		"the part covering the past was never committed")
}

// TestPastSpooledBeforeTheStoreCheck: on a trigger, the part covering the
// past is committed to the spool, marked unchecked, before the store is
// asked for an earlier bundle; nothing goes up until the answer comes.
func TestPastSpooledBeforeTheStoreCheck(t *testing.T) {
	g := newGatedStore(t)
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), g)
	h.traces(span("past-1", t0.Add(-5*time.Minute)), span("past-2", t0.Add(-time.Minute)))
	h.reg.open(t, "INC-1", t0) // the freeze loop takes it at once

	waitPastSpooled(t, g, cfg, "INC-1")
	st := spooledState(t, cfg, "INC-1")
	assert.True(t, st.Unchecked, "committed before the store check answered")
	require.Len(t, st.Parts, 1)
	assert.True(t, h.exp.freezer.spool.hasPart("INC-1", 1), "the part covering the past is in the spool")
	assert.Zero(t, g.puts.Load(), "nothing is uploaded before the store check answers")

	close(g.gate)
	h.flush() // after the check
	assert.False(t, spooledState(t, cfg, "INC-1").Unchecked)
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.ElementsMatch(t, []string{"past-1", "past-2"}, h.read("INC-1", m).spans)
	assert.True(t, m.Lossless, "%v", m.Losses)
}

// TestUncheckedSpoolCheckedAfterACrash: a kill after the past is in the
// spool but before the store check answered loses none of it, although the
// memory ring dies: the next start finds the unchecked state, checks the
// store, and uploads the past it holds.
func TestUncheckedSpoolCheckedAfterACrash(t *testing.T) {
	setBootTime(t, t0.Add(-time.Hour))
	g := newGatedStore(t)
	g.failures.Store(1 << 40) // nothing reaches the store in the first run
	cfg := testConfig(t)
	cfg.RetryOnFailure.Enabled = false
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), g)
	h.traces(span("past-1", t0.Add(-5*time.Minute)), span("past-2", t0.Add(-time.Minute)))
	h.reg.open(t, "INC-1", t0)
	waitPastSpooled(t, g, cfg, "INC-1")
	// The "kill": the spool and the recorder's files as they are now.
	crash := takeCrashCopy(t, cfg.Spool.Directory)
	spooled := incidentFiles(t, cfg, "INC-1")
	require.Contains(t, spooled, "part-000001.tar.zst")
	close(g.gate)
	h.stop()
	crash.restore(t, cfg.Spool.Directory)
	dir := filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, "INC-1")
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o750))
	for name, data := range spooled {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	require.True(t, spooledState(t, cfg, "INC-1").Unchecked)
	require.Nil(t, h.manifest("INC-1"))

	g.failures.Store(0)
	h.start()
	h.flush()
	assert.False(t, spooledState(t, cfg, "INC-1").Unchecked, "checked after the restart")
	h.traces(span("later", t0.Add(time.Minute)))
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.ElementsMatch(t, []string{"past-1", "past-2", "later"}, h.read("INC-1", m).spans)
	assert.True(t, m.Lossless, "the past was in the spool: %v", m.Losses)
}

// TestKillBeforeThePastIsSpooledIsCounted: a kill after the trigger but
// before the part covering the past reached the spool (here its write
// fails) loses that past with the memory ring, and the bundle written
// after the restart names it as a restart loss, item for item.
func TestKillBeforeThePastIsSpooledIsCounted(t *testing.T) {
	setBootTime(t, t0.Add(-time.Hour))
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(-time.Minute)), nil)
	h.traces(span("recorded-1", t0.Add(-5*time.Minute)), span("recorded-2", t0.Add(-4*time.Minute)))
	h.flush() // recorder.json lists the first block
	h.traces(span("ledgered-1", t0.Add(-3*time.Minute)), span("ledgered-2", t0.Add(-2*time.Minute)))
	// The incident's spool directory cannot be created: its first flush fails.
	blocker := filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, "INC-1")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	h.clock.Set(t0.Add(time.Second))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.kill(nil)
	require.NoError(t, os.Remove(blocker))

	h.start()
	h.clock.Set(t0.Add(time.Minute))
	h.traces(span("kept", t0.Add(30*time.Second)))
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.Equal(t, []string{"kept"}, h.read("INC-1", m).spans)
	assert.Equal(t, []bundle.Loss{
		{Signal: "traces", Reason: bundle.LossRestart, Items: 4, From: t0.Add(-5 * time.Minute), To: t0.Add(-2 * time.Minute)},
	}, m.Losses)
}

// TestStoreHoldsTheCompleteBundle: an incident whose spool state was lost
// while the store holds this collector's complete bundle is frozen into
// the spool again on its trigger, and the store check then discards that:
// the store keeps its bundle unchanged and the spool is left empty.
func TestStoreHoldsTheCompleteBundle(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	h.traces(span("past", t0.Add(-time.Minute)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	before := h.waitComplete("INC-1")
	h.stop()
	require.NoError(t, os.RemoveAll(filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, "INC-1")))

	h.start() // the registry still has INC-1 open
	h.traces(span("again", t0.Add(-time.Minute)))
	h.flush()
	h.flush()
	assert.NoDirExists(t, filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, "INC-1"))
	assert.Empty(t, h.exp.freezer.jobs)
	assert.True(t, h.exp.freezer.skipped["INC-1"])
	after := h.manifest("INC-1")
	assert.Equal(t, before, after)
	assert.Equal(t, []string{"past"}, h.read("INC-1", after).spans)
	_, _, err := h.fs.Get(context.Background(), mustPartKey(t, "INC-1", len(before.Parts)+1))
	assert.ErrorIs(t, err, store.ErrNotFound, "no part beyond the stored bundle")
}

// TestStoreHoldsAnIncompleteBundle: with the spool state lost and an
// incomplete bundle of this collector in the store, the unchecked parts
// are discarded and the window is frozen again after the store's last
// part: no part number is written twice.
func TestStoreHoldsAnIncompleteBundle(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	h.traces(span("past", t0.Add(-time.Minute)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	before := h.waitParts("INC-1", 1)
	part1 := readObject(t, h, mustPartKey(t, "INC-1", 1))
	h.stop()
	require.NoError(t, os.RemoveAll(filepath.Join(cfg.Spool.Directory, spoolIncidentsDir, "INC-1")))

	h.start()
	h.traces(span("later", t0.Add(2*time.Minute)))
	h.flush()
	st := spooledState(t, cfg, "INC-1")
	assert.False(t, st.Unchecked)
	assert.Equal(t, before.Parts, st.Parts[:len(before.Parts)], "continues after the store's parts")
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.Equal(t, part1, readObject(t, h, mustPartKey(t, "INC-1", 1)), "part 1 is not written again")
	seqs := map[int]bool{}
	for i, p := range m.Parts {
		assert.Equal(t, i+1, p.Seq)
		seqs[p.Seq] = true
	}
	assert.Len(t, seqs, len(m.Parts))
	spans := h.read("INC-1", m).spans
	assert.ElementsMatch(t, []string{"past", "later"}, spans)
}

func mustPartKey(t *testing.T, id string, seq int) string {
	t.Helper()
	key, err := bundle.PartKey(id, testCollector, seq)
	require.NoError(t, err)
	return key
}

func readObject(t *testing.T, h *harness, key string) []byte {
	t.Helper()
	rc, _, err := h.fs.Get(context.Background(), key)
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return data
}

// TestPastPartsGoUpWhileThePastIsFrozen: the store check runs beside the
// freeze of the past, so once it has answered, each part the first flush
// commits goes to the store at once instead of after the whole past.
func TestPastPartsGoUpWhileThePastIsFrozen(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartMaxBytes = 1 // every batch closes its part
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	st := &flakyStore{Store: fs}
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), st)
	for i := range 5 {
		h.traces(span(fmt.Sprintf("past-%d", i), t0.Add(-time.Duration(i+1)*time.Minute)))
	}
	f := h.exp.freezer
	var uploadedDuringFlush atomic.Bool
	// Set before the incident opens: the freeze loop reads it after that.
	f.partWritten = func(id string, seq int) {
		switch seq {
		case 1:
			<-f.lookups[id].done // the store has answered: nothing of this collector's
		case 4:
			// Part 1 was committed after the answer: it goes up while
			// the flush is still freezing the past.
			uploadedDuringFlush.Store(assert.Eventually(t, func() bool { return st.puts.Load() > 0 },
				10*time.Second, time.Millisecond, "nothing was uploaded while the past was frozen"))
		}
	}
	h.reg.open(t, "INC-1", t0)
	h.flush()
	assert.True(t, uploadedDuringFlush.Load())
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.Len(t, h.read("INC-1", m).spans, 5)
	assert.True(t, m.Lossless, "%v", m.Losses)
}
