package sloconnector

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadata"
	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// send feeds n spans of which bad are errors, for service, at the rig's
// current time.
func (r *rig) send(t *testing.T, rng *rand.Rand, service string, n, bad int) {
	t.Helper()
	require.NoError(t, r.c.ConsumeTraces(context.Background(), traces(rng, service, n, bad)))
}

// openIncidents returns the registry's open incidents.
func (r *rig) openIncidents() []*incident.Incident { return r.reg.Snapshot().Open }

// waitWriter waits until the incident writer applied what was queued.
func (r *rig) waitWriter(t *testing.T) {
	t.Helper()
	require.Eventually(t, r.c.writer.idle, 5*time.Second, time.Millisecond)
}

// TestPageOpensAndResolves drives the default policy on a fake clock: an
// hour of healthy traffic at 0.05% errors opens nothing; then 5% errors
// (50x the budget). The short windows pass at once; the 6h window (holding
// only the hour so far) passes 6x after 8 minutes: (60+8*100)/(68*2000) =
// 0.63% > 0.6%, while the 1h window needs 17 minutes to pass 14.4x. So the
// page opens at minute 8 on the 6h/30m pair, and resolves once the 30m
// window no longer holds errors.
func TestPageOpensAndResolves(t *testing.T) {
	r := newRig(t, testConfig(), nil)
	rng := rand.New(rand.NewPCG(3, 4))
	// 1h healthy: 2000 spans a minute, 1 error a minute (0.05%).
	for range 60 {
		r.send(t, rng, "checkout", 2000, 1)
		r.send(t, rng, "cart", 100, 100) // not selected
		r.clock.Advance(time.Minute)
	}
	r.waitWriter(t)
	assert.Empty(t, r.openIncidents())

	// 5% errors: the 5m window passes 14.4x at once, the 1h window needs
	// bad/total > 1.44% over the hour.
	opened := time.Time{}
	openedAfter := 0
	for i := range 30 {
		r.send(t, rng, "checkout", 2000, 100)
		r.waitWriter(t)
		if len(r.openIncidents()) > 0 && opened.IsZero() {
			opened = r.clock.Now()
			openedAfter = i + 1
		}
		r.clock.Advance(time.Minute)
	}
	require.False(t, opened.IsZero(), "no incident opened")
	assert.Equal(t, 8, openedAfter)
	open := r.openIncidents()
	require.Len(t, open, 1)
	inc := open[0]
	assert.Equal(t, incident.SourceSLO, inc.Source)
	assert.Equal(t, "critical", inc.Severity)
	assert.Equal(t, []incident.Matcher{{Key: "service.name", Value: "checkout"}}, inc.Scope)
	assert.Equal(t, "checkout-availability", inc.Labels["slo"])
	assert.Equal(t, "page", inc.Labels["slo_level"])
	assert.Equal(t, "6h,30m", inc.Labels["windows"])
	assert.NotEmpty(t, inc.Labels["burn_rate"])
	assert.NotEmpty(t, inc.Labels["error_budget_consumed"])
	assert.True(t, strings.HasPrefix(inc.ID, "slo-checkout-availability-"), inc.ID)
	require.NoError(t, incident.ValidateID(inc.ID))
	assert.Equal(t, opened, inc.StartedAt)

	// Errors stop: the 5m window clears within 6 minutes, but the 6h/30m
	// pair holds while the 30m window's errors exceed 0.6%, that is while
	// it still holds more than 3.6 of the 30 error minutes: until about 26
	// minutes after the errors stopped. The incident resolves
	// resolve_after (5m) later.
	for range 20 {
		r.send(t, rng, "checkout", 2000, 0)
		r.clock.Advance(time.Minute)
	}
	r.c.evaluateAll()
	r.waitWriter(t)
	require.Len(t, r.openIncidents(), 1)
	for range 11 {
		r.send(t, rng, "checkout", 2000, 0)
		r.clock.Advance(time.Minute)
	}
	r.c.evaluateAll()
	r.waitWriter(t)
	require.Len(t, r.openIncidents(), 1, "resolved before resolve_after passed")
	for range 5 {
		r.send(t, rng, "checkout", 2000, 0)
		r.clock.Advance(time.Minute)
	}
	r.c.evaluateAll()
	r.waitWriter(t)
	assert.Empty(t, r.openIncidents())
	got, ok := r.reg.Incident(inc.ID)
	require.True(t, ok)
	assert.Equal(t, incident.StatusResolved, got.Status)

	// The opening event carries every window's counts as evidence.
	var opens []incident.Event
	for _, ev := range r.reg.Events(time.Time{}, r.clock.Now()) {
		if ev.Kind == incident.EventIncidentOpened {
			opens = append(opens, ev)
		}
	}
	require.Len(t, opens, 1)
	var payload struct {
		SLO     string `json:"slo"`
		Windows []struct {
			Window   string  `json:"window"`
			BurnRate float64 `json:"burn_rate"`
		} `json:"windows"`
	}
	require.NoError(t, json.Unmarshal(opens[0].Payload, &payload))
	assert.Equal(t, "checkout-availability", payload.SLO)
	var names []string
	for _, w := range payload.Windows {
		names = append(names, w.Window)
	}
	assert.Equal(t, []string{"1h", "5m", "6h", "30m", "1d", "2h", "3d", "30d"}, names)
}

// TestResolveAfterKeepsOneIncident drives a burn rate that crosses its
// threshold back and forth: a short clear spell continues the incident
// (same ID, one opening event, no resolve), and it resolves exactly
// resolve_after after the condition last stopped holding. With
// resolve_after 0 the same traffic resolves at the first clear
// evaluation and reopens a second incident.
func TestResolveAfterKeepsOneIncident(t *testing.T) {
	run := func(t *testing.T, resolveAfter time.Duration) (r *rig, resolvedAfter int) {
		cfg := testConfig()
		// One pair: 10x over 10m and 1m. 1000 spans a minute; 5% errors
		// burn at 50x.
		cfg.Policy.Page.Windows = []WindowConfig{{Long: 10 * time.Minute, Short: time.Minute, BurnRate: 10}}
		cfg.Policy.ResolveAfter = resolveAfter
		r = newRig(t, cfg, nil)
		rng := rand.New(rand.NewPCG(5, 6))
		step := func(bad int) {
			r.send(t, rng, "checkout", 1000, bad)
			r.waitWriter(t)
			r.clock.Advance(time.Minute)
		}
		step(50)
		require.Len(t, r.openIncidents(), 1)
		// Two clear minutes: the 1m window holds none of the errors.
		step(0)
		step(0)
		step(50)
		// Then healthy until resolved.
		for resolvedAfter = 1; resolvedAfter <= 20; resolvedAfter++ {
			step(0)
			if len(r.openIncidents()) == 0 {
				break
			}
		}
		return r, resolvedAfter
	}
	opens := func(r *rig) (ids []string) {
		for _, ev := range r.reg.Events(time.Time{}, r.clock.Now()) {
			if ev.Kind == incident.EventIncidentOpened {
				ids = append(ids, ev.IncidentID)
			}
		}
		return ids
	}

	r, immediate := run(t, 0)
	assert.Len(t, opens(r), 2, "without resolve_after the clear spell resolves and reopens")
	// The 1m window still reaches the error minute's batch at the first
	// healthy minute (a window is up to one bucket longer than its
	// duration), so the condition stops holding at the second.
	assert.Equal(t, 2, immediate)

	r, held := run(t, 3*time.Minute)
	assert.Len(t, opens(r), 1, "a clear spell shorter than resolve_after opened a second incident")
	assert.Equal(t, immediate+3, held, "the incident must resolve resolve_after after the condition stopped holding")
}

// TestHealthyTrafficNeverFires: 0.05% errors against 99.9% (a burn rate
// of 0.5) for a simulated 12 hours, past every page window, opens nothing
// and no level fires.
func TestHealthyTrafficNeverFires(t *testing.T) {
	r := newRig(t, testConfig(), nil)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 12 * 60 {
		// 2000 spans a minute, one an error: 0.05%.
		r.send(t, rng, "checkout", 2000, 1)
		r.clock.Advance(time.Minute)
		if i%60 == 0 {
			md := r.c.buildMetrics(r.clock.Now())
			assert.Zero(t, firing(md), "minute %d", i)
		}
	}
	r.waitWriter(t)
	assert.Empty(t, r.openIncidents())
	assert.Empty(t, r.reg.Calls())
}

// firing sums slo.alert.firing.
func firing(md pmetric.Metrics) int64 {
	var n int64
	forEachMetric(md, func(m pmetric.Metric) {
		if m.Name() == metricAlertFiring {
			for i := range m.Gauge().DataPoints().Len() {
				n += m.Gauge().DataPoints().At(i).IntValue()
			}
		}
	})
	return n
}

func forEachMetric(md pmetric.Metrics, fn func(pmetric.Metric)) {
	for i := range md.ResourceMetrics().Len() {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				fn(ms.At(k))
			}
		}
	}
}

// TestTimeScale: with time_scale 3600 an hour lasts a second, and the
// same traffic shape opens the incident after the same number of (scaled)
// minutes.
func TestTimeScale(t *testing.T) {
	cfg := testConfig()
	cfg.TimeScale = 3600
	r := newRig(t, cfg, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	minute := time.Minute / 3600
	for range 60 {
		r.send(t, rng, "checkout", 2000, 1)
		r.clock.Advance(minute)
	}
	r.waitWriter(t)
	require.Empty(t, r.openIncidents())
	n := 0
	for len(r.openIncidents()) == 0 && n < 30 {
		r.send(t, rng, "checkout", 2000, 100)
		r.waitWriter(t)
		r.clock.Advance(minute)
		n++
	}
	assert.Equal(t, 8, n, "the same minute as TestPageOpensAndResolves")
	assert.Equal(t, "6h,30m", r.openIncidents()[0].Labels["windows"], "window names stay nominal")
}

// TestSeries checks the emitted series' names, attributes and values.
func TestSeries(t *testing.T) {
	cfg := testConfig()
	r := newRig(t, cfg, nil)
	rng := rand.New(rand.NewPCG(1, 1))
	r.send(t, rng, "checkout", 1000, 10)
	md := r.c.buildMetrics(r.clock.Now())
	require.Equal(t, 1, md.ResourceMetrics().Len())
	res := md.ResourceMetrics().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, map[string]any{"service.name": "checkout"}, res)
	got := map[string]float64{}
	forEachMetric(md, func(m pmetric.Metric) {
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			for i := range m.Gauge().DataPoints().Len() {
				dp := m.Gauge().DataPoints().At(i)
				key := m.Name()
				if w, ok := dp.Attributes().Get(attrWindow); ok {
					key += "/" + w.Str()
				}
				if l, ok := dp.Attributes().Get(attrLevel); ok {
					key += "/" + l.Str()
				}
				v := dp.DoubleValue()
				if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
					v = float64(dp.IntValue())
				}
				got[key] = v
				assert.Equal(t, "checkout-availability", dp.Attributes().AsRaw()[attrName])
			}
		case pmetric.MetricTypeSum:
			assert.True(t, m.Sum().IsMonotonic())
			for i := range m.Sum().DataPoints().Len() {
				dp := m.Sum().DataPoints().At(i)
				o, _ := dp.Attributes().Get(attrOutcome)
				got[m.Name()+"/"+o.Str()] = float64(dp.IntValue())
			}
		}
	})
	assert.Equal(t, 990.0, got["slo.events/good"])
	assert.Equal(t, 10.0, got["slo.events/bad"])
	assert.InDelta(t, 0.99, got["slo.sli/5m"], 1e-9)
	assert.InDelta(t, 10.0, got["slo.burn_rate/5m"], 1e-6) // 1% bad / 0.1% budget
	assert.InDelta(t, 0.999, got["slo.objective"], 1e-12)
	assert.InDelta(t, 1-10.0, got["slo.error_budget.remaining/30d"], 1e-6)
	// 10x everywhere: above 6x (page, 6h/30m) and 3x (ticket, 1d/2h).
	assert.Equal(t, 1.0, got["slo.alert.firing/page"])
	assert.Equal(t, 1.0, got["slo.alert.firing/ticket"])

	// The loop emits them on metrics_interval.
	r2cfg := testConfig()
	r2cfg.MetricsInterval = 10 * time.Millisecond
	r2 := newRig(t, r2cfg, nil)
	r2.send(t, rng, "checkout", 10, 0)
	require.Eventually(t, func() bool { return len(r2.sink.AllMetrics()) > 0 }, 5*time.Second, 5*time.Millisecond)
}

// TestGroupsAndCardinalityCap: group_by evaluates one SLO per service, up
// to max_groups; further services' events are dropped and counted.
func TestGroupsAndCardinalityCap(t *testing.T) {
	cfg := testConfig()
	cfg.SLOs[0].Selector = SelectorConfig{GroupBy: []string{"service.name"}}
	cfg.MaxGroups = 2
	r := newRig(t, cfg, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	r.send(t, rng, "checkout", 10, 0)
	r.send(t, rng, "cart", 10, 10)
	r.send(t, rng, "search", 7, 0) // third group: over the cap
	r.send(t, rng, "search", 5, 0)
	assert.Len(t, r.c.slos[0].snapshotGroups(), 2)
	name := attribute.String("slo", "checkout-availability")
	metadatatest.AssertEqualConnectorSloEventsDropped(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(name, attribute.String("reason", "cardinality")), Value: 12},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorSloGroups(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(name), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorSloEvents(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(name, attribute.String("outcome", "good")), Value: 10},
		{Attributes: attribute.NewSet(name, attribute.String("outcome", "bad")), Value: 10},
	}, metricdatatest.IgnoreTimestamp())

	// cart burns 1000x: its own incident, scoped to cart, with a group label.
	for range 61 {
		r.send(t, rng, "cart", 10, 10)
		r.send(t, rng, "checkout", 10, 0)
		r.clock.Advance(time.Minute)
	}
	r.waitWriter(t)
	open := r.openIncidents()
	require.Len(t, open, 1)
	assert.Equal(t, []incident.Matcher{{Key: "service.name", Value: "cart"}}, open[0].Scope)
	assert.NotEmpty(t, open[0].Labels["slo_group"])
	assert.Contains(t, open[0].ID, "-"+open[0].Labels["slo_group"]+"-")
}

// TestStateSurvivesRestart: the window counts and the open episode come
// back from the storage extension, so the incident keeps its ID and the
// windows their history.
func TestStateSurvivesRestart(t *testing.T) {
	st := newMemStorage()
	storageID := component.MustNewID("file_storage")
	cfg := testConfig()
	cfg.Storage = &storageID
	more := map[component.ID]component.Component{storageID: st}

	r := newRig(t, cfg, more)
	rng := rand.New(rand.NewPCG(9, 9))
	for range 61 {
		r.send(t, rng, "checkout", 100, 10)
		r.clock.Advance(time.Minute)
	}
	r.waitWriter(t)
	require.Len(t, r.openIncidents(), 1)
	id := r.openIncidents()[0].ID
	require.NoError(t, r.c.Shutdown(context.Background()))
	require.NotEmpty(t, st.data["slo/checkout-availability"])

	// A new connector on the same storage and registry, 2 minutes later.
	r.clock.Advance(2 * time.Minute)
	cfg2 := testConfig()
	cfg2.Storage = &storageID
	r2 := newRigOn(t, cfg2, r.reg, r.clock, more)
	g := r2.c.slos[0].snapshotGroups()
	require.Len(t, g, 1)
	require.NotNil(t, g[0].episode)
	assert.Equal(t, id, g[0].episode.ID)
	g[0].mu.Lock()
	ev := g[0].slo.spec.evaluate(g[0].windows, r2.clock.Now().UnixNano())
	g[0].mu.Unlock()
	assert.Equal(t, uint64(610), ev.bad[g[0].slo.spec.period]) // 61 minutes of 10 errors
	assert.Equal(t, uint64(6100), ev.good[g[0].slo.spec.period]+ev.bad[g[0].slo.spec.period])
	// Still burning: the same incident stays open; no second one.
	r2.send(t, rng, "checkout", 100, 10)
	r2.waitWriter(t)
	require.Len(t, r.reg.Snapshot().Open, 1)
	assert.Equal(t, id, r.reg.Snapshot().Open[0].ID)
	require.NoError(t, r2.c.Shutdown(context.Background()))

	// An unreadable state is counted and ignored: the SLO starts empty.
	st.getErr = assert.AnError
	r3 := newRigOn(t, cfg2, r.reg, r.clock, more)
	assert.Empty(t, r3.c.slos[0].snapshotGroups())
	metadatatest.AssertEqualConnectorSloStateErrors(t, r3.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("operation", "load")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

// TestReplicaAdoptsOpenIncident: a replica whose SLO starts firing while
// another replica's incident for the same SLO is open (learned through
// the registry's sync) joins that incident instead of opening a second.
func TestReplicaAdoptsOpenIncident(t *testing.T) {
	r := newRig(t, testConfig(), nil)
	other := incident.Incident{
		ID: "slo-checkout-availability-1700000000000", Source: incident.SourceSLO, Status: incident.StatusOpen,
		StartedAt: r.clock.Now().Add(-time.Minute), UpdatedAt: r.clock.Now(),
		Labels: map[string]string{"slo": "checkout-availability"}, OpenedBy: "collector-b",
	}
	_, err := r.reg.OpenIncident(context.Background(), other, incident.Event{Kind: incident.EventIncidentOpened})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	r.send(t, rng, "checkout", 100, 50)
	r.waitWriter(t)
	open := r.openIncidents()
	require.Len(t, open, 1)
	assert.Equal(t, other.ID, open[0].ID)
	assert.Equal(t, "page", open[0].Labels["slo_level"])
	assert.True(t, open[0].StartedAt.Equal(other.StartedAt))
}

// TestRegistryFailureRetried: a refused open is retried, in order, on the
// next evaluation, and counted.
func TestRegistryFailureRetried(t *testing.T) {
	r := newRig(t, testConfig(), nil)
	r.reg.FailWrites(0, assert.AnError)
	rng := rand.New(rand.NewPCG(1, 2))
	r.send(t, rng, "checkout", 100, 50)
	require.Eventually(t, func() bool { return len(r.reg.Calls()) > 0 }, 5*time.Second, time.Millisecond)
	assert.Empty(t, r.openIncidents())
	r.reg.FailWrites(-1, nil)
	r.c.evaluateAll()
	r.waitWriter(t)
	require.Len(t, r.openIncidents(), 1)
	metadatatest.AssertEqualConnectorSloIncidentActions(t, r.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("slo", "checkout-availability"), attribute.String("action", "failed")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("slo", "checkout-availability"), attribute.String("action", "opened")), Value: 1},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreValue())
}

// TestLogsAndSharedInstance: one component ID in a traces and a logs
// pipeline is one connector; a logs SLO counts log records.
func TestLogsAndSharedInstance(t *testing.T) {
	cfg := testConfig()
	cfg.SLOs = append(cfg.SLOs, SLOConfig{
		Name: "api-logs", Signal: SignalLogs, Objective: 99, Period: 24 * time.Hour,
		Selector: SelectorConfig{GroupBy: []string{"service.name"}},
		SLI:      SLIConfig{Bad: []string{"severity_number >= SEVERITY_NUMBER_ERROR"}},
	})
	require.NoError(t, cfg.Validate())
	f := NewFactory()
	set := connectortest.NewNopSettings(metadata.Type)
	sink := new(consumertest.MetricsSink)
	tc, err := f.CreateTracesToMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	lc, err := f.CreateLogsToMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.Same(t, tc.(*sharedConnector).sloConnector, lc.(*sharedConnector).sloConnector)
	host := lifecycleHost()
	require.NoError(t, tc.Start(context.Background(), host))
	require.NoError(t, lc.Start(context.Background(), host))

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	for i := range 10 {
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		if i < 3 {
			lr.SetSeverityNumber(plog.SeverityNumberError)
		}
	}
	require.NoError(t, lc.ConsumeLogs(context.Background(), ld))
	c := tc.(*sharedConnector).sloConnector
	groups := c.slos[1].snapshotGroups()
	require.Len(t, groups, 1)
	assert.Equal(t, uint64(7), groups[0].goodTot)
	assert.Equal(t, uint64(3), groups[0].badTot)
	assert.Empty(t, c.slos[0].snapshotGroups(), "log records do not count for a traces SLO")

	require.NoError(t, tc.Shutdown(context.Background()))
	assert.NotNil(t, c.done, "still running while the logs pipeline uses it")
	select {
	case <-c.done:
		t.Fatal("stopped at the first of two shutdowns")
	default:
	}
	require.NoError(t, lc.Shutdown(context.Background()))
	<-c.done
}
