package cli

import (
	"fmt"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// lossReasons says, for people, why items are missing.
var lossReasons = map[string]string{
	bundle.LossRefusedBatch: "refused (the recorder could not keep their batch)",
	bundle.LossUnusableTime: "with an unusable time (zero, out of range, or too far from their arrival)",
	bundle.LossEvicted:      "evicted from the ring before they were frozen",
	bundle.LossRestart:      "lost when the collector restarted before freezing them",
	bundle.LossLate:         "arrived after the bundle's late-data period",
}

// lossText describes one loss: "traces: 4800 items evicted from the ring
// before they were frozen, item times 2026-03-01T12:00:01Z to ...".
func lossText(collector string, l bundle.Loss) string {
	why, ok := lossReasons[l.Reason]
	if !ok {
		why = "missing (" + l.Reason + ")"
	}
	n := "an unknown number of items"
	if l.Items > 0 {
		n = plural(int(l.Items), "item")
	}
	return evidencedir.LossText(fmt.Sprintf("%s: %s %s", l.Signal, n, why), l.From, l.To, collector)
}

// writeLosses prints one MISSING line per loss.
func writeLosses(out *textWriter, losses []evidencedir.CollectorLoss) {
	for _, l := range losses {
		out.printf("MISSING  %s\n", lossText(l.CollectorID, l.Loss))
	}
}

// lossItems sums the items of losses (unknown counts add nothing).
func lossItems(losses []evidencedir.CollectorLoss) int64 {
	var n int64
	for _, l := range losses {
		n += l.Items
	}
	return n
}

// losslessColumn is list's LOSSLESS cell: "yes", "no (N items)" or "?"
// when a collector does not record its losses.
func losslessColumn(known, lossless bool, losses []evidencedir.CollectorLoss) string {
	switch {
	case !known:
		return "?"
	case lossless:
		return "yes"
	}
	if n := lossItems(losses); n > 0 {
		return fmt.Sprintf("NO (%d items)", n)
	}
	return "NO"
}
