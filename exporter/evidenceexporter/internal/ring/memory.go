package ring

import (
	"fmt"
	"slices"
	"sync"
)

// storeLocked puts the compressed payload rec of the new block m into the
// memory arena: at the head if it fits before the arena's end, else at
// offset 0. It first evicts, oldest first, every block whose bytes the new
// one claims (when wrapping, the unused tail of the arena is claimed too, so
// that the arena keeps the blocks in sequence order). A block larger than the
// whole arena is kept on the heap instead; evictLocked then drops every
// older block, as MaxBytes demands.
func (r *Ring) storeLocked(m *meta, rec []byte) {
	n := len(rec)
	m.stored = int64(n)
	if n > len(r.arena) {
		m.data = append([]byte(nil), rec...)
		r.memBytes += m.stored
		return
	}
	if r.blocks.len() == 0 {
		r.head = 0
	}
	off, wrapFrom := r.head, len(r.arena)
	if off+n > len(r.arena) {
		off, wrapFrom = 0, off
	}
	for r.blocks.len() > 0 {
		f := r.blocks.front()
		if f.inArena() {
			// A zero-length block still counts as one byte, so that it
			// cannot stop the eviction of the blocks behind it.
			lo := int(f.off)
			hi := max(lo+int(f.stored), lo+1)
			if !overlaps(lo, hi, off, off+n) && !overlaps(lo, hi, wrapFrom, len(r.arena)) {
				break
			}
		}
		r.popLocked()
	}
	// Payload reads that checked their block before it was evicted above
	// (or earlier) may still be decoding from these bytes: wait for them.
	r.amu.Lock()
	copy(r.arena[off:off+n], rec)
	r.amu.Unlock()
	m.off = int64(off)
	r.head = off + n
	r.memBytes += m.stored
}

// overlaps reports whether [lo1, hi1) and [lo2, hi2) intersect.
func overlaps(lo1, hi1, lo2, hi2 int) bool { return lo1 < hi2 && lo2 < hi1 }

// scanPin marks the chunk of blocks a memory-mode scan has handed to its
// callback. When such a block is evicted while pinned, its compressed bytes
// are copied to the heap first, so that its payload stays readable in the
// callback (at most one chunk per running scan is ever copied).
type scanPin struct {
	chunk []meta // sorted by seq; read under Ring.mu while pinned

	mu      sync.Mutex
	rescued map[uint64][]byte // evicted pinned blocks' payloads, by seq
}

// pinnedLocked reports whether p's chunk holds block seq.
func (p *scanPin) pinnedLocked(seq uint64) bool {
	_, ok := slices.BinarySearchFunc(p.chunk, seq, func(m meta, s uint64) int {
		switch {
		case m.seq < s:
			return -1
		case m.seq > s:
			return 1
		}
		return 0
	})
	return ok
}

// rescue returns the copy of block seq's payload, nil if there is none.
func (p *scanPin) rescue(seq uint64) []byte {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rescued[seq]
}

// rescueLocked copies the payload of the arena block m, which is being
// evicted, to the pins of the scans holding it.
func (r *Ring) rescueLocked(m *meta) {
	if r.arena == nil {
		return
	}
	var cp []byte
	for _, p := range r.pins {
		if !p.pinnedLocked(m.seq) {
			continue
		}
		if cp == nil {
			cp = append([]byte(nil), r.arena[m.off:m.off+m.stored]...)
		}
		p.mu.Lock()
		if p.rescued == nil {
			p.rescued = make(map[uint64][]byte)
		}
		p.rescued[m.seq] = cp
		p.mu.Unlock()
	}
}

// pinLocked registers a scan's chunk (memory mode).
func (r *Ring) pinLocked(p *scanPin, chunk []meta) {
	p.chunk = chunk
	r.pins = append(r.pins, p)
}

// unpin releases a scan's chunk: blocks of it evicted since are gone for
// good.
func (r *Ring) unpin(p *scanPin) {
	r.mu.Lock()
	if i := slices.Index(r.pins, p); i >= 0 {
		r.pins = slices.Delete(r.pins, i, i+1)
	}
	p.chunk = nil
	r.mu.Unlock()
	p.mu.Lock()
	clear(p.rescued)
	p.mu.Unlock()
}

// readMemory decompresses the payload of a memory block into dst, straight
// from the arena while the block is live, else from the copy its scan made
// when it was evicted during the callback.
func (r *Ring) readMemory(b Block, dst []byte) ([]byte, error) {
	r.amu.RLock()
	defer r.amu.RUnlock()
	if r.arena == nil {
		return nil, ErrClosed
	}
	src := b.m.data
	if src == nil {
		if b.Seq > r.evicted.Load() {
			src = r.arena[b.m.off : b.m.off+b.m.stored]
		} else if src = b.pin.rescue(b.Seq); src == nil {
			return nil, fmt.Errorf("%w: seq %d", ErrEvicted, b.Seq)
		}
	}
	return r.decompress(b, dst, src)
}
