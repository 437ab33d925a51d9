package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

// cpuTableTitle is the title of the end-to-end CPU table of test/perf's
// CPU run; this run's table is found by it among the results, and the
// previous run's in its BENCHMARKS.md.
const cpuTableTitle = "CPU seconds per 1M spans, by configuration"

// regressionLimit is the acceptance for the end-to-end CPU figures: a
// configuration's ratio to the baseline may grow by at most 5% against the
// previous committed run.
const regressionLimit = 1.05

// cpuConfig is one configuration's row of the CPU table.
type cpuConfig struct {
	name string
	// median is the median CPU seconds per 1M spans.
	median float64
	// ratio is the configuration's ratio to the same run's baseline: the
	// median of its per-round ratios in a run with baseline companions,
	// otherwise its median over the baseline's median.
	ratio float64
	// rounds are the per-round ratios (each round against its baseline
	// companion, or in an older run against the round's baseline run).
	rounds []float64
}

// isBaseline reports whether c is the baseline, the peer of every ratio.
func (c cpuConfig) isBaseline() bool { return c.name == string(perf.VariantBaseline) }

// baselineIndex returns the index of the baseline in cs, or -1.
func baselineIndex(cs []cpuConfig) int { return slices.IndexFunc(cs, cpuConfig.isBaseline) }

// previousRun is what the previous BENCHMARKS.md says about the CPU run.
type previousRun struct {
	// commit is the commit that run measured; load is the load average
	// line of its CPU section.
	commit, load string
	configs      []cpuConfig
}

// parsePrevious reads the CPU table of a BENCHMARKS.md that benchmd
// wrote.
func parsePrevious(md []byte) (*previousRun, error) {
	lines := strings.Split(strings.ReplaceAll(string(md), "\r\n", "\n"), "\n")
	prev := &previousRun{}
	inCPU := false
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(line, "| commit |"):
			if cells := splitRow(line); len(cells) == 2 {
				prev.commit = strings.Trim(cells[1], "`")
			}
		case strings.HasPrefix(line, "## "):
			inCPU = line == "## End-to-end CPU per million spans"
		case inCPU && strings.HasPrefix(line, "- load average:"):
			load := strings.TrimSpace(strings.TrimPrefix(line, "- load average:"))
			load, _, _ = strings.Cut(load, "; the run took")
			prev.load = load
		case line == "### "+cpuTableTitle:
			var header []string
			var rows [][]string
			for i++; i < len(lines); i++ {
				row := strings.TrimSpace(lines[i])
				if row == "" && header == nil {
					continue
				}
				if !strings.HasPrefix(row, "|") {
					break
				}
				cells := splitRow(row)
				switch {
				case header == nil:
					header = cells
				case isSeparator(cells):
				default:
					rows = append(rows, cells)
				}
			}
			configs, err := cpuConfigs(header, rows)
			if err != nil {
				return nil, fmt.Errorf("table %q: %w", cpuTableTitle, err)
			}
			prev.configs = configs
			return prev, nil
		}
	}
	return nil, fmt.Errorf("no table %q", cpuTableTitle)
}

// splitRow splits a Markdown table row into its cells, unescaping "\|".
func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func isSeparator(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, "-: ") != "" {
			return false
		}
	}
	return true
}

// cpuConfigs reads the configurations of a CPU table (the header and rows
// of test/perf's CPU run).
func cpuConfigs(header []string, rows [][]string) ([]cpuConfig, error) {
	col := func(name string) int { return slices.Index(header, name) }
	iName, iMedian, iRatio, iRounds := col("config"), col("median"), col("vs baseline (median)"), col("per-round ratios")
	if iName < 0 || iMedian < 0 || iRatio < 0 || iRounds < 0 {
		return nil, fmt.Errorf("header %q lacks config, median, vs baseline (median) or per-round ratios", header)
	}
	var out []cpuConfig
	var errs []error
	for _, row := range rows {
		if len(row) != len(header) {
			errs = append(errs, fmt.Errorf("row %q has %d cells, the header %d", row, len(row), len(header)))
			continue
		}
		c := cpuConfig{name: row[iName]}
		var err error
		if c.median, err = strconv.ParseFloat(row[iMedian], 64); err != nil {
			errs = append(errs, fmt.Errorf("%s: median: %w", c.name, err))
			continue
		}
		if c.ratio, err = strconv.ParseFloat(strings.TrimSuffix(row[iRatio], "x"), 64); err != nil {
			errs = append(errs, fmt.Errorf("%s: ratio: %w", c.name, err))
			continue
		}
		for r := range strings.SplitSeq(row[iRounds], ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: per-round ratio: %w", c.name, err))
				break
			}
			c.rounds = append(c.rounds, v)
		}
		out = append(out, c)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no configurations"))
	}
	return out, errors.Join(errs...)
}

// currentCPU returns the configurations of this run's CPU table, nil when
// the CPU run has no result.
func currentCPU(results []perf.Result) ([]cpuConfig, error) {
	for _, r := range results {
		for _, t := range r.Tables {
			if t.Title == cpuTableTitle {
				configs, err := cpuConfigs(t.Header, t.Rows)
				if err != nil {
					return nil, err
				}
				exactRounds(configs, r.RoundRatios)
				return configs, nil
			}
		}
	}
	return nil, nil
}

// exactRounds replaces the per-round ratios read from the table, rounded to
// three decimals, by the run's unrounded ones where it has them, and each
// configuration's ratio by their median: a ratio of two rounded ratios
// (the same-round reading) can land on the other side of a target.
func exactRounds(configs []cpuConfig, exact map[string][]float64) {
	for i, c := range configs {
		if r, ok := exact[c.name]; ok && len(r) == len(c.rounds) {
			configs[i].rounds = slices.Clone(r)
			configs[i].ratio = perf.Median(r)
		}
	}
}

// regression compares one configuration's ratio to the baseline in this
// run with the previous run's.
type regression struct {
	name      string
	prev, cur cpuConfig
	// havePrev is set when the previous run measured the configuration.
	havePrev bool
	// change is cur.ratio / prev.ratio.
	change float64
	// target is set for the configurations the acceptance covers; met
	// says whether change is within regressionLimit.
	target, met bool
}

// compareCPU pairs this run's configurations with the previous run's.
// "baseline" is the peer of every ratio and is left out; "plain" has no
// otel-evidence component and is shown without a target, as the noise
// floor of the comparison.
func compareCPU(prev, cur []cpuConfig) []regression {
	var out []regression
	for _, c := range cur {
		if c.isBaseline() {
			continue
		}
		r := regression{name: c.name, cur: c, target: c.name != string(perf.VariantPlain)}
		if i := slices.IndexFunc(prev, func(p cpuConfig) bool { return p.name == c.name }); i >= 0 && prev[i].ratio > 0 {
			r.prev, r.havePrev = prev[i], true
			r.change = c.ratio / prev[i].ratio
			r.met = r.change <= regressionLimit
		}
		out = append(out, r)
	}
	return out
}

// previousFigures are the summary rows of the comparison.
func previousFigures(prev *previousRun, cmp []regression) []perf.Figure {
	var out []perf.Figure
	for _, r := range cmp {
		if !r.havePrev {
			continue
		}
		f := perf.Figure{
			Name:      "CPU vs the previous committed run, " + r.name + " (ratio to the same run's baseline)",
			Value:     r.cur.ratio,
			Unit:      "x baseline",
			Peer:      "previous BENCHMARKS.md" + atCommit(prev.commit),
			PeerValue: r.prev.ratio,
			Ratio:     r.change,
		}
		if r.target {
			f.Target = "<= 1.05x (regresses at most 5%)"
			f.Met = perf.Met(r.met)
		} else {
			f.Note = "no otel-evidence component: the noise floor"
		}
		out = append(out, f)
	}
	return out
}

func atCommit(c string) string {
	if c == "" {
		return ""
	}
	return " at " + c
}

// comparison is what the report compares with the previous run: nil
// fields when there is nothing to compare.
type comparison struct {
	prev    *previousRun
	prevErr error
	cur     []cpuConfig
	// same is this run's ratios over the baseline's in the same round
	// (sameErr if they could not be matched).
	same    []sameRound
	sameErr error
}

// previousSection writes the comparison of this run's CPU ratios with the
// previous committed run's.
func previousSection(w *bytes.Buffer, c comparison) {
	prev, prevErr, cur := c.prev, c.prevErr, c.cur
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Against the previous committed run\n\n")
	switch {
	case prevErr != nil:
		p("**No comparison with the previous run:** %s\n\n", prevErr)
		return
	case prev == nil:
		p("No previous BENCHMARKS.md was given (`-previous`): nothing to compare with.\n\n")
		return
	}
	p("The acceptance: the end-to-end CPU figures do not regress by more than 5%% against the previous committed BENCHMARKS.md%s (its CPU run: load average %s). ",
		atCommit(prev.commit), orDash(prev.load))
	p("Each figure is a configuration's ratio to the baseline of the same run: the median of its per-round ratios to the baseline companion measured beside it in runs that have one (a \"baseline companion per round\" column), otherwise its median CPU per 1M spans divided by the baseline's median. Ratios to the same run's baseline are the fair comparison across runs: absolute CPU seconds move with the machine, its load and its clock, which the ratio of two configurations measured interleaved in one run largely cancels. ")
	p("A configuration whose ratio grew by more than 5%% is marked missed. \"plain\" has no otel-evidence component: its change is the noise floor of the comparison, and so are the spreads of the per-round ratios.\n\n")
	p("| config | previous ratio | previous per-round range | this run's ratio | this run's per-round range | change | within 5%% |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range compareCPU(prev.configs, cur) {
		if !r.havePrev {
			p("| %s | - | - | %s | %s | - | - (not in the previous run) |\n", cell(r.name), formatRatio(r.cur.ratio), roundsRange(r.cur.rounds))
			continue
		}
		met := "- (noise floor)"
		if r.target {
			met = "yes"
			if !r.met {
				met = "**NO (missed)**"
			}
		}
		p("| %s | %s | %s | %s | %s | %+.1f%% | %s |\n", cell(r.name), formatRatio(r.prev.ratio), roundsRange(r.prev.rounds),
			formatRatio(r.cur.ratio), roundsRange(r.cur.rounds), (r.change-1)*100, met)
	}
	var gone []string
	for _, c := range prev.configs {
		if !c.isBaseline() && !slices.ContainsFunc(cur, func(x cpuConfig) bool { return x.name == c.name }) {
			gone = append(gone, c.name)
		}
	}
	if len(gone) > 0 {
		p("\nNot measured in this run (PERF_VARIANTS): %s.\n", strings.Join(gone, ", "))
	}
	p("\n")
}

func roundsRange(r []float64) string {
	if len(r) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f-%.3f", slices.Min(r), slices.Max(r))
}
