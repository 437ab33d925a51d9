package incidentcontextprocessor_test

// Benchmarks of the incident_context processor against its peers (here,
// outside the processor's module, so that contrib's transformprocessor is
// no requirement of it), measured
// in the same run on the same batches.
//
// Naming convention (post-processed by benchratio.awk):
//
//	BenchmarkContext/<signal>/level=<level>/impl=<contender>
//
// Every sub-benchmark of one <signal>/level=<level> group processes the same
// batch (1,000 items over 10 resources from internal/testgen) and reports
// ns/<item> and allocs/<item> (item = span, record or point). Contenders:
//
//	noop             processorhelper with a func returning its input
//	putstr           processorhelper with a plain PutStr loop writing the
//	                 very values incident_context writes (no lookup at all)
//	incident_context this processor, registry lookup included
//	transform        contrib transformprocessor v0.161.0 setting the same
//	                 attributes to constants (no conditions: the cheapest
//	                 OTTL can do, so the comparison flatters it)
//	transform_where  transformprocessor with one group per resource whose
//	                 conditions select the resource by service.name and
//	                 service.version, setting exactly the values
//	                 incident_context writes (TestBenchContendersAgree
//	                 checks this)
//
// Each iteration processes a fresh copy of the batch, decoded from OTLP
// protobuf as the otlp receiver hands it to the pipeline. Copies are decoded
// in blocks of benchBlock with the timer stopped and then processed back to
// back with the timer running; the garbage collector is off while the timer
// runs and the heap is collected between blocks, with the timer stopped. So
// neither the copies' CPU time, nor their allocations, nor the collection of
// anyone's garbage is measured, for every contender alike; allocations are
// reported separately.
//
// Besides ns/<item> (wall clock), each benchmark reports cpu-ns/<item>, the
// CPU time of the benchmark's thread, which waiting for a CPU on a loaded
// machine does not inflate; benchratio.awk computes the ratios from it when
// present.

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	icp "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"
)

// benchServices are the service.name values of the batches: nine services
// the registry knows and one it does not.
var benchServices = []string{
	"svc-00", "svc-01", "svc-02", "svc-03", "svc-04", "svc-05", "svc-06", "svc-07", "svc-08", "legacy-batch",
}

// signalKit adapts one signal's batch and processors to the benchmark.
type signalKit struct {
	name string // traces, logs, metrics
	item string // span, record, point
	// statementsKey and recordContext configure transformprocessor.
	statementsKey string
	recordContext string
	items         int
	// fresh decodes a new copy of the batch.
	fresh   func() any
	create  func(f processor.Factory, cfg component.Config) (component.Component, error)
	consume func(c component.Component, data any) error
	// helper wraps fn in processorhelper like any processor.
	helper func(fn func(data any)) (component.Component, error)
	// put is the plain PutStr loop: want[i] on resource i and, at level
	// record, on each of its items.
	put func(data any, want []benchTags, record bool)
	// json marshals a batch as OTLP JSON.
	json func(tb testing.TB, data any) []byte
	// resources returns the resources' attributes and, per resource, the
	// attributes of its items.
	resources func(data any) (res []pcommon.Map, items [][]pcommon.Map)
}

func putTags(attrs pcommon.Map, w *benchTags) {
	for j, k := range w.keys {
		attrs.PutStr(k, w.vals[j])
	}
}

func benchSettings() processor.Settings { return processortest.NewNopSettings(icp.NewFactory().Type()) }

func tracesKit() signalKit {
	td := testgen.Traces(1, testgen.DefaultItems, testgen.DefaultResources, testgen.DefaultStart, time.Millisecond, testgen.WithServices(benchServices...))
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		panic(err)
	}
	return signalKit{
		name: "traces", item: "span", statementsKey: "trace_statements", recordContext: "span",
		items: td.SpanCount(),
		fresh: func() any {
			c, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
			if err != nil {
				panic(err)
			}
			return c
		},
		put: func(data any, want []benchTags, record bool) {
			rss := data.(ptrace.Traces).ResourceSpans()
			for i := range rss.Len() {
				putTags(rss.At(i).Resource().Attributes(), &want[i])
				if !record {
					continue
				}
				for j := range rss.At(i).ScopeSpans().Len() {
					spans := rss.At(i).ScopeSpans().At(j).Spans()
					for k := range spans.Len() {
						putTags(spans.At(k).Attributes(), &want[i])
					}
				}
			}
		},
		create: func(f processor.Factory, cfg component.Config) (component.Component, error) {
			return f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		},
		consume: func(c component.Component, data any) error {
			return c.(consumer.Traces).ConsumeTraces(context.Background(), data.(ptrace.Traces))
		},
		helper: func(fn func(any)) (component.Component, error) {
			return processorhelper.NewTraces(context.Background(), benchSettings(), nil, consumertest.NewNop(),
				func(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) { fn(td); return td, nil })
		},
		json: func(tb testing.TB, data any) []byte {
			out, err := (&ptrace.JSONMarshaler{}).MarshalTraces(data.(ptrace.Traces))
			require.NoError(tb, err)
			return out
		},
		resources: func(data any) ([]pcommon.Map, [][]pcommon.Map) {
			var res []pcommon.Map
			var items [][]pcommon.Map
			rss := data.(ptrace.Traces).ResourceSpans()
			for i := range rss.Len() {
				res = append(res, rss.At(i).Resource().Attributes())
				var its []pcommon.Map
				for j := range rss.At(i).ScopeSpans().Len() {
					spans := rss.At(i).ScopeSpans().At(j).Spans()
					for k := range spans.Len() {
						its = append(its, spans.At(k).Attributes())
					}
				}
				items = append(items, its)
			}
			return res, items
		},
	}
}

func logsKit() signalKit {
	ld := testgen.Logs(2, testgen.DefaultItems, testgen.DefaultResources, testgen.DefaultStart, time.Millisecond, testgen.WithServices(benchServices...))
	raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		panic(err)
	}
	return signalKit{
		name: "logs", item: "record", statementsKey: "log_statements", recordContext: "log",
		items: ld.LogRecordCount(),
		fresh: func() any {
			c, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
			if err != nil {
				panic(err)
			}
			return c
		},
		put: func(data any, want []benchTags, record bool) {
			rls := data.(plog.Logs).ResourceLogs()
			for i := range rls.Len() {
				putTags(rls.At(i).Resource().Attributes(), &want[i])
				if !record {
					continue
				}
				for j := range rls.At(i).ScopeLogs().Len() {
					lrs := rls.At(i).ScopeLogs().At(j).LogRecords()
					for k := range lrs.Len() {
						putTags(lrs.At(k).Attributes(), &want[i])
					}
				}
			}
		},
		create: func(f processor.Factory, cfg component.Config) (component.Component, error) {
			return f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		},
		consume: func(c component.Component, data any) error {
			return c.(consumer.Logs).ConsumeLogs(context.Background(), data.(plog.Logs))
		},
		helper: func(fn func(any)) (component.Component, error) {
			return processorhelper.NewLogs(context.Background(), benchSettings(), nil, consumertest.NewNop(),
				func(_ context.Context, ld plog.Logs) (plog.Logs, error) { fn(ld); return ld, nil })
		},
		json: func(tb testing.TB, data any) []byte {
			out, err := (&plog.JSONMarshaler{}).MarshalLogs(data.(plog.Logs))
			require.NoError(tb, err)
			return out
		},
		resources: func(data any) ([]pcommon.Map, [][]pcommon.Map) {
			var res []pcommon.Map
			var items [][]pcommon.Map
			rls := data.(plog.Logs).ResourceLogs()
			for i := range rls.Len() {
				res = append(res, rls.At(i).Resource().Attributes())
				var its []pcommon.Map
				for j := range rls.At(i).ScopeLogs().Len() {
					lrs := rls.At(i).ScopeLogs().At(j).LogRecords()
					for k := range lrs.Len() {
						its = append(its, lrs.At(k).Attributes())
					}
				}
				items = append(items, its)
			}
			return res, items
		},
	}
}

func metricsKit() signalKit {
	md := testgen.Metrics(3, testgen.DefaultItems, testgen.DefaultResources, testgen.DefaultStart, time.Millisecond, testgen.WithServices(benchServices...))
	raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		panic(err)
	}
	return signalKit{
		name: "metrics", item: "point", statementsKey: "metric_statements", recordContext: "datapoint",
		items: md.DataPointCount(),
		fresh: func() any {
			c, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(raw)
			if err != nil {
				panic(err)
			}
			return c
		},
		put: func(data any, want []benchTags, record bool) {
			rms := data.(pmetric.Metrics).ResourceMetrics()
			for i := range rms.Len() {
				putTags(rms.At(i).Resource().Attributes(), &want[i])
				if !record {
					continue
				}
				for j := range rms.At(i).ScopeMetrics().Len() {
					ms := rms.At(i).ScopeMetrics().At(j).Metrics()
					for k := range ms.Len() {
						putPoints(ms.At(k), &want[i])
					}
				}
			}
		},
		create: func(f processor.Factory, cfg component.Config) (component.Component, error) {
			return f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		},
		consume: func(c component.Component, data any) error {
			return c.(consumer.Metrics).ConsumeMetrics(context.Background(), data.(pmetric.Metrics))
		},
		helper: func(fn func(any)) (component.Component, error) {
			return processorhelper.NewMetrics(context.Background(), benchSettings(), nil, consumertest.NewNop(),
				func(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) { fn(md); return md, nil })
		},
		json: func(tb testing.TB, data any) []byte {
			out, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(data.(pmetric.Metrics))
			require.NoError(tb, err)
			return out
		},
		resources: func(data any) ([]pcommon.Map, [][]pcommon.Map) {
			var res []pcommon.Map
			var items [][]pcommon.Map
			rms := data.(pmetric.Metrics).ResourceMetrics()
			for i := range rms.Len() {
				res = append(res, rms.At(i).Resource().Attributes())
				items = append(items, testgen.PointAttrs(rms.At(i)))
			}
			return res, items
		},
	}
}

// contender is one processor under measurement.
type contender struct {
	name string
	make func(b testing.TB, kit signalKit, level icp.Level, keys keySet, want []benchTags) component.Component
}

// keySet is how many of incident_context's attributes the benchmark
// writes. keysTwo, deployment.id and incident.id, is the setting of the
// issue's reference figures; keysAll adds the deploy's name, environment
// and revision.
type keySet int

const (
	keysTwo keySet = 2
	keysAll keySet = 5
)

// configure leaves only the key set's attributes enabled in cfg.
func (k keySet) configure(cfg *icp.Config) {
	if k == keysTwo {
		cfg.Keys.DeploymentName, cfg.Keys.Environment, cfg.Keys.Revision = "", "", ""
	}
}

// benchKeySets are measured for traces; logs and metrics use keysTwo only.
var benchKeySets = []keySet{keysTwo, keysAll}

// benchTags is what incident_context writes on one resource: keys and
// values in write order.
type benchTags struct {
	keys, vals []string
	// service and version select the resource in transform_where.
	service, version string
}

var contenders = []contender{
	{name: "noop", make: makeNoop},
	{name: "putstr", make: makePutStr},
	{name: "incident_context", make: makeIncidentContext},
	{name: "transform", make: makeTransform(false)},
	{name: "transform_where", make: makeTransform(true)},
}

func started(tb testing.TB, c component.Component, err error, host component.Host) component.Component {
	tb.Helper()
	require.NoError(tb, err)
	require.NoError(tb, c.Start(context.Background(), host))
	tb.Cleanup(func() { require.NoError(tb, c.Shutdown(context.Background())) })
	return c
}

func makeNoop(b testing.TB, kit signalKit, _ icp.Level, _ keySet, _ []benchTags) component.Component {
	c, err := kit.helper(func(any) {})
	return started(b, c, err, newBenchHost(testgen.RegistrySnapshot()))
}

func makePutStr(b testing.TB, kit signalKit, level icp.Level, _ keySet, want []benchTags) component.Component {
	c, err := kit.helper(func(data any) { kit.put(data, want, level == icp.LevelRecord) })
	return started(b, c, err, newBenchHost(testgen.RegistrySnapshot()))
}

// putPoints is the PutStr loop over every data point of m.
func putPoints(m pmetric.Metric, w *benchTags) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for i := range m.Gauge().DataPoints().Len() {
			putTags(m.Gauge().DataPoints().At(i).Attributes(), w)
		}
	case pmetric.MetricTypeSum:
		for i := range m.Sum().DataPoints().Len() {
			putTags(m.Sum().DataPoints().At(i).Attributes(), w)
		}
	case pmetric.MetricTypeHistogram:
		for i := range m.Histogram().DataPoints().Len() {
			putTags(m.Histogram().DataPoints().At(i).Attributes(), w)
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i := range m.ExponentialHistogram().DataPoints().Len() {
			putTags(m.ExponentialHistogram().DataPoints().At(i).Attributes(), w)
		}
	case pmetric.MetricTypeSummary:
		for i := range m.Summary().DataPoints().Len() {
			putTags(m.Summary().DataPoints().At(i).Attributes(), w)
		}
	}
}

func makeIncidentContext(b testing.TB, kit signalKit, level icp.Level, keys keySet, _ []benchTags) component.Component {
	cfg := icp.NewFactory().CreateDefaultConfig().(*icp.Config)
	cfg.Level = level
	keys.configure(cfg)
	c, err := kit.create(icp.NewFactory(), cfg)
	return started(b, c, err, newBenchHost(testgen.RegistrySnapshot()))
}

func ottlString(s string) string { return strconv.Quote(s) }

// makeTransform configures transformprocessor to set the same attributes:
// with where, one group per resource (and per context) selected by
// service.name and service.version, with the exact values incident_context
// writes; without, the values of the first resource everywhere,
// unconditionally. At level record there is one set of groups in resource
// context and one in the item context (span, log, datapoint).
func makeTransform(where bool) func(b testing.TB, kit signalKit, level icp.Level, _ keySet, want []benchTags) component.Component {
	return func(b testing.TB, kit signalKit, level icp.Level, _ keySet, want []benchTags) component.Component {
		group := func(ctxName string, w benchTags, conditions []any) map[string]any {
			var stmts []any
			for j, k := range w.keys {
				stmts = append(stmts, fmt.Sprintf("set(%s.attributes[%s], %s)", ctxName, ottlString(k), ottlString(w.vals[j])))
			}
			g := map[string]any{"context": ctxName, "statements": stmts}
			if conditions != nil {
				g["conditions"] = conditions
			}
			return g
		}
		// Level record writes on the resource too, as incident_context does.
		contexts := []string{"resource"}
		if level == icp.LevelRecord {
			contexts = append(contexts, kit.recordContext)
		}
		var groups []any
		for _, ctxName := range contexts {
			if where {
				for _, w := range want {
					groups = append(groups, group(ctxName, w, []any{fmt.Sprintf(
						`resource.attributes["service.name"] == %s and resource.attributes["service.version"] == %s`,
						ottlString(w.service), ottlString(w.version))}))
				}
			} else {
				groups = append(groups, group(ctxName, want[0], nil))
			}
		}
		f := transformprocessor.NewFactory()
		cfg := f.CreateDefaultConfig()
		require.NoError(b, confmap.NewFromStringMap(map[string]any{kit.statementsKey: groups}).Unmarshal(cfg))
		require.NoError(b, confmap.Validate(cfg))
		c, err := kit.create(f, cfg)
		return started(b, c, err, newBenchHost(testgen.RegistrySnapshot()))
	}
}

// ourKeys are the attributes incident_context writes, with its default keys.
func ourKeys() []string {
	k := icp.NewFactory().CreateDefaultConfig().(*icp.Config).Keys
	return []string{k.DeploymentID, k.DeploymentName, k.Environment, k.Revision, k.IncidentID}
}

// expectedTags runs incident_context once on a fresh batch and reads back what it
// wrote on each resource.
func expectedTags(tb testing.TB, kit signalKit, keys keySet) []benchTags {
	c := makeIncidentContext(tb, kit, icp.LevelResource, keys, nil)
	data := kit.fresh()
	require.NoError(tb, kit.consume(c, data))
	res, _ := kit.resources(data)
	out := make([]benchTags, len(res))
	for i, attrs := range res {
		for _, k := range ourKeys() {
			if v, ok := attrs.Get(k); ok {
				out[i].keys = append(out[i].keys, k)
				out[i].vals = append(out[i].vals, v.Str())
			}
		}
		sv, _ := attrs.Get("service.name")
		vv, _ := attrs.Get("service.version")
		out[i].service, out[i].version = sv.Str(), vv.Str()
	}
	return out
}

func BenchmarkContext(b *testing.B) {
	for _, kit := range []signalKit{tracesKit(), logsKit(), metricsKit()} {
		for _, keys := range kit.keySets() {
			want := expectedTags(b, kit, keys)
			for _, level := range []icp.Level{icp.LevelResource, icp.LevelRecord} {
				for _, ct := range contenders {
					b.Run(fmt.Sprintf("%s/keys=%d/level=%s/impl=%s", kit.name, keys, level, ct.name), func(b *testing.B) {
						c := ct.make(b, kit, level, keys, want)
						runContender(b, kit, c)
					})
				}
			}
		}
	}
}

// keySets are the key sets measured for the kit's signal: both for traces,
// the two keys for logs and metrics.
func (kit signalKit) keySets() []keySet {
	if kit.name == "traces" {
		return benchKeySets
	}
	return []keySet{keysTwo}
}

// benchBlock is the number of fresh batches decoded, with the timer
// stopped, before they are processed back to back with the timer running;
// small enough for the block to stay in the CPU caches, as the otlp
// receiver's freshly decoded output is.
const benchBlock = 8

// benchGCBlocks is how many blocks run between two collections of the heap,
// made with the timer stopped; the collector is off in between.
const benchGCBlocks = 6

// runContender measures c on fresh copies of the kit's batch, decoded in
// blocks of benchBlock with the timer stopped. The garbage collector is off
// while the timer runs and the heap is collected every benchGCBlocks blocks
// with the timer stopped, so no contender pays for another's (or the
// decoder's) garbage. Allocations and thread CPU time are counted only
// while the timer runs.
func runContender(b *testing.B, kit signalKit, c component.Component) {
	b.ReportAllocs()
	// The consumer chain is synchronous: pinning the goroutine to its thread
	// makes the thread's CPU time that of the contender.
	defer threadcpu.Lock()()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var (
		ms             runtime.MemStats
		allocs, before uint64
		cpu, cpuBefore time.Duration
		cpuOK          = true
		pool           = make([]any, 0, benchBlock)
		next, blocks   int
	)
	// refill runs with the timer stopped.
	refill := func() {
		if blocks%benchGCBlocks == 0 {
			runtime.GC()
		}
		blocks++
		pool = pool[:0]
		for range benchBlock {
			pool = append(pool, kit.fresh())
		}
		next = 0
		runtime.ReadMemStats(&ms)
		before = ms.Mallocs
	}
	cpuStart := func() { cpuBefore, _ = threadcpu.Now() }
	cpuStop := func() {
		now, ok := threadcpu.Now()
		cpu += now - cpuBefore
		cpuOK = cpuOK && ok
	}
	countAllocs := func() {
		runtime.ReadMemStats(&ms)
		allocs += ms.Mallocs - before
	}
	// The clock's own cost, counted once per block, is subtracted.
	var empty time.Duration
	for range 1000 {
		cpuStart()
		cpuStop()
	}
	empty, cpu = cpu/1000, 0
	refill()
	cpuStart()
	for b.Loop() {
		if next == len(pool) {
			cpuStop()
			b.StopTimer()
			countAllocs()
			refill()
			b.StartTimer()
			cpuStart()
		}
		if err := kit.consume(c, pool[next]); err != nil {
			b.Fatal(err)
		}
		pool[next] = nil
		next++
	}
	cpuStop()
	countAllocs()
	cpu -= empty * time.Duration(blocks)
	n := float64(b.N * kit.items)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/"+kit.item)
	if cpuOK {
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/"+kit.item)
	}
	b.ReportMetric(float64(allocs)/n, "allocs/"+kit.item)
}

// TestBenchContendersAgree checks that the benchmark compares like with
// like: putstr and transform_where write exactly what incident_context
// writes, at both levels, and the fixture exercises several kinds of match
// and incident.
func TestBenchContendersAgree(t *testing.T) {
	for _, kit := range []signalKit{tracesKit(), logsKit(), metricsKit()} {
		for _, keys := range benchKeySets {
			t.Run(fmt.Sprintf("%s/keys=%d", kit.name, keys), func(t *testing.T) {
				contendersAgree(t, kit, keys)
			})
		}
	}
}

func contendersAgree(t *testing.T, kit signalKit, keys keySet) {
	want := expectedTags(t, kit, keys)
	defaultKeys := icp.NewFactory().CreateDefaultConfig().(*icp.Config).Keys
	var withIncidents, withName, without int
	for _, w := range want {
		s := strings.Join(w.keys, ",")
		switch {
		case !strings.Contains(s, defaultKeys.DeploymentID):
			without++
		case strings.Contains(s, defaultKeys.DeploymentName):
			withName++
		}
		if strings.Contains(s, defaultKeys.IncidentID) {
			withIncidents++
		}
	}
	if keys == keysAll {
		require.Positive(t, withName, "some resources match a deploy")
	} else {
		require.Zero(t, withName, "two keys write no deployment.name")
		require.Less(t, without, len(want), "some resources match a deploy")
	}
	require.Positive(t, without, "some resources match no deploy")
	require.Positive(t, withIncidents, "some resources match incidents")

	for _, level := range []icp.Level{icp.LevelResource, icp.LevelRecord} {
		outputs := map[string]any{}
		for _, ct := range contenders {
			if ct.name == "noop" || ct.name == "transform" {
				continue
			}
			data := kit.fresh()
			require.NoError(t, kit.consume(ct.make(t, kit, level, keys, want), data))
			outputs[ct.name] = data
		}
		ref := outputs["incident_context"]
		refJSON := kit.json(t, ref)
		for name, out := range outputs {
			got := kit.json(t, out)
			if !bytes.Equal(refJSON, got) {
				i := 0
				for i < min(len(got), len(refJSON)) && got[i] == refJSON[i] {
					i++
				}
				from := max(0, i-200)
				t.Fatalf("%s at level %s differs from incident_context at byte %d:\n got: %s\nwant: %s",
					name, level, i, got[from:min(len(got), i+200)], refJSON[from:min(len(refJSON), i+200)])
			}
		}
		_, items := kit.resources(ref)
		for i, its := range items {
			for _, attrs := range its {
				got := ours(attrs)
				if level == icp.LevelRecord {
					require.Len(t, got, len(want[i].keys))
				} else {
					require.Empty(t, got)
				}
			}
		}
	}
}

// ours keeps the attributes incident_context writes (with the default keys).
func ours(m pcommon.Map) map[string]any {
	out := map[string]any{}
	for _, k := range ourKeys() {
		if v, ok := m.Get(k); ok {
			out[k] = v.AsRaw()
		}
	}
	return out
}

// newBenchHost offers a registry serving snap as the "incidents" extension.
func newBenchHost(snap *incidentsapi.Snapshot) component.Host {
	reg := incidentsapitest.NewRegistry("bench", nil)
	reg.SetSnapshot(snap)
	return incidentsapitest.NewHost(reg, nil)
}
