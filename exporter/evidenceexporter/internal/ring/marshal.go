package ring

import (
	"math"
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
// AppendMetrics: its item count, how many items have an unusable time (see
// Usable), and the range of the usable item times (zero times if no item
// has one). Block describes the block that holds the batch (Seq 0 when
// none does: an empty batch, or one Append refused).
type Batch struct {
	Items      int
	Unusable   int
	MinT, MaxT time.Time
	Block      BlockInfo
}

// Usable returns the item times a block that arrived at arrival can be
// selected by: every time from arrival-MaxPast to arrival+MaxFuture within
// the int64 nanosecond range, zero excluded. An item whose time lies outside
// (zero, at or beyond 2^63 ns, such as a negative time.Time, or too far from
// its arrival) belongs to no window by its own time. The ring keeps it in
// its block all the same, and the block's time range covers its arrival,
// so that the window holding the arrival can count it.
func (r *Ring) Usable(arrival time.Time) otlpwire.Range {
	u := otlpwire.AnyTime
	a := arrival.UnixNano()
	if r.cfg.MaxPast > 0 && a-int64(r.cfg.MaxPast) > int64(u.Lo) {
		u.Lo = pcommon.Timestamp(a - int64(r.cfg.MaxPast))
	}
	if r.cfg.MaxFuture > 0 && a <= math.MaxInt64-int64(r.cfg.MaxFuture) {
		u.Hi = pcommon.Timestamp(a + int64(r.cfg.MaxFuture))
	}
	return u
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
	payload, b := otlpwire.AppendTraces(*bufp, td, r.usableNow())
	return r.appendPayload(SignalTraces, bufp, payload, b)
}

// AppendLogs is AppendTraces for logs; the item time is LogRecordTime.
func (r *Ring) AppendLogs(ld plog.Logs) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendLogs(*bufp, ld, r.usableNow())
	return r.appendPayload(SignalLogs, bufp, payload, b)
}

// AppendMetrics is AppendTraces for metrics; items are data points of
// every metric type and the item time is the data point's Timestamp.
func (r *Ring) AppendMetrics(md pmetric.Metrics) (Batch, error) {
	bufp := r.getBuf()
	payload, b := otlpwire.AppendMetrics(*bufp, md, r.usableNow())
	return r.appendPayload(SignalMetrics, bufp, payload, b)
}

// usableNow is Usable for a block appended now. The block's arrival,
// taken a moment later, is never earlier, so an item usable now by its
// distance to the past is usable by its arrival too; at the future bound
// the freezer, which judges by the arrival, may accept an item a few
// microseconds beyond it.
func (r *Ring) usableNow() otlpwire.Range { return r.Usable(r.cfg.Now()) }

func (r *Ring) appendPayload(sig Signal, bufp *[]byte, payload []byte, b otlpwire.Batch) (Batch, error) {
	defer r.putBuf(bufp, payload)
	batch := Batch{Items: b.Items, Unusable: b.Unusable}
	if b.MinT != 0 { // else zero times: Append uses the arrival time
		batch.MinT, batch.MaxT = b.MinT.AsTime(), b.MaxT.AsTime()
	}
	if b.Items == 0 {
		return batch, nil
	}
	m, err := r.append(sig, payload, batch.MinT, batch.MaxT, b.Items, b.Unusable > 0, sig != SignalMetrics && b.Unusable == 0 && !b.Empty)
	if err == nil {
		batch.Block = BlockInfo{
			Seq: m.seq, Signal: sig, Arrival: fromUnixNano(m.arrival),
			MinTime: fromUnixNano(m.minT), MaxTime: fromUnixNano(m.maxT), Items: m.items,
		}
	}
	return batch, err
}
