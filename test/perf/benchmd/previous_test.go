package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

// TestParseCommittedBenchmarks reads the CPU table of the repository's
// BENCHMARKS.md, as scripts/bench.sh gives it with -previous, and checks
// what it read against the table's own figures. In a run with baseline
// companions each ratio is the median of the configuration's per-round
// ratios (each round's CPU per span over its companion's), and the
// baseline's rounds are the same configuration measured twice; in an
// older run each ratio is the configuration's median over the baseline's,
// rounded as printed, and the baseline's rounds are exactly 1.
func TestParseCommittedBenchmarks(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "..", "..", "BENCHMARKS.md"))
	require.NoError(t, err)
	prev, err := parsePrevious(md)
	require.NoError(t, err)
	assert.NotEmpty(t, prev.commit, "the commit measured")
	assert.NotEmpty(t, prev.load, "the CPU run's load average")
	companions := strings.Contains(string(md), "| baseline companion per round |")

	i := slices.IndexFunc(prev.configs, func(c cpuConfig) bool { return c.name == string(perf.VariantBaseline) })
	require.GreaterOrEqual(t, i, 0, "the baseline row")
	base := prev.configs[i]
	require.NotEmpty(t, base.rounds)
	for _, r := range base.rounds {
		if companions {
			assert.InDelta(t, 1.0, r, 0.25, "the baseline beside a copy of itself")
		} else {
			assert.InDelta(t, 1.0, r, 1e-9, "the baseline against itself")
		}
	}
	require.Greater(t, len(prev.configs), 1)
	// The page names the rounds that failed; those have no ratio.
	var failed []string
	for line := range strings.SplitSeq(string(md), "\n") {
		if rest, ok := strings.CutPrefix(line, "**Failed cases, left out below:** "); ok {
			rest, _, _ = strings.Cut(rest, ". See the run's output.")
			failed = append(failed, strings.Split(rest, ", ")...)
		}
	}
	rounds := totalRounds(prev.configs, failed)
	for _, c := range prev.configs {
		assert.Containsf(t, perf.Variants, perf.Variant(c.name), "%s is a configuration of the CPU run", c.name)
		assert.Lenf(t, c.rounds, rounds-failedRounds(c.name, failed), "%s: one ratio per round passed", c.name)
		if companions {
			// Ratios are printed with 3 decimals.
			assert.InDeltaf(t, perf.Median(c.rounds), c.ratio, 0.0005+1e-9, "%s: ratio %.3f, rounds %v", c.name, c.ratio, c.rounds)
			continue
		}
		// Medians are printed with 2 decimals, the ratio with 3.
		tol := c.ratio*(0.005/c.median+0.005/base.median) + 0.0005
		assert.InDeltaf(t, c.median/base.median, c.ratio, tol, "%s: ratio %.3f, medians %.2f / %.2f", c.name, c.ratio, c.median, base.median)
	}
}

func TestParsePrevious(t *testing.T) {
	md := "# Benchmarks\n\n| commit | `abc1234` |\n\n## End-to-end CPU per million spans\n\n- load average: 1.00 2.00 3.00 before, 4 5 6 after; the run took 1m0s\n\n" +
		"### " + cpuTableTitle + "\n\n" +
		"| config | pipeline | median | vs baseline (median) | per-round ratios |\n| --- | --- | --- | --- | --- |\n" +
		"| baseline | a \\| b | 2.00 | 1.000x | 1.000, 1.000 |\n" +
		"| full | otlp -> evidence | 3.00 | 1.500x | 1.400, 1.600 |\n\n" +
		"## Freeze latency\n\n- load average: not this one\n"
	prev, err := parsePrevious([]byte(md))
	require.NoError(t, err)
	assert.Equal(t, "abc1234", prev.commit)
	assert.Equal(t, "1.00 2.00 3.00 before, 4 5 6 after", prev.load)
	assert.Equal(t, []cpuConfig{
		{name: "baseline", median: 2, ratio: 1, rounds: []float64{1, 1}},
		{name: "full", median: 3, ratio: 1.5, rounds: []float64{1.4, 1.6}},
	}, prev.configs)

	_, err = parsePrevious([]byte("# Benchmarks\n"))
	require.ErrorContains(t, err, "no table")
	_, err = parsePrevious([]byte(strings.Replace(md, "3.00 |", "three |", 1)))
	require.ErrorContains(t, err, "full: median")
	_, err = parsePrevious([]byte(strings.Replace(md, "per-round ratios", "rounds", 1)))
	require.ErrorContains(t, err, "lacks")
}

// cpuResult is a CPU run's result with the given medians (CPU s per 1M
// spans) per configuration, one round.
func cpuResult(medians map[perf.Variant]float64) perf.Result {
	t := perf.Table{Title: cpuTableTitle, Header: []string{"config", "pipeline", "median", "vs baseline (median)", "per-round ratios"}}
	for _, v := range perf.Variants {
		m, ok := medians[v]
		if !ok {
			continue
		}
		r := m / medians[perf.VariantBaseline]
		t.Rows = append(t.Rows, []string{string(v), v.Describe(), fmt.Sprintf("%.2f", m), fmt.Sprintf("%.3fx", r), fmt.Sprintf("%.3f", r)})
	}
	return perf.Result{Section: "1-cpu", Title: "End-to-end CPU per million spans", Params: map[string]string{"measured": "test"}, Tables: []perf.Table{t}}
}

// report runs benchmd over one CPU result and returns the page.
func report(t *testing.T, res perf.Result, o options) string {
	t.Helper()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.Mkdir(results, 0o755))
	require.NoError(t, res.Write(results))
	o.results, o.out = results, filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, run(o))
	data, err := os.ReadFile(o.out)
	require.NoError(t, err)
	return string(data)
}

// TestCompareWithPrevious writes a report, then a second one with the
// first as -previous: each configuration's ratio to its own run's
// baseline is compared, and one that grew by more than 5% is missed,
// although every absolute figure of the second run is higher.
func TestCompareWithPrevious(t *testing.T) {
	first := report(t, cpuResult(map[perf.Variant]float64{
		perf.VariantPlain: 5.2, perf.VariantBaseline: 5.0, perf.VariantFull: 6.5, perf.VariantFreezing: 17.0, perf.VariantRecord: 6.0,
	}), options{commit: "aaa1111"})
	assert.Contains(t, first, "No previous BENCHMARKS.md was given")
	prevFile := filepath.Join(t.TempDir(), "previous.md")
	require.NoError(t, os.WriteFile(prevFile, []byte(first), 0o644))

	// A slower machine: everything costs 1.5x, and the full pipeline
	// 10% more than that relative to the baseline; freezing 4% more.
	second := report(t, cpuResult(map[perf.Variant]float64{
		perf.VariantPlain: 7.8, perf.VariantBaseline: 7.5, perf.VariantFull: 6.5 * 1.5 * 1.10, perf.VariantFreezing: 17.0 * 1.5 * 1.04,
		perf.VariantFileZstd: 10,
	}), options{commit: "bbb2222", previous: prevFile})
	for _, want := range []string{
		"### Against the previous committed run",
		"against the previous committed BENCHMARKS.md at aaa1111",
		"| plain | 1.040x | 1.040-1.040 | 1.040x | 1.040-1.040 | +0.0% | - (noise floor) |",
		"| full | 1.300x | 1.300-1.300 | 1.430x | 1.430-1.430 | +10.0% | **NO (missed)** |",
		"| freezing | 3.400x | 3.400-3.400 | 3.536x | 3.536-3.536 | +4.0% | yes |",
		"| file_zstd | - | - | 1.333x | 1.333-1.333 | - | - (not in the previous run) |",
		"Not measured in this run (PERF_VARIANTS): record.",
		"| CPU vs the previous committed run, full (ratio to the same run's baseline) | 1.43 x baseline | previous BENCHMARKS.md at aaa1111 | 1.3 x baseline | 1.100x | <= 1.05x (regresses at most 5%) | **NO (missed)** |",
		"| CPU vs the previous committed run, freezing (ratio to the same run's baseline) | 3.536 x baseline | previous BENCHMARKS.md at aaa1111 | 3.4 x baseline | 1.040x | <= 1.05x (regresses at most 5%) | yes |",
		"| CPU vs the previous committed run, plain (ratio to the same run's baseline) (no otel-evidence component: the noise floor) |",
	} {
		assert.Contains(t, second, want)
	}
	assert.NotContains(t, second, "Problem reading results")
	assert.NotContains(t, second, "Failed cases", "no case failed")

	// A previous page without the table is reported, not fatal.
	require.NoError(t, os.WriteFile(prevFile, []byte("# Benchmarks\n"), 0o644))
	third := report(t, cpuResult(map[perf.Variant]float64{perf.VariantBaseline: 1, perf.VariantFull: 1.2}), options{previous: prevFile})
	assert.Contains(t, third, "**No comparison with the previous run:** -previous "+prevFile+": no table")
	assert.NotContains(t, third, "CPU vs the previous committed run")

	err := run(options{previous: filepath.Join(t.TempDir(), "missing.md"), out: filepath.Join(t.TempDir(), "out.md")})
	require.ErrorContains(t, err, "-previous")
}

func TestRoundsRange(t *testing.T) {
	assert.Equal(t, "-", roundsRange(nil))
	assert.Equal(t, "0.942-1.085", roundsRange([]float64{1.058, 1.085, 0.942}))
}
