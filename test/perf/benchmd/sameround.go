package main

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

// A CPU run's ratio is its collector's CPU over its baseline companion's.
// The two slots are not quite alike: the baseline's own ratio (the same
// configuration in both) shows by how much the measured slot was cheaper
// or dearer in each round. Dividing a configuration's ratio by the
// baseline's ratio of the same round cancels that bias where it holds for
// the whole round, at the price of the baseline run's own noise; the report
// gives both readings, and a target counts as met only if both meet it.

// sameRound is one configuration's per-round ratios over the baseline's
// own ratio in the same round, for the rounds both passed.
type sameRound struct {
	name   string
	rounds []float64
	median float64
}

// roundNumbers returns the numbers of the rounds a configuration passed:
// 1..total without those its failed cases ("<config>/round<N>") name.
func roundNumbers(name string, total int, failed []string) []int {
	var out []int
	for n := 1; n <= total; n++ {
		if !slices.Contains(failed, name+"/round"+strconv.Itoa(n)) {
			out = append(out, n)
		}
	}
	return out
}

// failedRounds counts the failed rounds of a configuration.
func failedRounds(name string, failed []string) int {
	n := 0
	for _, f := range failed {
		if c, r, ok := strings.Cut(f, "/round"); ok && c == name {
			if _, err := strconv.Atoi(r); err == nil {
				n++
			}
		}
	}
	return n
}

// totalRounds is the number of rounds the CPU run had: passed and failed
// rounds of the configuration that has the most.
func totalRounds(cur []cpuConfig, failed []string) int {
	total := 0
	for _, c := range cur {
		total = max(total, len(c.rounds)+failedRounds(c.name, failed))
	}
	return total
}

// sameRounds divides every configuration's per-round ratios by the
// baseline's in the same round. It returns nil without a baseline, and an
// error if a configuration's rounds cannot be matched to the baseline's.
func sameRounds(cur []cpuConfig, failed []string) ([]sameRound, error) {
	bi := baselineIndex(cur)
	if bi < 0 {
		return nil, nil
	}
	total := totalRounds(cur, failed)
	numbered := func(c cpuConfig) (map[int]float64, error) {
		ns := roundNumbers(c.name, total, failed)
		if len(ns) != len(c.rounds) {
			return nil, fmt.Errorf("%s: %d per-round ratios for %d rounds passed", c.name, len(c.rounds), len(ns))
		}
		m := make(map[int]float64, len(ns))
		for i, n := range ns {
			m[n] = c.rounds[i]
		}
		return m, nil
	}
	base, err := numbered(cur[bi])
	if err != nil {
		return nil, err
	}
	var out []sameRound
	for _, c := range cur {
		rounds, err := numbered(c)
		if err != nil {
			return nil, err
		}
		s := sameRound{name: c.name, rounds: perf.SameRoundRatios(rounds, base)}
		if len(s.rounds) == 0 {
			continue
		}
		s.median = perf.Median(s.rounds)
		out = append(out, s)
	}
	return out, nil
}

// sameRoundFigures are the summary rows of the configurations with a
// target.
func sameRoundFigures(rs []sameRound, cur []cpuConfig) []perf.Figure {
	var baseRatio float64
	if i := baselineIndex(cur); i >= 0 {
		baseRatio = cur[i].ratio
	}
	var out []perf.Figure
	for _, r := range rs {
		cf, ok := perf.CPUFigures[perf.Variant(r.name)]
		if !ok || cf.Limit == 0 {
			continue
		}
		out = append(out, perf.Figure{
			Name:      cf.Name + ", over the baseline's own ratio in the same round",
			Value:     r.median,
			Unit:      "x baseline",
			Peer:      "the baseline beside its own companion (median of its ratios)",
			PeerValue: baseRatio,
			Ratio:     r.median,
			Target:    cf.Target,
			Met:       perf.Met(r.median <= cf.Limit),
		})
	}
	return out
}

// sameRoundSection writes the table of every configuration's same-round
// ratios.
func sameRoundSection(w *bytes.Buffer, rs []sameRound, err error) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Against the baseline's own ratio in the same round\n\n")
	if err != nil {
		p("**Not computed:** %s\n\n", cell(err.Error()))
		return
	}
	if len(rs) == 0 {
		p("The baseline did not run: nothing to divide by.\n\n")
		return
	}
	p("Each configuration's ratio to its companion, divided by the baseline's own ratio to its companion in the same round. The baseline's ratio should be 1: where it is not, the measured slot was cheaper (below 1) or dearer than the companion's in that round, and the division takes that out of the other configurations' figures. A target is met only if both this reading and the ratio to the companion meet it.\n\n")
	p("| config | per-round ratios over the baseline's | median | target | met |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		if r.name == string(perf.VariantBaseline) {
			continue
		}
		vals := make([]string, len(r.rounds))
		for i, v := range r.rounds {
			vals[i] = fmt.Sprintf("%.3f", v)
		}
		target, met := "-", "-"
		if cf, ok := perf.CPUFigures[perf.Variant(r.name)]; ok && cf.Limit > 0 {
			target, met = cf.Target, "yes"
			if r.median > cf.Limit {
				met = "**NO (missed)**"
			}
		}
		p("| %s | %s | %s | %s | %s |\n", cell(r.name), strings.Join(vals, ", "), formatRatio(r.median), cell(target), met)
	}
	p("\n")
}
