package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

// companionResult is a CPU run's result with per-round ratios to the
// companion for each configuration, and the cases that failed.
func companionResult(rounds map[perf.Variant]string, failed ...string) perf.Result {
	t := perf.Table{Title: cpuTableTitle, Header: []string{"config", "median", "vs baseline (median)", "per-round ratios"}}
	for _, v := range perf.Variants {
		if r, ok := rounds[v]; ok {
			t.Rows = append(t.Rows, []string{string(v), "5.00", "1.000x", r})
		}
	}
	return perf.Result{Section: "1-cpu", Title: "End-to-end CPU per million spans", Tables: []perf.Table{t}, Failed: failed}
}

func TestSameRounds(t *testing.T) {
	res := companionResult(map[perf.Variant]string{
		perf.VariantBaseline: "0.950, 1.000, 0.960",
		// Round 2 failed: its two ratios are rounds 1 and 3.
		perf.VariantRecord: "1.000, 1.008",
		perf.VariantFull:   "1.045, 1.100, 1.056",
	}, "record/round2")
	cur, err := currentCPU([]perf.Result{res})
	require.NoError(t, err)
	rs, err := sameRounds(cur, res.Failed)
	require.NoError(t, err)
	byName := map[string]sameRound{}
	for _, r := range rs {
		byName[r.name] = r
	}
	require.Contains(t, byName, "record")
	assert.InDeltaSlice(t, []float64{1.000 / 0.950, 1.008 / 0.960}, byName["record"].rounds, 1e-9)
	assert.InDelta(t, (1.000/0.950+1.008/0.960)/2, byName["record"].median, 1e-9)
	assert.InDeltaSlice(t, []float64{1.1, 1.1, 1.1}, byName["full"].rounds, 1e-9)
	assert.InDeltaSlice(t, []float64{1, 1, 1}, byName["baseline"].rounds, 1e-9)

	// The page: record's ratio to its companion (median 1.004) meets its
	// target, but not once the slot's bias in its rounds is taken out.
	md := report(t, res, options{})
	for _, want := range []string{
		"### Against the baseline's own ratio in the same round",
		"| record | 1.053, 1.050 | 1.051x | < 1.05x (adds < 5%) | **NO (missed)** |",
		"| full | 1.100, 1.100, 1.100 | 1.100x | <= 1.15x | yes |",
		"| CPU, incident_context level record (2 keys), over the baseline's own ratio in the same round | 1.051 x baseline | the baseline beside its own companion (median of its ratios) | 1 x baseline | 1.051x | < 1.05x (adds < 5%) | **NO (missed)** |",
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "| baseline | 1.000", "the baseline over itself says nothing")
}

func TestSameRoundsMismatch(t *testing.T) {
	// Three ratios, but a failed round: four rounds, which the baseline's
	// three cannot cover.
	res := companionResult(map[perf.Variant]string{
		perf.VariantBaseline: "1.000, 1.000, 1.000",
		perf.VariantRecord:   "1.000, 1.000, 1.000",
	}, "record/round4")
	cur, err := currentCPU([]perf.Result{res})
	require.NoError(t, err)
	_, err = sameRounds(cur, res.Failed)
	require.ErrorContains(t, err, "baseline: 3 per-round ratios for 4 rounds passed")
	assert.Contains(t, report(t, res, options{}), "**Not computed:** baseline: 3 per-round ratios for 4 rounds passed")

	// No baseline: nothing to divide by, and no error.
	rs, err := sameRounds([]cpuConfig{{name: "record", rounds: []float64{1}}}, nil)
	require.NoError(t, err)
	assert.Nil(t, rs)
}

// TestSameRoundsUseExactRatios: the table shows the per-round ratios to
// three decimals; the same-round reading divides the run's unrounded ones,
// which here put it on the other side of the target.
func TestSameRoundsUseExactRatios(t *testing.T) {
	res := companionResult(map[perf.Variant]string{
		perf.VariantBaseline: "1.034",
		perf.VariantRecord:   "1.086",
	})
	rounded, err := currentCPU([]perf.Result{res})
	require.NoError(t, err)
	rs, err := sameRounds(rounded, nil)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.Greater(t, rs[1].median, 1.05, "1.086 / 1.034 from the rounded table")

	res.RoundRatios = map[string][]float64{"baseline": {1.03442}, "record": {1.08571}}
	exact, err := currentCPU([]perf.Result{res})
	require.NoError(t, err)
	rs, err = sameRounds(exact, nil)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.InDelta(t, 1.08571/1.03442, rs[1].median, 1e-12)
	assert.Contains(t, report(t, res, options{}), "| CPU, incident_context level record (2 keys), over the baseline's own ratio in the same round | 1.05 x baseline | the baseline beside its own companion (median of its ratios) | 1.034 x baseline | 1.050x | < 1.05x (adds < 5%) | yes |")

	// Exact ratios that do not match the table's rounds are not used.
	res.RoundRatios = map[string][]float64{"record": {1.0, 1.0}}
	cur, err := currentCPU([]perf.Result{res})
	require.NoError(t, err)
	assert.Equal(t, []float64{1.086}, cur[1].rounds)
}
