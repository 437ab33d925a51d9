package timeline

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// ms is a time of day on the test date with milliseconds.
func ms(hh, mm, ss, milli int) time.Time {
	return at(hh, mm, ss).Add(time.Duration(milli) * time.Millisecond)
}

// traffic returns one span of a service's version every `every` in
// [from, to), each taking lat; fail decides which fail (nil: none).
func traffic(service, version, deployment string, from, to time.Time, every, lat time.Duration, fail func(i int) bool) []span {
	var out []span
	i := 0
	for t := from; t.Before(to); t = t.Add(every) {
		out = append(out, span{service: service, version: version, deployment: deployment, start: t, latency: lat,
			failed: fail != nil && fail(i)})
		i++
	}
	return out
}

// everyOther fails every second span.
func everyOther(i int) bool { return i%2 == 0 }

// build builds a timeline of the spans and events, with an incident opened
// at opened (when not zero).
func build(t *testing.T, opts Options, opened time.Time, events []incident.Event, spans ...span) *Timeline {
	t.Helper()
	in := Input{Traces: seq(traces(spans...)), Events: seq(events...), Options: opts}
	if !opened.IsZero() {
		in.Incident = &incident.Incident{ID: "INC-7", Status: incident.StatusOpen, Source: incident.SourceGeneric, StartedAt: opened}
	}
	tl, err := Build(in)
	require.NoError(t, err)
	return tl
}

func points(errors ...int64) []point {
	out := make([]point, len(errors))
	for i, n := range errors {
		out[i] = point{minute: int64(i * 60), errors: n}
	}
	return out
}

func TestErrorRule(t *testing.T) {
	tests := []struct {
		name    string
		series  []int64
		prior   []int64
		opts    Options
		want    int // -1: none
		wantMed float64
		wantN   int
	}{
		{name: "no errors", series: []int64{0, 0, 0, 0}, want: -1},
		{name: "below the minimum", series: []int64{0, 0, 4, 4}, want: -1},
		{name: "minimum over a zero baseline", series: []int64{0, 0, 5}, want: 2, wantN: 2},
		{name: "errors from the first minute are the baseline", series: []int64{9, 9, 9}, want: -1},
		{name: "no baseline, then a rise", series: []int64{9, 9, 40}, want: 2, wantMed: 9, wantN: 2},
		{name: "below the factor", series: []int64{2, 2, 5}, want: -1},
		{name: "exactly the factor", series: []int64{2, 2, 2, 6}, want: 3, wantMed: 2, wantN: 3},
		{name: "even baseline uses the mean of the middle", series: []int64{1, 2, 3, 4, 7}, want: -1},
		{name: "even baseline, reached", series: []int64{1, 2, 3, 4, 8}, want: 4, wantMed: 2.5, wantN: 4},
		{name: "first spike only", series: []int64{0, 6, 20}, want: 1, wantN: 1},
		{name: "slow rise flags the first minute reaching the rule", series: []int64{1, 2, 4, 8}, want: 3, wantMed: 2, wantN: 3},
		{name: "custom rule", series: []int64{1, 1, 2}, opts: Options{SpikeFactor: 2, SpikeMinErrors: 2}, want: 2, wantMed: 1, wantN: 2},
		{name: "a prior baseline for a new version", series: []int64{5}, prior: []int64{0, 1, 0}, want: 0, wantN: 3},
		{name: "a prior baseline with errors", series: []int64{5, 30}, prior: []int64{10, 10, 10}, want: 1, wantMed: 10, wantN: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.opts.withDefaults()
			require.NoError(t, err)
			an := &analysis{opts: opts}
			i, med, n, ok := an.errorRule(points(tt.series...), points(tt.prior...))
			if tt.want < 0 {
				assert.False(t, ok, "spike at %d", i)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, i)
			assert.Equal(t, tt.wantMed, med)
			assert.Equal(t, tt.wantN, n)
		})
	}
}

func TestLatencyRule(t *testing.T) {
	type p struct {
		samples int64
		p95     float64
	}
	tests := []struct {
		name      string
		series    []p
		prior     []p
		want      int
		wantMed   float64
		wantCount int
	}{
		{name: "steady", series: []p{{10, 40}, {10, 45}, {10, 42}}, want: -1},
		{name: "doubled", series: []p{{10, 40}, {10, 42}, {10, 84}}, want: 2, wantMed: 41, wantCount: 2},
		{name: "just below double", series: []p{{10, 40}, {10, 79.9}}, want: -1},
		{name: "no baseline: never a spike", series: []p{{10, 900}, {10, 900}}, want: -1},
		{name: "too few samples count neither way", series: []p{{10, 40}, {4, 900}, {10, 90}}, want: 2, wantMed: 40, wantCount: 1},
		{name: "fast services need the minimum increase", series: []p{{10, 2}, {10, 8}, {10, 20}}, want: 2, wantMed: 5, wantCount: 2},
		{name: "a new version against the service before it", series: []p{{5, 900}}, prior: []p{{50, 40}, {50, 44}}, want: 0, wantMed: 42, wantCount: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := Options{}.withDefaults()
			require.NoError(t, err)
			an := &analysis{opts: opts}
			conv := func(ps []p) []point {
				out := make([]point, len(ps))
				for i, x := range ps {
					out[i] = point{minute: int64(i * 60), samples: x.samples, p95: x.p95}
				}
				return out
			}
			i, med, n, ok := an.latencyRule(conv(tt.series), conv(tt.prior))
			if tt.want < 0 {
				assert.False(t, ok, "spike at %d", i)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, i)
			assert.Equal(t, tt.wantMed, med)
			assert.Equal(t, tt.wantCount, n)
		})
	}
}

func TestChangepoint(t *testing.T) {
	sec := func(s float64) int64 { return int64(s * 1e9) }
	from, to := sec(0), sec(660)
	t.Run("a burst from nothing starts at its first event", func(t *testing.T) {
		ts := []int64{sec(600.125), sec(600.2), sec(600.3), sec(601), sec(605)}
		assert.Equal(t, 0, changepoint(ts, from, to))
	})
	t.Run("an isolated earlier event is not the onset", func(t *testing.T) {
		ts := []int64{sec(120), sec(600.125), sec(600.2), sec(600.3), sec(601), sec(605), sec(606)}
		assert.Equal(t, 1, changepoint(ts, from, to))
	})
	t.Run("a steady trickle, then a burst", func(t *testing.T) {
		var ts []int64
		for s := 0.0; s < 600; s += 30 {
			ts = append(ts, sec(s+7))
		}
		onset := len(ts)
		for s := 610.5; s < 660; s += 0.25 {
			ts = append(ts, sec(s))
		}
		assert.Equal(t, onset, changepoint(ts, from, to))
	})
	t.Run("a single event", func(t *testing.T) {
		assert.Equal(t, 0, changepoint([]int64{sec(42)}, from, to))
	})
	t.Run("a falling rate has no later onset", func(t *testing.T) {
		var ts []int64
		for s := 0.0; s < 60; s += 0.5 {
			ts = append(ts, sec(s))
		}
		ts = append(ts, sec(400))
		assert.Equal(t, 0, changepoint(ts, from, to))
	})
	t.Run("events at one instant", func(t *testing.T) {
		ts := []int64{sec(0), sec(0), sec(0), sec(600)}
		got := changepoint(ts, from, to)
		assert.GreaterOrEqual(t, got, 0)
		assert.Less(t, got, len(ts))
	})
}

// TestFirstErrorPrecise: the first error is the item that began the rise,
// to the millisecond, and the detection latency is measured from it.
func TestFirstErrorPrecise(t *testing.T) {
	spans := traffic("api", "v1", "", at(10, 0), at(10, 6), 100*time.Millisecond, 40*time.Millisecond, nil)
	// One stray error long before, then errors from 10:05:00.675.
	spans[300].failed = true
	spans = append(spans, traffic("api", "v1", "", ms(10, 5, 0, 675), at(10, 6), 200*time.Millisecond,
		40*time.Millisecond, func(int) bool { return true })...)
	tl := build(t, Options{}, ms(10, 5, 7, 575), nil, spans...)
	require.NotNil(t, tl.Summary.FirstError)
	assert.Equal(t, ms(10, 5, 0, 675), tl.Summary.FirstError.Time)
	require.NotNil(t, tl.Summary.DetectionSeconds)
	assert.Equal(t, 6.9, *tl.Summary.DetectionSeconds)
	assert.Nil(t, tl.Summary.ResolveSeconds, "not resolved")
	assert.Equal(t, "no deploy preceded the first error: none started in the 30m before it", tl.NoSuspect)
	assert.Empty(t, tl.Suspects)
}

func TestSuspects(t *testing.T) {
	// api v1 (deploy A1) serves from 10:00; web v7 from 10:00.
	base := func() []span {
		s := traffic("api", "v1", "A1", at(10, 0), at(10, 5), 250*time.Millisecond, 40*time.Millisecond, nil)
		return append(s, traffic("web", "v7", "W7", at(10, 0), at(10, 8), 500*time.Millisecond, 30*time.Millisecond, nil)...)
	}
	// v2 of api (deploy A2) from 10:05:00.550, failing every other span
	// from 10:05:00.675 on.
	failingV2 := traffic("api", "v2", "A2", ms(10, 5, 0, 675), at(10, 8), 250*time.Millisecond, 40*time.Millisecond, everyOther)
	deploy := deployEvent
	tests := []struct {
		name  string
		opts  Options
		spans []span
		evs   []incident.Event
		// want lists the suspects' IDs and confidences, in rank order.
		want          []string
		wantReasons   [][]string
		wantNoSuspect string
		wantMitigates []string
	}{
		{
			name:  "the deploy whose version fails",
			spans: append(base(), failingV2...),
			evs:   []incident.Event{deploy("A1", "api", "v1", at(9, 50)), deploy("A2", "api", "v2", ms(10, 5, 0, 550))},
			want:  []string{"A2 high", "A1 unlikely"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonVersionFails, ReasonServiceSpikes},
				{ReasonPreceded, ReasonNoTelemetry, ReasonLaterDeploy},
			},
		},
		{
			name:  "two services deployed: the one whose telemetry fails ranks first",
			spans: append(append(base(), failingV2...), traffic("web", "v8", "W8", at(10, 4), at(10, 8), 500*time.Millisecond, 30*time.Millisecond, nil)...),
			evs:   []incident.Event{deploy("W8", "web", "v8", at(10, 4)), deploy("A2", "api", "v2", ms(10, 5, 0, 550))},
			want:  []string{"A2 high", "W8 unlikely"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonVersionFails, ReasonServiceSpikes},
				{ReasonPreceded, ReasonVersionHealthy, ReasonNoSpike},
			},
		},
		{
			name:  "a deploy after the first error is a mitigation, never a suspect",
			spans: append(base(), failingV2...),
			evs: []incident.Event{deploy("A1", "api", "v1", at(9, 50)), deploy("A2", "api", "v2", ms(10, 5, 0, 550)),
				deploy("A3", "api", "v1", at(10, 5, 40))},
			want:          []string{"A2 high", "A1 unlikely"},
			wantMitigates: []string{"A3 rollback to v1 reverting A2"},
		},
		{
			name:          "no deploy",
			spans:         append(base(), failingV2...),
			wantNoSuspect: "no deploy preceded the first error: none started in the 30m before it",
		},
		{
			name:          "a deploy beyond the lookback",
			opts:          Options{DeployLookback: 2 * time.Minute},
			spans:         append(base(), failingV2...),
			evs:           []incident.Event{deploy("A0", "api", "v2", at(10, 3))},
			wantNoSuspect: "no deploy preceded the first error: none started in the 2m before it",
		},
		{
			name:  "a deploy at the lookback edge",
			opts:  Options{DeployLookback: 2 * time.Minute},
			spans: append(base(), failingV2...),
			evs:   []incident.Event{deploy("A0", "api", "v0", ms(10, 3, 0, 675))},
			want:  []string{"A0 medium"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonNoTelemetry, ReasonServiceSpikes},
			},
		},
		{
			name: "untagged telemetry: the service failing after the deploy",
			spans: append(traffic("api", "", "", at(10, 0), at(10, 5), 250*time.Millisecond, 40*time.Millisecond, nil),
				traffic("api", "", "", ms(10, 5, 0, 675), at(10, 8), 250*time.Millisecond, 40*time.Millisecond, everyOther)...),
			evs:  []incident.Event{deploy("A2", "api", "v2", ms(10, 5, 0, 550))},
			want: []string{"A2 medium"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonNoTelemetry, ReasonServiceSpikes},
			},
		},
		{
			name: "a latency-only regression",
			spans: append(base(), traffic("api", "v2", "A2", ms(10, 5, 0, 675), at(10, 8), 250*time.Millisecond,
				900*time.Millisecond, nil)...),
			evs:  []incident.Event{deploy("A2", "api", "v2", ms(10, 5, 0, 550))},
			want: []string{"A2 high"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonVersionFails, ReasonServiceSpikes},
			},
		},
		{
			// api slows down from 10:03; web's deploy at 10:04 (a shorter
			// timeout) makes web fail: it came after the latency
			// regression, before the first error, and is a suspect.
			name: "a deploy after an earlier latency regression",
			spans: append(append(traffic("api", "v1", "", at(10, 0), at(10, 3), 250*time.Millisecond, 40*time.Millisecond, nil),
				traffic("api", "v1", "", at(10, 3), at(10, 8), 250*time.Millisecond, 900*time.Millisecond, nil)...),
				append(traffic("web", "v7", "W7", at(10, 0), at(10, 4), 500*time.Millisecond, 30*time.Millisecond, nil),
					traffic("web", "v8", "W8", at(10, 4, 10), at(10, 8), 500*time.Millisecond, 30*time.Millisecond, everyOther)...)...),
			evs:  []incident.Event{deploy("W8", "web", "v8", at(10, 4))},
			want: []string{"W8 high"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonVersionFails, ReasonServiceSpikes},
			},
		},
		{
			name: "a canary: only the new version fails",
			spans: append(traffic("api", "v1", "A1", at(10, 0), at(10, 8), 250*time.Millisecond, 40*time.Millisecond, nil),
				traffic("api", "v2", "A2", ms(10, 5, 0, 675), at(10, 8), time.Second, 40*time.Millisecond, everyOther)...),
			evs:  []incident.Event{deploy("A2", "api", "v2", ms(10, 5, 0, 550))},
			want: []string{"A2 high"},
			wantReasons: [][]string{
				{ReasonPreceded, ReasonVersionFails, ReasonVersionSpecific, ReasonServiceSpikes},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := build(t, tt.opts, at(10, 6), tt.evs, tt.spans...)
			var got []string
			var reasons [][]string
			for i, s := range tl.Suspects {
				assert.Equal(t, i+1, s.Rank)
				got = append(got, s.Deploy.ID+" "+s.Confidence)
				reasons = append(reasons, reasonCodes(s))
			}
			assert.Equal(t, tt.want, got)
			if tt.wantReasons != nil {
				assert.Equal(t, tt.wantReasons, reasons)
			}
			assert.Equal(t, tt.wantNoSuspect, tl.NoSuspect)
			var mit []string
			for _, m := range tl.Mitigations {
				s := m.Deploy.ID + " " + m.Kind
				if m.ReturnsTo != "" {
					s += " to " + m.ReturnsTo
				}
				if m.Reverts != "" {
					s += " reverting " + m.Reverts
				}
				mit = append(mit, s)
			}
			assert.Equal(t, tt.wantMitigates, mit)
		})
	}
}

// TestCanaryFigures checks the per-version figures of a canary: v1 and v2
// live together, v2 takes under 3% of the traffic, only v2 fails, and
// v2's latency rises where the service's p95 cannot show it.
func TestCanaryFigures(t *testing.T) {
	spans := traffic("api", "v1", "A1", at(10, 0), at(10, 8), 100*time.Millisecond, 42*time.Millisecond,
		func(i int) bool { return i%1000 == 999 })
	spans = append(spans, traffic("api", "v2", "A2", at(10, 5), at(10, 8), 3600*time.Millisecond, 900*time.Millisecond,
		everyOther)...)
	tl := build(t, Options{}, at(10, 6), []incident.Event{deployEvent("A2", "api", "v2", ms(10, 4, 59, 900))}, spans...)
	require.Len(t, tl.Suspects, 1)
	s := tl.Suspects[0]
	assert.Equal(t, ConfidenceHigh, s.Confidence)
	require.NotNil(t, s.Own)
	assert.Equal(t, []string{"v2 (deploy A2)"}, s.Own.Versions)
	assert.Equal(t, int64(50), s.Own.Spans)
	assert.Equal(t, 0.5, s.Own.ErrorRate)
	assert.Equal(t, 900.0, s.Own.P95Ms)
	require.NotNil(t, s.Others)
	assert.Equal(t, []string{"v1 (deploy A1)"}, s.Others.Versions)
	assert.Equal(t, ms(10, 5, 0, 0), s.Others.From)
	assert.Equal(t, 42.0, s.Others.P95Ms)
	require.NotNil(t, s.Before)
	assert.Equal(t, int64(2999), s.Before.Spans)
	assert.Equal(t, int64(2), s.Before.ErrorSpans)
	assert.Contains(t, s.Reasons[1].Text, "v1 (deploy A1): 0.07% errors, p95 42 ms → v2 (deploy A2): 50% errors, p95 900 ms")
	assert.Contains(t, s.Reasons[2].Text, "only this version fails")

	// The service's p95 does not move, so the latency regression is v2's
	// own: a spike of the version.
	var kinds []string
	for _, sp := range tl.Spikes {
		kinds = append(kinds, sp.Kind+"/"+sp.Level+"/"+sp.Version)
	}
	assert.Contains(t, kinds, "latency/version/v2")
	assert.NotContains(t, kinds, "latency/service/")
	require.NotNil(t, tl.Summary.FirstLatencyRegression)
	assert.Equal(t, at(10, 5), tl.Summary.FirstLatencyRegression.Time)
	// v1's own rare errors are part of the service's rise when one falls
	// just before v2's first (here 100 ms): the first error is within that
	// of the truth, and v2's own spike begins exactly with its first.
	require.NotNil(t, tl.Summary.FirstError)
	assert.WithinDuration(t, at(10, 5), tl.Summary.FirstError.Time, time.Second)
	for _, sp := range tl.Spikes {
		if sp.Level == LevelVersion && sp.Kind == SpikeErrors {
			assert.Equal(t, at(10, 5), sp.Onset.Time)
			assert.Equal(t, "v2", sp.Onset.Version)
		}
	}
}

// TestChains: B's failing spans make A's fail; the chain A → B names B
// as where the errors start, and B's deploy is the suspect for A's errors.
func TestChains(t *testing.T) {
	var spans []span
	var nextID uint64
	id := func() uint64 { nextID++; return nextID }
	// Healthy calls A → B from 10:00; B v2 (deploy B2) from 10:05 fails
	// and so does A's call.
	for i := range 600 {
		start := at(10, 0).Add(time.Duration(i) * time.Second)
		trace := uint64(1000 + i)
		bad := !start.Before(at(10, 5))
		bVersion, bDeploy := "v1", "B1"
		if bad {
			bVersion, bDeploy = "v2", "B2"
		}
		root, client, server, db := id(), id(), id(), id()
		spans = append(spans,
			span{service: "a", version: "v1", start: start, latency: 50 * time.Millisecond, failed: bad, trace: trace, id: root},
			span{service: "a", version: "v1", start: start.Add(time.Millisecond), latency: 40 * time.Millisecond, failed: bad, trace: trace, id: client, parent: root},
			span{service: "b", version: bVersion, deployment: bDeploy, start: start.Add(2 * time.Millisecond), latency: 30 * time.Millisecond, failed: bad, trace: trace, id: server, parent: client},
			span{service: "b", version: bVersion, deployment: bDeploy, start: start.Add(3 * time.Millisecond), latency: 10 * time.Millisecond, failed: bad, trace: trace, id: db, parent: server},
		)
		// A fails on its own in a few traces, with no failing child.
		if i%100 == 50 {
			spans = append(spans, span{service: "a", version: "v1", start: start.Add(500 * time.Millisecond),
				latency: time.Millisecond, failed: true, trace: trace + 10_000, id: id()})
		}
	}
	tl := build(t, Options{}, at(10, 6), []incident.Event{deployEvent("B2", "b", "v2", ms(10, 4, 59, 500))}, spans...)
	require.Len(t, tl.Chains, 1)
	c := tl.Chains[0]
	assert.Equal(t, []string{"a", "b"}, c.Path)
	assert.Equal(t, "b", c.Origin)
	assert.Equal(t, int64(300), c.Traces)
	assert.Equal(t, ms(10, 5, 0, 3), c.FirstFailure, "B's deepest failing span")
	assert.Equal(t, []string{traceIDOf(1300).String(), traceIDOf(1301).String(), traceIDOf(1302).String()}, c.ExampleTraceIDs)
	require.NotNil(t, tl.Summary.ErrorOrigin)
	assert.Equal(t, "b", tl.Summary.ErrorOrigin.Origin)

	require.Len(t, tl.Suspects, 1)
	s := tl.Suspects[0]
	assert.Equal(t, "B2", s.Deploy.ID)
	assert.Equal(t, ConfidenceHigh, s.Confidence)
	assert.Contains(t, reasonCodes(s), ReasonChainOrigin)
	assert.Contains(t, s.Reasons[len(s.Reasons)-1].Text, "errors start in b: a → b in 300 traces (e.g. trace "+traceIDOf(1300).String()+")")
	// A's first error (its root span) comes before B's, by the nesting.
	require.NotNil(t, tl.Summary.FirstError)
	assert.Equal(t, at(10, 5), tl.Summary.FirstError.Time)
	assert.Equal(t, "a", tl.Summary.FirstError.Service)
}

// TestChainsDownstream: a deploy of the caller, whose errors come from a
// dependency it did not change, ranks below what the chain names.
func TestChainsDownstream(t *testing.T) {
	var spans []span
	for i := range 600 {
		start := at(10, 0).Add(time.Duration(i) * time.Second)
		bad := !start.Before(at(10, 5))
		trace := uint64(1 + i)
		spans = append(spans,
			span{service: "a", version: "v1", start: start, latency: 20 * time.Millisecond, failed: bad, trace: trace, id: 1},
			span{service: "b", version: "v1", start: start.Add(time.Millisecond), latency: 10 * time.Millisecond, failed: bad, trace: trace, id: 2, parent: 1},
		)
	}
	tl := build(t, Options{}, at(10, 6), []incident.Event{deployEvent("A9", "a", "v1", at(10, 4))}, spans...)
	require.Len(t, tl.Suspects, 1)
	s := tl.Suspects[0]
	assert.Contains(t, reasonCodes(s), ReasonDownstream)
	assert.NotEqual(t, ConfidenceHigh, s.Confidence)
}

func TestTracePathsHostile(t *testing.T) {
	an := &analysis{vars: []*vdata{{key: variantKey{service: "a"}}, {key: variantKey{service: "b"}}}}
	tr := traceIDOf(1)
	sid := spanIDOf
	t.Run("a cycle of parents", func(t *testing.T) {
		spans := []errSpan{
			{trace: tr, span: sid(1), parent: sid(2), variant: 0},
			{trace: tr, span: sid(2), parent: sid(1), variant: 1},
		}
		assert.Empty(t, an.tracePaths(spans))
	})
	t.Run("its own parent", func(t *testing.T) {
		spans := []errSpan{{trace: tr, span: sid(1), parent: sid(1), variant: 0}}
		assert.Len(t, an.tracePaths(spans), 1)
	})
	t.Run("duplicate span IDs", func(t *testing.T) {
		spans := []errSpan{
			{trace: tr, span: sid(1), variant: 0},
			{trace: tr, span: sid(1), parent: sid(1), variant: 1},
			{trace: tr, span: sid(2), parent: sid(1), variant: 1},
		}
		assert.NotPanics(t, func() { an.tracePaths(spans) })
	})
	t.Run("a wide trace is bounded", func(t *testing.T) {
		spans := []errSpan{{trace: tr, span: sid(1), variant: 0}}
		for i := range 1000 {
			spans = append(spans, errSpan{trace: tr, span: sid(uint64(i + 2)), parent: sid(1), variant: int32(i % 2)})
		}
		assert.LessOrEqual(t, len(an.tracePaths(spans)), maxPathsPerTrace)
	})
}

// TestCollectorRecords: the collector's own event records are events, not
// a service: no table, error count or gap names otel-evidence, and an
// event the records hold that events.jsonl lacks joins the timeline.
func TestCollectorRecords(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", CollectorService)
	rl.Resource().Attributes().PutStr("service.instance.id", "collector-a")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	record := func(ts time.Time, kind string, sev plog.SeverityNumber, attrs map[string]string) {
		r := recs.AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		r.SetEventName(kind)
		r.SetSeverityNumber(sev)
		r.Attributes().PutStr("event.name", kind)
		for k, v := range attrs {
			r.Attributes().PutStr(k, v)
		}
	}
	// Recorded in events.jsonl too: listed once.
	record(at(10, 5), "incident.opened", plog.SeverityNumberError, map[string]string{
		"incident.id": "INC-7", "incident.source": "generic", "incident.title": "api down", "incident.severity": "critical",
		"incident.status": "open", "incident.started_at": "2026-03-02T10:05:00Z",
	})
	// Only in the records: joins the timeline.
	record(at(10, 3), "deploy", plog.SeverityNumberInfo, map[string]string{
		"deployment.id": "A2", "incident.source": "deploy", "deployment.service.name": "api",
		"deployment.service.version": "v2", "deployment.status": "succeeded",
	})
	// A note, only in the records.
	record(at(10, 6), "note", plog.SeverityNumberInfo, map[string]string{
		"incident.id": "INC-7", "incident.source": "note", "note.text": "paged the api on-call", "note.author": "alice",
	})
	// Names no event: counted, dropped.
	recs.AppendEmpty().SetTimestamp(pcommon.NewTimestampFromTime(at(10, 4)))

	spans := traffic("api", "v1", "", at(10, 0), at(10, 3), time.Second, 20*time.Millisecond, nil)
	spans = append(spans, traffic("api", "v2", "A2", at(10, 3), at(10, 8), time.Second, 20*time.Millisecond, everyOther)...)
	opened := incident.Event{Kind: incident.EventIncidentOpened, Time: at(10, 5), Source: "generic", IncidentID: "INC-7",
		Incident: &incident.Incident{ID: "INC-7", Title: "api down", Status: incident.StatusOpen, Source: "generic", StartedAt: at(10, 5)}}
	tl, err := Build(Input{Traces: seq(traces(spans...)), Logs: seq(ld), Events: seq(opened)})
	require.NoError(t, err)

	for _, s := range tl.Services {
		assert.NotEqual(t, CollectorService, s.Name)
	}
	for _, m := range tl.Minutes {
		assert.NotEqual(t, CollectorService, m.Service)
	}
	for _, g := range tl.Gaps {
		assert.NotEqual(t, CollectorService, g.Service)
	}
	assert.Equal(t, int64(4), tl.Totals.CollectorRecords)
	assert.Zero(t, tl.Totals.LogRecords)
	assert.Zero(t, tl.Totals.Logs.Error, "the critical opening is no error")
	var kinds []string
	for _, e := range tl.Events {
		kinds = append(kinds, fmt.Sprintf("%s %s %s", e.Time.Format("15:04"), e.Kind, e.ID))
	}
	assert.Equal(t, []string{"10:03 deploy A2", "10:05 incident.opened INC-7", "10:06 note INC-7"}, kinds)
	assert.Equal(t, "note by alice: paged the api on-call", tl.Events[2].Summary)
	require.Len(t, tl.Suspects, 1, "the deploy from the records is a suspect")
	assert.Equal(t, "A2", tl.Suspects[0].Deploy.ID)
	assert.Equal(t, "api", tl.Suspects[0].Deploy.Service)
}

// TestDeployStart: a deploy recorded after it started is placed, and
// judged, at its start.
func TestDeployStart(t *testing.T) {
	ev := deployEvent("A2", "api", "v2", ms(10, 5, 0, 550))
	ev.Time = at(10, 7) // recorded later
	spans := append(traffic("api", "v1", "", at(10, 0), at(10, 5), time.Second, 20*time.Millisecond, nil),
		traffic("api", "v2", "A2", ms(10, 5, 0, 675), at(10, 8), time.Second, 20*time.Millisecond, everyOther)...)
	tl := build(t, Options{}, at(10, 6), []incident.Event{ev}, spans...)
	require.Len(t, tl.Events, 2)
	assert.Equal(t, ms(10, 5, 0, 550), tl.Events[0].Time)
	assert.Contains(t, tl.Events[0].Summary, "recorded at 2026-03-02 10:07:00.000")
	require.Len(t, tl.Suspects, 1)
	assert.Equal(t, ms(10, 5, 0, 550), tl.Suspects[0].Deploy.StartedAt)
	assert.Equal(t, 0.125, tl.Suspects[0].LeadSeconds)
}

// TestDeploysMerged: the events of one deploy (started, then succeeded)
// are one deploy, from its first start.
func TestDeploysMerged(t *testing.T) {
	s := newEventSet()
	started := deployEvent("A2", "api", "v2", at(10, 5))
	started.Deploy.Status = incident.DeployStarted
	done := deployEvent("A2", "api", "", at(10, 5))
	done.Time = at(10, 6)
	done.Deploy.StartedAt = time.Time{}
	s.add(started)
	s.add(done)
	s.add(incident.Event{Kind: incident.EventDeploy, Time: at(10, 1), DeployID: "X"})
	s.sort()
	assert.Equal(t, []Deploy{
		{ID: "X", StartedAt: at(10, 1)},
		{ID: "A2", Service: "api", Version: "v2", Environment: "production", Status: incident.DeploySucceeded, StartedAt: at(10, 5)},
	}, s.deploys())
}

func TestNoSpikeNoSuspect(t *testing.T) {
	spans := traffic("api", "v1", "", at(10, 0), at(10, 8), time.Second, 20*time.Millisecond, nil)
	tl := build(t, Options{}, at(10, 6), []incident.Event{deployEvent("A2", "api", "v2", at(10, 4))}, spans...)
	assert.Empty(t, tl.Suspects)
	assert.Empty(t, tl.Mitigations)
	assert.Equal(t, "no error or latency spike in the evidence, so no deploy is a suspect", tl.NoSuspect)
	assert.Nil(t, tl.Summary.DetectionSeconds)
	assert.True(t, tl.Summary.ImpactStart.IsZero())
}

func TestFigureFormats(t *testing.T) {
	for r, want := range map[float64]string{0: "0%", 0.001: "0.1%", 0.0007: "0.07%", 0.48: "48%", 0.123: "12%", 0.0123: "1.2%", 1: "100%"} {
		assert.Equal(t, want, fmtPercent(r), "%v", r)
	}
	for v, want := range map[float64]string{42: "42 ms", 900.4: "900 ms", 0.53: "0.5 ms", 9.96: "10 ms", 1234.5: "1235 ms"} {
		assert.Equal(t, want, fmtMs(v), "%v", v)
	}
	for v, want := range map[float64]string{6.9: "6.9s", 0.125: "0.125s", 120: "2m", 53.25: "53.25s", -1.5: "-1.5s"} {
		assert.Equal(t, want, fmtSeconds(v), "%v", v)
	}
	assert.Equal(t, 0.0, zScore(Figures{Spans: 10}, Figures{Spans: 10}))
	assert.Greater(t, zScore(Figures{Spans: 100, ErrorSpans: 50, ErrorRate: 0.5}, Figures{Spans: 100, ErrorSpans: 1, ErrorRate: 0.01}), 3.0)
	assert.False(t, math.IsNaN(zScore(Figures{Spans: 1, ErrorSpans: 1, ErrorRate: 1}, Figures{Spans: 1})))
	assert.True(t, slices.Equal([]string{"v2 (deploy D2)", "v2", "deploy D2", "untagged"}, []string{
		versionLabel(variantKey{version: "v2", deployment: "D2"}), versionLabel(variantKey{version: "v2"}),
		versionLabel(variantKey{deployment: "D2"}), versionLabel(variantKey{}),
	}))
}

// TestVersionSpikeWithinFirstMinute: a deploy right after the evidence
// begins, in the same minute, is compared with what ran beside it.
func TestVersionSpikeWithinFirstMinute(t *testing.T) {
	spans := traffic("api", "v1", "A1", at(10, 0), at(10, 0, 30), 100*time.Millisecond, 40*time.Millisecond, nil)
	spans = append(spans, traffic("api", "v2", "A2", at(10, 0, 30), at(10, 1), 100*time.Millisecond, 900*time.Millisecond, nil)...)
	tl := build(t, Options{}, at(10, 0, 40), []incident.Event{deployEvent("A2", "api", "v2", ms(10, 0, 29, 900))}, spans...)
	require.NotNil(t, tl.Summary.FirstLatencyRegression)
	assert.Equal(t, at(10, 0, 30), tl.Summary.FirstLatencyRegression.Time)
	require.Len(t, tl.Suspects, 1)
	assert.Equal(t, ConfidenceHigh, tl.Suspects[0].Confidence)
	require.NotNil(t, tl.Summary.DetectionSeconds)
	assert.Equal(t, 10.0, *tl.Summary.DetectionSeconds)
}
