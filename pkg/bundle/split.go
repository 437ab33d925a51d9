package bundle

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The halve functions split a copy of a batch into two batches of about
// half the items each, at the outermost level that has more than one
// element (resources, then scopes, then items), keeping the resource and
// scope of every item. ok is false for a batch of a single item.

// removeIfer is a pdata slice.
type removeIfer[E any] interface {
	Len() int
	RemoveIf(func(E) bool)
}

// moveHalf moves the second half of s's elements with move.
func moveHalf[E any](s removeIfer[E], move func(E)) bool {
	n := s.Len()
	if n < 2 {
		return false
	}
	i := 0
	s.RemoveIf(func(e E) bool {
		i++
		if i > n/2 {
			move(e)
			return true
		}
		return false
	})
	return true
}

func halveTraces(src ptrace.Traces) (ptrace.Traces, ptrace.Traces, bool) {
	a, b := ptrace.NewTraces(), ptrace.NewTraces()
	src.CopyTo(a)
	rss := a.ResourceSpans()
	if moveHalf(rss, func(rs ptrace.ResourceSpans) { rs.MoveTo(b.ResourceSpans().AppendEmpty()) }) {
		return a, b, true
	}
	if rss.Len() == 0 {
		return a, b, false
	}
	rs, brs := rss.At(0), b.ResourceSpans().AppendEmpty()
	rs.Resource().CopyTo(brs.Resource())
	brs.SetSchemaUrl(rs.SchemaUrl())
	if moveHalf(rs.ScopeSpans(), func(ss ptrace.ScopeSpans) { ss.MoveTo(brs.ScopeSpans().AppendEmpty()) }) {
		return a, b, true
	}
	if rs.ScopeSpans().Len() == 0 {
		return a, b, false
	}
	ss, bss := rs.ScopeSpans().At(0), brs.ScopeSpans().AppendEmpty()
	ss.Scope().CopyTo(bss.Scope())
	bss.SetSchemaUrl(ss.SchemaUrl())
	ok := moveHalf(ss.Spans(), func(s ptrace.Span) { s.MoveTo(bss.Spans().AppendEmpty()) })
	return a, b, ok
}

func halveLogs(src plog.Logs) (plog.Logs, plog.Logs, bool) {
	a, b := plog.NewLogs(), plog.NewLogs()
	src.CopyTo(a)
	rls := a.ResourceLogs()
	if moveHalf(rls, func(rl plog.ResourceLogs) { rl.MoveTo(b.ResourceLogs().AppendEmpty()) }) {
		return a, b, true
	}
	if rls.Len() == 0 {
		return a, b, false
	}
	rl, brl := rls.At(0), b.ResourceLogs().AppendEmpty()
	rl.Resource().CopyTo(brl.Resource())
	brl.SetSchemaUrl(rl.SchemaUrl())
	if moveHalf(rl.ScopeLogs(), func(sl plog.ScopeLogs) { sl.MoveTo(brl.ScopeLogs().AppendEmpty()) }) {
		return a, b, true
	}
	if rl.ScopeLogs().Len() == 0 {
		return a, b, false
	}
	sl, bsl := rl.ScopeLogs().At(0), brl.ScopeLogs().AppendEmpty()
	sl.Scope().CopyTo(bsl.Scope())
	bsl.SetSchemaUrl(sl.SchemaUrl())
	ok := moveHalf(sl.LogRecords(), func(r plog.LogRecord) { r.MoveTo(bsl.LogRecords().AppendEmpty()) })
	return a, b, ok
}

func halveMetrics(src pmetric.Metrics) (pmetric.Metrics, pmetric.Metrics, bool) {
	a, b := pmetric.NewMetrics(), pmetric.NewMetrics()
	src.CopyTo(a)
	rms := a.ResourceMetrics()
	if moveHalf(rms, func(rm pmetric.ResourceMetrics) { rm.MoveTo(b.ResourceMetrics().AppendEmpty()) }) {
		return a, b, true
	}
	if rms.Len() == 0 {
		return a, b, false
	}
	rm, brm := rms.At(0), b.ResourceMetrics().AppendEmpty()
	rm.Resource().CopyTo(brm.Resource())
	brm.SetSchemaUrl(rm.SchemaUrl())
	if moveHalf(rm.ScopeMetrics(), func(sm pmetric.ScopeMetrics) { sm.MoveTo(brm.ScopeMetrics().AppendEmpty()) }) {
		return a, b, true
	}
	if rm.ScopeMetrics().Len() == 0 {
		return a, b, false
	}
	sm, bsm := rm.ScopeMetrics().At(0), brm.ScopeMetrics().AppendEmpty()
	sm.Scope().CopyTo(bsm.Scope())
	bsm.SetSchemaUrl(sm.SchemaUrl())
	if moveHalf(sm.Metrics(), func(m pmetric.Metric) { m.MoveTo(bsm.Metrics().AppendEmpty()) }) {
		return a, b, true
	}
	if sm.Metrics().Len() == 0 {
		return a, b, false
	}
	m, bm := sm.Metrics().At(0), bsm.Metrics().AppendEmpty()
	bm.SetName(m.Name())
	bm.SetDescription(m.Description())
	bm.SetUnit(m.Unit())
	m.Metadata().CopyTo(bm.Metadata())
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		d := bm.SetEmptyGauge()
		return a, b, moveHalf(m.Gauge().DataPoints(), func(p pmetric.NumberDataPoint) { p.MoveTo(d.DataPoints().AppendEmpty()) })
	case pmetric.MetricTypeSum:
		d := bm.SetEmptySum()
		d.SetAggregationTemporality(m.Sum().AggregationTemporality())
		d.SetIsMonotonic(m.Sum().IsMonotonic())
		return a, b, moveHalf(m.Sum().DataPoints(), func(p pmetric.NumberDataPoint) { p.MoveTo(d.DataPoints().AppendEmpty()) })
	case pmetric.MetricTypeHistogram:
		d := bm.SetEmptyHistogram()
		d.SetAggregationTemporality(m.Histogram().AggregationTemporality())
		return a, b, moveHalf(m.Histogram().DataPoints(), func(p pmetric.HistogramDataPoint) { p.MoveTo(d.DataPoints().AppendEmpty()) })
	case pmetric.MetricTypeExponentialHistogram:
		d := bm.SetEmptyExponentialHistogram()
		d.SetAggregationTemporality(m.ExponentialHistogram().AggregationTemporality())
		return a, b, moveHalf(m.ExponentialHistogram().DataPoints(), func(p pmetric.ExponentialHistogramDataPoint) { p.MoveTo(d.DataPoints().AppendEmpty()) })
	case pmetric.MetricTypeSummary:
		d := bm.SetEmptySummary()
		return a, b, moveHalf(m.Summary().DataPoints(), func(p pmetric.SummaryDataPoint) { p.MoveTo(d.DataPoints().AppendEmpty()) })
	}
	return a, b, false
}
