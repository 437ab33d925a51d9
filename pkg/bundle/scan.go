package bundle

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// scanned counts the items of a batch and spans their item times (unset
// times are ignored).
type scanned struct {
	n int64
	r TimeRange
}

func (s *scanned) add(ts pcommon.Timestamp) {
	s.n++
	if ts != 0 {
		s.r.Extend(ts.AsTime())
	}
}

// scanTraces counts spans and spans their start times.
func scanTraces(td ptrace.Traces) (int64, TimeRange) {
	var s scanned
	otlptime.TraceTimes(td, s.add)
	return s.n, s.r
}

// scanLogs counts log records and spans their timestamps (observed
// timestamps for records without one).
func scanLogs(ld plog.Logs) (int64, TimeRange) {
	var s scanned
	otlptime.LogTimes(ld, s.add)
	return s.n, s.r
}

// scanMetrics counts data points of every type and spans their times.
func scanMetrics(md pmetric.Metrics) (int64, TimeRange) {
	var s scanned
	otlptime.MetricTimes(md, s.add)
	return s.n, s.r
}
