package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor/internal/metadata"
)

// Resource attributes the deploy matching reads.
const (
	attrServiceName    = "service.name"
	attrServiceVersion = "service.version"
)

// tagKey indexes the attributes the processor writes.
type tagKey int

const (
	keyDeploymentID tagKey = iota
	keyDeploymentName
	keyEnvironment
	keyRevision
	keyIncidentID
	numKeys
)

// matchKind says how the deploy of a resource was found.
type matchKind int

const (
	matchVersion matchKind = iota
	matchTime
	matchStatic
	matchDerived
	matchNone
	numMatchKinds
)

var matchNames = [numMatchKinds]string{"version", "time", "static", "derived", "none"}

type signal int

const (
	signalTraces signal = iota
	signalLogs
	signalMetrics
	numSignals
)

var signalNames = [numSignals]string{"traces", "logs", "metrics"}

// tags are the values written on one resource (and its records); "" means
// nothing to write for that key.
type tags [numKeys]string

// emptySnapshot stands in until Start has found the registry.
var emptySnapshot = incidentsapi.NewSnapshot(0, nil, nil)

// contextProcessor is shared by nothing: the factory makes one per signal.
// Its hot path reads the registry snapshot without locks and caches what it
// derives from a snapshot per Version.
type contextProcessor struct {
	incidentsID component.ID
	keys        [numKeys]string // "" = attribute disabled
	override    bool
	record      bool
	static      string
	from        []string
	sep         string
	now         func() time.Time

	telemetry *metadata.TelemetryBuilder
	// items and unmatched count what the processor has seen since it was
	// built; the internal metrics are observed from them when the
	// collector's telemetry is read. A batch adds its counts with a few
	// atomic additions: a synchronous counter's Add per batch costs more
	// than the tagging of a small batch.
	items     [numSignals][numMatchKinds][2]atomic.Int64
	unmatched [numSignals]atomic.Int64
	// itemsOpts and unmatchedOpts hold the precomputed attribute sets of the
	// internal metrics, so observing them allocates nothing.
	itemsOpts     [numSignals][numMatchKinds][2]metric.ObserveOption
	unmatchedOpts [numSignals]metric.ObserveOption

	registry atomic.Pointer[registryRef]
	plan     atomic.Pointer[plan]
	// share says whether records may share the written values.
	share sharer
	// tails hold what is left of the chunks the batches' full attribute
	// slices are carved from (*kvTail, see kvArena).
	tails sync.Pool
}

type registryRef struct{ incidentsapi.Registry }

func newContextProcessor(set processor.Settings, cfg *Config) (*contextProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &contextProcessor{
		incidentsID: cfg.Incidents,
		override:    cfg.Override,
		record:      cfg.Level == LevelRecord,
		static:      cfg.StaticDeploymentID,
		from:        append([]string(nil), cfg.DeploymentIDFrom...),
		sep:         cfg.DeploymentIDSeparator,
		now:         time.Now,
		telemetry:   tb,
		share:       newSharer(),
	}
	for i, k := range cfg.Keys.named() {
		p.keys[i] = k.key
	}
	for s := range numSignals {
		for m := range numMatchKinds {
			for inc, yesNo := range [2]string{"no", "yes"} {
				p.itemsOpts[s][m][inc] = metric.WithAttributeSet(attribute.NewSet(
					attribute.String("signal", signalNames[s]),
					attribute.String("match", matchNames[m]),
					attribute.String("incident", yesNo),
				))
			}
		}
		p.unmatchedOpts[s] = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", signalNames[s])))
	}
	if err := errors.Join(
		tb.RegisterProcessorIncidentContextItemsCallback(p.observeItems),
		tb.RegisterProcessorIncidentContextItemsUnmatchedCallback(p.observeUnmatched),
	); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return p, nil
}

// observeItems reports the items counted so far, per kind of match and
// incident match; a combination not seen yet has no series, as before the
// first item of it.
func (p *contextProcessor) observeItems(_ context.Context, o metric.Int64Observer) error {
	for s := range numSignals {
		for m := range numMatchKinds {
			for inc := range 2 {
				if n := p.items[s][m][inc].Load(); n > 0 {
					o.Observe(n, p.itemsOpts[s][m][inc])
				}
			}
		}
	}
	return nil
}

// observeUnmatched reports the items counted so far with no deploy found.
func (p *contextProcessor) observeUnmatched(_ context.Context, o metric.Int64Observer) error {
	for s := range numSignals {
		if n := p.unmatched[s].Load(); n > 0 {
			o.Observe(n, p.unmatchedOpts[s])
		}
	}
	return nil
}

func (p *contextProcessor) start(_ context.Context, host component.Host) error {
	reg, err := incidentsapi.Find(host, p.incidentsID)
	if err != nil {
		return err
	}
	p.registry.Store(&registryRef{reg})
	return nil
}

func (p *contextProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

// currentPlan returns the plan of the registry's current snapshot, building
// it on the first batch that sees a new Version.
func (p *contextProcessor) currentPlan() *plan {
	snap := emptySnapshot
	if ref := p.registry.Load(); ref != nil {
		if s := ref.Snapshot(); s != nil {
			snap = s
		}
	}
	pl := p.plan.Load()
	if pl != nil && pl.snap.Version == snap.Version && (snap.Version != 0 || pl.snap == snap) {
		return pl
	}
	pl = newPlan(snap)
	p.plan.Store(pl)
	return pl
}

// counts accumulates the items of one batch per kind of match and whether an
// incident matched.
type counts [numMatchKinds][2]int64

func (p *contextProcessor) recordCounts(sig signal, c *counts) {
	var unmatched int64
	for m := range numMatchKinds {
		for inc := range 2 {
			if n := c[m][inc]; n > 0 {
				p.items[sig][m][inc].Add(n)
				if m == matchNone {
					unmatched += n
				}
			}
		}
	}
	if unmatched > 0 {
		p.unmatched[sig].Add(unmatched)
	}
}

// writeList holds the attributes to write on one resource and its records,
// in key order; the values are shared strings from the snapshot or config.
// With isShared set, shared holds the same values as pdata values the
// records can share (see shared.go).
type writeList struct {
	n        int
	keys     [numKeys]string
	vals     [numKeys]string
	shared   [numKeys]sharedStr
	isShared bool
	// keyLens has the lenBit of every key (see plan.keyLens), set with
	// shared: an attribute whose key length is not in it is none of the
	// keys, found without reading the key's bytes.
	keyLens  uint64
	incident bool
	// arena, when set, makes apply write the shared values directly on the
	// records' attribute slices (see applyDirect).
	arena *kvArena
}

// share builds the values the records of one resource share.
func (w *writeList) share() {
	if w.n == 0 {
		return
	}
	for i := range w.n {
		w.shared[i] = newSharedStr(w.vals[i])
		w.keyLens |= lenBit(w.keys[i])
	}
	w.isShared = true
}

func (w *writeList) add(key, val string) {
	if key != "" && val != "" {
		w.keys[w.n], w.vals[w.n] = key, val
		w.n++
	}
}

// resolve works out what to write on one resource. firstTime returns the
// time of the resource's first item (0 = unknown, use now); it is called
// only when the deploy depends on time, since reading the item costs a
// cache miss on a freshly decoded batch.
func (p *contextProcessor) resolve(pl *plan, attrs pcommon.Map, firstTime func() pcommon.Timestamp) (w writeList, kind matchKind) {
	var t tags
	kind = matchNone
	l := pl.newAttrLookup(attrs)
	if svc, ok := l.get(keyIdxService); ok && svc != "" {
		version, _ := l.get(keyIdxVersion)
		if h, ok := pl.unique[serviceVersion{svc, version}]; ok && version != "" {
			kind = matchVersion
			t[keyDeploymentID], t[keyDeploymentName], t[keyEnvironment], t[keyRevision] = h.id, h.name, h.environment, h.commit
		} else {
			var at time.Time
			if ts := firstTime(); ts != 0 {
				at = ts.AsTime()
			} else {
				at = p.now()
			}
			if d := pl.snap.DeployFor(svc, version, at); d != nil {
				kind = matchTime
				if version != "" && d.Version == version {
					kind = matchVersion
				}
				t[keyDeploymentID], t[keyDeploymentName], t[keyEnvironment], t[keyRevision] = d.ID, d.Name, d.Environment, d.Commit
			}
		}
	}
	if kind == matchNone {
		if p.static != "" {
			kind = matchStatic
			t[keyDeploymentID] = p.static
		} else if id := p.derive(attrs); id != "" {
			kind = matchDerived
			t[keyDeploymentID] = id
		}
	}
	if p.keys[keyIncidentID] != "" {
		t[keyIncidentID] = pl.incidents(&l)
	}
	for i, k := range p.keys {
		w.add(k, t[i])
	}
	w.incident = t[keyIncidentID] != ""
	return w, kind
}

// derive joins the values of the deployment_id_from attributes, or returns
// "" unless every one of them is present and not empty.
func (p *contextProcessor) derive(attrs pcommon.Map) string {
	if len(p.from) == 0 {
		return ""
	}
	if len(p.from) == 1 {
		v, _ := attrString(attrs, p.from[0])
		return v
	}
	var b strings.Builder
	for i, k := range p.from {
		v, ok := attrString(attrs, k)
		if !ok || v == "" {
			return ""
		}
		if i > 0 {
			b.WriteString(p.sep)
		}
		b.WriteString(v)
	}
	return b.String()
}

// apply writes w on attrs. Existing attributes are kept unless override is
// set. With w.arena set (shared values, see applyDirect), one scan of the
// attributes finds the keys present and a full slice moves to a slot of the
// batch's arena. Otherwise it allocates nothing itself: with w.isShared set,
// the attributes take the shared values; otherwise pdata allocates one value
// per attribute written. When the attribute slice is full, pdata grows it
// once to the size needed. Each key costs one scan of the attributes, as a
// plain PutStr does.
func (p *contextProcessor) apply(attrs pcommon.Map, w *writeList) {
	if w.n == 0 {
		return
	}
	if w.isShared && w.arena != nil {
		p.applyDirect(attrs, w, w.arena)
		return
	}
	attrs.EnsureCapacity(attrs.Len() + w.n)
	if w.isShared {
		for i := range w.n {
			if v, existed := attrs.GetOrPutEmpty(w.keys[i]); !existed || p.override {
				w.shared[i].set(v)
			}
		}
		return
	}
	if p.override {
		for i := range w.n {
			attrs.PutStr(w.keys[i], w.vals[i])
		}
		return
	}
	for i := range w.n {
		if v, existed := attrs.GetOrPutEmpty(w.keys[i]); !existed {
			v.SetStr(w.vals[i])
		}
	}
}

// applyResource writes w on a resource's attributes with values of their
// own: one write per resource is not worth sharing.
func (p *contextProcessor) applyResource(attrs pcommon.Map, w writeList) {
	w.isShared, w.arena = false, nil
	p.apply(attrs, &w)
}

// batchArena returns the arena of one batch's directly written records, or
// nil when the batch writes through pdata's Map API (values not shared, or
// a pdata layout the direct writes do not know).
func (p *contextProcessor) batchArena(share bool) *kvArena {
	if !share || !directOK {
		return nil
	}
	return &kvArena{tails: &p.tails}
}

// tally adds n items of one resource to c.
func tally(c *counts, kind matchKind, w *writeList, n int) {
	inc := 0
	if w.incident {
		inc = 1
	}
	c[kind][inc] += int64(n)
}

func (p *contextProcessor) processTraces(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	pl := p.currentPlan()
	share := p.record && p.share.ok()
	arena := p.batchArena(share)
	defer arena.release()
	var c counts
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		n := 0
		for j := range sss.Len() {
			n += sss.At(j).Spans().Len()
		}
		w, kind := p.resolve(pl, rs.Resource().Attributes(), func() pcommon.Timestamp {
			for j := range sss.Len() {
				if spans := sss.At(j).Spans(); spans.Len() > 0 {
					return spans.At(0).StartTimestamp()
				}
			}
			return 0
		})
		p.applyResource(rs.Resource().Attributes(), w)
		if share {
			w.share()
			w.arena = arena
		}
		if p.record {
			for j := range sss.Len() {
				spans := sss.At(j).Spans()
				for k := range spans.Len() {
					p.apply(spans.At(k).Attributes(), &w)
				}
			}
		}
		tally(&c, kind, &w, n)
	}
	p.recordCounts(signalTraces, &c)
	return td, nil
}

func (p *contextProcessor) processLogs(_ context.Context, ld plog.Logs) (plog.Logs, error) {
	pl := p.currentPlan()
	share := p.record && p.share.ok()
	arena := p.batchArena(share)
	defer arena.release()
	var c counts
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		n := 0
		for j := range sls.Len() {
			n += sls.At(j).LogRecords().Len()
		}
		w, kind := p.resolve(pl, rl.Resource().Attributes(), func() pcommon.Timestamp {
			for j := range sls.Len() {
				if lrs := sls.At(j).LogRecords(); lrs.Len() > 0 {
					return otlptime.LogRecord(lrs.At(0))
				}
			}
			return 0
		})
		p.applyResource(rl.Resource().Attributes(), w)
		if share {
			w.share()
			w.arena = arena
		}
		if p.record {
			for j := range sls.Len() {
				lrs := sls.At(j).LogRecords()
				for k := range lrs.Len() {
					p.apply(lrs.At(k).Attributes(), &w)
				}
			}
		}
		tally(&c, kind, &w, n)
	}
	p.recordCounts(signalLogs, &c)
	return ld, nil
}

// pointCount returns the number of data points of m and the time of the
// first one (0 if none).
func pointCount(m pmetric.Metric) (int, pcommon.Timestamp) {
	var n int
	var first pcommon.Timestamp
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		if n = dps.Len(); n > 0 {
			first = dps.At(0).Timestamp()
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		if n = dps.Len(); n > 0 {
			first = dps.At(0).Timestamp()
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		if n = dps.Len(); n > 0 {
			first = dps.At(0).Timestamp()
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		if n = dps.Len(); n > 0 {
			first = dps.At(0).Timestamp()
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		if n = dps.Len(); n > 0 {
			first = dps.At(0).Timestamp()
		}
	}
	return n, first
}

// applyPoints writes w on every data point of m. It has a switch of its
// own rather than otlptime.DataPoints: a call through a closure per point
// made the peer benchmark's metrics at level record about 5 ns a point
// slower.
func (p *contextProcessor) applyPoints(m pmetric.Metric, w *writeList) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := range dps.Len() {
			p.apply(dps.At(i).Attributes(), w)
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := range dps.Len() {
			p.apply(dps.At(i).Attributes(), w)
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := range dps.Len() {
			p.apply(dps.At(i).Attributes(), w)
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := range dps.Len() {
			p.apply(dps.At(i).Attributes(), w)
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := range dps.Len() {
			p.apply(dps.At(i).Attributes(), w)
		}
	}
}

func (p *contextProcessor) processMetrics(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	pl := p.currentPlan()
	share := p.record && p.share.ok()
	arena := p.batchArena(share)
	defer arena.release()
	var c counts
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		sms := rm.ScopeMetrics()
		var first pcommon.Timestamp
		n := 0
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				cnt, ts := pointCount(ms.At(k))
				if n == 0 && cnt > 0 {
					first = ts
				}
				n += cnt
			}
		}
		w, kind := p.resolve(pl, rm.Resource().Attributes(), func() pcommon.Timestamp { return first })
		p.applyResource(rm.Resource().Attributes(), w)
		if share {
			w.share()
			w.arena = arena
		}
		if p.record {
			for j := range sms.Len() {
				ms := sms.At(j).Metrics()
				for k := range ms.Len() {
					p.applyPoints(ms.At(k), &w)
				}
			}
		}
		tally(&c, kind, &w, n)
	}
	p.recordCounts(signalMetrics, &c)
	return md, nil
}
