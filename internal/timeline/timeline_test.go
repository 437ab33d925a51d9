package timeline

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestScenario(t *testing.T) {
	e := scenario()
	tl, err := Build(e.input())
	require.NoError(t, err)

	type ev struct {
		time    time.Time
		kind    string
		id      string
		service string
	}
	var got []ev
	for _, e := range tl.Events {
		got = append(got, ev{e.Time, e.Kind, e.ID, e.Service})
	}
	assert.Equal(t, []ev{
		{at(9, 40), "deploy", "D1", "checkout"},
		{at(10, 2), "deploy", "D2", "checkout"},
		{at(10, 2, 40), "deploy", "C7", "cart"},
		{at(10, 5), "incident.opened", scenarioIncident, ""},
		{at(10, 8), "deploy", "D3", "checkout"},
		{at(10, 12), "incident.resolved", scenarioIncident, ""},
	}, got)
	assert.Equal(t, "deploy D2 of checkout version 1.5.0 (status succeeded, environment production)", tl.Events[1].Summary)
	assert.Equal(t, "incident INC-1 opened: "+scenarioTitle+" (severity critical)", tl.Events[3].Summary)

	// The incident comes from the newest snapshot in the events.
	require.NotNil(t, tl.Incident)
	assert.Equal(t, Incident{
		ID: scenarioIncident, Title: scenarioTitle, Severity: "critical", Source: "alertmanager",
		Status: "resolved", Scope: []string{"service.name=checkout"}, StartedAt: at(10, 5), ResolvedAt: at(10, 12),
	}, *tl.Incident)
	require.NotNil(t, tl.Range)
	assert.Equal(t, Range{Start: at(9, 50), End: at(10, 15), Minutes: 25}, *tl.Range)
	assert.Nil(t, tl.Completeness, "the input does not say")

	// Precise times: the first error is the first span of 10:03, the
	// first latency regression the first span of that minute slower than
	// twice the baseline p95 (190 ms): the 8th, 400 ms, at 10:03:14.
	firstErr := Onset{Time: at(10, 3), Service: "checkout", Version: "1.5.0", DeploymentID: "D2", Signal: "span",
		TraceID: e.spanAt(t, "checkout", at(10, 3)).TraceID().String()}
	firstLat := Onset{Time: at(10, 3, 14), Service: "checkout", Version: "1.5.0", DeploymentID: "D2", Signal: "span",
		TraceID: e.spanAt(t, "checkout", at(10, 3, 14)).TraceID().String(), LatencyMs: 400}
	detect, resolve := 120.0, 540.0
	assert.Equal(t, Summary{
		FirstError: &firstErr, FirstLatencyRegression: &firstLat, ImpactStart: at(10, 3), ImpactKind: SpikeErrors,
		Opened: at(10, 5), Resolved: at(10, 12), DetectionSeconds: &detect, ResolveSeconds: &resolve,
	}, tl.Summary)

	// The service-level spikes; the version-level ones begin with the same
	// items and are left out.
	assert.Equal(t, []Spike{
		{Kind: SpikeErrors, Level: LevelService, Service: "checkout", Minute: at(10, 3), Onset: firstErr, Spans: 20,
			Errors: 15, ErrorSpans: 12, ErrorLogs: 3, BaselineMedian: 1, BaselineMinutes: 13},
		{Kind: SpikeLatency, Level: LevelService, Service: "checkout", Minute: at(10, 3), Onset: firstLat, Spans: 20,
			BaselineMinutes: 13, P95Ms: 950, BaselineP95Ms: 190, ThresholdMs: 380},
	}, tl.Spikes, "cart's 2 errors at 10:05 are no spike")

	// Suspects: D2, whose own telemetry fails, then the two whose own
	// telemetry does not: C7 (nearer the first error) and D1, superseded by
	// D2 before the errors began.
	require.Len(t, tl.Suspects, 3)
	d2 := tl.Suspects[0]
	assert.Equal(t, Deploy{ID: "D2", Service: "checkout", Version: "1.5.0", Environment: "production",
		Status: "succeeded", StartedAt: at(10, 2)}, d2.Deploy)
	assert.Equal(t, 1, d2.Rank)
	assert.Equal(t, ConfidenceHigh, d2.Confidence)
	assert.Equal(t, 60.0, d2.LeadSeconds)
	assert.Equal(t, []string{ReasonPreceded, ReasonVersionFails, ReasonServiceSpikes}, reasonCodes(d2))
	assert.Equal(t, "its telemetry is worse than the service's before it: 1.4.8 (deploy D1): 2.5% errors, p95 190 ms "+
		"→ 1.5.0 (deploy D2): 51% errors, p95 950 ms", d2.Reasons[1].Text)
	require.NotNil(t, d2.Own)
	assert.Equal(t, Group{Versions: []string{"1.5.0 (deploy D2)"}, Figures: Figures{
		Spans: 120, ErrorSpans: 61, ErrorRate: 61.0 / 120, LatencySamples: 120, P50Ms: 400, P95Ms: 950, ErrorLogs: 15,
	}}, *d2.Own)
	require.NotNil(t, d2.Before)
	assert.Equal(t, Group{Versions: []string{"1.4.8 (deploy D1)"}, From: at(9, 32), To: at(10, 2), Figures: Figures{
		Spans: 240, ErrorSpans: 6, ErrorRate: 6.0 / 240, LatencySamples: 240, P50Ms: 100, P95Ms: 190,
	}}, *d2.Before)
	assert.Nil(t, d2.Others, "no other version ran beside it")

	assert.Equal(t, "C7", tl.Suspects[1].Deploy.ID)
	assert.Equal(t, ConfidenceUnlikely, tl.Suspects[1].Confidence)
	assert.Equal(t, []string{ReasonPreceded, ReasonVersionHealthy, ReasonNoSpike}, reasonCodes(tl.Suspects[1]))
	assert.Equal(t, "D1", tl.Suspects[2].Deploy.ID)
	assert.Equal(t, ConfidenceUnlikely, tl.Suspects[2].Confidence)
	assert.Equal(t, []string{ReasonPreceded, ReasonNoTelemetry, ReasonLaterDeploy}, reasonCodes(tl.Suspects[2]))
	assert.Empty(t, tl.NoSuspect)

	// D3, after the first error, is a mitigation: a rollback to 1.4.8.
	require.Len(t, tl.Mitigations, 1)
	mt := tl.Mitigations[0]
	assert.Equal(t, "D3", mt.Deploy.ID)
	assert.Equal(t, MitigationRollback, mt.Kind)
	assert.Equal(t, "1.4.8", mt.ReturnsTo)
	assert.Equal(t, "D2", mt.Reverts)
	assert.Equal(t, 300.0, mt.AfterSeconds)
	require.NotNil(t, mt.Before)
	require.NotNil(t, mt.After)
	assert.Equal(t, Figures{Spans: 100, ErrorSpans: 60, ErrorRate: 0.6, LatencySamples: 100, P50Ms: 500, P95Ms: 950, ErrorLogs: 15},
		mt.Before.Figures)
	assert.Equal(t, Figures{Spans: 140, LatencySamples: 140, P50Ms: 100, P95Ms: 190}, mt.After.Figures)
	assert.Empty(t, tl.Chains, "each trace stays in one service")

	assert.Equal(t, []Gap{{Service: "cart", Start: at(10, 7), End: at(10, 8), Minutes: 1}}, tl.Gaps)

	// Exact latencies: checkout's spans take 10, 20, ..., 200 ms (five
	// times that from 10:03 to 10:07); cart's 20, 40, ..., 200 ms.
	co := minute(t, tl, "checkout", at(10, 0))
	assert.Equal(t, MinuteStats{
		Minute: at(10, 0), Service: "checkout", Spans: 20, ErrorSpans: 1, LatencySamples: 20,
		P50Ms: 100, P95Ms: 190, Logs: LogCounts{Info: 4, Warn: 1}, DataPoints: 3, Errors: 1,
	}, co)
	spike := minute(t, tl, "checkout", at(10, 3))
	assert.Equal(t, 500.0, spike.P50Ms)
	assert.Equal(t, 950.0, spike.P95Ms)
	assert.Equal(t, LogCounts{Error: 3, Warn: 1, Info: 4}, spike.Logs)
	ca := minute(t, tl, "cart", at(10, 5))
	assert.Equal(t, MinuteStats{
		Minute: at(10, 5), Service: "cart", Spans: 10, ErrorSpans: 2, LatencySamples: 10,
		P50Ms: 100, P95Ms: 200, Logs: LogCounts{Info: 2, Other: 1}, DataPoints: 2, Errors: 2,
	}, ca)
	assert.Len(t, tl.Minutes, 25+24)
	assert.True(t, slices.IsSortedFunc(tl.Minutes, func(a, b MinuteStats) int {
		if c := a.Minute.Compare(b.Minute); c != 0 {
			return c
		}
		return compareStrings(a.Service, b.Service)
	}))

	require.Len(t, tl.Services, 2)
	cart, checkout := tl.Services[0], tl.Services[1]
	assert.Equal(t, "cart", cart.Name)
	assert.Equal(t, 2, cart.Versions)
	assert.Nil(t, cart.FirstError)
	assert.Equal(t, ServiceSummary{
		Name: "checkout", FirstMinute: at(9, 50), LastMinute: at(10, 14),
		Spans: 25 * 20, ErrorSpans: 7 + 5*12, Logs: LogCounts{Error: 15, Warn: 25, Info: 100},
		DataPoints: 75, Errors: 7 + 5*12 + 15, PeakErrors: 15, PeakErrorsMinute: at(10, 3),
		PeakP95Ms: 950, PeakP95Minute: at(10, 3), Versions: 3, FirstError: &firstErr, FirstLatencyRegression: &firstLat,
	}, checkout)

	// Every version, with its own figures.
	type vrow struct {
		service, version, deployment string
		first, last                  time.Time
		spans, errs                  int64
		p95                          float64
	}
	var versions []vrow
	for _, v := range tl.Versions {
		versions = append(versions, vrow{v.Service, v.Version, v.DeploymentID, v.First, v.Last, v.Spans, v.ErrorSpans, v.P95Ms})
	}
	assert.Equal(t, []vrow{
		{"cart", "3.0.9", "", at(9, 50), at(10, 2, 18), 130, 0, 200},
		{"cart", "3.1.0", "C7", at(10, 3), at(10, 14, 18), 110, 2, 200},
		{"checkout", "1.4.8", "D1", at(9, 50), at(10, 1, 38), 240, 6, 190},
		{"checkout", "1.5.0", "D2", at(10, 2), at(10, 7, 38), 120, 61, 950},
		{"checkout", "1.4.8", "D3", at(10, 8), at(10, 14, 38), 140, 0, 190},
	}, versions)

	assert.Equal(t, Totals{
		Spans: 25*20 + 24*10, ErrorSpans: 7 + 5*12 + 2, LogRecords: 25*5 + 15 + 24*3,
		Logs: LogCounts{Error: 15, Warn: 25, Info: 100 + 48, Other: 24}, DataPoints: 75 + 48, Events: 6,
	}, tl.Totals)
	assert.Equal(t, Rules{SpikeFactor: 3, SpikeMinErrors: 5, LatencyFactor: 2, LatencyMinIncreaseMs: 10,
		LatencyMinSpans: 5, DeployLookbackSeconds: 1800, OnsetWindowSeconds: 600}, tl.Rules)
}

func reasonCodes(s Suspect) []string {
	var out []string
	for _, r := range s.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func minute(t *testing.T, tl *Timeline, service string, m time.Time) MinuteStats {
	t.Helper()
	for _, x := range tl.Minutes {
		if x.Service == service && x.Minute.Equal(m) {
			return x
		}
	}
	t.Fatalf("no minute %s for %s", m, service)
	return MinuteStats{}
}

// TestDeterministic builds the scenario from the batches and events in
// reverse order, with times in another location: the timeline is the same.
func TestDeterministic(t *testing.T) {
	e := scenario()
	want, err := Build(e.input())
	require.NoError(t, err)

	slices.Reverse(e.traces)
	slices.Reverse(e.logs)
	slices.Reverse(e.metrics)
	slices.Reverse(e.events)
	loc := time.FixedZone("UTC+5", 5*3600)
	for i := range e.events {
		e.events[i].Time = e.events[i].Time.In(loc)
	}
	got, err := Build(e.input())
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestPercentile(t *testing.T) {
	upTo := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(i + 1)
		}
		return out
	}
	tests := []struct {
		name     string
		sorted   []float64
		p50, p95 float64
	}{
		{"one", []float64{7}, 7, 7},
		{"two", []float64{1, 2}, 1, 2},
		{"seven", upTo(7), 4, 7},
		{"ten", upTo(10), 5, 10},
		{"twenty", upTo(20), 10, 19},
		{"hundred", upTo(100), 50, 95},
		{"hundred and one", upTo(101), 51, 96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.p50, percentile(tt.sorted, 50))
			assert.Equal(t, tt.p95, percentile(tt.sorted, 95))
		})
	}
}

// span describes one test span.
type span struct {
	service string
	start   time.Time
	latency time.Duration
	failed  bool
	// noEnd leaves the end time unset.
	noEnd bool
	// version and deployment tag the resource.
	version, deployment string
	// trace, id and parent set the IDs (0: none).
	trace, id, parent uint64
}

func traces(spans ...span) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		attrs := rs.Resource().Attributes()
		if s.service != "" {
			attrs.PutStr("service.name", s.service)
		}
		if s.version != "" {
			attrs.PutStr("service.version", s.version)
		}
		if s.deployment != "" {
			attrs.PutStr("deployment.id", s.deployment)
		}
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetName("op")
		if s.trace != 0 {
			sp.SetTraceID(traceIDOf(s.trace))
		}
		if s.id != 0 {
			sp.SetSpanID(spanIDOf(s.id))
		}
		if s.parent != 0 {
			sp.SetParentSpanID(spanIDOf(s.parent))
		}
		if !s.start.IsZero() {
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
		}
		if !s.noEnd {
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.start.Add(s.latency)))
		}
		if s.failed {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

func TestLatency(t *testing.T) {
	m := at(10, 0)
	td := traces(
		span{service: "api", start: m.Add(1 * time.Second), latency: 30 * time.Millisecond},
		span{service: "api", start: m.Add(2 * time.Second), latency: 1500 * time.Microsecond},
		span{service: "api", start: m.Add(3 * time.Second), latency: 7 * time.Millisecond},
		span{service: "api", start: m.Add(4 * time.Second), latency: -time.Millisecond}, // ends before it starts
		span{service: "api", start: m.Add(5 * time.Second), noEnd: true},
		span{service: "api", start: m.Add(59 * time.Second), latency: 2 * time.Second, failed: true},
		span{service: "api", start: m.Add(60 * time.Second), latency: time.Second}, // next minute
		span{service: "", start: m, latency: time.Millisecond},
		span{service: "api"}, // no time at all
	)
	tl, err := Build(Input{Traces: seq(td)})
	require.NoError(t, err)
	assert.Equal(t, []MinuteStats{
		{Minute: m, Service: "api", Spans: 6, ErrorSpans: 1, LatencySamples: 4, P50Ms: 7, P95Ms: 2000, Errors: 1},
		{Minute: m, Service: UnknownService, Spans: 1, LatencySamples: 1, P50Ms: 1, P95Ms: 1},
		{Minute: m.Add(time.Minute), Service: "api", Spans: 1, LatencySamples: 1, P50Ms: 1000, P95Ms: 1000},
	}, tl.Minutes)
	assert.Equal(t, int64(9), tl.Totals.Spans)
	assert.Equal(t, int64(1), tl.Totals.UntimedItems)
	assert.Equal(t, 1.5, percentile([]float64{1.5, 7, 30}, 33), "sub-millisecond precision is kept")
}

func TestSeverityBucket(t *testing.T) {
	tests := []struct {
		num  plog.SeverityNumber
		text string
		want sevBucket
	}{
		{plog.SeverityNumberTrace, "", sevOther},
		{plog.SeverityNumberDebug4, "ERROR", sevOther}, // the number wins
		{plog.SeverityNumberInfo, "", sevInfo},
		{plog.SeverityNumberInfo4, "", sevInfo},
		{plog.SeverityNumberWarn, "", sevWarn},
		{plog.SeverityNumberWarn4, "", sevWarn},
		{plog.SeverityNumberError, "", sevError},
		{plog.SeverityNumberError3, "", sevError},
		{plog.SeverityNumberFatal, "", sevError},
		{plog.SeverityNumberFatal4, "", sevError},
		{plog.SeverityNumber(25), "ERROR", sevOther}, // out of range
		{plog.SeverityNumberUnspecified, "", sevOther},
		{plog.SeverityNumberUnspecified, "error", sevError},
		{plog.SeverityNumberUnspecified, " Error2 ", sevError},
		{plog.SeverityNumberUnspecified, "crit", sevError},
		{plog.SeverityNumberUnspecified, "FATAL", sevError},
		{plog.SeverityNumberUnspecified, "warning", sevWarn},
		{plog.SeverityNumberUnspecified, "WARN:", sevWarn},
		{plog.SeverityNumberUnspecified, "notice", sevInfo},
		{plog.SeverityNumberUnspecified, "Information", sevOther},
		{plog.SeverityNumberUnspecified, "debug", sevOther},
		{plog.SeverityNumberUnspecified, "errors are fine", sevOther},
	}
	for _, tt := range tests {
		t.Run(tt.num.String()+"/"+tt.text, func(t *testing.T) {
			assert.Equal(t, tt.want, severityBucket(tt.num, tt.text))
		})
	}
}

func TestLogTimesAndBuckets(t *testing.T) {
	m := at(10, 0)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	add := func(ts, observed time.Time, n plog.SeverityNumber, text string) {
		r := recs.AppendEmpty()
		if !ts.IsZero() {
			r.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		}
		if !observed.IsZero() {
			r.SetObservedTimestamp(pcommon.NewTimestampFromTime(observed))
		}
		r.SetSeverityNumber(n)
		r.SetSeverityText(text)
	}
	add(m, m.Add(2*time.Minute), plog.SeverityNumberFatal, "")            // timestamp wins
	add(time.Time{}, m.Add(time.Minute), plog.SeverityNumberWarn2, "")    // observed only
	add(m.Add(10*time.Second), time.Time{}, 0, "ERROR")                   // text fallback
	add(m.Add(20*time.Second), time.Time{}, plog.SeverityNumberDebug, "") // other
	add(time.Time{}, time.Time{}, plog.SeverityNumberInfo, "")            // untimed
	tl, err := Build(Input{Logs: seq(ld)})
	require.NoError(t, err)
	assert.Equal(t, []MinuteStats{
		{Minute: m, Service: "api", Logs: LogCounts{Error: 2, Other: 1}, Errors: 2},
		{Minute: m.Add(time.Minute), Service: "api", Logs: LogCounts{Warn: 1}},
	}, tl.Minutes)
	assert.Equal(t, LogCounts{Error: 2, Warn: 1, Info: 1, Other: 1}, tl.Totals.Logs)
	assert.Equal(t, int64(5), tl.Totals.LogRecords)
	assert.Equal(t, int64(1), tl.Totals.UntimedItems)
}

func TestMetricsCountAsData(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "db")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ts := pcommon.NewTimestampFromTime
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetTimestamp(ts(at(10, 0)))
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().SetTimestamp(ts(at(10, 0, 30)))
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().SetTimestamp(ts(at(10, 2)))
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetTimestamp(ts(at(10, 2)))
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	tl, err := Build(Input{Metrics: seq(md)})
	require.NoError(t, err)
	assert.Equal(t, []MinuteStats{
		{Minute: at(10, 0), Service: "db", DataPoints: 2},
		{Minute: at(10, 2), Service: "db", DataPoints: 2},
	}, tl.Minutes)
	assert.Equal(t, []Gap{{Service: "db", Start: at(10, 1), End: at(10, 2), Minutes: 1}}, tl.Gaps)
	assert.Equal(t, Totals{DataPoints: 5, UntimedItems: 1}, tl.Totals)
}

func traceIDOf(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range 8 {
		id[15-i] = byte(n >> (8 * i))
	}
	return id
}

func spanIDOf(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	for i := range 8 {
		id[7-i] = byte(n >> (8 * i))
	}
	return id
}

func TestGaps(t *testing.T) {
	tests := []struct {
		name string
		// minutes with data per service, as minutes after 10:00
		data map[string][]int
		want []Gap
	}{
		{name: "none", data: map[string][]int{"a": {0, 1, 2}, "b": {0, 1, 2}}, want: []Gap{}},
		{name: "late start is no gap", data: map[string][]int{"a": {0, 1, 2}, "b": {2}}, want: []Gap{}},
		{name: "middle", data: map[string][]int{"a": {0, 3, 4}, "b": {0, 1, 2, 3, 4}},
			want: []Gap{{Service: "a", Start: at(10, 1), End: at(10, 3), Minutes: 2}}},
		{name: "trailing", data: map[string][]int{"a": {0, 1}, "b": {0, 4}},
			want: []Gap{
				{Service: "a", Start: at(10, 2), End: at(10, 5), Minutes: 3},
				{Service: "b", Start: at(10, 1), End: at(10, 4), Minutes: 3},
			}},
		{name: "several", data: map[string][]int{"a": {0, 2, 4}},
			want: []Gap{
				{Service: "a", Start: at(10, 1), End: at(10, 2), Minutes: 1},
				{Service: "a", Start: at(10, 3), End: at(10, 4), Minutes: 1},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spans []span
			for service, mins := range tt.data {
				for _, m := range mins {
					spans = append(spans, span{service: service, start: at(10, m, 7), latency: time.Millisecond})
				}
			}
			tl, err := Build(Input{Traces: seq(traces(spans...))})
			require.NoError(t, err)
			assert.Equal(t, tt.want, tl.Gaps)
		})
	}
	t.Run("no telemetry", func(t *testing.T) {
		tl, err := Build(Input{})
		require.NoError(t, err)
		assert.Nil(t, tl.Range)
		assert.Equal(t, []Gap{}, tl.Gaps)
	})
}

func TestIncident(t *testing.T) {
	started := at(10, 0)
	resolvedAt := at(10, 30)
	rec := &incident.Incident{
		ID: "INC-9", Title: "from the record", Source: "generic", Status: incident.StatusResolved,
		StartedAt: started, ResolvedAt: &resolvedAt, Links: []incident.Link{{Href: "https://runbook"}},
	}
	snap := func(id, title string) *incident.Incident {
		return &incident.Incident{ID: id, Title: title, Status: incident.StatusOpen, StartedAt: started}
	}
	opened := func(id, title string, t time.Time) incident.Event {
		return incident.Event{Kind: incident.EventIncidentOpened, Time: t, IncidentID: id, Source: "generic", Incident: snap(id, title)}
	}
	tests := []struct {
		name      string
		in        Input
		wantID    string
		wantTitle string
		// wantDerived counts the entries derived from the record.
		wantDerived int
	}{
		{name: "none"},
		{name: "record, no events", in: Input{Incident: rec}, wantID: "INC-9", wantTitle: "from the record", wantDerived: 2},
		{name: "record wins over events", in: Input{Incident: rec, Events: seq(opened("INC-9", "old", started))},
			wantID: "INC-9", wantTitle: "from the record", wantDerived: 1},
		{name: "newest snapshot", in: Input{IncidentID: "INC-1", Events: seq(
			opened("INC-1", "second", at(10, 5)), opened("INC-1", "first", at(10, 1)), opened("INC-2", "other", at(10, 9)))},
			wantID: "INC-1", wantTitle: "second"},
		{name: "the only incident", in: Input{Events: seq(opened("INC-3", "only", at(10, 1)))},
			wantID: "INC-3", wantTitle: "only"},
		{name: "several incidents, none named", in: Input{Events: seq(opened("INC-1", "a", at(10, 1)), opened("INC-2", "b", at(10, 1)))}},
		{name: "named, no snapshot", in: Input{IncidentID: "INC-4", Events: seq(incident.Event{
			Kind: incident.EventIncidentResolved, Time: at(10, 1), IncidentID: "INC-4"})}, wantID: "INC-4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, err := Build(tt.in)
			require.NoError(t, err)
			if tt.wantID == "" {
				assert.Nil(t, tl.Incident)
				return
			}
			require.NotNil(t, tl.Incident)
			assert.Equal(t, tt.wantID, tl.Incident.ID)
			assert.Equal(t, tt.wantTitle, tl.Incident.Title)
			derived := 0
			for _, e := range tl.Events {
				if e.Source == SourceIncidentRecord {
					derived++
				}
			}
			assert.Equal(t, tt.wantDerived, derived)
		})
	}
}

func TestEventsWithoutTime(t *testing.T) {
	tl, err := Build(Input{Events: seq(
		incident.Event{Kind: incident.EventAlert, Source: "grafana"},
		incident.Event{Kind: incident.EventAlert, Source: "grafana"}, // duplicate
		incident.Event{Kind: incident.EventAlert, Source: "grafana", Time: at(10, 0),
			Incident: &incident.Incident{Title: "CPU high"}},
		incident.Event{Kind: "custom", Source: "x", Time: at(10, 1), IncidentID: "I"},
	)})
	require.NoError(t, err)
	assert.Equal(t, int64(3), tl.Totals.Events)
	assert.Equal(t, int64(1), tl.Totals.UntimedItems)
	require.Len(t, tl.Events, 2)
	assert.Equal(t, "alert recorded (opened no incident): CPU high", tl.Events[0].Summary)
	assert.Equal(t, "event custom for incident I", tl.Events[1].Summary)
}

func TestBuildErrors(t *testing.T) {
	boom := errors.New("boom")
	failing := func(yield func(ptrace.Traces, error) bool) { yield(ptrace.Traces{}, boom) }
	_, err := Build(Input{Traces: failing})
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "reading traces")

	failingEvents := func(yield func(incident.Event, error) bool) {
		if yield(incident.Event{Kind: incident.EventAlert, Time: at(10, 0)}, nil) {
			yield(incident.Event{}, boom)
		}
	}
	_, err = Build(Input{Events: failingEvents})
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "reading events")

	for _, opts := range []Options{
		{SpikeFactor: -1}, {SpikeMinErrors: -2}, {DeployLookback: -time.Minute},
	} {
		_, err := Build(Input{Options: opts})
		assert.ErrorContains(t, err, "options: '", "%+v", opts)
	}
}
