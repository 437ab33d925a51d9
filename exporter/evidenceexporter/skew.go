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

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/internal/otlptime"
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
	if c, ok := newSkewCount(e.opts.now(), minT, maxT); ok {
		otlptime.TraceTimes(td, c.add)
		e.recordSkew(ring.SignalTraces, c)
	}
}

// countSkewedLogs counts the log records whose time is far from now.
func (e *evidenceExporter) countSkewedLogs(ld plog.Logs, minT, maxT time.Time) {
	if c, ok := newSkewCount(e.opts.now(), minT, maxT); ok {
		otlptime.LogTimes(ld, c.add)
		e.recordSkew(ring.SignalLogs, c)
	}
}

// countSkewedMetrics counts the data points whose timestamp is far from now.
func (e *evidenceExporter) countSkewedMetrics(md pmetric.Metrics, minT, maxT time.Time) {
	if c, ok := newSkewCount(e.opts.now(), minT, maxT); ok {
		otlptime.MetricTimes(md, c.add)
		e.recordSkew(ring.SignalMetrics, c)
	}
}
