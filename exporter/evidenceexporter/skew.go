package evidenceexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-evidence/otel-evidence/internal/ring"
)

// skewThreshold is how far an item's own time may lie from its arrival
// before the item counts as skewed (otelcol_exporter_evidence_items_skewed).
// Such items are frozen by their own time like any other; the count only
// makes clock skew and delayed delivery visible, since they decide which
// window an item lands in.
const skewThreshold = 5 * time.Minute

// Directions of a skewed item's time relative to its arrival.
const (
	skewPast = iota
	skewFuture
	numSkewDirections
)

// skewAttrs are the metric attributes of each signal and direction.
var skewAttrs = func() [ring.NumSignals][numSkewDirections]attribute.Set {
	var out [ring.NumSignals][numSkewDirections]attribute.Set
	for sig := range out {
		for dir, name := range [numSkewDirections]string{skewPast: "past", skewFuture: "future"} {
			out[sig][dir] = attribute.NewSet(
				attribute.String("signal", ring.Signal(sig).String()),
				attribute.String("direction", name))
		}
	}
	return out
}()

// skewCount classifies item times against [lo, hi], the times not skewed.
type skewCount struct {
	lo, hi pcommon.Timestamp
	n      [numSkewDirections]int64
}

func (c *skewCount) add(t pcommon.Timestamp) {
	switch {
	case t == 0: // no time: belongs to no window, not skewed
	case t < c.lo:
		c.n[skewPast]++
	case t > c.hi:
		c.n[skewFuture]++
	}
}

// newSkewCount returns the counter for a batch whose item times lie in
// [minT, maxT] (zero when no item has a time) arriving at now, and whether
// any item can be skewed at all: most batches are entirely within the
// threshold and need no per-item pass.
func newSkewCount(now, minT, maxT time.Time) (*skewCount, bool) {
	lo, hi := now.Add(-skewThreshold), now.Add(skewThreshold)
	if minT.IsZero() || (!minT.Before(lo) && !maxT.After(hi)) {
		return nil, false
	}
	return &skewCount{lo: ts(lo), hi: ts(hi)}, true
}

// recordSkew adds the skewed items of one batch to the metric.
func (e *evidenceExporter) recordSkew(sig ring.Signal, c *skewCount) {
	for dir, n := range c.n {
		if n > 0 {
			e.tb.ExporterEvidenceItemsSkewed.Add(context.Background(), n, metric.WithAttributeSet(skewAttrs[sig][dir]))
		}
	}
}

// countSkewedTraces counts the spans whose start time is far from now.
func (e *evidenceExporter) countSkewedTraces(td ptrace.Traces, minT, maxT time.Time) {
	c, ok := newSkewCount(e.opts.now(), minT, maxT)
	if !ok {
		return
	}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				c.add(ring.SpanTime(s))
			}
		}
	}
	e.recordSkew(ring.SignalTraces, c)
}

// countSkewedLogs counts the log records whose time is far from now.
func (e *evidenceExporter) countSkewedLogs(ld plog.Logs, minT, maxT time.Time) {
	c, ok := newSkewCount(e.opts.now(), minT, maxT)
	if !ok {
		return
	}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				c.add(ring.LogRecordTime(lr))
			}
		}
	}
	e.recordSkew(ring.SignalLogs, c)
}

// countSkewedMetrics counts the data points whose timestamp is far from now.
func (e *evidenceExporter) countSkewedMetrics(md pmetric.Metrics, minT, maxT time.Time) {
	c, ok := newSkewCount(e.opts.now(), minT, maxT)
	if !ok {
		return
	}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				addPointTimes(c, m)
			}
		}
	}
	e.recordSkew(ring.SignalMetrics, c)
}

// addPointTimes adds the timestamps of m's data points, whatever its type.
func addPointTimes(c *skewCount, m pmetric.Metric) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			c.add(dp.Timestamp())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			c.add(dp.Timestamp())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			c.add(dp.Timestamp())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			c.add(dp.Timestamp())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			c.add(dp.Timestamp())
		}
	}
}
