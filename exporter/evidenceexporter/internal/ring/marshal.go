package ring

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/otlpwire"
	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// SpanTime is the item time of a span (otlptime.Span: its start time).
// Kept for the callers of the ring API; new code uses otlptime.
func SpanTime(s ptrace.Span) pcommon.Timestamp { return otlptime.Span(s) }

// LogRecordTime is the item time of a log record (otlptime.LogRecord: its
// Timestamp, or its ObservedTimestamp when Timestamp is unset). Kept for
// the callers of the ring API; new code uses otlptime.
func LogRecordTime(lr plog.LogRecord) pcommon.Timestamp { return otlptime.LogRecord(lr) }

// Batch describes a batch handed to AppendTraces, AppendLogs or
// AppendMetrics: its item count and the range of its item times (zero
// times if no item has one).
type Batch struct {
	Items      int
	MinT, MaxT time.Time
}

// AppendTraces marshals td as an OTLP protobuf ExportTraceServiceRequest
// (the bytes ptrace.ProtoMarshaler writes, in one pass: see otlpwire) into
// one of the ring's scratch buffers and appends it, so that the pipeline's
// hot path allocates no payload per batch. The block's time range is that
// of the span start times; unset times are ignored, and a batch without any
// takes its arrival time. The Batch is returned also when Append fails, for
// the caller to count what it dropped.
func (r *Ring) AppendTraces(td ptrace.Traces) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendTraces(*bufp, td)
	return r.appendPayload(SignalTraces, bufp, payload, b)
}

// AppendLogs is AppendTraces for logs; the item time is LogRecordTime.
func (r *Ring) AppendLogs(ld plog.Logs) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendLogs(*bufp, ld)
	return r.appendPayload(SignalLogs, bufp, payload, b)
}

// AppendMetrics is AppendTraces for metrics; items are data points of
// every metric type and the item time is the data point's Timestamp.
func (r *Ring) AppendMetrics(md pmetric.Metrics) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendMetrics(*bufp, md)
	return r.appendPayload(SignalMetrics, bufp, payload, b)
}

func (r *Ring) appendPayload(sig Signal, bufp *[]byte, payload []byte, b otlpwire.Batch) (Batch, error) {
	defer r.putBuf(bufp, payload)
	batch := Batch{Items: b.Items}
	if b.MinT != 0 { // else zero times: Append uses the arrival time
		batch.MinT, batch.MaxT = b.MinT.AsTime(), b.MaxT.AsTime()
	}
	if b.Items == 0 {
		return batch, nil
	}
	_, err := r.Append(sig, payload, batch.MinT, batch.MaxT, b.Items)
	return batch, err
}
