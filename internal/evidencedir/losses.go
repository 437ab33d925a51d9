package evidencedir

import "time"

// LossText is the one wording of a loss in human output: head says what is
// missing and why (e.g. "traces: 4800 items evicted from the ring"), then
// come the item times the loss covers, to the nanosecond, and the
// collector that names it, each when known:
// "<head>, item times A to B (collector C)".
func LossText(head string, from, to time.Time, collector string) string {
	s := head
	switch {
	case !from.IsZero() && !to.IsZero():
		s += ", item times " + from.UTC().Format(time.RFC3339Nano) + " to " + to.UTC().Format(time.RFC3339Nano)
	case !from.IsZero():
		s += ", item times from " + from.UTC().Format(time.RFC3339Nano)
	case !to.IsZero():
		s += ", item times up to " + to.UTC().Format(time.RFC3339Nano)
	}
	if collector != "" {
		s += " (collector " + collector + ")"
	}
	return s
}
