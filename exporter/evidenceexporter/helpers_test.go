package evidenceexporter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/fakeclock"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// t0 is the start of the incidents in most tests.
var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

const testCollector = "collector-1"

func newFakeClock(t time.Time) *fakeclock.Clock { return fakeclock.New(t) }

// fakeRegistry is incidentsapitest's in-memory registry, whose changes
// reach the subscribers before the write returns, with helpers that open
// and resolve incidents. copied counts the events the exporter has read
// from it (EventsSince).
type fakeRegistry struct {
	*incidentsapitest.Registry
	copied atomic.Int64
}

func newFakeRegistry(st store.Store) *fakeRegistry {
	return &fakeRegistry{Registry: incidentsapitest.NewRegistry(testCollector, st)}
}

func (r *fakeRegistry) EventsSince(from, to time.Time, mark uint64, had time.Time) ([]incident.Event, uint64) {
	evs, next := r.Registry.EventsSince(from, to, mark, had)
	r.copied.Add(int64(len(evs)))
	return evs, next
}

// open opens an incident started at start, with its event at start.
func (r *fakeRegistry) open(t *testing.T, id string, start time.Time) {
	t.Helper()
	inc := incident.Incident{ID: id, Title: "test " + id, Source: incident.SourceGeneric, StartedAt: start, UpdatedAt: start}
	_, err := r.OpenIncident(context.Background(), inc, incident.Event{
		Kind: incident.EventIncidentOpened, Time: start, Source: incident.SourceGeneric, IncidentID: id, Incident: &inc,
	})
	require.NoError(t, err)
}

func (r *fakeRegistry) resolve(t *testing.T, id string, at time.Time) {
	t.Helper()
	_, err := r.ResolveIncident(context.Background(), id, at, incident.Event{
		Kind: incident.EventIncidentResolved, Time: at, Source: incident.SourceGeneric, IncidentID: id,
	})
	require.NoError(t, err)
}

// lifecycleStore is a filesystem store in a temporary directory.
func lifecycleStore(t testing.TB) store.Store {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	return fs
}

// hostWith offers reg as the "incidents" extension.
func hostWith(reg *fakeRegistry) component.Host { return incidentsapitest.NewHost(reg, nil) }

// flakyStore fails its first failures Puts, then delegates.
type flakyStore struct {
	store.Store
	failures atomic.Int64
	puts     atomic.Int64
}

var errStoreDown = errors.New("store unreachable")

func (s *flakyStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts store.PutOptions) error {
	s.puts.Add(1)
	if s.failures.Add(-1) >= 0 {
		return errStoreDown
	}
	return s.Store.Put(ctx, key, r, size, opts)
}

// testConfig is a small, fast configuration: window [T-30m, T+10m] without
// extension, 1m flushes, fast retries.
func testConfig(t *testing.T) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Spool.Directory = t.TempDir()
	cfg.Window.ExtendUntilResolved = false
	cfg.LateData.Period = 0 // complete means final; see TestLateParts
	cfg.Buffer.MaxBytes = 64 << 20
	cfg.RetryOnFailure.InitialInterval = time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 5 * time.Millisecond
	cfg.RetryOnFailure.RandomizationFactor = 0
	return cfg
}

// harness is one started exporter over a fake registry and a filesystem store.
type harness struct {
	t     *testing.T
	cfg   *Config
	clock *fakeclock.Clock
	reg   *fakeRegistry
	fs    *storage.Filesystem
	tel   *componenttest.Telemetry
	exp   *evidenceExporter
	tick  chan time.Time
	down  bool
}

func newHarness(t *testing.T, cfg *Config, clock *fakeclock.Clock, st store.Store) *harness {
	t.Helper()
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	if st == nil {
		st = fs
	}
	h := &harness{t: t, cfg: cfg, clock: clock, reg: newFakeRegistry(st), fs: fs}
	if g, ok := st.(*gatedStore); ok {
		st = g.flakyStore
	}
	if f, ok := st.(*flakyStore); ok {
		h.fs = f.Store.(*storage.Filesystem)
	}
	h.start()
	return h
}

// start starts a new exporter over the harness's registry, store and spool.
func (h *harness) start() {
	h.t.Helper()
	tel := componenttest.NewTelemetry()
	h.t.Cleanup(func() { require.NoError(h.t, tel.Shutdown(context.Background())) })
	h.tel = tel
	set := metadatatest.NewSettings(h.tel)
	h.tick = make(chan time.Time)
	exp, err := newEvidenceExporter(h.cfg, set, options{now: h.clock.Now, tick: h.tick})
	require.NoError(h.t, err)
	require.NoError(h.t, exp.start(context.Background(), hostWith(h.reg)))
	h.exp = exp
	h.down = false
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.down {
		return
	}
	h.down = true
	require.NoError(h.t, h.exp.shutdown(context.Background()))
}

// flush runs one synchronous freeze step at the clock's time.
func (h *harness) flush() {
	h.t.Helper()
	require.NoError(h.t, h.exp.flushNow(context.Background()))
}

// at sets the clock and flushes.
func (h *harness) at(now time.Time) {
	h.t.Helper()
	h.clock.Set(now)
	h.flush()
}

func (h *harness) traces(names ...spanAt) {
	h.t.Helper()
	require.NoError(h.t, h.exp.consumeTraces(context.Background(), makeTraces(names...)))
}

// manifest returns the stored manifest of incident id, nil if none.
func (h *harness) manifest(id string) *bundle.Manifest {
	h.t.Helper()
	key, err := bundle.ManifestKey(id, testCollector)
	require.NoError(h.t, err)
	rc, _, err := h.fs.Get(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	require.NoError(h.t, err)
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	require.NoError(h.t, err)
	m, err := bundle.ParseManifest(data)
	require.NoError(h.t, err)
	return m
}

// waitComplete waits until the store holds the complete manifest of id.
func (h *harness) waitComplete(id string) *bundle.Manifest {
	h.t.Helper()
	var m *bundle.Manifest
	require.Eventually(h.t, func() bool {
		m = h.manifestQuiet(id)
		return m != nil && m.Complete
	}, 10*time.Second, 5*time.Millisecond, "complete manifest of %s", id)
	return m
}

// waitParts waits until the store's manifest of id lists n parts.
func (h *harness) waitParts(id string, n int) *bundle.Manifest {
	h.t.Helper()
	var m *bundle.Manifest
	require.Eventually(h.t, func() bool {
		m = h.manifestQuiet(id)
		return m != nil && len(m.Parts) == n
	}, 10*time.Second, 5*time.Millisecond, "manifest of %s with %d parts", id, n)
	return m
}

func (h *harness) manifestQuiet(id string) *bundle.Manifest {
	key, _ := bundle.ManifestKey(id, testCollector)
	rc, _, err := h.fs.Get(context.Background(), key)
	if err != nil {
		return nil
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		return nil
	}
	return m
}

// bundleContent is everything the stored parts of one incident hold.
type bundleContent struct {
	spans   []string // span names, in part order
	logs    []string // log bodies
	points  []string // metric name + point time
	events  []incident.EventKind
	parts   []*bundle.Part
	windows []bundle.Window
}

func (h *harness) read(id string, m *bundle.Manifest) bundleContent {
	h.t.Helper()
	var c bundleContent
	for _, ref := range m.Parts {
		key, err := bundle.PartKey(id, testCollector, ref.Seq)
		require.NoError(h.t, err)
		rc, _, err := h.fs.Get(context.Background(), key)
		require.NoError(h.t, err)
		data, err := io.ReadAll(rc)
		require.NoError(h.t, rc.Close())
		require.NoError(h.t, err)
		require.Equal(h.t, ref.Size, int64(len(data)))
		p, err := bundle.ReadPart(bytes.NewReader(data))
		require.NoError(h.t, err)
		require.NoError(h.t, p.Verify())
		c.parts = append(c.parts, p)
		c.windows = append(c.windows, p.Info.Window)
		require.NoError(h.t, p.Traces(func(td ptrace.Traces) error {
			otlptime.Spans(td, func(s ptrace.Span) { c.spans = append(c.spans, s.Name()) })
			return nil
		}))
		require.NoError(h.t, p.Logs(func(ld plog.Logs) error {
			rls := ld.ResourceLogs()
			for i := range rls.Len() {
				sls := rls.At(i).ScopeLogs()
				for j := range sls.Len() {
					lrs := sls.At(j).LogRecords()
					for k := range lrs.Len() {
						c.logs = append(c.logs, lrs.At(k).Body().Str())
					}
				}
			}
			return nil
		}))
		require.NoError(h.t, p.Metrics(func(md pmetric.Metrics) error {
			rms := md.ResourceMetrics()
			for i := range rms.Len() {
				sms := rms.At(i).ScopeMetrics()
				for j := range sms.Len() {
					ms := sms.At(j).Metrics()
					for k := range ms.Len() {
						dps := ms.At(k).Gauge().DataPoints()
						for range dps.Len() {
							c.points = append(c.points, ms.At(k).Name())
						}
					}
				}
			}
			return nil
		}))
		require.NoError(h.t, p.Events(func(ev incident.Event) error {
			c.events = append(c.events, ev.Kind)
			return nil
		}))
	}
	return c
}

// spanAt names a span and its start time.
type spanAt struct {
	name string
	at   time.Time
}

func span(name string, at time.Time) spanAt { return spanAt{name, at} }

// makeTraces builds one batch: each span under its own resource and scope
// alternating between two services, so filtering has structure to keep.
func makeTraces(spans ...spanAt) ptrace.Traces {
	td := ptrace.NewTraces()
	for i, s := range spans {
		var rs ptrace.ResourceSpans
		if i < 2 {
			rs = td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", []string{"checkout", "payments"}[i])
			rs.ScopeSpans().AppendEmpty().Scope().SetName("test")
		} else {
			rs = td.ResourceSpans().At(i % 2)
		}
		sp := rs.ScopeSpans().At(0).Spans().AppendEmpty()
		sp.SetName(s.name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.at))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.at.Add(time.Millisecond)))
	}
	return td
}

func makeLogs(body string, at time.Time, observedOnly bool) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(body)
	if observedOnly {
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at))
	} else {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Hour)))
	}
	return ld
}

func makeGauge(name string, at time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetIntValue(1)
	dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
	return md
}

func changeResolved(inc incident.Incident) incidentsapi.Change {
	return incidentsapi.Change{Kind: incidentsapi.Resolved, Incident: inc}
}

// sumByAttrs returns the int64 sum metric's values by "signal" attribute
// ("" when the point has none).
func sumByAttrs(t *testing.T, tel *componenttest.Telemetry, name string) map[string]int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	out := make(map[string]int64)
	for _, dp := range sum.DataPoints {
		v, _ := dp.Attributes.Value("signal")
		out[v.AsString()] += dp.Value
	}
	return out
}

func assertSum(t *testing.T, tel *componenttest.Telemetry, name string, want int64) {
	t.Helper()
	require.Equal(t, map[string]int64{"": want}, sumByAttrs(t, tel, name), name)
}

func assertSumAttrs(t *testing.T, tel *componenttest.Telemetry, name string, want map[string]int64) {
	t.Helper()
	require.Equal(t, want, sumByAttrs(t, tel, name), name)
}
