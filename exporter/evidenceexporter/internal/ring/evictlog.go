package ring

import (
	"sort"
	"time"
)

// BlockInfo summarises a block: which block, when it arrived, the range of
// its item times and how many items it holds.
type BlockInfo struct {
	Seq              uint64
	Signal           Signal
	Arrival          time.Time
	MinTime, MaxTime time.Time
	Items            int64
}

// maxEvictLog bounds the eviction log (see Evicted) whatever MaxAge says.
const maxEvictLog = 1 << 18

// logEvictionLocked records an evicted block and drops the records that
// arrived more than MaxAge before now (or the oldest beyond maxEvictLog).
func (r *Ring) logEvictionLocked(m *meta, now int64) {
	r.evictLog.pushBack(BlockInfo{
		Seq: m.seq, Signal: m.signal, Arrival: fromUnixNano(m.arrival),
		MinTime: fromUnixNano(m.minT), MaxTime: fromUnixNano(m.maxT), Items: m.items,
	})
	r.pruneEvictLogLocked(now)
}

func (r *Ring) pruneEvictLogLocked(now int64) {
	for r.evictLog.len() > maxEvictLog {
		r.evictLogFloor = r.evictLog.popFront().Seq
	}
	if r.cfg.MaxAge <= 0 {
		return
	}
	cutoff := fromUnixNano(now - 2*int64(r.cfg.MaxAge))
	for r.evictLog.len() > 0 && r.evictLog.front().Arrival.Before(cutoff) {
		r.evictLogFloor = r.evictLog.popFront().Seq
	}
}

// Evicted returns the blocks with a sequence number in (after, upto] whose
// item times overlap [from, to] that the ring has evicted, oldest first,
// and whether the log still reaches back to after: records are kept for
// twice MaxAge after the block's arrival (and at most the newest 262,144),
// which a reader that comes back every flush interval never outruns.
func (r *Ring) Evicted(after, upto uint64, from, to time.Time) ([]BlockInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	complete := after >= r.evictLogFloor
	n := r.evictLog.len()
	i := sort.Search(n, func(i int) bool { return r.evictLog.at(i).Seq > after })
	var out []BlockInfo
	for ; i < n; i++ {
		b := *r.evictLog.at(i)
		if b.Seq > upto {
			break
		}
		if b.MaxTime.Before(from) || b.MinTime.After(to) {
			continue
		}
		out = append(out, b)
	}
	return out, complete
}

// Held returns a summary of every block the ring holds, oldest first, and
// the sequence number of the newest block ever appended (LastSeq), taken
// together.
func (r *Ring) Held() ([]BlockInfo, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]BlockInfo, r.blocks.len())
	for i := range out {
		m := r.blocks.at(i)
		out[i] = BlockInfo{
			Seq: m.seq, Signal: m.signal, Arrival: fromUnixNano(m.arrival),
			MinTime: fromUnixNano(m.minT), MaxTime: fromUnixNano(m.maxT), Items: m.items,
		}
	}
	return out, r.lastSeq
}
