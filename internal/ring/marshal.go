package ring

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
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

// SpanTime is the item time of a span (otlptime.Span: its start time).
// Kept for the callers of the ring API; new code uses otlptime.
func SpanTime(s ptrace.Span) pcommon.Timestamp { return otlptime.Span(s) }

// LogRecordTime is the item time of a log record (otlptime.LogRecord: its
// Timestamp, or its ObservedTimestamp when Timestamp is unset). Kept for
// the callers of the ring API; new code uses otlptime.
func LogRecordTime(lr plog.LogRecord) pcommon.Timestamp { return otlptime.LogRecord(lr) }

// batchTimes counts the items of a batch and ranges their item times.
type batchTimes struct {
	items int
	tr    timeRange
}

func (b *batchTimes) add(t pcommon.Timestamp) {
	b.items++
	b.tr.add(t)
}

// MarshalTraces returns td as an OTLP protobuf ExportTraceServiceRequest,
// the range of its span start times (unset times are ignored; both are zero
// if no span has a time) and its span count, ready for Append.
func MarshalTraces(td ptrace.Traces) (payload []byte, minT, maxT time.Time, items int, err error) {
	var bt batchTimes
	otlptime.TraceTimes(td, bt.add)
	payload, err = traceMarshaler.MarshalTraces(td)
	if err != nil {
		return nil, time.Time{}, time.Time{}, 0, fmt.Errorf("ring: marshal traces: %w", err)
	}
	minT, maxT = bt.tr.times()
	return payload, minT, maxT, bt.items, nil
}

// MarshalLogs is MarshalTraces for logs; the item time is LogRecordTime.
func MarshalLogs(ld plog.Logs) (payload []byte, minT, maxT time.Time, items int, err error) {
	var bt batchTimes
	otlptime.LogTimes(ld, bt.add)
	payload, err = logMarshaler.MarshalLogs(ld)
	if err != nil {
		return nil, time.Time{}, time.Time{}, 0, fmt.Errorf("ring: marshal logs: %w", err)
	}
	minT, maxT = bt.tr.times()
	return payload, minT, maxT, bt.items, nil
}

// MarshalMetrics is MarshalTraces for metrics; items are data points of
// every metric type and the item time is the data point's Timestamp.
func MarshalMetrics(md pmetric.Metrics) (payload []byte, minT, maxT time.Time, items int, err error) {
	var bt batchTimes
	otlptime.MetricTimes(md, bt.add)
	payload, err = metricMarshaler.MarshalMetrics(md)
	if err != nil {
		return nil, time.Time{}, time.Time{}, 0, fmt.Errorf("ring: marshal metrics: %w", err)
	}
	minT, maxT = bt.tr.times()
	return payload, minT, maxT, bt.items, nil
}
