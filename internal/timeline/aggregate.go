package timeline

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// serviceNameKey is the semantic-convention resource attribute.
const serviceNameKey = "service.name"

// bucketKey names one service's minute; minute is Unix seconds of the
// minute's start.
type bucketKey struct {
	minute  int64
	service string
}

// bucket accumulates one service's minute.
type bucket struct {
	spans, errorSpans, dataPoints int64
	logs                          LogCounts
	latencies                     []float64 // ms
}

type aggregator struct {
	buckets map[bucketKey]*bucket
	totals  Totals
}

func newAggregator() *aggregator {
	return &aggregator{buckets: make(map[bucketKey]*bucket)}
}

func serviceOf(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get(serviceNameKey); ok {
		if s := v.AsString(); s != "" {
			return s
		}
	}
	return UnknownService
}

// bucketFor returns the bucket of ts, or nil when ts is unset.
func (a *aggregator) bucketFor(ts pcommon.Timestamp, service string) *bucket {
	if ts == 0 {
		a.totals.UntimedItems++
		return nil
	}
	k := bucketKey{minute: minuteOf(ts), service: service}
	b := a.buckets[k]
	if b == nil {
		b = &bucket{}
		a.buckets[k] = b
	}
	return b
}

// minuteOf returns the Unix second of the start of ts's minute.
func minuteOf(ts pcommon.Timestamp) int64 {
	sec := int64(ts / 1e9) // Timestamp is unsigned: never before 1970
	return sec - sec%60
}

func (a *aggregator) addTraces(td ptrace.Traces) error {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		service := serviceOf(rs.Resource())
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				a.addSpan(spans.At(k), service)
			}
		}
	}
	return nil
}

func (a *aggregator) addSpan(s ptrace.Span, service string) {
	failed := s.Status().Code() == ptrace.StatusCodeError
	a.totals.Spans++
	if failed {
		a.totals.ErrorSpans++
	}
	b := a.bucketFor(otlptime.Span(s), service)
	if b == nil {
		return
	}
	b.spans++
	if failed {
		b.errorSpans++
	}
	if start, end := s.StartTimestamp(), s.EndTimestamp(); end >= start && end != 0 {
		b.latencies = append(b.latencies, float64(end-start)/float64(time.Millisecond))
	}
}

func (a *aggregator) addLogs(ld plog.Logs) error {
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		service := serviceOf(rl.Resource())
		sls := rl.ScopeLogs()
		for j := range sls.Len() {
			recs := sls.At(j).LogRecords()
			for k := range recs.Len() {
				lr := recs.At(k)
				var c LogCounts
				switch severityBucket(lr.SeverityNumber(), lr.SeverityText()) {
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
				if b := a.bucketFor(otlptime.LogRecord(lr), service); b != nil {
					b.logs.add(c)
				}
			}
		}
	}
	return nil
}

type sevBucket int

const (
	sevOther sevBucket = iota
	sevInfo
	sevWarn
	sevError
)

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

func (a *aggregator) addMetrics(md pmetric.Metrics) error {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		service := serviceOf(rm.Resource())
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				otlptime.DataPoints(ms.At(k), func(_ pcommon.Map, ts pcommon.Timestamp) {
					a.totals.DataPoints++
					if b := a.bucketFor(ts, service); b != nil {
						b.dataPoints++
					}
				})
			}
		}
	}
	return nil
}

// finish fills t.Minutes, t.Services and t.Range from the buckets.
func (a *aggregator) finish(t *Timeline) {
	keys := make([]bucketKey, 0, len(a.buckets))
	for k := range a.buckets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y bucketKey) int {
		return cmp.Or(cmp.Compare(x.minute, y.minute), strings.Compare(x.service, y.service))
	})
	t.Minutes = make([]MinuteStats, 0, len(keys))
	services := map[string]*ServiceSummary{}
	for _, k := range keys {
		b := a.buckets[k]
		m := MinuteStats{
			Minute:         time.Unix(k.minute, 0).UTC(),
			Service:        k.service,
			Spans:          b.spans,
			ErrorSpans:     b.errorSpans,
			LatencySamples: int64(len(b.latencies)),
			Logs:           b.logs,
			DataPoints:     b.dataPoints,
			Errors:         b.errorSpans + b.logs.Error,
		}
		if len(b.latencies) > 0 {
			slices.Sort(b.latencies)
			m.P50Ms = percentile(b.latencies, 50)
			m.P95Ms = percentile(b.latencies, 95)
		}
		t.Minutes = append(t.Minutes, m)

		s := services[k.service]
		if s == nil {
			s = &ServiceSummary{Name: k.service, FirstMinute: m.Minute}
			services[k.service] = s
		}
		s.LastMinute = m.Minute
		s.Spans += m.Spans
		s.ErrorSpans += m.ErrorSpans
		s.Logs.add(m.Logs)
		s.DataPoints += m.DataPoints
		s.Errors += m.Errors
		if m.Errors > s.PeakErrors {
			s.PeakErrors, s.PeakErrorsMinute = m.Errors, m.Minute
		}
		if m.LatencySamples > 0 && m.P95Ms > s.PeakP95Ms {
			s.PeakP95Ms, s.PeakP95Minute = m.P95Ms, m.Minute
		}
	}
	t.Services = make([]ServiceSummary, 0, len(services))
	for _, s := range services {
		t.Services = append(t.Services, *s)
	}
	slices.SortFunc(t.Services, func(x, y ServiceSummary) int { return strings.Compare(x.Name, y.Name) })
	if len(keys) > 0 {
		start := time.Unix(keys[0].minute, 0).UTC()
		end := time.Unix(keys[len(keys)-1].minute, 0).UTC().Add(time.Minute)
		t.Range = &Range{Start: start, End: end, Minutes: minutesBetween(start, end)}
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, a non-empty ascending slice: the value at 1-based rank
// ceil(p*n/100).
func percentile(sorted []float64, p int) float64 {
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
