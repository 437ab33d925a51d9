package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Alert levels, most urgent first.
const (
	levelPage = iota
	levelTicket
	numLevels
)

var levelNames = [numLevels]string{levelPage: "page", levelTicket: "ticket"}

// condition is one compiled window pair of a level.
type condition struct {
	long, short int // indexes into sloSpec.durations
	factor      float64
}

// level is one compiled level of the policy.
type level struct {
	severity string
	open     bool
	conds    []condition
}

// sloSpec is the compiled, immutable evaluation plan of one SLO: the
// distinct window durations (the policy's, then the SLO period last), the
// bucket width of each, and the levels' conditions as indexes into them.
type sloSpec struct {
	durations []time.Duration // nominal (unscaled), for names
	widths    []int64         // scaled bucket widths in ns
	names     []string        // compact names: 5m, 1h, 3d
	period    int             // index of the period window
	budget    float64         // allowed bad ratio: 1 - objective/100
	objective float64         // as a ratio, 0.999
	buckets   int             // ring length
	levels    [numLevels]level
	// resolveAfter is policy.resolve_after, scaled.
	resolveAfter time.Duration
}

func newSpec(cfg *Config, s *SLOConfig) *sloSpec {
	sp := &sloSpec{
		budget:    1 - s.Objective/100,
		objective: s.Objective / 100,
		buckets:   cfg.BucketsPerWindow + 1,

		resolveAfter: time.Duration(float64(cfg.Policy.ResolveAfter) / cfg.TimeScale),
	}
	index := func(d time.Duration) int {
		if i := slices.Index(sp.durations, d); i >= 0 {
			return i
		}
		sp.durations = append(sp.durations, d)
		return len(sp.durations) - 1
	}
	for li, lc := range []*LevelConfig{levelPage: &cfg.Policy.Page, levelTicket: &cfg.Policy.Ticket} {
		lv := level{severity: lc.Severity, open: lc.OpenIncident}
		for _, w := range lc.Windows {
			lv.conds = append(lv.conds, condition{long: index(w.Long), short: index(w.Short), factor: w.BurnRate})
		}
		sp.levels[li] = lv
	}
	sp.period = index(s.Period)
	for _, d := range sp.durations {
		scaled := float64(d) / cfg.TimeScale
		sp.widths = append(sp.widths, max(int64(scaled/float64(cfg.BucketsPerWindow)), 1))
		sp.names = append(sp.names, durationName(d))
	}
	return sp
}

// evaluation is the outcome of evaluating one group at one instant.
type evaluation struct {
	good, bad []uint64  // per window
	burn      []float64 // per window; 0 without events
	holds     [numLevels]bool
	// cond is, per holding level, the first condition that holds.
	cond [numLevels]condition
}

// evaluate computes every window's counts and burn rate and which levels
// hold. A window without events has burn rate 0 and makes no condition
// hold (Prometheus' ratio would be NaN there, and NaN > x is false).
func (sp *sloSpec) evaluate(ws []*window, now int64) evaluation {
	ev := evaluation{
		good: make([]uint64, len(ws)),
		bad:  make([]uint64, len(ws)),
		burn: make([]float64, len(ws)),
	}
	for i, w := range ws {
		g, b := w.sums(now)
		ev.good[i], ev.bad[i] = g, b
		if g+b > 0 {
			ev.burn[i] = float64(b) / float64(g+b) / sp.budget
		}
	}
	for li := range sp.levels {
		for _, c := range sp.levels[li].conds {
			if ev.burn[c.long] > c.factor && ev.burn[c.short] > c.factor {
				ev.holds[li] = true
				ev.cond[li] = c
				break
			}
		}
	}
	return ev
}

// incidentLevel returns the most urgent holding level that opens
// incidents, or -1.
func (sp *sloSpec) incidentLevel(ev *evaluation) int {
	for li := range sp.levels {
		if ev.holds[li] && sp.levels[li].open {
			return li
		}
	}
	return -1
}

// budgetConsumed is the fraction of the period's error budget spent: bad
// events over the bad events the objective allows for the period's total.
func (sp *sloSpec) budgetConsumed(ev *evaluation) float64 {
	g, b := ev.good[sp.period], ev.bad[sp.period]
	if g+b == 0 {
		return 0
	}
	return float64(b) / (sp.budget * float64(g+b))
}

// durationName renders a window the way SLO tools name them: 5m, 1h, 3d,
// 30d (days when whole, else hours, minutes, seconds, then Go's form).
func durationName(d time.Duration) string {
	for _, u := range []struct {
		d      time.Duration
		suffix string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d >= u.d && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.suffix
		}
	}
	return d.String()
}

// formatRatio renders a float label value with four significant digits.
func formatRatio(f float64) string { return fmt.Sprintf("%.4g", f) }
