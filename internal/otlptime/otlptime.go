// Package otlptime holds the one rule for the time of a telemetry item,
// by which evidence selects, counts and buckets it:
//
//   - a span's time is its start time;
//   - a log record's time is its Timestamp, or its ObservedTimestamp when
//     Timestamp is unset;
//   - a metric data point's time is its Timestamp, for every metric type
//     (gauge, sum, histogram, exponential histogram, summary).
//
// A zero time means the item has none. The walks allocate nothing, so they
// serve the exporter's hot path as well as the readers of bundles.
//
// MapTraces, MapLogs and MapMetrics walk every timestamp an item carries
// (end times, events, exemplars too) and replace it, for tools that move
// telemetry in time, such as evidencectl replay.
package otlptime // import "github.com/otel-evidence/otel-evidence/internal/otlptime"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span returns the item time of a span: its start time.
func Span(s ptrace.Span) pcommon.Timestamp { return s.StartTimestamp() }

// LogRecord returns the item time of a log record: its Timestamp, or its
// ObservedTimestamp when Timestamp is unset.
func LogRecord(lr plog.LogRecord) pcommon.Timestamp {
	if t := lr.Timestamp(); t != 0 {
		return t
	}
	return lr.ObservedTimestamp()
}

// DataPoints calls fn with the attributes and the item time (Timestamp)
// of every data point of m, whatever the metric type; never for an empty
// or unknown type.
func DataPoints(m pmetric.Metric, fn func(attrs pcommon.Map, ts pcommon.Timestamp)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		points(m.Gauge().DataPoints(), fn)
	case pmetric.MetricTypeSum:
		points(m.Sum().DataPoints(), fn)
	case pmetric.MetricTypeHistogram:
		points(m.Histogram().DataPoints(), fn)
	case pmetric.MetricTypeExponentialHistogram:
		points(m.ExponentialHistogram().DataPoints(), fn)
	case pmetric.MetricTypeSummary:
		points(m.Summary().DataPoints(), fn)
	}
}

// point is what the data points of every metric type offer.
type point interface {
	Attributes() pcommon.Map
	Timestamp() pcommon.Timestamp
}

func points[P point, S interface {
	Len() int
	At(int) P
}](s S, fn func(pcommon.Map, pcommon.Timestamp)) {
	for i := range s.Len() {
		p := s.At(i)
		fn(p.Attributes(), p.Timestamp())
	}
}

// Spans calls fn with every span of td.
func Spans(td ptrace.Traces, fn func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				fn(spans.At(k))
			}
		}
	}
}

// LogRecords calls fn with every log record of ld.
func LogRecords(ld plog.Logs, fn func(plog.LogRecord)) {
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			recs := sls.At(j).LogRecords()
			for k := range recs.Len() {
				fn(recs.At(k))
			}
		}
	}
}

// Metrics calls fn with every metric of md.
func Metrics(md pmetric.Metrics, fn func(pmetric.Metric)) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				fn(ms.At(k))
			}
		}
	}
}

// TraceTimes calls fn with the item time of every span of td.
func TraceTimes(td ptrace.Traces, fn func(pcommon.Timestamp)) {
	Spans(td, func(s ptrace.Span) { fn(Span(s)) })
}

// LogTimes calls fn with the item time of every log record of ld.
func LogTimes(ld plog.Logs, fn func(pcommon.Timestamp)) {
	LogRecords(ld, func(lr plog.LogRecord) { fn(LogRecord(lr)) })
}

// MetricTimes calls fn with the item time of every data point, of every
// metric type, of md.
func MetricTimes(md pmetric.Metrics, fn func(pcommon.Timestamp)) {
	each := func(_ pcommon.Map, ts pcommon.Timestamp) { fn(ts) }
	Metrics(md, func(m pmetric.Metric) { DataPoints(m, each) })
}

// MapTraces replaces every timestamp of td (each span's start and end, each
// span event's time) with f of it.
func MapTraces(td ptrace.Traces, f func(pcommon.Timestamp) pcommon.Timestamp) {
	Spans(td, func(s ptrace.Span) {
		s.SetStartTimestamp(f(s.StartTimestamp()))
		s.SetEndTimestamp(f(s.EndTimestamp()))
		evs := s.Events()
		for e := range evs.Len() {
			evs.At(e).SetTimestamp(f(evs.At(e).Timestamp()))
		}
	})
}

// MapLogs replaces every timestamp of ld (each log record's time and
// observed time) with f of it.
func MapLogs(ld plog.Logs, f func(pcommon.Timestamp) pcommon.Timestamp) {
	LogRecords(ld, func(r plog.LogRecord) {
		r.SetTimestamp(f(r.Timestamp()))
		r.SetObservedTimestamp(f(r.ObservedTimestamp()))
	})
}

// timedPoint is what the data points of every metric type offer to
// MapMetrics (summaries have no exemplars).
type timedPoint interface {
	Timestamp() pcommon.Timestamp
	SetTimestamp(pcommon.Timestamp)
	StartTimestamp() pcommon.Timestamp
	SetStartTimestamp(pcommon.Timestamp)
}

type exemplarPoint interface {
	timedPoint
	Exemplars() pmetric.ExemplarSlice
}

func mapPoints[P timedPoint, S interface {
	Len() int
	At(int) P
}](s S, f func(pcommon.Timestamp) pcommon.Timestamp) {
	for i := range s.Len() {
		p := s.At(i)
		p.SetStartTimestamp(f(p.StartTimestamp()))
		p.SetTimestamp(f(p.Timestamp()))
		if ep, ok := any(p).(exemplarPoint); ok {
			ex := ep.Exemplars()
			for x := range ex.Len() {
				ex.At(x).SetTimestamp(f(ex.At(x).Timestamp()))
			}
		}
	}
}

// MapMetrics replaces every timestamp of md (each data point's time and
// start time, each exemplar's time), of every metric type, with f of it.
func MapMetrics(md pmetric.Metrics, f func(pcommon.Timestamp) pcommon.Timestamp) {
	Metrics(md, func(m pmetric.Metric) {
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			mapPoints(m.Gauge().DataPoints(), f)
		case pmetric.MetricTypeSum:
			mapPoints(m.Sum().DataPoints(), f)
		case pmetric.MetricTypeHistogram:
			mapPoints(m.Histogram().DataPoints(), f)
		case pmetric.MetricTypeExponentialHistogram:
			mapPoints(m.ExponentialHistogram().DataPoints(), f)
		case pmetric.MetricTypeSummary:
			mapPoints(m.Summary().DataPoints(), f)
		}
	})
}
