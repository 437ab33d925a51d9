package incidentcontextprocessor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	"github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor/internal/metadata"
	"github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor/internal/metadatatest"
)

// res describes one resource of a test batch: its attributes, one item per
// time, and attributes every item starts with.
type res struct {
	attrs    map[string]any
	times    []time.Time
	recAttrs map[string]any
}

func svc(name, version string, times ...time.Time) res {
	a := map[string]any{"service.name": name}
	if version != "" {
		a["service.version"] = version
	}
	return res{attrs: a, times: times}
}

func makeTraces(t *testing.T, rs ...res) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, r := range rs {
		rss := td.ResourceSpans().AppendEmpty()
		require.NoError(t, rss.Resource().Attributes().FromRaw(r.attrs))
		spans := rss.ScopeSpans().AppendEmpty().Spans()
		for _, tm := range r.times {
			s := spans.AppendEmpty()
			s.SetName("op")
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(tm))
			require.NoError(t, s.Attributes().FromRaw(r.recAttrs))
		}
	}
	return td
}

func makeLogs(t *testing.T, rs ...res) plog.Logs {
	ld := plog.NewLogs()
	for _, r := range rs {
		rl := ld.ResourceLogs().AppendEmpty()
		require.NoError(t, rl.Resource().Attributes().FromRaw(r.attrs))
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i, tm := range r.times {
			lr := lrs.AppendEmpty()
			if i%2 == 0 {
				lr.SetTimestamp(pcommon.NewTimestampFromTime(tm))
			} else { // only an observed time
				lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(tm))
			}
			require.NoError(t, lr.Attributes().FromRaw(r.recAttrs))
		}
	}
	return ld
}

// makeMetrics gives each resource one metric of every type, cycling the
// items over the types: gauge, sum, histogram, exponential histogram, summary.
func makeMetrics(t *testing.T, rs ...res) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, r := range rs {
		rm := md.ResourceMetrics().AppendEmpty()
		require.NoError(t, rm.Resource().Attributes().FromRaw(r.attrs))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		gauge := ms.AppendEmpty()
		gauge.SetName("g")
		gauge.SetEmptyGauge()
		sum := ms.AppendEmpty()
		sum.SetName("s")
		sum.SetEmptySum()
		hist := ms.AppendEmpty()
		hist.SetName("h")
		hist.SetEmptyHistogram()
		exp := ms.AppendEmpty()
		exp.SetName("e")
		exp.SetEmptyExponentialHistogram()
		summ := ms.AppendEmpty()
		summ.SetName("q")
		summ.SetEmptySummary()
		for i, tm := range r.times {
			ts := pcommon.NewTimestampFromTime(tm)
			var attrs pcommon.Map
			switch i % 5 {
			case 0:
				dp := gauge.Gauge().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				attrs = dp.Attributes()
			case 1:
				dp := sum.Sum().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				attrs = dp.Attributes()
			case 2:
				dp := hist.Histogram().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				attrs = dp.Attributes()
			case 3:
				dp := exp.ExponentialHistogram().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				attrs = dp.Attributes()
			default:
				dp := summ.Summary().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				attrs = dp.Attributes()
			}
			require.NoError(t, attrs.FromRaw(r.recAttrs))
		}
	}
	return md
}

var ourKeys = []string{defaultKeyDeploymentID, defaultKeyDeploymentName, defaultKeyEnvironment, defaultKeyRevision, defaultKeyIncidentID}

// ours keeps the attributes the processor writes (with the default keys).
func ours(m pcommon.Map) map[string]any {
	out := map[string]any{}
	for _, k := range ourKeys {
		if v, ok := m.Get(k); ok {
			out[k] = v.AsRaw()
		}
	}
	return out
}

func resourceTags(td ptrace.Traces) []map[string]any {
	var out []map[string]any
	for i := range td.ResourceSpans().Len() {
		out = append(out, ours(td.ResourceSpans().At(i).Resource().Attributes()))
	}
	return out
}

type testProc struct {
	*contextProcessor
	reg *incidentsapitest.Registry
	tel *componenttest.Telemetry
}

// newTestProc starts a processor on a fake registry serving snap; its clock
// says now.
func newTestProc(t *testing.T, snap *incidentsapi.Snapshot, now time.Time, mutate func(*Config)) *testProc {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p, err := newContextProcessor(metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	p.now = func() time.Time { return now }
	reg := newFakeRegistry(snap)
	require.NoError(t, p.start(context.Background(), newTestHost(reg)))
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })
	return &testProc{contextProcessor: p, reg: reg, tel: tel}
}

func (p *testProc) traces(t *testing.T, td ptrace.Traces) ptrace.Traces {
	t.Helper()
	out, err := p.processTraces(context.Background(), td)
	require.NoError(t, err)
	return out
}

// signalAttrs are the attributes of one signal's batch as the processor
// returned it: those of each resource and of each item (span, log record,
// data point) of each resource.
type signalAttrs struct {
	name      string
	resources []pcommon.Map
	items     [][]pcommon.Map
}

// allSignals runs the resources in through p as traces, then as logs, then
// as metrics, and returns the attributes of each output.
func (p *testProc) allSignals(t *testing.T, in ...res) []signalAttrs {
	t.Helper()
	td := p.traces(t, makeTraces(t, in...))
	ld, err := p.processLogs(context.Background(), makeLogs(t, in...))
	require.NoError(t, err)
	md, err := p.processMetrics(context.Background(), makeMetrics(t, in...))
	require.NoError(t, err)
	out := []signalAttrs{{name: "traces"}, {name: "logs"}, {name: "metrics"}}
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		var items []pcommon.Map
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				items = append(items, s.Attributes())
			}
		}
		out[0].resources = append(out[0].resources, rs.Resource().Attributes())
		out[0].items = append(out[0].items, items)
	}
	for i := range ld.ResourceLogs().Len() {
		rl := ld.ResourceLogs().At(i)
		var items []pcommon.Map
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				items = append(items, lr.Attributes())
			}
		}
		out[1].resources = append(out[1].resources, rl.Resource().Attributes())
		out[1].items = append(out[1].items, items)
	}
	for i := range md.ResourceMetrics().Len() {
		rm := md.ResourceMetrics().At(i)
		out[2].resources = append(out[2].resources, rm.Resource().Attributes())
		out[2].items = append(out[2].items, testgen.PointAttrs(rm))
	}
	return out
}

func TestDeployMatching(t *testing.T) {
	noVersionAttrs := map[string]any{"service.name": "checkout"}
	tests := []struct {
		name string
		in   res
		now  time.Time
		want map[string]any
		kind string
	}{
		{
			name: "service and version",
			in:   svc("checkout", "1.4.2", at(50)),
			want: map[string]any{"deployment.id": "d-checkout-142", "deployment.name": "checkout 1.4.2", "deployment.environment.name": "prod", "vcs.ref.head.revision": "aaa111"},
			kind: "version",
		},
		{
			name: "rolling deploy: the new version",
			in:   svc("checkout", "1.5.0", at(50)),
			want: map[string]any{"deployment.id": "d-checkout-150", "deployment.name": "checkout 1.5.0", "deployment.environment.name": "prod", "vcs.ref.head.revision": "bbb222"},
			kind: "version",
		},
		{
			name: "version seen before its deploy started (clock skew)",
			in:   svc("checkout", "1.5.0", at(9)),
			want: map[string]any{"deployment.id": "d-checkout-150", "deployment.name": "checkout 1.5.0", "deployment.environment.name": "prod", "vcs.ref.head.revision": "bbb222"},
			kind: "version",
		},
		{
			name: "no version: deploy live at the item's time",
			in:   svc("checkout", "", at(5)),
			want: map[string]any{"deployment.id": "d-checkout-142", "deployment.name": "checkout 1.4.2", "deployment.environment.name": "prod", "vcs.ref.head.revision": "aaa111"},
			kind: "time",
		},
		{
			name: "no version: later deploy",
			in:   svc("checkout", "", at(15), at(1)),
			want: map[string]any{"deployment.id": "d-checkout-150", "deployment.name": "checkout 1.5.0", "deployment.environment.name": "prod", "vcs.ref.head.revision": "bbb222"},
			kind: "time",
		},
		{
			name: "no version: before any deploy",
			in:   svc("checkout", "", at(-5)),
			want: map[string]any{},
			kind: "none",
		},
		{
			name: "unknown version is never given another version's deploy",
			in:   svc("checkout", "9.9.9", at(50)),
			want: map[string]any{},
			kind: "none",
		},
		{
			name: "unknown version takes the deploy recorded without version",
			in:   svc("cart", "3.0.0", at(25)),
			want: map[string]any{"deployment.id": "d-cart-2", "deployment.environment.name": "prod"},
			kind: "time",
		},
		{
			name: "only known deploy fields are written",
			in:   svc("cart", "", at(10)),
			want: map[string]any{"deployment.id": "d-cart-1"},
			kind: "time",
		},
		{
			name: "no items: now",
			in:   res{attrs: noVersionAttrs},
			now:  at(12),
			want: map[string]any{"deployment.id": "d-checkout-150", "deployment.name": "checkout 1.5.0", "deployment.environment.name": "prod", "vcs.ref.head.revision": "bbb222"},
			kind: "time",
		},
		{
			name: "zero item time: now",
			in:   res{attrs: noVersionAttrs, times: []time.Time{time.Unix(0, 0)}},
			now:  at(2),
			want: map[string]any{"deployment.id": "d-checkout-142", "deployment.name": "checkout 1.4.2", "deployment.environment.name": "prod", "vcs.ref.head.revision": "aaa111"},
			kind: "time",
		},
		{
			name: "redeployed version: the deploy live at the item's time",
			in:   svc("payment", "7.0.0", at(20)),
			want: map[string]any{"deployment.id": "d-payment-7", "deployment.name": "payment 7", "deployment.environment.name": "staging", "vcs.ref.head.revision": "ccc333"},
			kind: "version",
		},
		{
			name: "redeployed version: the later deploy",
			in:   svc("payment", "7.0.0", at(60)),
			want: map[string]any{"deployment.id": "d-payment-7-again", "deployment.environment.name": "staging", "vcs.ref.head.revision": "ccc333"},
			kind: "version",
		},
		{
			name: "redeployed version seen before both deploys: the latest",
			in:   svc("payment", "7.0.0", at(1)),
			want: map[string]any{"deployment.id": "d-payment-7-again", "deployment.environment.name": "staging", "vcs.ref.head.revision": "ccc333"},
			kind: "version",
		},
		{
			name: "service without deploys",
			in:   svc("inventory", "1.0.0", at(50)),
			want: map[string]any{},
			kind: "none",
		},
		{
			name: "no service.name",
			in:   res{attrs: map[string]any{"service.version": "1.4.2"}, times: []time.Time{at(50)}},
			want: map[string]any{},
			kind: "none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = at(1000)
			}
			p := newTestProc(t, testSnapshot(), now, nil)
			out := p.traces(t, makeTraces(t, tt.in))
			assert.Equal(t, []map[string]any{tt.want}, resourceTags(out))
			if len(tt.in.times) == 0 {
				_, err := p.tel.GetMetric("otelcol_processor_incident_context_items")
				require.Error(t, err, "no items, nothing counted")
				return
			}
			metadatatest.AssertEqualProcessorIncidentContextItems(t, p.tel, []metricdata.DataPoint[int64]{{
				Attributes: attribute.NewSet(attribute.String("signal", "traces"), attribute.String("match", tt.kind), attribute.String("incident", "no")),
				Value:      int64(len(tt.in.times)),
			}}, metricdatatest.IgnoreTimestamp())
		})
	}
}

// TestDeployMatchingAgreesWithDeployFor checks that the per-snapshot cache
// of time-independent matches gives exactly what Snapshot.DeployFor gives.
func TestDeployMatchingAgreesWithDeployFor(t *testing.T) {
	for _, snap := range []*incidentsapi.Snapshot{testSnapshot(), testgen.RegistrySnapshot()} {
		p := newTestProc(t, snap, at(1000), nil)
		pl := p.currentPlan()
		versions := []string{"", "unknown"}
		seen := map[string]bool{}
		for _, svc := range snap.Services() {
			for _, d := range snap.Deploys(svc) {
				if !seen[d.Version] {
					seen[d.Version] = true
					versions = append(versions, d.Version)
				}
			}
		}
		// Every deploy's start, and just before and after it.
		times := []time.Time{at(-100000), at(100000)}
		for _, svc := range snap.Services() {
			for _, d := range snap.Deploys(svc) {
				times = append(times, d.StartedAt.Add(-time.Minute), d.StartedAt, d.StartedAt.Add(time.Minute))
			}
		}
		for _, svc := range append(snap.Services(), "nobody") {
			for _, version := range versions {
				for _, tm := range times {
					attrs := pcommon.NewMap()
					attrs.PutStr("service.name", svc)
					if version != "" {
						attrs.PutStr("service.version", version)
					}
					w, _ := p.resolve(pl, attrs, func() pcommon.Timestamp { return pcommon.NewTimestampFromTime(tm) })
					want := ""
					if d := snap.DeployFor(svc, version, tm); d != nil {
						want = d.ID
					}
					got := ""
					if w.n > 0 && w.keys[0] == defaultKeyDeploymentID {
						got = w.vals[0]
					}
					require.Equal(t, want, got, "service %q version %q at %v", svc, version, tm)
				}
			}
		}
	}
}

func TestRollingDeployBothVersionsInOneBatch(t *testing.T) {
	p := newTestProc(t, testSnapshot(), at(1000), nil)
	out := p.traces(t, makeTraces(t,
		svc("checkout", "1.4.2", at(12), at(13)),
		svc("checkout", "1.5.0", at(12), at(13)),
		svc("checkout", "", at(12)),
	))
	tags := resourceTags(out)
	require.Len(t, tags, 3)
	assert.Equal(t, "d-checkout-142", tags[0]["deployment.id"])
	assert.Equal(t, "d-checkout-150", tags[1]["deployment.id"])
	assert.Equal(t, "d-checkout-150", tags[2]["deployment.id"], "without a version, the latest deploy live at the time")
}

func TestIncidentMatching(t *testing.T) {
	withEnv := func(r res, env string) res {
		r.attrs["deployment.environment.name"] = env
		return r
	}
	tests := []struct {
		name      string
		incidents []incident.Incident
		in        res
		want      any // incident.id, or nil for none
	}{
		{
			name:      "overlapping incidents joined in opening order",
			incidents: testIncidents(),
			in:        withEnv(svc("checkout", "1.4.2", at(50)), "prod"),
			want:      "inc-b,inc-a,inc-c",
		},
		{
			name:      "one scope matcher of two does not match",
			incidents: testIncidents(),
			in:        withEnv(svc("checkout", "1.4.2", at(50)), "staging"),
			want:      "inc-b,inc-a",
		},
		{
			name:      "scope key absent",
			incidents: testIncidents(),
			in:        svc("checkout", "1.4.2", at(50)),
			want:      "inc-b,inc-a",
		},
		{
			name:      "only the unscoped incident",
			incidents: testIncidents(),
			in:        svc("cart", "", at(50)),
			want:      "inc-b",
		},
		{
			name:      "scope mismatch",
			incidents: testIncidents()[:2],
			in:        svc("cart", "", at(50)),
			want:      nil,
		},
		{
			name: "scope on a non-string attribute",
			incidents: []incident.Incident{{
				ID: "inc-shard", Status: incident.StatusOpen, StartedAt: at(1),
				Scope: []incident.Matcher{{Key: "db.shard", Value: "3"}},
			}},
			in:   res{attrs: map[string]any{"service.name": "cart", "db.shard": int64(3)}, times: []time.Time{at(50)}},
			want: "inc-shard",
		},
		{
			name:      "resolved incidents are ignored",
			incidents: testIncidents()[3:],
			in:        svc("checkout", "1.4.2", at(50)),
			want:      nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProc(t, incidentsapi.NewSnapshot(1, tt.incidents, testDeploys()), at(1000), nil)
			got := resourceTags(p.traces(t, makeTraces(t, tt.in)))[0]["incident.id"]
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestManyOverlappingIncidents(t *testing.T) {
	// More open incidents than the subset cache holds: joined per resource.
	for _, n := range []int{maxCachedIncidents, maxCachedIncidents + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var incs []incident.Incident
			var wantCheckout, wantCart []string
			for i := range n {
				inc := incident.Incident{ID: fmt.Sprintf("inc-%02d", i), Status: incident.StatusOpen, StartedAt: at(100 - i)}
				if i%2 == 0 {
					inc.Scope = []incident.Matcher{{Key: "service.name", Value: "checkout"}}
				}
				incs = append(incs, inc)
			}
			for i := n - 1; i >= 0; i-- { // opening order: latest index first
				wantCheckout = append(wantCheckout, incs[i].ID)
				if i%2 == 1 {
					wantCart = append(wantCart, incs[i].ID)
				}
			}
			p := newTestProc(t, incidentsapi.NewSnapshot(1, incs, nil), at(1000), nil)
			for range 2 { // the second batch reads the cache
				tags := resourceTags(p.traces(t, makeTraces(t, svc("checkout", "", at(1)), svc("cart", "", at(1)))))
				assert.Equal(t, strings.Join(wantCheckout, ","), tags[0]["incident.id"])
				assert.Equal(t, strings.Join(wantCart, ","), tags[1]["incident.id"])
			}
		})
	}
}

func TestIncidentOpenedAndResolvedMidStream(t *testing.T) {
	deploys := testDeploys()
	inc := incident.Incident{ID: "inc-42", Status: incident.StatusOpen, StartedAt: at(60), Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}}}
	p := newTestProc(t, incidentsapi.NewSnapshot(1, nil, deploys), at(1000), nil)
	batch := func() map[string]any {
		return resourceTags(p.traces(t, makeTraces(t, svc("checkout", "1.5.0", at(61)))))[0]
	}

	assert.Equal(t, map[string]any{"deployment.id": "d-checkout-150", "deployment.name": "checkout 1.5.0", "deployment.environment.name": "prod", "vcs.ref.head.revision": "bbb222"}, batch())

	p.reg.SetSnapshot(incidentsapi.NewSnapshot(2, []incident.Incident{inc}, deploys))
	assert.Equal(t, "inc-42", batch()["incident.id"])
	assert.Equal(t, "inc-42", batch()["incident.id"])

	resolved := inc
	resolvedAt := at(70)
	resolved.Status, resolved.ResolvedAt = incident.StatusResolved, &resolvedAt
	p.reg.SetSnapshot(incidentsapi.NewSnapshot(3, []incident.Incident{resolved}, deploys))
	got := batch()
	assert.NotContains(t, got, "incident.id")
	assert.Equal(t, "d-checkout-150", got["deployment.id"])

	// A deploy recorded mid-stream is picked up by the next batch.
	newer := append(testDeploys(), incident.Deploy{ID: "d-checkout-151", Service: "checkout", Version: "1.5.1", StartedAt: at(65)})
	p.reg.SetSnapshot(incidentsapi.NewSnapshot(4, nil, newer))
	assert.Equal(t, "d-checkout-151", resourceTags(p.traces(t, makeTraces(t, svc("checkout", "1.5.1", at(66)))))[0]["deployment.id"])
}

func TestFallbacks(t *testing.T) {
	k8s := func(r res) res {
		r.attrs["k8s.deployment.name"] = "checkout-web"
		return r
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		in     res
		wantID any
		kind   string
	}{
		{
			name:   "static when the registry has no match",
			mutate: func(c *Config) { c.StaticDeploymentID = "sidecar-deploy-9" },
			in:     svc("inventory", "2.0.0", at(50)),
			wantID: "sidecar-deploy-9", kind: "static",
		},
		{
			name:   "registry match wins over static",
			mutate: func(c *Config) { c.StaticDeploymentID = "sidecar-deploy-9" },
			in:     svc("checkout", "1.4.2", at(50)),
			wantID: "d-checkout-142", kind: "version",
		},
		{
			name:   "derived from attributes, joined",
			mutate: func(c *Config) { c.DeploymentIDFrom = []string{"k8s.deployment.name", "service.version"} },
			in:     k8s(svc("inventory", "2.0.0", at(50))),
			wantID: "checkout-web-2.0.0", kind: "derived",
		},
		{
			name: "derived with another separator",
			mutate: func(c *Config) {
				c.DeploymentIDFrom = []string{"k8s.deployment.name", "service.version"}
				c.DeploymentIDSeparator = "@"
			},
			in:     k8s(svc("inventory", "2.0.0", at(50))),
			wantID: "checkout-web@2.0.0", kind: "derived",
		},
		{
			name:   "derived from one attribute",
			mutate: func(c *Config) { c.DeploymentIDFrom = []string{"k8s.deployment.name"} },
			in:     k8s(svc("inventory", "", at(50))),
			wantID: "checkout-web", kind: "derived",
		},
		{
			name:   "derived needs every attribute",
			mutate: func(c *Config) { c.DeploymentIDFrom = []string{"k8s.deployment.name", "service.version"} },
			in:     k8s(svc("inventory", "", at(50))),
			wantID: nil, kind: "none",
		},
		{
			name:   "registry match wins over derived",
			mutate: func(c *Config) { c.DeploymentIDFrom = []string{"k8s.deployment.name"} },
			in:     k8s(svc("checkout", "1.5.0", at(50))),
			wantID: "d-checkout-150", kind: "version",
		},
		{
			name:   "no fallback",
			in:     svc("inventory", "2.0.0", at(50)),
			wantID: nil, kind: "none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProc(t, testSnapshot(), at(1000), tt.mutate)
			tags := resourceTags(p.traces(t, makeTraces(t, tt.in)))[0]
			assert.Equal(t, tt.wantID, tags["deployment.id"])
			if tt.kind == "static" || tt.kind == "derived" {
				assert.Equal(t, map[string]any{"deployment.id": tt.wantID}, tags, "a fallback knows only the ID")
			}
			metadatatest.AssertEqualProcessorIncidentContextItems(t, p.tel, []metricdata.DataPoint[int64]{{
				Attributes: attribute.NewSet(attribute.String("signal", "traces"), attribute.String("match", tt.kind), attribute.String("incident", "no")),
				Value:      1,
			}}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestOverride(t *testing.T) {
	existing := map[string]any{"deployment.id": "from-app", "incident.id": "from-upstream"}
	in := func() res {
		r := svc("checkout", "1.4.2", at(50), at(51))
		for k, v := range existing {
			r.attrs[k] = v
		}
		r.recAttrs = existing
		return r
	}
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	tests := []struct {
		name     string
		override bool
		want     map[string]any
	}{
		{
			name: "kept by default",
			want: map[string]any{"deployment.id": "from-app", "incident.id": "from-upstream", "deployment.name": "checkout 1.4.2", "deployment.environment.name": "prod", "vcs.ref.head.revision": "aaa111"},
		},
		{
			name:     "replaced with override",
			override: true,
			want:     map[string]any{"deployment.id": "d-checkout-142", "incident.id": "inc-b,inc-a", "deployment.name": "checkout 1.4.2", "deployment.environment.name": "prod", "vcs.ref.head.revision": "aaa111"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProc(t, snap, at(1000), func(c *Config) {
				c.Override = tt.override
				c.Level = LevelRecord
			})
			td := p.traces(t, makeTraces(t, in()))
			rs := td.ResourceSpans().At(0)
			assert.Equal(t, tt.want, ours(rs.Resource().Attributes()))
			spans := rs.ScopeSpans().At(0).Spans()
			for i := range spans.Len() {
				assert.Equal(t, tt.want, ours(spans.At(i).Attributes()))
			}
		})
	}
}

func TestOverrideKeepsValuesWithoutReplacement(t *testing.T) {
	// override replaces values; it never removes an attribute for which the
	// processor has nothing to write.
	p := newTestProc(t, testSnapshot(), at(1000), func(c *Config) { c.Override = true })
	r := svc("inventory", "", at(50))
	r.attrs["incident.id"] = "from-upstream"
	assert.Equal(t, map[string]any{"incident.id": "from-upstream"}, resourceTags(p.traces(t, makeTraces(t, r)))[0])
}

// wantRecord is what level record writes for a checkout 1.4.2 resource in
// prod while testIncidents are open.
var wantRecord = map[string]any{
	"deployment.id": "d-checkout-142", "deployment.name": "checkout 1.4.2", "deployment.environment.name": "prod",
	"vcs.ref.head.revision": "aaa111", "incident.id": "inc-b,inc-a,inc-c",
}

func recordLevelInput() []res {
	a := svc("checkout", "1.4.2", at(50), at(51), at(52), at(53), at(54), at(55), at(56))
	a.attrs["deployment.environment.name"] = "prod"
	a.recAttrs = map[string]any{"http.route": "/cart"}
	b := svc("inventory", "", at(50), at(51))
	b.recAttrs = map[string]any{"http.route": "/stock"}
	return []res{a, b}
}

func TestLevelRecord(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	wantOther := map[string]any{"incident.id": "inc-b"}

	// check asserts the resource and every item of resource 0 carry
	// wantRecord, and those of resource 1 wantOther; at level resource the
	// items carry nothing.
	check := func(t *testing.T, level Level, sig signalAttrs) {
		t.Helper()
		wantItems := []map[string]any{wantRecord, wantOther}
		if level == LevelResource {
			wantItems = []map[string]any{{}, {}}
		}
		require.Len(t, sig.resources, 2)
		for i, want := range []map[string]any{wantRecord, wantOther} {
			assert.Equal(t, want, ours(sig.resources[i]))
			its := sig.items[i]
			require.Len(t, its, len(recordLevelInput()[i].times))
			for _, attrs := range its {
				assert.Equal(t, wantItems[i], ours(attrs))
				_, ok := attrs.Get("http.route")
				assert.True(t, ok, "existing record attributes are kept")
			}
		}
	}

	for _, level := range []Level{LevelResource, LevelRecord} {
		t.Run(string(level), func(t *testing.T) {
			p := newTestProc(t, snap, at(1000), func(c *Config) { c.Level = level })
			for _, sig := range p.allSignals(t, recordLevelInput()...) {
				t.Run(sig.name, func(t *testing.T) { check(t, level, sig) })
			}
		})
	}
}

func TestItemTimeOfEachSignal(t *testing.T) {
	// cart: d-cart-1 at 0m, d-cart-2 at 20m. The first item decides.
	tests := []struct {
		name  string
		times []time.Time
		want  string
	}{
		{name: "first item before the second deploy", times: []time.Time{at(10), at(30)}, want: "d-cart-1"},
		{name: "first item after it", times: []time.Time{at(30), at(10)}, want: "d-cart-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProc(t, testSnapshot(), at(1000), nil)
			for _, sig := range p.allSignals(t, svc("cart", "", tt.times...)) {
				require.Len(t, sig.resources, 1, sig.name)
				assert.Equal(t, tt.want, ours(sig.resources[0])["deployment.id"], sig.name)
			}
		})
	}

	t.Run("log with only an observed time", func(t *testing.T) {
		p := newTestProc(t, testSnapshot(), at(1000), nil)
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "cart")
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().SetObservedTimestamp(pcommon.NewTimestampFromTime(at(10)))
		ld, err := p.processLogs(context.Background(), ld)
		require.NoError(t, err)
		assert.Equal(t, "d-cart-1", ours(ld.ResourceLogs().At(0).Resource().Attributes())["deployment.id"])
	})
}

func TestCustomAndDisabledKeys(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	p := newTestProc(t, snap, at(1000), func(c *Config) {
		c.Keys = KeysConfig{DeploymentID: "deploy.id", Environment: "env", IncidentID: "incidents"}
	})
	td := p.traces(t, makeTraces(t, svc("checkout", "1.4.2", at(50))))
	assert.Equal(t, map[string]any{
		"service.name": "checkout", "service.version": "1.4.2",
		"deploy.id": "d-checkout-142", "env": "prod", "incidents": "inc-b,inc-a",
	}, td.ResourceSpans().At(0).Resource().Attributes().AsRaw())
}

func TestInternalMetrics(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents()[:2], testDeploys()) // inc-a, inc-c: checkout only
	p := newTestProc(t, snap, at(1000), nil)
	in := []res{
		svc("checkout", "1.4.2", at(50), at(51), at(52)),     // version, incident
		svc("checkout", "", at(50)),                          // time, incident
		svc("cart", "", at(50), at(51)),                      // time, none
		svc("inventory", "", at(50), at(51), at(52), at(53)), // none
	}
	p.allSignals(t, in...)

	var items, unmatched []metricdata.DataPoint[int64]
	for _, sig := range []string{"traces", "logs", "metrics"} {
		point := func(match, inc string, n int64) metricdata.DataPoint[int64] {
			return metricdata.DataPoint[int64]{
				Attributes: attribute.NewSet(attribute.String("signal", sig), attribute.String("match", match), attribute.String("incident", inc)),
				Value:      n,
			}
		}
		items = append(items, point("version", "yes", 3), point("time", "yes", 1), point("time", "no", 2), point("none", "no", 4))
		unmatched = append(unmatched, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("signal", sig)), Value: 4})
	}
	metadatatest.AssertEqualProcessorIncidentContextItems(t, p.tel, items, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorIncidentContextItemsUnmatched(t, p.tel, unmatched, metricdatatest.IgnoreTimestamp())
}

// notRegistry is an extension that is not an incidents extension.
type notRegistry struct {
	component.StartFunc
	component.ShutdownFunc
}

func TestStartFindsRegistry(t *testing.T) {
	tests := []struct {
		name    string
		host    component.Host
		wantErr error
	}{
		{name: "found", host: newTestHost(newFakeRegistry(testSnapshot()))},
		{name: "not found", host: componenttest.NewNopHost(), wantErr: incidentsapi.ErrNotFound},
		{name: "wrong type", host: newTestHost(notRegistry{}), wantErr: incidentsapi.ErrWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewNop())
			require.NoError(t, err)
			err = p.Start(context.Background(), tt.host)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.NoError(t, p.Shutdown(context.Background()))
		})
	}
}

func TestFactoryPipelines(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	host := newTestHost(newFakeRegistry(snap))
	f := NewFactory()
	cfg := createDefaultConfig()
	set := processortest.NewNopSettings(metadata.Type)
	ctx := context.Background()
	in := svc("checkout", "1.4.2", at(50))
	in.attrs["deployment.environment.name"] = "prod"

	tSink, lSink, mSink := new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)
	tp, err := f.CreateTraces(ctx, set, cfg, tSink)
	require.NoError(t, err)
	lp, err := f.CreateLogs(ctx, set, cfg, lSink)
	require.NoError(t, err)
	mp, err := f.CreateMetrics(ctx, set, cfg, mSink)
	require.NoError(t, err)
	for _, c := range []component.Component{tp, lp, mp} {
		require.NoError(t, c.Start(ctx, host))
		defer func() { require.NoError(t, c.Shutdown(ctx)) }()
	}
	assert.True(t, tp.Capabilities().MutatesData)
	assert.True(t, lp.Capabilities().MutatesData)
	assert.True(t, mp.Capabilities().MutatesData)

	require.NoError(t, tp.ConsumeTraces(ctx, makeTraces(t, in)))
	require.NoError(t, lp.ConsumeLogs(ctx, makeLogs(t, in)))
	require.NoError(t, mp.ConsumeMetrics(ctx, makeMetrics(t, in)))
	require.Len(t, tSink.AllTraces(), 1)
	require.Len(t, lSink.AllLogs(), 1)
	require.Len(t, mSink.AllMetrics(), 1)
	assert.Equal(t, wantRecord, ours(tSink.AllTraces()[0].ResourceSpans().At(0).Resource().Attributes()))
	assert.Equal(t, wantRecord, ours(lSink.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes()))
	assert.Equal(t, wantRecord, ours(mSink.AllMetrics()[0].ResourceMetrics().At(0).Resource().Attributes()))
}

func TestConcurrentBatchesWhileSnapshotsChange(t *testing.T) {
	deploys := testDeploys()
	inc := incident.Incident{ID: "inc-1", Status: incident.StatusOpen, StartedAt: at(1)}
	open := func(v uint64) *incidentsapi.Snapshot {
		return incidentsapi.NewSnapshot(v, []incident.Incident{inc}, deploys)
	}
	closed := func(v uint64) *incidentsapi.Snapshot { return incidentsapi.NewSnapshot(v, nil, deploys) }
	p := newTestProc(t, closed(1), at(1000), func(c *Config) { c.Level = LevelRecord })

	var writer, workers sync.WaitGroup
	stop := make(chan struct{})
	writer.Go(func() {
		for v := uint64(2); ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			if v%2 == 0 {
				p.reg.SetSnapshot(open(v))
			} else {
				p.reg.SetSnapshot(closed(v))
			}
		}
	})
	for range 4 {
		workers.Go(func() {
			for range 200 {
				td := p.traces(t, makeTraces(t, svc("checkout", "1.5.0", at(50), at(51))))
				rs := td.ResourceSpans().At(0)
				tags := ours(rs.Resource().Attributes())
				assert.Equal(t, "d-checkout-150", tags["deployment.id"])
				if v, ok := tags["incident.id"]; ok {
					assert.Equal(t, "inc-1", v)
				}
				// One batch sees one snapshot: records agree with their resource.
				spans := rs.ScopeSpans().At(0).Spans()
				for i := range spans.Len() {
					assert.Equal(t, tags, ours(spans.At(i).Attributes()))
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	writer.Wait()
}

func TestResourceLevelAllocationsDoNotGrowWithItems(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	p := newTestProc(t, snap, at(1000), func(c *Config) { c.Override = true })
	allocs := func(spansPerResource int) float64 {
		var rs []res
		for _, s := range []res{svc("checkout", "1.4.2"), svc("cart", ""), svc("inventory", "")} {
			for i := range spansPerResource {
				s.times = append(s.times, at(50+i))
			}
			rs = append(rs, s)
		}
		td := makeTraces(t, rs...)
		return testing.AllocsPerRun(20, func() {
			_, _ = p.processTraces(context.Background(), td)
		})
	}
	small, large := allocs(2), allocs(500)
	assert.Equal(t, small, large, "allocations per batch must not depend on the number of spans")
}

// TestAttrLookupMatchesMapGet checks the one pass over a resource's
// attributes against Map.Get for every key of a plan: more scope keys than
// are memoized, keys of 63 and more bytes, keys sharing a length,
// duplicates (the first wins, as in Map.Get) and non-string values.
func TestAttrLookupMatchesMapGet(t *testing.T) {
	long := strings.Repeat("k", 63)
	longer := strings.Repeat("k", 90)
	var incs []incident.Incident
	keys := []string{"cloud.region", "cloud.zone", long, longer, "n"}
	for i := range maxMemoKeys + 4 {
		keys = append(keys, fmt.Sprintf("scope.key.%02d", i))
	}
	for i, k := range keys {
		incs = append(incs, incident.Incident{
			ID: fmt.Sprintf("inc-%02d", i), Status: incident.StatusOpen, StartedAt: at(i),
			Scope: []incident.Matcher{{Key: k, Value: "v"}},
		})
	}
	pl := newPlan(incidentsapi.NewSnapshot(1, incs, nil))
	require.Greater(t, len(pl.keys), maxMemoKeys)

	attrs := pcommon.NewMap()
	attrs.PutStr("service.name", "checkout")
	attrs.PutInt("service.version", 7)
	attrs.PutStr("cloud.zone", "a")
	attrs.PutStr(long, "long")
	attrs.PutStr(longer, "longer")
	attrs.PutStr("x", "same length as n")
	attrs.PutStr(keys[len(keys)-1], "last")
	attrs.PutStr(keys[7], "seventh")
	attrs.PutStr("cloud.region", "first")
	l := pl.newAttrLookup(attrs)
	for i, k := range pl.keys {
		want, wantOK := attrString(attrs, k)
		got, ok := l.get(i)
		assert.Equal(t, wantOK, ok, k)
		assert.Equal(t, want, got, k)
	}
	v, ok := l.get(keyIdxVersion)
	assert.True(t, ok)
	assert.Equal(t, "7", v, "non-string values are rendered")

	// A decoded request may repeat a key; Map.Get, and so the lookup, take
	// the first.
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(`{"resourceSpans":[{"resource":{"attributes":[
		{"key":"cloud.region","value":{"stringValue":"first"}},
		{"key":"cloud.region","value":{"stringValue":"second"}}]}}]}`))
	require.NoError(t, err)
	dup := td.ResourceSpans().At(0).Resource().Attributes()
	require.Equal(t, 2, dup.Len())
	l = pl.newAttrLookup(dup)
	v, ok = l.get(2) // cloud.region, the first scope key
	require.Equal(t, "cloud.region", pl.keys[2])
	assert.True(t, ok)
	assert.Equal(t, "first", v)
}
