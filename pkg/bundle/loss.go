package bundle

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Reasons why evidence a bundle should hold is missing (Loss.Reason).
const (
	// LossRefusedBatch: the recorder could not keep a batch at all (its
	// encoding or the ring's disk write failed, or it arrived while the
	// recorder was shutting down).
	LossRefusedBatch = "refused_batch"
	// LossUnusableTime: items that arrived during the window with a time no
	// window can hold (zero, beyond the int64 nanosecond range, or too far
	// from their arrival); they are never frozen by their own time.
	LossUnusableTime = "unusable_time"
	// LossEvicted: the ring dropped the items (buffer.max_bytes or
	// buffer.max_age) before they were frozen.
	LossEvicted = "evicted"
	// LossRestart: the items were held in a memory ring by a collector
	// process that ended before it froze them.
	LossRestart = "restart"
	// LossLate: the items arrived after the bundle was complete and after
	// its late-data period, so no part could take them.
	LossLate = "late"
)

// Signals a Loss names.
const (
	SignalTraces  = "traces"
	SignalLogs    = "logs"
	SignalMetrics = "metrics"
)

// Loss is what a bundle or part is known to lack: Items of one signal,
// missing for one reason, whose own times lie in [From, To] where known
// (zero when unknown). Items is zero when the number is not known (a
// restart of a collector whose ring held the items in memory).
type Loss struct {
	Signal string    `json:"signal"`
	Reason string    `json:"reason"`
	Items  int64     `json:"items"`
	From   time.Time `json:"from,omitzero"`
	To     time.Time `json:"to,omitzero"`
}

func (l Loss) validate() error {
	switch l.Signal {
	case SignalTraces, SignalLogs, SignalMetrics:
	default:
		return fmt.Errorf("'signal' must be %q, %q or %q, got %q", SignalTraces, SignalLogs, SignalMetrics, l.Signal)
	}
	if !isReason(l.Reason) {
		return fmt.Errorf("'reason' must be a snake_case word, got %q", l.Reason)
	}
	if l.Items < 0 {
		return errors.New("'items' must not be negative")
	}
	if !l.From.IsZero() && !l.To.IsZero() && l.To.Before(l.From) {
		return fmt.Errorf("'to' %s is before 'from' %s", l.To, l.From)
	}
	return nil
}

// isReason accepts short snake_case words, so that readers of a newer
// bundle show reasons they do not know yet.
func isReason(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '_' || s[len(s)-1] == '_' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// MergeLosses adds add to ls: a loss of the same signal and reason as one
// listed is summed into it (items added, time ranges joined), a new one is
// appended. The result is sorted by signal and reason; ls is not modified.
func MergeLosses(ls []Loss, add ...Loss) []Loss {
	out := slices.Clone(ls)
	for _, a := range add {
		a.From, a.To = normalizeTime(a.From), normalizeTime(a.To)
		i := slices.IndexFunc(out, func(l Loss) bool { return l.Signal == a.Signal && l.Reason == a.Reason })
		if i < 0 {
			out = append(out, a)
			continue
		}
		l := &out[i]
		l.Items += a.Items
		r := TimeRange{Min: l.From, Max: l.To}
		r.Extend(a.From)
		r.Extend(a.To)
		l.From, l.To = r.Min, r.Max
	}
	slices.SortFunc(out, func(a, b Loss) int {
		return cmp.Or(cmp.Compare(a.Signal, b.Signal), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// validateLosses checks the losses of a manifest or part.json of the given
// format against its lossless flag.
func validateLosses(format int, lossless bool, ls []Loss) error {
	if format < lossFormat {
		if lossless || len(ls) > 0 {
			return fmt.Errorf("'lossless' and 'losses' appear in format %d, which has neither", format)
		}
		return nil
	}
	for i, l := range ls {
		if err := l.validate(); err != nil {
			return fmt.Errorf("'losses[%d]': %w", i, err)
		}
	}
	if lossless != (len(ls) == 0) {
		return fmt.Errorf("'lossless' is %t with %d losses", lossless, len(ls))
	}
	return nil
}

// lossFormat is the first format with 'lossless' and 'losses'.
const lossFormat = 2

// LossesKnown reports whether the manifest records its losses: a manifest
// of format 1 predates the field, so its losses are unknown (not none).
func (m *Manifest) LossesKnown() bool { return m.Format >= lossFormat }

// LossesKnown reports whether part.json records its losses (format 2 on).
func (p *PartInfo) LossesKnown() bool { return p.Format >= lossFormat }

// AddLosses records losses in the manifest (see MergeLosses).
func (m *Manifest) AddLosses(ls ...Loss) { m.Losses = MergeLosses(m.Losses, ls...) }

// AddLosses records what the part lacks; Finish writes it into part.json.
func (w *PartWriter) AddLosses(ls ...Loss) { w.info.Losses = MergeLosses(w.info.Losses, ls...) }
