package evidenceexporter

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/otlpwire"
	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// timeRange is an inclusive range of item times in Unix nanoseconds.
type timeRange struct {
	lo, hi pcommon.Timestamp
}

// contains reports whether ts is in the range. Items without a time (0)
// belong to no window.
func (r timeRange) contains(ts pcommon.Timestamp) bool {
	return ts != 0 && ts >= r.lo && ts <= r.hi
}

// selection is what one select pass keeps and counts: the items whose time
// is in r are kept; with usable set, the items whose time it does not
// contain are counted in unusable, in the same pass.
type selection struct {
	r        timeRange
	usable   *otlpwire.Range
	unusable int64
}

// keep reports whether an item of time t stays, and counts it if unusable.
func (s *selection) keep(t pcommon.Timestamp) bool {
	if s.usable != nil && !s.usable.Contains(t) {
		s.unusable++
	}
	return s.r.contains(t)
}

// The select functions keep, in place, only the items whose own time is in
// r, drop the resources and scopes left empty, and return the number of
// items kept. They modify their argument, which must be writable (a batch
// just decoded from a ring block).

// selectTraces keeps the spans whose start time is in r.
func selectTraces(td ptrace.Traces, r timeRange) int { return selectTracesBy(td, &selection{r: r}) }

// selectTracesBy is selectTraces by s.
func selectTracesBy(td ptrace.Traces, s *selection) int {
	n := 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(sp ptrace.Span) bool {
				return !s.keep(otlptime.Span(sp))
			})
			n += ss.Spans().Len()
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
	return n
}

// selectLogs keeps the log records whose time (timestamp, else observed
// timestamp) is in r.
func selectLogs(ld plog.Logs, r timeRange) int { return selectLogsBy(ld, &selection{r: r}) }

// selectLogsBy is selectLogs by s.
func selectLogsBy(ld plog.Logs, s *selection) int {
	n := 0
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				return !s.keep(otlptime.LogRecord(lr))
			})
			n += sl.LogRecords().Len()
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	return n
}

// selectMetrics keeps the data points whose timestamp is in r, and the
// metrics that still have points.
func selectMetrics(md pmetric.Metrics, r timeRange) int { return selectMetricsBy(md, &selection{r: r}) }

// selectMetricsBy is selectMetrics by s.
func selectMetricsBy(md pmetric.Metrics, s *selection) int {
	n := 0
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
			sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
				kept := selectPoints(m, s)
				n += kept
				return kept == 0
			})
			return sm.Metrics().Len() == 0
		})
		return rm.ScopeMetrics().Len() == 0
	})
	return n
}

// selectPoints filters the data points of one metric and returns how many
// are left.
func selectPoints(m pmetric.Metric, s *selection) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		dps.RemoveIf(func(dp pmetric.NumberDataPoint) bool { return !s.keep(dp.Timestamp()) })
		return dps.Len()
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		dps.RemoveIf(func(dp pmetric.NumberDataPoint) bool { return !s.keep(dp.Timestamp()) })
		return dps.Len()
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		dps.RemoveIf(func(dp pmetric.HistogramDataPoint) bool { return !s.keep(dp.Timestamp()) })
		return dps.Len()
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		dps.RemoveIf(func(dp pmetric.ExponentialHistogramDataPoint) bool { return !s.keep(dp.Timestamp()) })
		return dps.Len()
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		dps.RemoveIf(func(dp pmetric.SummaryDataPoint) bool { return !s.keep(dp.Timestamp()) })
		return dps.Len()
	}
	return 0
}
