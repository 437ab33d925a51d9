package evidenceexporter

import (
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

func TestSelectTraces(t *testing.T) {
	td := makeTraces(span("a", t0), span("b", t0.Add(time.Second)), span("c", t0.Add(2*time.Second)), span("d", t0.Add(3*time.Second)))
	n := selectTraces(td, timeRange{lo: ts(t0.Add(time.Second)), hi: ts(t0.Add(2 * time.Second))})
	assert.Equal(t, 2, n)
	var names []string
	otlptime.Spans(td, func(s ptrace.Span) { names = append(names, s.Name()) })
	assert.ElementsMatch(t, []string{"b", "c"}, names)
	assert.Equal(t, 2, td.ResourceSpans().Len())

	// Resources and scopes left empty are dropped.
	n = selectTraces(td, timeRange{lo: ts(t0.Add(2 * time.Second)), hi: ts(t0.Add(2 * time.Second))})
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, td.ResourceSpans().Len())
	n = selectTraces(td, timeRange{lo: 1, hi: 0})
	assert.Zero(t, n)
	assert.Zero(t, td.ResourceSpans().Len())
}

func TestSelectLogs(t *testing.T) {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	add := func(body string, tsv, observed time.Time) {
		lr := recs.AppendEmpty()
		lr.Body().SetStr(body)
		if !tsv.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(tsv))
		}
		if !observed.IsZero() {
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(observed))
		}
	}
	add("timestamp-in", t0, t0.Add(time.Hour))
	add("timestamp-out-observed-in", t0.Add(-time.Hour), t0)
	add("observed-in", time.Time{}, t0)
	add("no-time", time.Time{}, time.Time{})
	n := selectLogs(ld, timeRange{lo: ts(t0.Add(-time.Minute)), hi: ts(t0.Add(time.Minute))})
	assert.Equal(t, 2, n)
	var bodies []string
	for i := range recs.Len() {
		bodies = append(bodies, recs.At(i).Body().Str())
	}
	assert.Equal(t, []string{"timestamp-in", "observed-in"}, bodies)
}

func TestSelectMetricsEveryType(t *testing.T) {
	start := t0.Add(-time.Minute)
	md := testgen.Metrics(1, 200, 4, start, time.Second)
	total := md.DataPointCount()
	in := timeRange{lo: ts(start.Add(50 * time.Second)), hi: ts(start.Add(149 * time.Second))}

	want := 0
	types := map[pmetric.MetricType]int{}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				types[ms.At(k).Type()]++
				otlptime.DataPoints(ms.At(k), func(_ pcommon.Map, p pcommon.Timestamp) {
					if in.contains(p) {
						want++
					}
				})
			}
		}
	}
	assert.GreaterOrEqual(t, len(types), 3, "testgen covers several metric types")
	n := selectMetrics(md, in)
	assert.Equal(t, want, n)
	assert.Equal(t, n, md.DataPointCount())
	assert.Less(t, n, total)
	assert.Positive(t, n)

	assert.Zero(t, selectMetrics(md, timeRange{lo: 1, hi: 0}))
	assert.Zero(t, md.ResourceMetrics().Len())
}

func TestSelectPointsAllTypes(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	in, out := pcommon.NewTimestampFromTime(t0), pcommon.NewTimestampFromTime(t0.Add(-time.Hour))
	for _, p := range []pcommon.Timestamp{in, out} {
		ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetTimestamp(p)
		ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().SetTimestamp(p)
		ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().SetTimestamp(p)
		ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetTimestamp(p)
		ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().SetTimestamp(p)
	}
	ms.AppendEmpty().SetName("empty")
	assert.Equal(t, 5, selectMetrics(md, timeRange{lo: in, hi: in}))
	assert.Equal(t, 5, ms.Len())
}
