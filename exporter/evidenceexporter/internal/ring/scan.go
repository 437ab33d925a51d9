package ring

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// Block is one stored batch, as visited by Scan.
type Block struct {
	// Seq is the block's sequence number.
	Seq uint64
	// Signal says what the payload holds.
	Signal Signal
	// Arrival is when the block was appended.
	Arrival time.Time
	// MinTime and MaxTime bound the item times inside the block.
	MinTime, MaxTime time.Time
	// Items is the number of spans, log records or data points.
	Items int
	// Exact is set for a traces or logs block that AppendTraces or
	// AppendLogs encoded and that is kept in memory, when every item had
	// a usable time and every resource and scope group an item: then
	// MinTime and MaxTime bound every item's time, and a reader may take
	// the block whole, unread, when they lie inside what it selects. A
	// disk ring's blocks are never exact: their bytes come back from
	// files.
	Exact bool
	// StoredBytes is the space the block takes in the ring.
	StoredBytes int64

	r   *Ring
	m   meta
	pin *scanPin // memory mode: the scan chunk that handed the block out
}

// Payload decompresses and returns the block's OTLP protobuf request bytes
// (ptrace/plog/pmetric ProtoUnmarshaler input). Inside the Scan callback it
// works unless the ring is closed meanwhile; afterwards it fails with
// ErrEvicted once the block was evicted (in disk mode: once the block's
// segment was evicted; in memory mode: as soon as the block is evicted,
// since its bytes in the arena are reused) and with ErrClosed once the ring
// is closed.
func (b Block) Payload() ([]byte, error) { return b.AppendPayload(nil) }

// AppendPayload is Payload appending to dst, to reuse buffers.
func (b Block) AppendPayload(dst []byte) ([]byte, error) {
	if b.r == nil {
		return nil, errors.New("ring: Payload called on a zero Block")
	}
	if b.m.seg == nil {
		return b.r.readMemory(b, dst)
	}
	bufp := b.r.getBuf()
	rec, err := b.r.readRecord(b, *bufp)
	defer b.r.putBuf(bufp, rec)
	if err != nil {
		return nil, err
	}
	return b.r.decompress(b, dst, rec[recordPrefix:])
}

// decompress appends the payload of b, compressed in src, to dst.
func (r *Ring) decompress(b Block, dst, src []byte) ([]byte, error) {
	out, err := r.codecs.decompress(dst, b.m.codec, src, b.m.rawLen)
	if err != nil {
		return nil, fmt.Errorf("ring: decompress block %d: %w", b.Seq, err)
	}
	return out, nil
}

// readRecord reads and verifies the record of a disk block into buf.
func (r *Ring) readRecord(b Block, buf []byte) ([]byte, error) {
	n := int(b.m.stored)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	rec := buf[:n]
	if _, err := b.m.seg.f.ReadAt(rec, b.m.off); err != nil {
		switch {
		case errors.Is(err, os.ErrClosed) && r.closed.Load():
			return rec, ErrClosed
		case errors.Is(err, os.ErrClosed):
			return rec, fmt.Errorf("%w: seq %d", ErrEvicted, b.Seq)
		}
		return rec, fmt.Errorf("ring: read block %d from segment %08d at offset %d: %w", b.Seq, b.m.seg.n, b.m.off, err)
	}
	length, crc, err := parseFrameHeader(rec)
	if err == nil && length != n-frameHeaderLen {
		err = fmt.Errorf("record length %d, index says %d", length, n-frameHeaderLen)
	}
	var h blockHeader
	if err == nil {
		h, err = parseRecordData(rec[frameHeaderLen:], crc)
	}
	if err == nil && h.seq != b.Seq {
		err = fmt.Errorf("record holds block %d", h.seq)
	}
	if err != nil {
		return rec, fmt.Errorf("ring: block %d in segment %08d at offset %d: %w", b.Seq, b.m.seg.n, b.m.off, err)
	}
	return rec, nil
}

// Scan chunking: the ring lock is held while at most scanExamine index
// entries are examined, and at most scanChunk blocks are handed to fn per
// lock acquisition, so Append is never held up for long.
const (
	scanChunk   = 256
	scanExamine = 8192
)

// Scan calls fn, in sequence order, for every block with a sequence number
// after afterSeq and up to LastSeq at the start of the call, whose
// [MinTime, MaxTime] overlaps [from, to] (a zero from or to leaves that side
// open). Blocks appended during the scan are not visited. Blocks evicted
// during the scan are skipped unless the scan already took them (up to 256
// at a time), in which case their payloads stay readable in fn (in memory
// mode, a taken block whose arena bytes are reused while fn runs has them
// copied to the heap first). Scan stops at the first error from fn and
// returns it.
//
// Scan runs concurrently with Append: it holds the ring's lock only briefly
// and never while fn runs. To read the ring incrementally without visiting a
// block twice, take upto := LastSeq(), call ScanRange(after, upto, ...) and
// continue from upto next time.
func (r *Ring) Scan(afterSeq uint64, from, to time.Time, fn func(b Block) error) error {
	return r.scan(afterSeq, 0, true, from, to, fn)
}

// ScanRange is Scan limited to sequence numbers in (afterSeq, uptoSeq]
// instead of (afterSeq, LastSeq()].
func (r *Ring) ScanRange(afterSeq, uptoSeq uint64, from, to time.Time, fn func(b Block) error) error {
	return r.scan(afterSeq, uptoSeq, false, from, to, fn)
}

func (r *Ring) scan(cursor, upto uint64, uptoLast bool, from, to time.Time, fn func(b Block) error) error {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	chunk := make([]meta, 0, scanChunk)
	var pin *scanPin
	if !r.disk {
		pin = &scanPin{}
	}
	first := true
	for {
		r.mu.Lock()
		if r.closed.Load() {
			r.mu.Unlock()
			return ErrClosed
		}
		if first {
			first = false
			r.evictLocked(r.cfg.Now().UnixNano())
			if uptoLast {
				upto = r.lastSeq
			}
		}
		n := r.blocks.len()
		i := r.blocks.search(func(m *meta) bool { return m.seq > cursor })
		done := false
		for examined := 0; len(chunk) < scanChunk && examined < scanExamine; examined++ {
			if i >= n || r.blocks.at(i).seq > upto {
				done = true
				break
			}
			m := r.blocks.at(i)
			i++
			cursor = m.seq
			if m.maxT >= lo && m.minT <= hi {
				if m.seg != nil {
					m.seg.refs++
				}
				chunk = append(chunk, *m)
			}
		}
		if pin != nil && len(chunk) > 0 {
			r.pinLocked(pin, chunk)
		}
		r.mu.Unlock()

		var err error
		for j := range chunk {
			blk := r.block(&chunk[j])
			blk.pin = pin
			if err = fn(blk); err != nil {
				break
			}
		}
		if pin != nil && len(chunk) > 0 {
			r.unpin(pin)
		}
		r.unpinChunk(chunk)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		clear(chunk)
		chunk = chunk[:0]
	}
}

func (r *Ring) block(m *meta) Block {
	return Block{
		Seq:         m.seq,
		Signal:      m.signal,
		Arrival:     fromUnixNano(m.arrival),
		MinTime:     fromUnixNano(m.minT),
		MaxTime:     fromUnixNano(m.maxT),
		Items:       int(m.items),
		Exact:       m.exact,
		StoredBytes: m.stored,
		r:           r,
		m:           *m,
	}
}

func (r *Ring) unpinChunk(chunk []meta) {
	if !r.disk || len(chunk) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range chunk {
		r.unpinLocked(chunk[i].seg)
	}
}
