package replay

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// ShiftBy returns a function moving non-zero timestamps by shift
// nanoseconds, clamped to the valid range; zero (unset) stays zero.
func ShiftBy(shift int64) func(pcommon.Timestamp) pcommon.Timestamp {
	return func(ts pcommon.Timestamp) pcommon.Timestamp {
		if ts == 0 {
			return 0
		}
		v := int64(ts)
		switch {
		case shift > 0 && v > math.MaxInt64-shift:
			return pcommon.Timestamp(math.MaxInt64)
		case v+shift < 1:
			return 1
		}
		return pcommon.Timestamp(v + shift)
	}
}

// ShiftTraces moves every timestamp of td by shift nanoseconds.
func ShiftTraces(td ptrace.Traces, shift int64) {
	if shift != 0 {
		otlptime.MapTraces(td, ShiftBy(shift))
	}
}

// ShiftLogs moves every timestamp of ld by shift nanoseconds.
func ShiftLogs(ld plog.Logs, shift int64) {
	if shift != 0 {
		otlptime.MapLogs(ld, ShiftBy(shift))
	}
}

// ShiftMetrics moves every timestamp of md by shift nanoseconds.
func ShiftMetrics(md pmetric.Metrics, shift int64) {
	if shift != 0 {
		otlptime.MapMetrics(md, ShiftBy(shift))
	}
}

// Latest keeps the latest timestamp of the batches it is shown.
type Latest struct{ ts pcommon.Timestamp }

func (l *Latest) see(ts pcommon.Timestamp) pcommon.Timestamp {
	l.ts = max(l.ts, ts)
	return ts
}

// Traces takes td's timestamps into account.
func (l *Latest) Traces(td ptrace.Traces) { otlptime.MapTraces(td, l.see) }

// Logs takes ld's timestamps into account.
func (l *Latest) Logs(ld plog.Logs) { otlptime.MapLogs(ld, l.see) }

// Metrics takes md's timestamps into account.
func (l *Latest) Metrics(md pmetric.Metrics) { otlptime.MapMetrics(md, l.see) }

// Timestamp is the latest timestamp seen, zero for none.
func (l *Latest) Timestamp() pcommon.Timestamp { return l.ts }
