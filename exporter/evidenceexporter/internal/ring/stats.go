package ring

import (
	"time"
)

// SignalStats counts the blocks of one signal.
type SignalStats struct {
	// Blocks, Items and Bytes are held now. Bytes are stored bytes (see
	// Config.MaxBytes).
	Blocks, Items, Bytes int64
	// EvictedBlocks, EvictedItems and EvictedBytes were dropped by eviction
	// since Open.
	EvictedBlocks, EvictedItems, EvictedBytes int64
}

func (s *SignalStats) add(o SignalStats) {
	s.Blocks += o.Blocks
	s.Items += o.Items
	s.Bytes += o.Bytes
	s.EvictedBlocks += o.EvictedBlocks
	s.EvictedItems += o.EvictedItems
	s.EvictedBytes += o.EvictedBytes
}

// Stats is a snapshot of a ring's state.
type Stats struct {
	// Signals is indexed by Signal.
	Signals [NumSignals]SignalStats
	// DiskBytes is the size of the live segment files (disk mode only).
	DiskBytes int64
	// Segments is the number of live segment files (disk mode only).
	Segments int
	// CorruptRecords and CorruptBytes were dropped when the ring was opened:
	// the first bad record plus the records found in later segments count as
	// records, and every truncated or deleted byte counts as bytes.
	CorruptRecords, CorruptBytes int64
	// Oldest is the arrival time of the oldest held block; zero if empty.
	Oldest time.Time
	// OldestItemTime is the earliest item time in any held block; zero if
	// empty.
	OldestItemTime time.Time
	// LastSeq is the sequence number of the newest block.
	LastSeq uint64
}

// Total sums the per-signal counters.
func (s Stats) Total() SignalStats {
	var t SignalStats
	for i := range s.Signals {
		t.add(s.Signals[i])
	}
	return t
}
