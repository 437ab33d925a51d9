package bundle

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func extendTS(r *TimeRange, ts pcommon.Timestamp) {
	if ts != 0 {
		r.Extend(ts.AsTime())
	}
}

// scanTraces counts spans and spans their start times.
func scanTraces(td ptrace.Traces) (int64, TimeRange) {
	var n int64
	var r TimeRange
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			n += int64(spans.Len())
			for k := range spans.Len() {
				extendTS(&r, spans.At(k).StartTimestamp())
			}
		}
	}
	return n, r
}

// scanLogs counts log records and spans their timestamps (observed
// timestamps for records without one).
func scanLogs(ld plog.Logs) (int64, TimeRange) {
	var n int64
	var r TimeRange
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			recs := sls.At(j).LogRecords()
			n += int64(recs.Len())
			for k := range recs.Len() {
				lr := recs.At(k)
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				extendTS(&r, ts)
			}
		}
	}
	return n, r
}

// pointSlice is what every data point slice offers for scanning.
type pointSlice[P interface{ Timestamp() pcommon.Timestamp }] interface {
	Len() int
	At(int) P
}

func scanPoints[P interface{ Timestamp() pcommon.Timestamp }, S pointSlice[P]](s S, r *TimeRange) int64 {
	for i := range s.Len() {
		extendTS(r, s.At(i).Timestamp())
	}
	return int64(s.Len())
}

// scanMetrics counts data points of every type and spans their times.
func scanMetrics(md pmetric.Metrics) (int64, TimeRange) {
	var n int64
	var r TimeRange
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					n += scanPoints[pmetric.NumberDataPoint](m.Gauge().DataPoints(), &r)
				case pmetric.MetricTypeSum:
					n += scanPoints[pmetric.NumberDataPoint](m.Sum().DataPoints(), &r)
				case pmetric.MetricTypeHistogram:
					n += scanPoints[pmetric.HistogramDataPoint](m.Histogram().DataPoints(), &r)
				case pmetric.MetricTypeExponentialHistogram:
					n += scanPoints[pmetric.ExponentialHistogramDataPoint](m.ExponentialHistogram().DataPoints(), &r)
				case pmetric.MetricTypeSummary:
					n += scanPoints[pmetric.SummaryDataPoint](m.Summary().DataPoints(), &r)
				}
			}
		}
	}
	return n, r
}
