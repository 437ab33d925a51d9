package evidenceexporter

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

func TestPastPartWrittenOnOpen(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(2*time.Minute)), nil)

	h.traces(span("too-old", t0.Add(-31*time.Minute)), span("past-1", t0.Add(-20*time.Minute)), span("past-2", t0.Add(time.Minute)))
	h.reg.open(t, "INC-1", t0)
	h.flush()

	m := h.waitParts("INC-1", 1)
	assert.False(t, m.Complete, "the window is still open")
	assert.Equal(t, bundle.Window{Start: t0.Add(-30 * time.Minute), End: t0.Add(10 * time.Minute)}, m.Window)
	c := h.read("INC-1", m)
	assert.ElementsMatch(t, []string{"past-1", "past-2"}, c.spans)
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened}, c.events)

	// Once the store has the part, the spool keeps only the state.
	require.Eventually(t, func() bool { return !h.exp.uploader.spool.hasPart("INC-1", 1) }, 5*time.Second, time.Millisecond)
}

func TestEmptyPastPartStillWritten(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	h.reg.open(t, "INC-1", t0)
	h.flush()
	m := h.waitParts("INC-1", 1)
	c := h.read("INC-1", m)
	assert.Empty(t, c.spans)
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened}, c.events)
}

func TestWindowSelectionExactlyOnce(t *testing.T) {
	cfg := testConfig(t) // [T-30m, T+10m], 1m flush interval and grace
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	ctx := context.Background()

	h.traces(
		span("before", t0.Add(-30*time.Minute-time.Nanosecond)),
		span("at-start", t0.Add(-30*time.Minute)),
		span("in-1", t0.Add(-10*time.Minute)),
		span("after-1", t0.Add(11*time.Minute)), // clock skew: in the future
	)
	require.NoError(t, h.exp.consumeLogs(ctx, makeLogs("log-in-observed", t0.Add(-time.Minute), true)))
	require.NoError(t, h.exp.consumeLogs(ctx, makeLogs("log-out-timestamp", t0.Add(-40*time.Minute), false)))
	require.NoError(t, h.exp.consumeMetrics(ctx, makeGauge("metric-in", t0)))
	require.NoError(t, h.exp.consumeMetrics(ctx, makeGauge("metric-out", t0.Add(-45*time.Minute))))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.waitParts("INC-1", 1)

	// Data keeps arriving between flushes, some of it late.
	h.clock.Set(t0.Add(3 * time.Minute))
	h.traces(
		span("late-1", t0.Add(-15*time.Minute)),
		span("in-2", t0.Add(2*time.Minute)),
		span("at-end", t0.Add(10*time.Minute)),
		span("after-2", t0.Add(10*time.Minute+time.Nanosecond)),
	)
	h.flush()
	m := h.waitParts("INC-1", 2)
	assert.False(t, m.Complete)

	h.at(t0.Add(5 * time.Minute)) // nothing new: no part
	h.clock.Set(t0.Add(10*time.Minute + 30*time.Second))
	h.traces(span("late-2", t0.Add(9*time.Minute)))
	h.flush() // within the grace period: not final yet
	m = h.waitParts("INC-1", 3)
	assert.False(t, m.Complete, "complete only once end + grace has passed")

	h.at(t0.Add(11 * time.Minute))
	done := h.waitComplete("INC-1")
	h.traces(span("too-late", t0.Add(5*time.Minute)))
	h.at(t0.Add(12 * time.Minute))

	m = h.waitComplete("INC-1")
	assert.Equal(t, done, m, "data after completion leaves the bundle unchanged")
	require.Len(t, m.Parts, 3)
	c := h.read("INC-1", m)
	assert.ElementsMatch(t, []string{"at-start", "in-1", "late-1", "in-2", "at-end", "late-2"}, c.spans)
	assert.Equal(t, []string{"log-in-observed"}, c.logs)
	assert.Equal(t, []string{"metric-in"}, c.points)
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened}, c.events, "each event once per bundle")
	assert.Equal(t, bundle.Counts{Spans: 6, LogRecords: 1, DataPoints: 1, Events: 1}, m.Totals)
	assert.Equal(t, bundle.Window{Start: t0.Add(-30 * time.Minute), End: t0.Add(10 * time.Minute)}, m.Window)
	for _, w := range c.windows {
		assert.Equal(t, m.Window, w)
	}
}

func TestResourceAndScopeStructureKept(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	h.traces(span("a-in", t0), span("b-out", t0.Add(-time.Hour)), span("c-in", t0), span("d-in", t0))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	m := h.waitParts("INC-1", 1)
	c := h.read("INC-1", m)
	var services []string
	require.NoError(t, c.parts[0].Traces(func(td ptrace.Traces) error {
		for i := range td.ResourceSpans().Len() {
			rs := td.ResourceSpans().At(i)
			svc, _ := rs.Resource().Attributes().Get("service.name")
			services = append(services, svc.Str())
			assert.Equal(t, "test", rs.ScopeSpans().At(0).Scope().Name())
		}
		return nil
	}))
	assert.Equal(t, []string{"checkout", "payments"}, services)
	assert.ElementsMatch(t, []string{"a-in", "c-in", "d-in"}, c.spans)
}

func TestOverlappingIncidents(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	// INC-A: [T-30m, T+10m]; INC-B (T+20m): [T-10m, T+30m].
	h.traces(span("a-only", t0.Add(-20*time.Minute)), span("both-1", t0.Add(-5*time.Minute)))
	h.reg.open(t, "INC-A", t0)
	h.flush()

	h.clock.Set(t0.Add(20 * time.Minute))
	h.traces(span("both-2", t0.Add(5*time.Minute)), span("b-only-1", t0.Add(15*time.Minute)))
	h.reg.open(t, "INC-B", t0.Add(20*time.Minute))
	h.flush()

	h.clock.Set(t0.Add(25 * time.Minute))
	h.traces(span("both-late", t0.Add(-time.Minute)), span("b-only-2", t0.Add(25*time.Minute)), span("none", t0.Add(31*time.Minute)))
	h.flush()
	h.at(t0.Add(40 * time.Minute))

	ma, mb := h.waitComplete("INC-A"), h.waitComplete("INC-B")
	a, b := h.read("INC-A", ma), h.read("INC-B", mb)
	// INC-A completed at the T+20m flush, before both-late arrived.
	assert.ElementsMatch(t, []string{"a-only", "both-1", "both-2"}, a.spans)
	assert.ElementsMatch(t, []string{"both-1", "both-2", "both-late", "b-only-1", "b-only-2"}, b.spans)
	// Each bundle holds the events of its own window.
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened}, a.events)
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened, incident.EventIncidentOpened}, b.events)
}

func TestExtendUntilResolved(t *testing.T) {
	tests := []struct {
		name    string
		resolve func(h *harness) // at clock T+25m, after the T+20m flush
		wantEnd time.Time
		want    []string
	}{
		{
			name:    "resolved: end is resolution + after",
			resolve: func(h *harness) { h.reg.resolve(h.t, "INC-1", t0.Add(22*time.Minute)) },
			wantEnd: t0.Add(27 * time.Minute),
			want:    []string{"s-05", "s-12", "s-19", "s-26"},
		},
		{
			name: "late resolution: nothing already frozen is withdrawn",
			// Resolved at T+12m, known only at T+25m: the bound frozen at
			// T+20m stays the end.
			resolve: func(h *harness) { h.reg.resolve(h.t, "INC-1", t0.Add(12*time.Minute)) },
			wantEnd: t0.Add(20 * time.Minute),
			want:    []string{"s-05", "s-12", "s-19"},
		},
		{
			name:    "never resolved: capped at T + max",
			resolve: func(*harness) {},
			wantEnd: t0.Add(30 * time.Minute),
			want:    []string{"s-05", "s-12", "s-19", "s-26", "s-29"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Window = WindowConfig{Before: 10 * time.Minute, After: 5 * time.Minute, ExtendUntilResolved: true, Max: 30 * time.Minute}
			cfg.Buffer.MaxAge = 2 * time.Hour
			h := newHarness(t, cfg, newFakeClock(t0), nil)
			h.reg.open(t, "INC-1", t0)
			h.flush()

			h.clock.Set(t0.Add(20 * time.Minute))
			h.traces(span("s-05", t0.Add(5*time.Minute)), span("s-12", t0.Add(12*time.Minute)), span("s-19", t0.Add(19*time.Minute)))
			h.flush()
			m := h.waitParts("INC-1", 2)
			assert.False(t, m.Complete)
			assert.Equal(t, t0.Add(20*time.Minute), m.Window.End, "while open the window reaches now")

			h.clock.Set(t0.Add(25 * time.Minute))
			tt.resolve(h)
			h.flush()
			h.clock.Set(t0.Add(32 * time.Minute))
			h.traces(span("s-26", t0.Add(26*time.Minute)), span("s-29", t0.Add(29*time.Minute)), span("s-31", t0.Add(31*time.Minute)))
			h.flush()
			h.at(t0.Add(45 * time.Minute))

			m = h.waitComplete("INC-1")
			assert.Equal(t, tt.wantEnd, m.Window.End)
			assert.ElementsMatch(t, tt.want, h.read("INC-1", m).spans)
		})
	}
}

func TestManifestCompleteOnlyAtEnd(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	h.reg.open(t, "INC-1", t0)
	h.flush()
	for i := 1; i <= 10; i++ {
		now := t0.Add(time.Duration(i) * time.Minute)
		h.clock.Set(now)
		h.traces(span("s", now))
		h.flush()
		m := h.waitParts("INC-1", i+1)
		assert.False(t, m.Complete, "flush %d", i)
	}
	h.at(t0.Add(10*time.Minute + 59*time.Second))
	assert.False(t, h.manifest("INC-1").Complete)
	h.at(t0.Add(11 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.Len(t, m.Parts, 11)
	assert.Len(t, h.read("INC-1", m).spans, 10)
}

func TestPartsCutAtPartMaxBytes(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartMaxBytes = 1 // every batch closes its part
	h := newHarness(t, cfg, newFakeClock(t0), nil)
	for i := range 5 {
		h.traces(span("s", t0.Add(-time.Duration(i)*time.Minute)))
	}
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(20 * time.Minute))
	m := h.waitComplete("INC-1")
	// Five parts with one span each, then the events.
	require.Len(t, m.Parts, 6)
	for i, p := range m.Parts[:5] {
		assert.Equal(t, int64(1), p.Counts.Spans, "part %d", i+1)
	}
	assert.Len(t, h.read("INC-1", m).spans, 5)
}

// TestPastPartsCommittedAsTheyAreCut freezes a past that fills several
// parts. Each part is committed and stored as soon as it is cut, not when
// the whole past is frozen: when the flush fails half-way, the parts before
// the failure are in the store, and the next flush goes on after them with
// every span exactly once.
func TestPastPartsCommittedAsTheyAreCut(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartMaxBytes = 1 // every batch closes its part
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	var names []string
	for i := range 5 {
		names = append(names, fmt.Sprintf("past-%d", i))
		h.traces(span(names[i], t0.Add(-time.Duration(5-i)*time.Minute)))
	}
	// A directory where part 4 goes: the spool cannot write it.
	blocker := filepath.Join(cfg.Spool.Directory, "incidents", "INC-1", "part-000004.tar.zst")
	require.NoError(t, os.MkdirAll(blocker, 0o700))

	h.reg.open(t, "INC-1", t0)
	h.flush()
	m := h.waitParts("INC-1", 3)
	assert.False(t, m.Complete)
	assert.Equal(t, names[:3], h.read("INC-1", m).spans, "the parts cut before the failure are stored")

	require.NoError(t, os.Remove(blocker))
	h.at(t0.Add(20 * time.Minute))
	m = h.waitComplete("INC-1")
	c := h.read("INC-1", m)
	assert.Equal(t, names, c.spans)
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened}, c.events)
	for i, p := range m.Parts[:5] {
		assert.Equal(t, int64(1), p.Counts.Spans, "part %d", i+1)
	}
}

func TestStoreFailuresSpoolThenUpload(t *testing.T) {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	flaky := &flakyStore{Store: fs}
	flaky.failures.Store(4)
	h := newHarness(t, testConfig(t), newFakeClock(t0), flaky)

	h.traces(span("s", t0))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	m := h.waitParts("INC-1", 1)
	assert.Equal(t, []string{"s"}, h.read("INC-1", m).spans)
	assert.Equal(t, int64(4+2), flaky.puts.Load(), "4 failures, then the part and the manifest")
	assertSum(t, h.tel, "otelcol_exporter_evidence_parts_failed", 4)
	assertSum(t, h.tel, "otelcol_exporter_evidence_parts_uploaded", 1)
}

func TestStoreDownPartsWaitInSpool(t *testing.T) {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	flaky := &flakyStore{Store: fs}
	flaky.failures.Store(1 << 40)
	cfg := testConfig(t)
	cfg.RetryOnFailure.Enabled = false // one attempt per flush
	h := newHarness(t, cfg, newFakeClock(t0), flaky)

	h.traces(span("s1", t0))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.clock.Set(t0.Add(2 * time.Minute))
	h.traces(span("s2", t0.Add(time.Minute)))
	h.flush()
	require.Eventually(t, func() bool { return flaky.puts.Load() >= 2 }, 5*time.Second, time.Millisecond)
	assert.True(t, h.exp.uploader.spool.hasPart("INC-1", 1))
	assert.True(t, h.exp.uploader.spool.hasPart("INC-1", 2))
	assert.Nil(t, h.manifestQuiet("INC-1"))
	parts, size := h.exp.uploader.spooled()
	assert.Equal(t, int64(2), parts)
	assert.Positive(t, size)

	// The store comes back: the next tick uploads everything, in order.
	flaky.failures.Store(0)
	h.tick <- t0
	m := h.waitParts("INC-1", 2)
	assert.Equal(t, []string{"s1", "s2"}, h.read("INC-1", m).spans)
	require.Eventually(t, func() bool { p, _ := h.exp.uploader.spooled(); return p == 0 }, 5*time.Second, time.Millisecond)
}

// hangingStore is a store whose every call hangs until its context ends,
// like an S3 endpoint that accepts connections and never answers.
type hangingStore struct {
	store.Store
	calls atomic.Int64
}

func (s *hangingStore) hang(ctx context.Context) error {
	s.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

func (s *hangingStore) Put(ctx context.Context, _ string, _ io.Reader, _ int64, _ store.PutOptions) error {
	return s.hang(ctx)
}

func (s *hangingStore) Get(ctx context.Context, _ string) (io.ReadCloser, store.ObjectInfo, error) {
	return nil, store.ObjectInfo{}, s.hang(ctx)
}

// Regression: the look for an earlier bundle of a new incident used the
// freeze loop's context, so an unreachable store held back the part covering
// the past (and every other incident's flushes) for as long as the store
// client retried; against a stopped versitygw that was about 5 s.
func TestHangingStoreDoesNotDelayThePastPart(t *testing.T) {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	hung := &hangingStore{Store: fs}
	reg := newFakeRegistry(hung)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	clock := newFakeClock(t0)
	exp, err := newEvidenceExporter(testConfig(t), metadatatest.NewSettings(tel),
		options{now: clock.Now, tick: make(chan time.Time), storeCheckTimeout: 20 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, exp.start(context.Background(), hostWith(reg)))
	t.Cleanup(func() { require.NoError(t, exp.shutdown(context.Background())) })

	require.NoError(t, exp.consumeTraces(context.Background(), makeTraces(span("past", t0.Add(-time.Minute)))))
	reg.open(t, "INC-1", t0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, exp.flushNow(ctx), "the freeze loop must not wait for the store")
	assert.True(t, exp.freezer.spool.hasPart("INC-1", 1), "the part covering the past is in the spool")
	assert.Positive(t, hung.calls.Load(), "the store was asked for an earlier bundle")
}

func TestRestartFromSpoolAndDiskRing(t *testing.T) {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	flaky := &flakyStore{Store: fs}
	flaky.failures.Store(1 << 40) // the store is down during the first run
	cfg := testConfig(t)
	cfg.Buffer.Directory = t.TempDir()
	cfg.RetryOnFailure.Enabled = false
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), flaky)

	h.traces(span("s1", t0.Add(-5*time.Minute)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.traces(span("s2", t0.Add(time.Minute))) // not flushed before shutdown
	h.stop()                                  // writes part 2 with s2 to the spool

	dir := filepath.Join(cfg.Spool.Directory, "incidents", "INC-1")
	for _, name := range []string{"part-000001.tar.zst", "part-000002.tar.zst", "state.json"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
	// A crash during a flush leaves an uncommitted part and a temporary file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "part-000003.tar.zst"), []byte("torn"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".tmp-state.json-x"), []byte("{"), 0o600))

	flaky.failures.Store(0)
	h.start()
	h.traces(span("s3", t0.Add(2*time.Minute)))
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	c := h.read("INC-1", m)
	assert.ElementsMatch(t, []string{"s1", "s2", "s3"}, c.spans)
	assert.Equal(t, []incident.EventKind{incident.EventIncidentOpened}, c.events)
	assert.Len(t, m.Parts, 3)
	assert.NoFileExists(t, filepath.Join(dir, ".tmp-state.json-x"))
}

func TestRestartWithMemoryRing(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	h.traces(span("s1", t0.Add(-5*time.Minute)))
	h.traces(span("s2", t0.Add(-4*time.Minute)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.waitParts("INC-1", 1)
	h.stop()

	// The new ring starts again at sequence 1, below the saved cursor.
	h.start()
	h.traces(span("s3", t0.Add(2*time.Minute)))
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.ElementsMatch(t, []string{"s1", "s2", "s3"}, h.read("INC-1", m).spans)
	assert.True(t, m.Lossless, "a clean shutdown froze the window first: %v", m.Losses)
}

func TestOpenIncidentsFrozenAtStart(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	h.stop()
	// Opened while the collector was down.
	h.reg.open(t, "INC-1", t0)
	h.start()
	h.flush()
	h.waitParts("INC-1", 1)
	h.traces(span("s1", t0))
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.Equal(t, []string{"s1"}, h.read("INC-1", m).spans)
	require.Len(t, m.Parts, 2)

	// The incident is still open but its bundle is complete: a restart
	// does not freeze it again, and once resolved the spool forgets it.
	h.stop()
	h.start()
	h.at(t0.Add(13 * time.Minute))
	assert.Len(t, h.manifest("INC-1").Parts, 2)
	h.reg.resolve(t, "INC-1", t0.Add(14*time.Minute))
	h.flush()
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(cfg.Spool.Directory, "incidents", "INC-1"))
		return os.IsNotExist(err)
	}, 5*time.Second, time.Millisecond)

	// Without any spool state, the complete manifest in the store stops a
	// second freeze.
	h.stop()
	h.reg.open(t, "INC-1", t0)
	h.start()
	h.at(t0.Add(15 * time.Minute))
	assert.Len(t, h.manifest("INC-1").Parts, 2)
	assert.True(t, h.manifest("INC-1").Complete)
}

func TestResolvedBeforeSeenIsFrozenWhileInRing(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0.Add(5*time.Minute)), nil)
	h.traces(span("s", t0))
	// Unknown incidents arriving already resolved: one whose window the
	// ring may still hold, one long gone.
	inc := incident.Incident{ID: "INC-1", Source: "generic", Status: incident.StatusResolved, StartedAt: t0}
	h.exp.freezer.enqueue(changeResolved(inc))
	old := incident.Incident{ID: "INC-OLD", Source: "generic", Status: incident.StatusResolved, StartedAt: t0.Add(-24 * time.Hour)}
	h.exp.freezer.enqueue(changeResolved(old))
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.Equal(t, []string{"s"}, h.read("INC-1", m).spans)
	assert.Nil(t, h.manifestQuiet("INC-OLD"))
}

func TestConsumeNeverFails(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	h.stop()
	ctx := context.Background()
	require.NoError(t, h.exp.consumeTraces(ctx, makeTraces(span("a", t0), span("b", t0))))
	require.NoError(t, h.exp.consumeLogs(ctx, makeLogs("l", t0, false)))
	assertSumAttrs(t, h.tel, "otelcol_exporter_evidence_buffer_dropped_items", map[string]int64{"traces": 2, "logs": 1})
}

func TestItemsWithoutTimeAreInNoWindow(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	td := makeTraces(span("timed", t0))
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty().SetName("untimed")
	require.NoError(t, h.exp.consumeTraces(context.Background(), td))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	assert.Equal(t, []string{"timed"}, h.read("INC-1", h.waitParts("INC-1", 1)).spans)
}

func TestProtoEncoding(t *testing.T) {
	cfg := testConfig(t)
	cfg.Encoding = bundle.EncodingProto
	h := newHarness(t, cfg, newFakeClock(t0), nil)
	h.traces(span("s", t0))
	require.NoError(t, h.exp.consumeLogs(context.Background(), makeLogs("l", t0, false)))
	require.NoError(t, h.exp.consumeMetrics(context.Background(), makeGauge("m", t0)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	m := h.waitParts("INC-1", 1)
	c := h.read("INC-1", m)
	assert.Equal(t, []string{"s"}, c.spans)
	assert.Equal(t, []string{"l"}, c.logs)
	assert.Equal(t, []string{"m"}, c.points)
	assert.Contains(t, c.parts[0].Data, bundle.TracesProtoFile)
	assert.NotContains(t, c.parts[0].Data, bundle.TracesJSONFile)
}
