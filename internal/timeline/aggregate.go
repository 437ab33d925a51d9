package timeline

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Semantic-convention attributes the analysis reads. service.version and
// deployment.id are read from the resource and, when an item carries them
// itself (incident_context's record level), from the item.
const (
	serviceNameKey    = "service.name"
	serviceVersionKey = "service.version"
	deploymentIDKey   = "deployment.id"
)

// variantKey is a version of a service: the telemetry carrying the same
// service.version and deployment.id.
type variantKey struct {
	service, version, deployment string
}

// bucketKey names one variant's minute; minute is Unix seconds of the
// minute's start.
type bucketKey struct {
	minute  int64
	variant int32
}

// spanSample is what the analysis keeps of a span: its time and latency
// in nanoseconds (dur < 0: no latency), its trace and whether it failed.
type spanSample struct {
	at, dur int64
	trace   pcommon.TraceID
	err     bool
}

// bucket accumulates one variant's minute.
type bucket struct {
	spans      []spanSample
	errorSpans int64
	errLogs    []int64 // times, Unix ns
	logs       LogCounts
	dataPoints int64
}

// errSpan is a failed span, kept for the causal chains.
type errSpan struct {
	trace        pcommon.TraceID
	span, parent pcommon.SpanID
	variant      int32
	at           int64
}

// aggregator reads telemetry once, keeping per variant and minute what the
// analysis needs.
type aggregator struct {
	variants map[variantKey]int32
	keys     []variantKey
	buckets  map[bucketKey]*bucket
	// last is the bucket of the previous item: items mostly come in runs
	// of the same minute and variant.
	lastKey  bucketKey
	last     *bucket
	errSpans []errSpan
	// records are the collector's own event records.
	records []incident.Event
	totals  Totals
}

func newAggregator() *aggregator {
	return &aggregator{variants: make(map[variantKey]int32), buckets: make(map[bucketKey]*bucket)}
}

func (a *aggregator) variant(k variantKey) int32 {
	v, ok := a.variants[k]
	if !ok {
		v = int32(len(a.keys))
		a.variants[k] = v
		a.keys = append(a.keys, k)
	}
	return v
}

// resourceTags returns the service, version and deployment of a resource.
func resourceTags(res pcommon.Resource) variantKey {
	return pdataTags(res.Attributes()).resource()
}

// pdataTags reads the tags of an attribute map, the last of a key winning.
func pdataTags(attrs pcommon.Map) tags {
	var t tags
	if attrs.Len() == 0 {
		return t
	}
	for key, v := range attrs.All() {
		switch key {
		case serviceNameKey:
			t.service, t.hasService = v.AsString(), true
		case serviceVersionKey:
			t.version, t.hasVersion = v.AsString(), true
		case deploymentIDKey:
			t.deployment, t.hasDeployment = v.AsString(), true
		}
	}
	return t
}

// resource returns the variant key of a resource with these tags.
func (t tags) resource() variantKey {
	k := variantKey{service: UnknownService, version: t.version, deployment: t.deployment}
	if t.service != "" {
		k.service = t.service
	}
	return k
}

// itemVariant returns the variant of an item with its own tags own, of a
// resource with tags res (variant rv): the item's own service.version and
// deployment.id win.
func (a *aggregator) itemVariant(own tags, res variantKey, rv int32) int32 {
	if !own.hasVersion && !own.hasDeployment {
		return rv
	}
	k := res
	if own.hasVersion {
		k.version = own.version
	}
	if own.hasDeployment {
		k.deployment = own.deployment
	}
	if k == res {
		return rv
	}
	return a.variant(k)
}

// bucketFor returns the bucket of ts, or nil when ts is unset.
func (a *aggregator) bucketFor(ts pcommon.Timestamp, variant int32) *bucket {
	if ts == 0 {
		a.totals.UntimedItems++
		return nil
	}
	k := bucketKey{minute: minuteOf(int64(ts)), variant: variant}
	if a.last != nil && k == a.lastKey {
		return a.last
	}
	b := a.buckets[k]
	if b == nil {
		b = &bucket{}
		a.buckets[k] = b
	}
	a.lastKey, a.last = k, b
	return b
}

// minuteOf returns the Unix second of the start of the minute of ns (Unix
// nanoseconds, never negative: pcommon.Timestamp is unsigned).
func minuteOf(ns int64) int64 {
	sec := ns / 1e9
	return sec - sec%60
}

func (a *aggregator) addTraces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		res := resourceTags(rs.Resource())
		sss := rs.ScopeSpans()
		if res.service == CollectorService {
			for j := range sss.Len() {
				a.totals.CollectorRecords += int64(sss.At(j).Spans().Len())
			}
			continue
		}
		rv := a.variant(res)
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				a.addSpan(spans.At(k), res, rv)
			}
		}
	}
}

func (a *aggregator) addSpan(s ptrace.Span, res variantKey, rv int32) {
	a.addSpanItem(&spanItem{
		start: uint64(otlptime.Span(s)), end: uint64(s.EndTimestamp()), failed: s.Status().Code() == ptrace.StatusCodeError,
		trace: s.TraceID(), id: s.SpanID(), parent: s.ParentSpanID(), own: pdataTags(s.Attributes()),
	}, res, rv)
}

// spanItem is what the analysis reads of a span.
type spanItem struct {
	start, end uint64
	failed     bool
	trace      pcommon.TraceID
	id, parent pcommon.SpanID
	// own are the span's own tags.
	own tags
}

func (a *aggregator) addSpanItem(it *spanItem, res variantKey, rv int32) {
	a.totals.Spans++
	if it.failed {
		a.totals.ErrorSpans++
	}
	v := a.itemVariant(it.own, res, rv)
	b := a.bucketFor(pcommon.Timestamp(it.start), v)
	if b == nil {
		return
	}
	dur := int64(-1)
	if it.end >= it.start && it.end != 0 {
		dur = int64(it.end - it.start)
	}
	b.spans = append(b.spans, spanSample{at: int64(it.start), dur: dur, trace: it.trace, err: it.failed})
	if it.failed {
		b.errorSpans++
		a.errSpans = append(a.errSpans, errSpan{trace: it.trace, span: it.id, parent: it.parent, variant: v, at: int64(it.start)})
	}
}

func (a *aggregator) addLogs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		res := resourceTags(rl.Resource())
		sls := rl.ScopeLogs()
		if res.service == CollectorService {
			a.addCollectorRecords(rl)
			continue
		}
		rv := a.variant(res)
		for j := range sls.Len() {
			recs := sls.At(j).LogRecords()
			for k := range recs.Len() {
				lr := recs.At(k)
				a.addLogItem(&logItem{
					ts: uint64(otlptime.LogRecord(lr)), sev: lr.SeverityNumber(), text: lr.SeverityText(),
					own: pdataTags(lr.Attributes()),
				}, res, rv)
			}
		}
	}
}

// logItem is what the analysis reads of a log record.
type logItem struct {
	// ts is the item time: the timestamp, else the observed timestamp.
	ts   uint64
	sev  plog.SeverityNumber
	text string
	own  tags
}

func (a *aggregator) addLogItem(it *logItem, res variantKey, rv int32) {
	var c LogCounts
	sev := severityBucket(it.sev, it.text)
	switch sev {
	case sevError:
		c.Error = 1
	case sevWarn:
		c.Warn = 1
	case sevInfo:
		c.Info = 1
	default:
		c.Other = 1
	}
	a.totals.LogRecords++
	a.totals.Logs.add(c)
	b := a.bucketFor(pcommon.Timestamp(it.ts), a.itemVariant(it.own, res, rv))
	if b == nil {
		return
	}
	b.logs.add(c)
	if sev == sevError {
		b.errLogs = append(b.errLogs, int64(it.ts))
	}
}

type sevBucket int

const (
	sevOther sevBucket = iota
	sevInfo
	sevWarn
	sevError
)

// SeverityBucket names the bucket of a log record's severity, as the
// package documentation defines them: "error", "warn", "info" or "other".
func SeverityBucket(n plog.SeverityNumber, text string) string {
	return [...]string{sevOther: "other", sevInfo: "info", sevWarn: "warn", sevError: "error"}[severityBucket(n, text)]
}

// severityBucket maps a log record's severity to its bucket (see the
// package documentation).
func severityBucket(n plog.SeverityNumber, text string) sevBucket {
	switch {
	case n >= plog.SeverityNumberError && n <= plog.SeverityNumberFatal4:
		return sevError
	case n >= plog.SeverityNumberWarn && n <= plog.SeverityNumberWarn4:
		return sevWarn
	case n >= plog.SeverityNumberInfo && n <= plog.SeverityNumberInfo4:
		return sevInfo
	case n != plog.SeverityNumberUnspecified:
		return sevOther
	}
	word := strings.ToUpper(strings.TrimSpace(text))
	if i := strings.IndexFunc(word, func(r rune) bool { return r < 'A' || r > 'Z' }); i >= 0 {
		word = word[:i]
	}
	switch word {
	case "ERROR", "ERR", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC":
		return sevError
	case "WARN", "WARNING":
		return sevWarn
	case "INFO", "NOTICE":
		return sevInfo
	}
	return sevOther
}

func (a *aggregator) addMetrics(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		res := resourceTags(rm.Resource())
		collector := res.service == CollectorService
		rv := int32(-1)
		if !collector {
			rv = a.variant(res)
		}
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				otlptime.DataPoints(ms.At(k), func(_ pcommon.Map, ts pcommon.Timestamp) {
					a.addPoint(uint64(ts), collector, rv)
				})
			}
		}
	}
}

func (a *aggregator) addPoint(ts uint64, collector bool, rv int32) {
	if collector {
		a.totals.CollectorRecords++
		return
	}
	a.totals.DataPoints++
	if b := a.bucketFor(pcommon.Timestamp(ts), rv); b != nil {
		b.dataPoints++
	}
}

// merge adds what o aggregated to a.
func (a *aggregator) merge(o *aggregator) {
	remap := make([]int32, len(o.keys))
	for i, k := range o.keys {
		remap[i] = a.variant(k)
	}
	for k, ob := range o.buckets {
		k.variant = remap[k.variant]
		b := a.buckets[k]
		if b == nil {
			a.buckets[k] = ob
			continue
		}
		b.spans = append(b.spans, ob.spans...)
		b.errorSpans += ob.errorSpans
		b.errLogs = append(b.errLogs, ob.errLogs...)
		b.logs.add(ob.logs)
		b.dataPoints += ob.dataPoints
	}
	a.last = nil
	for _, e := range o.errSpans {
		e.variant = remap[e.variant]
		a.errSpans = append(a.errSpans, e)
	}
	a.records = append(a.records, o.records...)
	t := &a.totals
	t.Spans += o.totals.Spans
	t.ErrorSpans += o.totals.ErrorSpans
	t.LogRecords += o.totals.LogRecords
	t.Logs.add(o.totals.Logs)
	t.DataPoints += o.totals.DataPoints
	t.CollectorRecords += o.totals.CollectorRecords
	t.UntimedItems += o.totals.UntimedItems
}

// durationMs converts nanoseconds to milliseconds.
func durationMs(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, a non-empty ascending slice: the value at 1-based rank
// ceil(p*n/100).
func percentile[T int64 | float64](sorted []T, p int) T {
	n := len(sorted)
	rank := (p*n + 99) / 100
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// minutesBetween counts the whole minutes from start to end without the
// 292-year limit of time.Duration.
func minutesBetween(start, end time.Time) int {
	return int((end.Unix() - start.Unix()) / 60)
}
