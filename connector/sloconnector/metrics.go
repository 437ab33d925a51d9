package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
)

// Names of the emitted series. No semantic convention covers SLOs yet;
// they follow the OTel naming rules (dot-separated namespace, no unit in
// the name, UCUM units, "1" for ratios) under the "slo." namespace. A
// Prometheus backend receives them as slo_events_total, slo_sli,
// slo_burn_rate, slo_objective, slo_error_budget_remaining and
// slo_alert_firing.
const (
	scopeName = "github.com/otel-evidence/otel-evidence/connector/sloconnector"

	metricEvents          = "slo.events"
	metricSLI             = "slo.sli"
	metricBurnRate        = "slo.burn_rate"
	metricObjective       = "slo.objective"
	metricBudgetRemaining = "slo.error_budget.remaining"
	metricAlertFiring     = "slo.alert.firing"

	attrName    = "slo.name"
	attrOutcome = "slo.event.outcome"
	attrWindow  = "slo.window"
	attrLevel   = "slo.alert.level"
	attrGroup   = "slo.group"
)

// emit sends the series of every group to the metrics pipeline.
func (c *sloConnector) emit(ctx context.Context) {
	md := c.buildMetrics(c.now())
	if md.ResourceMetrics().Len() == 0 {
		return
	}
	if err := c.next.ConsumeMetrics(ctx, md); err != nil {
		c.logger.Warn("The metrics pipeline refused the SLO series", zap.Error(err))
	}
}

// buildMetrics evaluates every group at now and renders its series: one
// resource per group, whose attributes are the group's scope (for example
// service.name), so the series belong to the service they describe.
func (c *sloConnector) buildMetrics(now time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(now)
	for _, o := range c.slos {
		sp := o.spec
		for _, g := range o.snapshotGroups() {
			g.mu.Lock()
			ev := sp.evaluate(g.windows, now.UnixNano())
			goodTot, badTot, created := g.goodTot, g.badTot, g.created
			g.mu.Unlock()

			rm := md.ResourceMetrics().AppendEmpty()
			for _, m := range g.scope {
				rm.Resource().Attributes().PutStr(m.Key, m.Value)
			}
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(scopeName)
			ms := sm.Metrics()
			common := func(dp pcommon.Map) {
				dp.PutStr(attrName, o.cfg.Name)
				if g.groupID != "" {
					dp.PutStr(attrGroup, g.groupID)
				}
			}

			events := ms.AppendEmpty()
			events.SetName(metricEvents)
			events.SetDescription("SLI events counted by the slo connector, by outcome.")
			events.SetUnit("{event}")
			sum := events.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for _, oc := range []struct {
				name string
				v    uint64
			}{{"good", goodTot}, {"bad", badTot}} {
				dp := sum.DataPoints().AppendEmpty()
				common(dp.Attributes())
				dp.Attributes().PutStr(attrOutcome, oc.name)
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(created))
				dp.SetTimestamp(ts)
				dp.SetIntValue(int64(oc.v))
			}

			sli := ratioGauge(ms, metricSLI, "Ratio of good events to all events over the window.")
			burn := ratioGauge(ms, metricBurnRate, "Rate at which the error budget is spent over the window (1: exactly the budget over the SLO period).")
			for i, name := range sp.names {
				if ev.good[i]+ev.bad[i] == 0 {
					continue // no events: the ratio is undefined
				}
				dp := sli.DataPoints().AppendEmpty()
				common(dp.Attributes())
				dp.Attributes().PutStr(attrWindow, name)
				dp.SetTimestamp(ts)
				dp.SetDoubleValue(float64(ev.good[i]) / float64(ev.good[i]+ev.bad[i]))
				dp = burn.DataPoints().AppendEmpty()
				common(dp.Attributes())
				dp.Attributes().PutStr(attrWindow, name)
				dp.SetTimestamp(ts)
				dp.SetDoubleValue(ev.burn[i])
			}

			dp := ratioGauge(ms, metricObjective, "The SLO's objective as a ratio.").DataPoints().AppendEmpty()
			common(dp.Attributes())
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(sp.objective)

			dp = ratioGauge(ms, metricBudgetRemaining, "Fraction of the SLO period's error budget not yet spent (negative when overspent).").DataPoints().AppendEmpty()
			common(dp.Attributes())
			dp.Attributes().PutStr(attrWindow, sp.names[sp.period])
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(1 - sp.budgetConsumed(&ev))

			firing := ratioGauge(ms, metricAlertFiring, "1 while the alert level's burn-rate condition holds.")
			for li := range sp.levels {
				if len(sp.levels[li].conds) == 0 {
					continue
				}
				dp := firing.DataPoints().AppendEmpty()
				common(dp.Attributes())
				dp.Attributes().PutStr(attrLevel, levelNames[li])
				dp.SetTimestamp(ts)
				v := int64(0)
				if ev.holds[li] {
					v = 1
				}
				dp.SetIntValue(v)
			}
		}
	}
	return md
}

// ratioGauge appends a gauge of unit "1" (every gauge here is a ratio).
func ratioGauge(ms pmetric.MetricSlice, name, desc string) pmetric.Gauge {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit("1")
	return m.SetEmptyGauge()
}
