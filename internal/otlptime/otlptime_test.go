package otlptime_test

import (
	"slices"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSpan(t *testing.T) {
	tests := []struct {
		name       string
		start, end pcommon.Timestamp
		want       pcommon.Timestamp
	}{
		{name: "start time, not end time", start: 100, end: 250, want: 100},
		{name: "end before start", start: 300, end: 200, want: 300},
		{name: "no start time", start: 0, end: 250, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ptrace.NewSpan()
			s.SetStartTimestamp(tt.start)
			s.SetEndTimestamp(tt.end)
			assert.Equal(t, tt.want, otlptime.Span(s))
		})
	}
}

func TestLogRecord(t *testing.T) {
	tests := []struct {
		name         string
		ts, observed pcommon.Timestamp
		want         pcommon.Timestamp
	}{
		{name: "timestamp wins over observed", ts: 100, observed: 90, want: 100},
		{name: "observed later than timestamp", ts: 100, observed: 500, want: 100},
		{name: "only observed", ts: 0, observed: 500, want: 500},
		{name: "only timestamp", ts: 100, observed: 0, want: 100},
		{name: "neither", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			lr.SetTimestamp(tt.ts)
			lr.SetObservedTimestamp(tt.observed)
			assert.Equal(t, tt.want, otlptime.LogRecord(lr))
		})
	}
}

// pointOf is what TestDataPoints expects from one data point.
type pointOf struct {
	attr string
	ts   pcommon.Timestamp
}

// metricOf builds a metric of type typ holding pts. Every point has a
// start time, which is never the item time.
func metricOf(typ pmetric.MetricType, pts ...pointOf) pmetric.Metric {
	m := pmetric.NewMetric()
	m.SetName("m")
	type setter interface {
		Attributes() pcommon.Map
		SetTimestamp(pcommon.Timestamp)
		SetStartTimestamp(pcommon.Timestamp)
	}
	var appendPoint func() setter
	switch typ {
	case pmetric.MetricTypeGauge:
		dps := m.SetEmptyGauge().DataPoints()
		appendPoint = func() setter { return dps.AppendEmpty() }
	case pmetric.MetricTypeSum:
		dps := m.SetEmptySum().DataPoints()
		appendPoint = func() setter { return dps.AppendEmpty() }
	case pmetric.MetricTypeHistogram:
		dps := m.SetEmptyHistogram().DataPoints()
		appendPoint = func() setter { return dps.AppendEmpty() }
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.SetEmptyExponentialHistogram().DataPoints()
		appendPoint = func() setter { return dps.AppendEmpty() }
	case pmetric.MetricTypeSummary:
		dps := m.SetEmptySummary().DataPoints()
		appendPoint = func() setter { return dps.AppendEmpty() }
	default:
		return m
	}
	for _, p := range pts {
		dp := appendPoint()
		dp.Attributes().PutStr("p", p.attr)
		dp.SetTimestamp(p.ts)
		dp.SetStartTimestamp(1)
	}
	return m
}

func TestDataPoints(t *testing.T) {
	pts := []pointOf{{attr: "a", ts: 30}, {attr: "b", ts: 0}, {attr: "c", ts: 10}}
	tests := []struct {
		typ  pmetric.MetricType
		want []pointOf
	}{
		{typ: pmetric.MetricTypeGauge, want: pts},
		{typ: pmetric.MetricTypeSum, want: pts},
		{typ: pmetric.MetricTypeHistogram, want: pts},
		{typ: pmetric.MetricTypeExponentialHistogram, want: pts},
		{typ: pmetric.MetricTypeSummary, want: pts},
		{typ: pmetric.MetricTypeEmpty, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			m := metricOf(tt.typ, pts...)
			var got []pointOf
			otlptime.DataPoints(m, func(attrs pcommon.Map, ts pcommon.Timestamp) {
				v, ok := attrs.Get("p")
				require.True(t, ok)
				got = append(got, pointOf{attr: v.Str(), ts: ts})
			})
			assert.Equal(t, tt.want, got)
		})
	}
}

// batches returns a traces, a logs and a metrics batch with two resources
// of two scopes each, and the item times in the order they are stored.
func batches() (ptrace.Traces, plog.Logs, pmetric.Metrics, []pcommon.Timestamp) {
	td, ld, md := ptrace.NewTraces(), plog.NewLogs(), pmetric.NewMetrics()
	var want []pcommon.Timestamp
	ts := pcommon.Timestamp(1000)
	for range 2 {
		rs, rl, rm := td.ResourceSpans().AppendEmpty(), ld.ResourceLogs().AppendEmpty(), md.ResourceMetrics().AppendEmpty()
		for range 2 {
			ss, sl, sm := rs.ScopeSpans().AppendEmpty(), rl.ScopeLogs().AppendEmpty(), rm.ScopeMetrics().AppendEmpty()
			for range 3 {
				ts -= 7 // not sorted: the order is the batch's
				want = append(want, ts)
				s := ss.Spans().AppendEmpty()
				s.SetStartTimestamp(ts)
				s.SetEndTimestamp(ts + 500)
				lr := sl.LogRecords().AppendEmpty()
				lr.SetObservedTimestamp(ts) // only observed: that is the time
				metricOf(pmetric.MetricTypeHistogram, pointOf{attr: "x", ts: ts}).MoveTo(sm.Metrics().AppendEmpty())
			}
		}
	}
	// Empty resources and scopes have no items.
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ld.ResourceLogs().AppendEmpty()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	return td, ld, md, want
}

// collect returns the times a walk passes to its callback.
func collect[B any](walk func(B, func(pcommon.Timestamp)), batch B) []pcommon.Timestamp {
	var out []pcommon.Timestamp
	walk(batch, func(ts pcommon.Timestamp) { out = append(out, ts) })
	return out
}

func TestBatchTimes(t *testing.T) {
	td, ld, md, want := batches()
	tests := []struct {
		name      string
		got, want []pcommon.Timestamp
	}{
		{"traces", collect(otlptime.TraceTimes, td), want},
		{"logs", collect(otlptime.LogTimes, ld), want},
		{"metrics", collect(otlptime.MetricTimes, md), want},
		{"no traces", collect(otlptime.TraceTimes, ptrace.NewTraces()), nil},
		{"no logs", collect(otlptime.LogTimes, plog.NewLogs()), nil},
		{"no metrics", collect(otlptime.MetricTimes, pmetric.NewMetrics()), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

// TestTestgenTimes checks the rule against testgen, whose batches mark the
// item time of every item (logs with only an observed time included).
func TestTestgenTimes(t *testing.T) {
	start, step := testgen.DefaultStart, 3*time.Second
	first, last := pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(start.Add(99*step))
	tests := []struct {
		name  string
		times []pcommon.Timestamp
	}{
		{"traces", collect(otlptime.TraceTimes, testgen.Traces(1, 100, 4, start, step))},
		{"logs", collect(otlptime.LogTimes, testgen.Logs(2, 100, 4, start, step))},
		{"logs with only observed times", collect(otlptime.LogTimes, testgen.Logs(2, 100, 4, start, step, testgen.WithObservedOnlyRate(1)))},
		{"metrics", collect(otlptime.MetricTimes, testgen.Metrics(3, 100, 4, start, step))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, tt.times, 100)
			assert.Equal(t, first, slices.Min(tt.times))
			assert.Equal(t, last, slices.Max(tt.times))
		})
	}
}

// TestNoAllocations guards the exporter's hot path: walking a batch's item
// times allocates nothing.
func TestNoAllocations(t *testing.T) {
	td, ld, md, _ := batches()
	var sum pcommon.Timestamp
	add := func(ts pcommon.Timestamp) { sum += ts }
	allocs := testing.AllocsPerRun(20, func() {
		otlptime.TraceTimes(td, add)
		otlptime.LogTimes(ld, add)
		otlptime.MetricTimes(md, add)
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, sum)
}

func BenchmarkMetricTimes(b *testing.B) {
	md := testgen.Metrics(3, 1000, 8, testgen.DefaultStart, time.Second)
	b.ReportAllocs()
	var sum pcommon.Timestamp
	for b.Loop() {
		otlptime.MetricTimes(md, func(ts pcommon.Timestamp) { sum += ts })
	}
	if sum == 0 {
		b.Fatal("no times")
	}
}

func TestMapEveryTimestamp(t *testing.T) {
	plus := func(ts pcommon.Timestamp) pcommon.Timestamp { return ts + 1000 }

	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetStartTimestamp(1)
	s.SetEndTimestamp(2)
	s.Events().AppendEmpty().SetTimestamp(3)
	otlptime.MapTraces(td, plus)
	assert.Equal(t, []pcommon.Timestamp{1001, 1002, 1003}, []pcommon.Timestamp{s.StartTimestamp(), s.EndTimestamp(), s.Events().At(0).Timestamp()})

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(4)
	lr.SetObservedTimestamp(5)
	otlptime.MapLogs(ld, plus)
	assert.Equal(t, []pcommon.Timestamp{1004, 1005}, []pcommon.Timestamp{lr.Timestamp(), lr.ObservedTimestamp()})

	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	g.SetStartTimestamp(6)
	g.SetTimestamp(7)
	g.Exemplars().AppendEmpty().SetTimestamp(8)
	h := ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	h.SetTimestamp(9)
	sum := ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	sum.SetStartTimestamp(10)
	sum.SetTimestamp(11)
	otlptime.MapMetrics(md, plus)
	assert.Equal(t, []pcommon.Timestamp{1006, 1007, 1008, 1009, 1010, 1011},
		[]pcommon.Timestamp{g.StartTimestamp(), g.Timestamp(), g.Exemplars().At(0).Timestamp(), h.Timestamp(), sum.StartTimestamp(), sum.Timestamp()})
}
