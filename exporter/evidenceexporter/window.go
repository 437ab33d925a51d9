package evidenceexporter

import "time"

// windowPolicy turns the window configuration into the bounds of one
// incident's evidence at a given moment.
//
// An incident opened at T has the window [T - before, end]:
//
//   - without extend_until_resolved, end = T + after;
//   - with it, while the incident is open the end is not known yet. Items up
//     to min(max(now, T + after), T + max) are certainly inside the window
//     (a resolution now would put the end at now + after), so they are
//     frozen as they arrive. On resolution at R, end = min(R + after, T + max),
//     but never earlier than what was already frozen: evidence is never
//     withdrawn, so a resolution that arrives late (R in the past) ends the
//     window at the last frozen bound. An incident still open at T + max
//     ends there.
//
// The bundle is complete once now >= end + grace, so data arriving up to
// grace late is still frozen.
type windowPolicy struct {
	before, after, max time.Duration
	extend             bool
	grace              time.Duration
}

// windowBounds is the state of one incident's window at one moment.
type windowBounds struct {
	// start is the window start, T - before.
	start time.Time
	// bound is how far the window is known to reach: items with a time in
	// [start, bound] belong to the bundle.
	bound time.Time
	// final reports that bound is the window end and the grace period is
	// over: the bundle can be completed.
	final bool
}

// bounds computes the window of an incident started at t. resolved is the
// resolution time, nil while the incident is open; frozen is the bound
// already frozen (zero before the first part).
func (p windowPolicy) bounds(t time.Time, resolved *time.Time, frozen, now time.Time) windowBounds {
	b := windowBounds{start: t.Add(-p.before)}
	switch {
	case !p.extend:
		b.bound = t.Add(p.after)
	case resolved != nil:
		b.bound = latest(resolved.Add(p.after), t.Add(p.after))
	default:
		b.bound = latest(now, t.Add(p.after))
	}
	if p.extend {
		b.bound = earliest(b.bound, t.Add(p.max))
	}
	// Never shrink below what is already frozen.
	b.bound = latest(b.bound, frozen)
	closed := !p.extend || resolved != nil || !now.Before(t.Add(p.max))
	b.final = closed && !now.Before(b.bound.Add(p.grace))
	return b
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
