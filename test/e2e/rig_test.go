package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The freeze rig: one collector on versitygw with a short freeze window,
// an OTLP client that sends items with unique IDs and chosen times, and the
// checks that compare a bundle with what was sent. Shared by the freeze
// and fault tests.

// freezeRig is one collector on versitygw with the freeze window config,
// and what the test sent it.
type freezeRig struct {
	t   *testing.T
	id  string
	srv *s3server.Server
	// collector is the collector_id (freezeCollector unless
	// rigOptions.collector says otherwise).
	collector string
	// webhookLogs: the collector's own incident_webhook records incident
	// events in its logs (it is the one the test posts to).
	webhookLogs bool
	// proxy stands between the collector and versitygw (rigOptions.proxy).
	proxy *harness.Proxy
	st    store.Store
	ports harness.Ports
	dir   string
	c     *harness.Collector
	otlp  *harness.OTLPClient
	// T is the incident's started_at: a second before the test starts
	// sending, so that the window end (T+10s) passes soon.
	T time.Time
	// after is the window's after: the window is [T-freezeBefore, T+after].
	after time.Duration

	begin time.Time
	batch int
	// sent maps each item ID to the item's own time, per signal.
	sent signalItems
	// untaggedSpans is the number of spans without an item ID the bundle
	// must hold (telemetrygen's).
	untaggedSpans int64
	// wantLosses are losses the complete manifest must name beside those
	// of missingReason.
	wantLosses []bundle.Loss
	// missingReason, when set, lets in-window items be missing from the
	// bundle, provided that the manifest names exactly them: per signal,
	// a loss of this reason with their number and item-time range. Unset,
	// nothing may be missing. With no loss at all, the manifest must say
	// lossless.
	missingReason string
	// kept are items the bundle must hold even with missingReason set.
	kept signalItems
}

// signalItems maps item IDs to item times, per signal.
type signalItems struct {
	traces, logs, metrics map[string]time.Time
}

func newSignalItems() signalItems {
	return signalItems{traces: map[string]time.Time{}, logs: map[string]time.Time{}, metrics: map[string]time.Time{}}
}

func startFreezeRig(t *testing.T, id string, evidence map[string]any) *freezeRig {
	t.Helper()
	return startRig(t, id, rigOptions{evidence: evidence})
}

// rigOptions vary the freeze rig.
type rigOptions struct {
	// evidence is merged into the evidence exporter's config.
	evidence map[string]any
	// override is deep-merged over the whole collector config; its
	// "exporters" key, if any, is replaced (use evidence).
	override map[string]any
	// after is window.after; 0 means freezeAfter.
	after time.Duration
	// proxy puts a harness.Proxy between the collector and versitygw
	// (the test's own store client still talks to versitygw directly).
	proxy bool
	// beforeStart runs with the collector's directory before it starts.
	beforeStart func(dir string)
	// srv, when set, is the versitygw to use (a second replica of a rig
	// shares the first one's); else the rig starts its own.
	srv *s3server.Server
	// collector is the collector_id; "" means freezeCollector.
	collector string
	// noWebhook: the test posts no webhook to this collector.
	noWebhook bool
}

func startRig(t *testing.T, id string, o rigOptions) *freezeRig {
	t.Helper()
	begin := time.Now()
	harness.Binary(t) // built once per test process
	t.Logf("%s: the collector binary is ready", time.Since(begin).Round(time.Millisecond))
	srv := o.srv
	if srv == nil {
		srv = s3server.Start(t)
	}
	storeCfg, st := harness.S3Store(t, srv, "e2e-freeze")
	collector := o.collector
	if collector == "" {
		collector = freezeCollector
	}
	var proxy *harness.Proxy
	if o.proxy {
		proxy = harness.StartProxy(t, srv.URL())
		storeCfg["s3"].(map[string]any)["endpoint"] = proxy.URL()
	}
	after := o.after
	if after == 0 {
		after = freezeAfter
	}
	exp := map[string]any{
		"window": map[string]any{
			"before":                freezeBefore.String(),
			"after":                 after.String(),
			"extend_until_resolved": false,
		},
		"flush_interval": "1s",
		"retry_on_failure": map[string]any{
			"initial_interval": "100ms",
			"max_interval":     "500ms",
		},
	}
	for k, v := range o.evidence {
		exp[k] = v
	}
	override := map[string]any{"exporters": map[string]any{"evidence": exp}}
	for k, v := range o.override {
		override[k] = v
	}
	p := harness.NewPorts(t)
	cfg := harness.Config(t, p, harness.Options{
		CollectorID: collector,
		Store:       storeCfg,
		Override:    override,
	})
	dir := t.TempDir()
	if o.beforeStart != nil {
		o.beforeStart(dir)
	}
	c := harness.StartCollector(t, dir, cfg, p.Health)
	t.Logf("%s: versitygw and the collector are up", time.Since(begin).Round(time.Millisecond))
	return &freezeRig{
		t: t, id: id, srv: srv, collector: collector, webhookLogs: !o.noWebhook,
		proxy: proxy, st: st, ports: p, dir: dir, c: c, begin: begin, after: after,
		otlp: harness.NewOTLPClient(t, p.OTLPGRPC),
		T:    time.Now().Add(-time.Second).UTC(),
		sent: newSignalItems(),
	}
}

// logf logs msg with the time since the rig started.
func (r *freezeRig) logf(format string, args ...any) {
	r.t.Helper()
	r.t.Logf("%s: %s", time.Since(r.begin).Round(time.Millisecond), fmt.Sprintf(format, args...))
}

// every returns the times from..to (inclusive) step apart.
func every(from, to time.Time, step time.Duration) []time.Time {
	var out []time.Time
	for t := from; !t.After(to); t = t.Add(step) {
		out = append(out, t)
	}
	return out
}

// send sends one batch of each signal with one item per time, each item
// tagged with a unique ID, and records the items.
func (r *freezeRig) send(times ...time.Time) {
	r.t.Helper()
	r.batch++
	b := r.batch
	n := len(times)
	at := testgen.WithTimeFunc(func(i int) time.Time { return times[i] })

	td := testgen.Traces(int64(b), n, 3, time.Time{}, 0, at)
	k := 0
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				id := fmt.Sprintf("b%d-span-%d", b, k)
				k++
				s.Attributes().PutStr(itemAttr, id)
				r.sent.traces[id] = s.StartTimestamp().AsTime()
			}
		}
	}
	ld := testgen.Logs(int64(b), n, 3, time.Time{}, 0, at)
	k = 0
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				id := fmt.Sprintf("b%d-log-%d", b, k)
				k++
				lr.Attributes().PutStr(itemAttr, id)
				r.sent.logs[id] = logTime(lr).AsTime()
			}
		}
	}
	md := testgen.Metrics(int64(b), n, 3, time.Time{}, 0, at)
	k = 0
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				harness.EachDataPoint(m, func(attrs pcommon.Map, ts pcommon.Timestamp) {
					id := fmt.Sprintf("b%d-point-%d", b, k)
					k++
					attrs.PutStr(itemAttr, id)
					r.sent.metrics[id] = ts.AsTime()
				})
			}
		}
	}
	require.Equal(r.t, n, k, "one data point per time")
	r.otlp.SendTraces(td)
	r.otlp.SendLogs(ld)
	r.otlp.SendMetrics(md)
}

// logTime is a log record's own time: its timestamp, else its observed
// time (the evidence exporter's documented rule).
func logTime(lr plog.LogRecord) pcommon.Timestamp {
	if lr.Timestamp() != 0 {
		return lr.Timestamp()
	}
	return lr.ObservedTimestamp()
}

// open opens the incident through the generic webhook endpoint, started
// at T.
func (r *freezeRig) open() {
	r.t.Helper()
	body := fmt.Sprintf(`{"id":%q,"title":"freeze e2e","severity":"critical","started_at":%q}`,
		r.id, r.T.Format(time.RFC3339Nano))
	code, resp := harness.PostJSON(r.t, r.ports.WebhookURL("/v1/incidents"), harness.Token, body)
	require.Less(r.t, code, 300, "webhook answered %d: %s", code, resp)
}

func (r *freezeRig) partKey(seq int) string {
	key, err := bundle.PartKey(r.id, r.collector, seq)
	require.NoError(r.t, err)
	return key
}

func (r *freezeRig) waitObject(key string, timeout time.Duration) {
	r.t.Helper()
	require.Eventuallyf(r.t, func() bool { return harness.HasObject(r.st, key) }, timeout, 50*time.Millisecond,
		"%s not in the bucket within %s", key, timeout)
}

// inWindow returns the sent items whose own time is in [T-before, T+after].
func (r *freezeRig) inWindow() signalItems {
	lo, hi := r.T.Add(-freezeBefore), r.T.Add(r.after)
	out := newSignalItems()
	for _, p := range []struct{ from, to map[string]time.Time }{
		{r.sent.traces, out.traces}, {r.sent.logs, out.logs}, {r.sent.metrics, out.metrics},
	} {
		for id, at := range p.from {
			if !at.Before(lo) && !at.After(hi) {
				p.to[id] = at
			}
		}
	}
	return out
}

// waitFrozen waits until the manifest in the bucket counts at least every
// in-window item sent so far (log records also include the webhook's own).
func (r *freezeRig) waitFrozen(timeout time.Duration) {
	r.t.Helper()
	want := r.inWindow()
	key, err := bundle.ManifestKey(r.id, r.collector)
	require.NoError(r.t, err)
	var got bundle.Counts
	require.Eventuallyf(r.t, func() bool {
		rc, _, err := r.st.Get(r.t.Context(), key)
		if err != nil {
			return false
		}
		defer func() { _ = rc.Close() }()
		var m bundle.Manifest
		if json.NewDecoder(rc).Decode(&m) != nil {
			return false
		}
		got = m.Totals
		return got.Spans >= int64(len(want.traces)) && got.LogRecords >= int64(len(want.logs)) &&
			got.DataPoints >= int64(len(want.metrics))
	}, timeout, 100*time.Millisecond, "the manifest never counted the %d spans, %d log records and %d data points sent so far: %+v",
		len(want.traces), len(want.logs), len(want.metrics), &got)
}

// waitInRing waits until the evidence exporter's ring holds every item sent
// so far, as its buffer_items gauge reports (log records also include the
// webhook's own).
func (r *freezeRig) waitInRing(timeout time.Duration) {
	r.t.Helper()
	r.waitInRingPlus(0, timeout)
}

// waitInRingPlus is waitInRing with extraLogs more log records than the
// test sent (the incident_webhook's own records of the incident events).
func (r *freezeRig) waitInRingPlus(extraLogs int, timeout time.Duration) {
	r.t.Helper()
	var got map[string]int64
	require.Eventuallyf(r.t, func() bool {
		got = ringItems(r.ports.Metrics)
		return got["traces"] >= int64(len(r.sent.traces)) && got["logs"] >= int64(len(r.sent.logs)+extraLogs) &&
			got["metrics"] >= int64(len(r.sent.metrics))
	}, timeout, 20*time.Millisecond, "the ring never held the %d spans, %d log records and %d data points sent: %v",
		len(r.sent.traces), len(r.sent.logs)+extraLogs, len(r.sent.metrics), got)
}

var ringItemsLine = regexp.MustCompile(`^otelcol_exporter_evidence_buffer_items\{.*signal="(\w+)".*\} (\S+)$`)

// ringItems scrapes the collector's Prometheus endpoint for the ring's
// items per signal.
func ringItems(addr string) map[string]int64 {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := ringItemsLine.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err == nil {
				out[m[1]] = int64(v)
			}
		}
	}
	return out
}

// waitSpooled waits until the parts committed to the spool count every
// in-window item sent so far (log records also include the webhook's own).
func (r *freezeRig) waitSpooled(timeout time.Duration) {
	r.t.Helper()
	want := r.inWindow()
	var got bundle.Counts
	require.Eventuallyf(r.t, func() bool {
		got = r.spoolState().frozen()
		return got.Spans >= int64(len(want.traces)) && got.LogRecords >= int64(len(want.logs)) &&
			got.DataPoints >= int64(len(want.metrics))
	}, timeout, 50*time.Millisecond, "the spool never counted the %d spans, %d log records and %d data points sent so far: %+v",
		len(want.traces), len(want.logs), len(want.metrics), &got)
}

// spoolIncidentDir is the exporter's spool directory of the incident.
func (r *freezeRig) spoolIncidentDir() string {
	return filepath.Join(r.dir, "var", "spool", "incidents", r.id)
}

// spoolState is the subset of the exporter's state.json the tests read.
type spoolState struct {
	Complete  bool             `json:"complete"`
	Unchecked bool             `json:"unchecked"`
	Parts     []bundle.PartRef `json:"parts"`
	Cursor    uint64           `json:"cursor"`
}

func (s *spoolState) frozen() bundle.Counts {
	var c bundle.Counts
	if s == nil {
		return c
	}
	for _, p := range s.Parts {
		c = c.Add(p.Counts)
	}
	return c
}

// spoolState reads the incident's committed state, nil if there is none.
func (r *freezeRig) spoolState() *spoolState {
	data, err := os.ReadFile(filepath.Join(r.spoolIncidentDir(), "state.json"))
	if err != nil {
		return nil
	}
	var s spoolState
	if json.Unmarshal(data, &s) != nil {
		return nil
	}
	return &s
}

// spooledParts lists the part files waiting in the spool.
func (r *freezeRig) spooledParts() []string {
	entries, _ := os.ReadDir(r.spoolIncidentDir())
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "part-") && strings.HasSuffix(e.Name(), ".tar.zst") {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkExactlyTheWindow reads every part of the complete bundle and
// compares the items in it with the items sent: every in-window item once,
// nothing else but the webhook's own incident events.
func (r *freezeRig) checkExactlyTheWindow(rep bundle.Report) {
	t := r.t
	t.Helper()
	require.True(t, rep.OK(), "problems: %v", rep.AllProblems())
	i := slices.IndexFunc(rep.Collectors, func(c bundle.CollectorReport) bool { return c.CollectorID == r.collector })
	require.GreaterOrEqual(t, i, 0, "no bundle of collector %s", r.collector)
	col := rep.Collectors[i]
	require.True(t, col.Complete)
	require.Empty(t, col.Unlisted, "parts not listed in the complete manifest")

	b := harness.ReadBundle(t, r.st, r.id, r.collector)
	lo, hi := r.T.Add(-freezeBefore), r.T.Add(r.after)
	assert.True(t, b.Manifest.Window.Start.Equal(lo), "window start %s, want %s", b.Manifest.Window.Start, lo)
	assert.True(t, b.Manifest.Window.End.Equal(hi), "window end %s, want %s", b.Manifest.Window.End, hi)

	got := struct{ traces, logs, metrics map[string][]time.Time }{
		map[string][]time.Time{}, map[string][]time.Time{}, map[string][]time.Time{},
	}
	var untagged bundle.Counts
	webhookLogs := map[string]int{}
	b.Spans(t, func(_ pcommon.Resource, s ptrace.Span) {
		if v, ok := s.Attributes().Get(itemAttr); ok {
			got.traces[v.Str()] = append(got.traces[v.Str()], s.StartTimestamp().AsTime())
			return
		}
		untagged.Spans++
	})
	b.LogRecords(t, func(res pcommon.Resource, lr plog.LogRecord) {
		if v, ok := lr.Attributes().Get(itemAttr); ok {
			got.logs[v.Str()] = append(got.logs[v.Str()], logTime(lr).AsTime())
			return
		}
		untagged.LogRecords++
		svc, _ := res.Attributes().Get("service.name")
		assert.Equal(t, webhookService, svc.AsString(), "a log record the test did not send: %v", lr.Attributes().AsRaw())
		webhookLogs[fmt.Sprintf("%s@%d", lr.EventName(), lr.ObservedTimestamp())]++
	})
	b.DataPoints(t, func(_ pcommon.Resource, attrs pcommon.Map, ts pcommon.Timestamp) {
		if v, ok := attrs.Get(itemAttr); ok {
			got.metrics[v.Str()] = append(got.metrics[v.Str()], ts.AsTime())
			return
		}
		untagged.DataPoints++
	})
	assert.Equal(t, r.untaggedSpans, untagged.Spans, "spans without an item ID (telemetrygen's)")
	assert.Zero(t, untagged.DataPoints, "data points the test did not send")
	// The incident_webhook's record of the incident's opening is in the
	// window too (on the replica the test posts to): with missing items
	// allowed, it may be missing as well.
	webhookMissing := int64(0)
	if r.webhookLogs {
		if r.missingReason == "" || untagged.LogRecords > 0 {
			assert.Positive(t, untagged.LogRecords, "the incident_webhook's event log record")
		} else {
			webhookMissing = 1
		}
	}
	for k, n := range webhookLogs {
		assert.Equal(t, 1, n, "webhook log record %s is in the bundle %d times", k, n)
	}

	want := r.inWindow()
	wantLosses := r.wantLosses
	for _, sig := range []struct {
		name, signal string
		sent, want   map[string]time.Time
		got          map[string][]time.Time
		total        int64

		kept map[string]time.Time
	}{
		{"span", bundle.SignalTraces, r.sent.traces, want.traces, got.traces, col.Totals.Spans - untagged.Spans, r.kept.traces},
		{"log record", bundle.SignalLogs, r.sent.logs, want.logs, got.logs, col.Totals.LogRecords - untagged.LogRecords, r.kept.logs},
		{"data point", bundle.SignalMetrics, r.sent.metrics, want.metrics, got.metrics, col.Totals.DataPoints, r.kept.metrics},
	} {
		var missing, dup, outside, lostKept []string
		for id, at := range sig.kept {
			if len(sig.got[id]) == 0 {
				lostKept = append(lostKept, fmt.Sprintf("%s@%s", id, at.Sub(r.T)))
			}
		}
		slices.Sort(lostKept)
		assert.Emptyf(t, lostKept, "%ss that must be in the bundle are missing (times relative to T)", sig.name)
		if len(sig.kept) > 0 {
			t.Logf("%ss: %d of the %d that must be in the bundle are in it", sig.name, len(sig.kept)-len(lostKept), len(sig.kept))
		}
		var lost bundle.Loss
		var lostRange bundle.TimeRange
		for id, at := range sig.want {
			switch n := len(sig.got[id]); {
			case n == 0:
				missing = append(missing, fmt.Sprintf("%s@%s", id, at.Sub(r.T)))
				lost.Items++
				lostRange.Extend(at)
			case n > 1:
				dup = append(dup, fmt.Sprintf("%s@%s x%d", id, at.Sub(r.T), n))
			}
		}
		for id, times := range sig.got {
			at, ok := sig.sent[id]
			if !ok {
				outside = append(outside, id+" (never sent)")
				continue
			}
			if _, in := sig.want[id]; !in {
				outside = append(outside, fmt.Sprintf("%s@%s", id, at.Sub(r.T)))
			}
			for _, g := range times {
				assert.Truef(t, g.Equal(at), "%s %s has time %s in the bundle, sent with %s", sig.name, id, g, at)
			}
		}
		slices.Sort(missing)
		slices.Sort(dup)
		slices.Sort(outside)
		if r.missingReason == "" {
			assert.Emptyf(t, missing, "%ss in the window missing from the bundle (times relative to T)", sig.name)
		} else if sig.signal == bundle.SignalLogs {
			lost.Items += webhookMissing
		}
		if r.missingReason != "" && lost.Items > 0 {
			lost.Signal, lost.Reason, lost.From, lost.To = sig.signal, r.missingReason, lostRange.Min, lostRange.Max
			wantLosses = bundle.MergeLosses(wantLosses, lost)
		}
		assert.Emptyf(t, dup, "%ss duplicated in the bundle", sig.name)
		assert.Emptyf(t, outside, "%ss outside the window in the bundle (times relative to T)", sig.name)
		assert.Equalf(t, int64(len(sig.want)-len(missing)), sig.total, "%ss counted by the manifest", sig.name)
		t.Logf("%ss: %d sent, %d in the window, %d in the bundle, %d missing", sig.name, len(sig.sent), len(sig.want), len(sig.got), len(missing))
	}

	// The losses the manifest names are exactly what is missing, and the
	// parts name them between them; nothing missing says lossless.
	switch {
	case len(wantLosses) == 0:
		assert.True(t, b.Manifest.Lossless, "nothing is missing, the manifest must say lossless; it names %v", b.Manifest.Losses)
		assert.Empty(t, b.Manifest.Losses)
		assert.NotContains(t, r.c.Output(), "lacks evidence", "a warning about missing evidence when nothing is missing")
	case r.missingReason == bundle.LossRestart:
		// Counted exactly, from the dead ring's record and arrival ledger;
		// the time range is that of whole blocks clipped to the window,
		// and the webhook's record of the opening, which the test cannot
		// time, may extend that of the logs.
		assert.False(t, b.Manifest.Lossless)
		require.Len(t, b.Manifest.Losses, len(wantLosses), "losses %v, want %v", b.Manifest.Losses, wantLosses)
		for i, want := range bundle.MergeLosses(nil, wantLosses...) {
			got := b.Manifest.Losses[i]
			assert.Equal(t, want.Signal, got.Signal)
			assert.Equal(t, want.Reason, got.Reason)
			assert.Equalf(t, want.Items, got.Items, "%s items lost in the restart", want.Signal)
			assert.Truef(t, got.From.Equal(want.From), "%s loss from %s, want %s", want.Signal, got.From, want.From)
			if want.Signal == bundle.SignalLogs && webhookMissing > 0 {
				assert.Falsef(t, got.To.Before(want.To), "%s loss to %s, before the last missing item %s", want.Signal, got.To, want.To)
			} else {
				assert.Truef(t, got.To.Equal(want.To), "%s loss to %s, want %s", want.Signal, got.To, want.To)
			}
		}
	default:
		assert.False(t, b.Manifest.Lossless)
		assert.Equal(t, bundle.MergeLosses(nil, wantLosses...), b.Manifest.Losses, "the manifest's losses, against what the test finds missing")
	}
	var partLosses []bundle.Loss
	for _, p := range b.Parts {
		assert.Equal(t, len(p.Info.Losses) == 0, p.Info.Lossless, "part %d", p.Info.Seq)
		partLosses = bundle.MergeLosses(partLosses, p.Info.Losses...)
	}
	assert.Equal(t, b.Manifest.Losses, partLosses, "the parts name the manifest's losses between them")
	t.Logf("bundle: %d parts, totals %+v", col.Parts, col.Totals)
}
