package ring

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	traceMarshaler  ptrace.ProtoMarshaler
	logMarshaler    plog.ProtoMarshaler
	metricMarshaler pmetric.ProtoMarshaler
)

// timeRange accumulates the range of item times, ignoring unset (zero)
// times.
type timeRange struct{ lo, hi pcommon.Timestamp }

func (r *timeRange) add(t pcommon.Timestamp) {
	if t == 0 {
		return
	}
	if r.lo == 0 || t < r.lo {
		r.lo = t
	}
	if t > r.hi {
		r.hi = t
	}
}

// times returns the range; zero times if no item had a time (Append then
// uses the arrival time).
func (r *timeRange) times() (time.Time, time.Time) {
	if r.lo == 0 {
		return time.Time{}, time.Time{}
	}
	return r.lo.AsTime(), r.hi.AsTime()
}

// SpanTime is the item time of a span: its start time.
func SpanTime(s ptrace.Span) pcommon.Timestamp { return s.StartTimestamp() }

// LogRecordTime is the item time of a log record: its Timestamp, or its
// ObservedTimestamp when Timestamp is unset.
func LogRecordTime(lr plog.LogRecord) pcommon.Timestamp {
	if t := lr.Timestamp(); t != 0 {
		return t
	}
	return lr.ObservedTimestamp()
}

// MarshalTraces returns td as an OTLP protobuf ExportTraceServiceRequest,
// the range of its span start times (unset times are ignored; both are zero
// if no span has a time) and its span count, ready for Append.
func MarshalTraces(td ptrace.Traces) (payload []byte, minT, maxT time.Time, items int, err error) {
	var tr timeRange
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			items += spans.Len()
			for k := range spans.Len() {
				tr.add(SpanTime(spans.At(k)))
			}
		}
	}
	payload, err = traceMarshaler.MarshalTraces(td)
	if err != nil {
		return nil, time.Time{}, time.Time{}, 0, fmt.Errorf("ring: marshal traces: %w", err)
	}
	minT, maxT = tr.times()
	return payload, minT, maxT, items, nil
}

// MarshalLogs is MarshalTraces for logs; the item time is LogRecordTime.
func MarshalLogs(ld plog.Logs) (payload []byte, minT, maxT time.Time, items int, err error) {
	var tr timeRange
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			recs := sls.At(j).LogRecords()
			items += recs.Len()
			for k := range recs.Len() {
				tr.add(LogRecordTime(recs.At(k)))
			}
		}
	}
	payload, err = logMarshaler.MarshalLogs(ld)
	if err != nil {
		return nil, time.Time{}, time.Time{}, 0, fmt.Errorf("ring: marshal logs: %w", err)
	}
	minT, maxT = tr.times()
	return payload, minT, maxT, items, nil
}

// MarshalMetrics is MarshalTraces for metrics; items are data points of
// every metric type and the item time is the data point's Timestamp.
func MarshalMetrics(md pmetric.Metrics) (payload []byte, minT, maxT time.Time, items int, err error) {
	var tr timeRange
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				items += addDataPointTimes(&tr, ms.At(k))
			}
		}
	}
	payload, err = metricMarshaler.MarshalMetrics(md)
	if err != nil {
		return nil, time.Time{}, time.Time{}, 0, fmt.Errorf("ring: marshal metrics: %w", err)
	}
	minT, maxT = tr.times()
	return payload, minT, maxT, items, nil
}

// addDataPointTimes adds the data point times of m to tr and returns the
// number of data points.
func addDataPointTimes(tr *timeRange, m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return addNumberTimes(tr, m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		return addNumberTimes(tr, m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := range dps.Len() {
			tr.add(dps.At(i).Timestamp())
		}
		return dps.Len()
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := range dps.Len() {
			tr.add(dps.At(i).Timestamp())
		}
		return dps.Len()
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := range dps.Len() {
			tr.add(dps.At(i).Timestamp())
		}
		return dps.Len()
	}
	return 0
}

func addNumberTimes(tr *timeRange, dps pmetric.NumberDataPointSlice) int {
	for i := range dps.Len() {
		tr.add(dps.At(i).Timestamp())
	}
	return dps.Len()
}
