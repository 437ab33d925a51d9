package ring

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/internal/otlpwire"
)

// times converts an otlpwire batch's time range for Append: zero times if
// no item had a time (Append then uses the arrival time).
func times(b otlpwire.Batch) (time.Time, time.Time) {
	if b.MinT == 0 {
		return time.Time{}, time.Time{}
	}
	return b.MinT.AsTime(), b.MaxT.AsTime()
}

// SpanTime is the item time of a span (otlptime.Span: its start time).
// Kept for the callers of the ring API; new code uses otlptime.
func SpanTime(s ptrace.Span) pcommon.Timestamp { return otlptime.Span(s) }

// LogRecordTime is the item time of a log record (otlptime.LogRecord: its
// Timestamp, or its ObservedTimestamp when Timestamp is unset). Kept for
// the callers of the ring API; new code uses otlptime.
func LogRecordTime(lr plog.LogRecord) pcommon.Timestamp { return otlptime.LogRecord(lr) }

// MarshalTraces appends td to dst as an OTLP protobuf
// ExportTraceServiceRequest (the bytes ptrace.ProtoMarshaler writes, in one
// pass: see otlpwire) and returns it with the range of its span start times
// (unset times are ignored; both are zero if no span has a time) and its
// span count, ready for Append. Append copies the payload, so dst can be
// reused once Append returns.
func MarshalTraces(dst []byte, td ptrace.Traces) (payload []byte, minT, maxT time.Time, items int) {
	payload, b := otlpwire.AppendTraces(dst, td)
	minT, maxT = times(b)
	return payload, minT, maxT, b.Items
}

// MarshalLogs is MarshalTraces for logs; the item time is LogRecordTime.
func MarshalLogs(dst []byte, ld plog.Logs) (payload []byte, minT, maxT time.Time, items int) {
	payload, b := otlpwire.AppendLogs(dst, ld)
	minT, maxT = times(b)
	return payload, minT, maxT, b.Items
}

// MarshalMetrics is MarshalTraces for metrics; items are data points of
// every metric type and the item time is the data point's Timestamp.
func MarshalMetrics(dst []byte, md pmetric.Metrics) (payload []byte, minT, maxT time.Time, items int) {
	payload, b := otlpwire.AppendMetrics(dst, md)
	minT, maxT = times(b)
	return payload, minT, maxT, b.Items
}

// Batch describes a batch handed to AppendTraces, AppendLogs or
// AppendMetrics: its item count and the range of its item times (zero
// times if no item has one).
type Batch struct {
	Items      int
	MinT, MaxT time.Time
}

// AppendTraces marshals td (as MarshalTraces does) into one of the ring's
// scratch buffers and appends it, so that the pipeline's hot path allocates
// no payload per batch. The Batch is returned also when Append fails, for
// the caller to count what it dropped.
func (r *Ring) AppendTraces(td ptrace.Traces) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendTraces(*bufp, td)
	return r.appendPayload(SignalTraces, bufp, payload, b)
}

// AppendLogs is AppendTraces for logs.
func (r *Ring) AppendLogs(ld plog.Logs) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendLogs(*bufp, ld)
	return r.appendPayload(SignalLogs, bufp, payload, b)
}

// AppendMetrics is AppendTraces for metrics.
func (r *Ring) AppendMetrics(md pmetric.Metrics) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendMetrics(*bufp, md)
	return r.appendPayload(SignalMetrics, bufp, payload, b)
}

func (r *Ring) appendPayload(sig Signal, bufp *[]byte, payload []byte, b otlpwire.Batch) (Batch, error) {
	defer r.putBuf(bufp, payload)
	minT, maxT := times(b)
	batch := Batch{Items: b.Items, MinT: minT, MaxT: maxT}
	if b.Items == 0 {
		return batch, nil
	}
	_, err := r.Append(sig, payload, minT, maxT, b.Items)
	return batch, err
}
