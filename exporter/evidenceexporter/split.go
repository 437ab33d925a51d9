package evidenceexporter

import (
	"errors"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// putBatch adds v to the current part without taking it past the part's
// data limit: when v does not fit, the part is finished and v goes into the
// next one; when v does not fit in an empty part either, it is split in two
// halves by items, down to single items. A single item larger than the
// limit gets a part of its own.
func putBatch[T any](b *partBuilder, v T, add func(*bundle.PartWriter, T) error, split func(T) (T, T, bool)) error {
	w, err := b.writer()
	if err != nil {
		return err
	}
	err = add(w, v)
	if !errors.Is(err, bundle.ErrPartFull) {
		return err
	}
	if w.Size() > 0 {
		if err := b.finish(); err != nil {
			return err
		}
		b.cut = true
		return putBatch(b, v, add, split)
	}
	if x, y, ok := split(v); ok {
		if err := putBatch(b, x, add, split); err != nil {
			return err
		}
		return putBatch(b, y, add, split)
	}
	w.SetLimit(0)
	if err := add(w, v); err != nil {
		return err
	}
	b.cut = true
	return b.finish()
}

// splitTraces returns the first and the second half of td's spans, each
// with its resources and scopes, and whether td had two spans to split.
func splitTraces(td ptrace.Traces) (ptrace.Traces, ptrace.Traces, bool) {
	n := td.SpanCount()
	if n < 2 {
		return td, td, false
	}
	first, second := ptrace.NewTraces(), ptrace.NewTraces()
	td.CopyTo(first)
	td.CopyTo(second)
	keepTraces(first, func(i int) bool { return i < n/2 })
	keepTraces(second, func(i int) bool { return i >= n/2 })
	return first, second, true
}

func keepTraces(td ptrace.Traces, keep func(i int) bool) {
	i := 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(ptrace.Span) bool { i++; return !keep(i - 1) })
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}

// splitLogs is splitTraces for log records.
func splitLogs(ld plog.Logs) (plog.Logs, plog.Logs, bool) {
	n := ld.LogRecordCount()
	if n < 2 {
		return ld, ld, false
	}
	first, second := plog.NewLogs(), plog.NewLogs()
	ld.CopyTo(first)
	ld.CopyTo(second)
	keepLogs(first, func(i int) bool { return i < n/2 })
	keepLogs(second, func(i int) bool { return i >= n/2 })
	return first, second, true
}

func keepLogs(ld plog.Logs, keep func(i int) bool) {
	i := 0
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(plog.LogRecord) bool { i++; return !keep(i - 1) })
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
}

// splitMetrics is splitTraces for data points (of every metric type).
func splitMetrics(md pmetric.Metrics) (pmetric.Metrics, pmetric.Metrics, bool) {
	n := md.DataPointCount()
	if n < 2 {
		return md, md, false
	}
	first, second := pmetric.NewMetrics(), pmetric.NewMetrics()
	md.CopyTo(first)
	md.CopyTo(second)
	keepPoints(first, func(i int) bool { return i < n/2 })
	keepPoints(second, func(i int) bool { return i >= n/2 })
	return first, second, true
}

func keepPoints(md pmetric.Metrics, keep func(i int) bool) {
	i := 0
	drop := func() bool { i++; return !keep(i - 1) }
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
			sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					m.Gauge().DataPoints().RemoveIf(func(pmetric.NumberDataPoint) bool { return drop() })
				case pmetric.MetricTypeSum:
					m.Sum().DataPoints().RemoveIf(func(pmetric.NumberDataPoint) bool { return drop() })
				case pmetric.MetricTypeHistogram:
					m.Histogram().DataPoints().RemoveIf(func(pmetric.HistogramDataPoint) bool { return drop() })
				case pmetric.MetricTypeExponentialHistogram:
					m.ExponentialHistogram().DataPoints().RemoveIf(func(pmetric.ExponentialHistogramDataPoint) bool { return drop() })
				case pmetric.MetricTypeSummary:
					m.Summary().DataPoints().RemoveIf(func(pmetric.SummaryDataPoint) bool { return drop() })
				}
				return pointCount(m) == 0
			})
			return sm.Metrics().Len() == 0
		})
		return rm.ScopeMetrics().Len() == 0
	})
}

func pointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// noSplit is the split of what cannot be split (an event).
func noSplit[T any](v T) (T, T, bool) { return v, v, false }
