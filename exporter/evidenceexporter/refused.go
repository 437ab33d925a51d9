package evidenceexporter

import (
	"sync"
	"time"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// refusedBatch is a batch the ring could not keep (see
// evidenceExporter.dropped): its items are named as a refused_batch loss
// by every incident whose window its item times (or, without any, its
// arrival) overlap, counted whole.
type refusedBatch struct {
	id       uint64
	signal   ring.Signal
	items    int64
	min, max time.Time
}

// maxRefused bounds the refused batches kept in memory for the flushes.
const maxRefused = 4096

// refusedLog holds the recent refused batches, oldest first.
type refusedLog struct {
	mu      sync.Mutex
	lastID  uint64
	batches []refusedBatch
}

func (l *refusedLog) add(sig ring.Signal, items int, minT, maxT, arrival time.Time) {
	if minT.IsZero() {
		minT, maxT = arrival, arrival
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastID++
	l.batches = append(l.batches, refusedBatch{id: l.lastID, signal: sig, items: int64(items), min: minT, max: maxT})
	if len(l.batches) > maxRefused {
		l.batches = l.batches[len(l.batches)-maxRefused:]
	}
}

// since returns the losses of window [start, end] among the batches
// refused after id after, and the newest id.
func (l *refusedLog) since(after uint64, start, end time.Time) ([]bundle.Loss, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []bundle.Loss
	for _, b := range l.batches {
		if b.id <= after || b.max.Before(start) || b.min.After(end) {
			continue
		}
		out = bundle.MergeLosses(out, bundle.Loss{
			Signal: b.signal.String(), Reason: bundle.LossRefusedBatch, Items: b.items,
			From: latest(b.min, start), To: earliest(b.max, end),
		})
	}
	return out, l.lastID
}
