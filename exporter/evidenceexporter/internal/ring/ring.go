// Package ring is the rolling telemetry buffer of the evidence exporter: it
// holds the most recent traces, logs and metrics as compressed OTLP protobuf
// blocks, indexed by arrival order (a sequence number) and by the time range
// of the items inside, so that a window around an incident can be frozen
// later.
//
// A ring lives in memory or, with Config.Directory set, in numbered segment
// files on disk that survive restarts. It is bounded by bytes and by age: an
// Append never blocks for long and never fails because the ring is full; it
// evicts the oldest blocks instead and counts what it evicted.
//
// # Memory arena
//
// A memory ring keeps its compressed payloads in one arena of
// Config.MaxBytes bytes used as a circular byte buffer. On Linux the arena is
// an anonymous mapping outside the Go heap: the garbage collector neither
// scans nor counts it, so a full ring costs MaxBytes of resident memory
// instead of the about twice as much that a heap holding it would grow to
// (GOGC=100). Payload reads decode straight from the arena under a read
// lock and fail with ErrEvicted once the block's bytes may be reused; the
// blocks a Scan has handed to its callback are copied out before their
// bytes are overwritten, so they stay readable there.
//
// # Disk format and durability
//
// Segments are files named "%08d" in the directory, written append-only and
// cut when the next record would exceed Config.SegmentSize. A record is a
// frame header (type, length, CRC32C of the data) followed by a block header
// and the compressed payload; see record.go. Every Append writes its record
// with a single write call before it returns, so a process crash loses
// nothing that Append acknowledged. Segments are fsynced when they are cut
// (in the background) and at Close, so a machine crash or power loss can lose
// the records of the current segment written since it was opened. At Open,
// every intact record is kept; the first bad record (bad checksum, bad
// length, torn tail, unknown type) truncates its segment there and drops the
// later segments. Corruption is logged, counted in Stats and returned by
// Corruptions; it never fails Open.
package ring // import "github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// meta is the index entry of one block.
type meta struct {
	seq     uint64
	arrival int64
	minT    int64
	maxT    int64
	items   int64
	stored  int64
	rawLen  int
	signal  Signal
	codec   codec
	exact   bool     // see Block.Exact
	data    []byte   // memory mode: the compressed payload of a block larger than the arena
	seg     *segment // disk mode: the segment holding the record
	off     int64    // disk mode: offset of the record in seg; memory mode: offset of the payload in the arena
}

// inArena reports whether m's payload lives in the memory arena.
func (m *meta) inArena() bool { return m.seg == nil && m.data == nil }

// minEntry tracks the minimum item time over the index (a monotonic queue).
type minEntry struct {
	seq  uint64
	minT int64
}

// Ring is a bounded buffer of telemetry blocks. All methods are safe for
// concurrent use.
type Ring struct {
	cfg    Config
	logger *zap.Logger
	codecs *codecs
	disk   bool
	bufs   sync.Pool // *[]byte scratch buffers for compression and reads
	// spare keeps a few scratch buffers across garbage collections, which
	// empty bufs: a batch's buffers are megabytes that append would
	// otherwise grow again from 64 KiB, copying and clearing as it goes.
	spare  chan *[]byte
	wg     sync.WaitGroup
	closed atomic.Bool

	mu          sync.Mutex
	blocks      deque[meta]
	mins        deque[minEntry]
	lastSeq     uint64
	lastArrival int64
	stats       [NumSignals]SignalStats
	memBytes    int64
	// evictLog records the evicted blocks (see Evicted); evictLogFloor is
	// the newest sequence number evicted without a record (before Open, or
	// dropped from the log).
	evictLog      deque[BlockInfo]
	evictLogFloor uint64

	// Memory mode. The arena field and the arena's bytes are written only
	// with both mu and amu held, and read with mu or amu.RLock held. evicted is the sequence
	// number of the newest evicted block (eviction is oldest first): a block
	// with a sequence number up to it may be overwritten once amu is free.
	arena     []byte
	freeArena func() error
	head      int        // arena offset after the newest block
	pins      []*scanPin // chunks handed out by running scans
	amu       sync.RWMutex
	evicted   atomic.Uint64

	// Disk mode.
	segs           []*segment // oldest first; the last one is active
	active         *segment
	diskBytes      int64
	needCut        bool
	corruptRecords int64
	corruptBytes   int64
	corruptions    []CorruptionError
}

// Open returns a ring for cfg. In disk mode it creates the directory if
// needed, loads the existing segments and repairs them (see the package
// documentation); sequence numbers continue after the newest loaded block.
func Open(cfg Config, logger *zap.Logger) (*Ring, error) {
	cd, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	codecs, err := newCodecs(cd)
	if err != nil {
		return nil, err
	}
	r := &Ring{cfg: cfg, logger: logger, codecs: codecs, disk: cfg.Directory != "", spare: make(chan *[]byte, spareBufs)}
	r.bufs.New = func() any {
		b := make([]byte, 0, 64<<10)
		return &b
	}
	if r.disk {
		if err := r.load(); err != nil {
			r.closeSegments()
			return nil, err
		}
	} else {
		size, err := arenaSize(cfg.MaxBytes)
		if err != nil {
			return nil, err
		}
		if r.arena, r.freeArena, err = newArena(size); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	// Whatever was evicted before Open is not in the log.
	r.evictLogFloor = r.lastSeq
	if r.blocks.len() > 0 {
		r.evictLogFloor = r.blocks.front().seq - 1
	}
	r.evictLocked(r.cfg.Now().UnixNano())
	r.mu.Unlock()
	return r, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }

// Append compresses payload (the OTLP protobuf request bytes of one batch)
// and stores it as a block whose items' times lie in [minT, maxT]. A zero
// minT or maxT takes the other's value; if both are zero the block's range is
// its arrival time. Append returns the block's sequence number, which
// increases by one per block (and continues after a restart in disk mode).
//
// Append evicts the oldest blocks as needed and never fails because the ring
// is full; it fails on invalid arguments, when the ring is closed or when
// the disk write fails. Arrival times come from Config.Now and never go
// backwards. In memory mode, Append waits for the payload reads in progress
// (at most one block's decompression each) before it reuses arena bytes.
func (r *Ring) Append(sig Signal, payload []byte, minT, maxT time.Time, items int) (uint64, error) {
	blk, err := r.append(sig, payload, minT, maxT, items, false, false)
	return blk.seq, err
}

// append is Append, returning the index entry of the new block (without
// its payload); withArrival widens the block's time range to its arrival
// time (a block holding items with unusable times, see Usable), and exact
// says that the payload is the encoder's, with a usable time for every
// item and an item in every group (see Block.Exact).
func (r *Ring) append(sig Signal, payload []byte, minT, maxT time.Time, items int, withArrival, exact bool) (meta, error) {
	if !sig.valid() {
		return meta{}, fmt.Errorf("ring: unknown signal %d", sig)
	}
	if items < 0 || uint64(items) > math.MaxUint32 {
		return meta{}, fmt.Errorf("ring: items must be in 0..%d, got %d", uint32(math.MaxUint32), items)
	}
	if len(payload) > maxRawSize {
		return meta{}, fmt.Errorf("ring: payload of %d bytes exceeds the limit of %d bytes", len(payload), maxRawSize)
	}
	lo, hi := unixNano(minT), unixNano(maxT)
	if lo != 0 && hi != 0 && lo > hi {
		return meta{}, fmt.Errorf("ring: minT %s is after maxT %s", minT, maxT)
	}
	if r.closed.Load() {
		return meta{}, ErrClosed
	}

	bufp := r.getBuf()
	prefix := 0
	if r.disk {
		prefix = recordPrefix
	}
	rec := r.codecs.compress((*bufp)[:prefix], payload)
	defer r.putBuf(bufp, rec)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return meta{}, ErrClosed
	}
	now := r.cfg.Now().UnixNano()
	arrival := max(now, r.lastArrival)
	switch {
	case lo == 0 && hi == 0:
		lo, hi = arrival, arrival
	case lo == 0:
		lo = hi
	case hi == 0:
		hi = lo
	}
	if withArrival {
		lo, hi = min(lo, arrival), max(hi, arrival)
	}
	m := meta{
		seq:     r.lastSeq + 1,
		arrival: arrival,
		minT:    lo,
		maxT:    hi,
		items:   int64(items),
		rawLen:  len(payload),
		signal:  sig,
		codec:   r.codecs.write,
		exact:   exact && !r.disk,
	}
	if r.disk {
		putRecordPrefix(rec, blockHeader{
			signal: sig, codec: m.codec, seq: m.seq, arrival: arrival,
			minT: lo, maxT: hi, items: uint32(items), rawLen: uint32(len(payload)),
		})
		if err := r.writeLocked(&m, rec); err != nil {
			return meta{}, err
		}
	} else {
		r.storeLocked(&m, rec)
	}
	r.lastSeq, r.lastArrival = m.seq, arrival
	r.pushLocked(m)
	r.evictLocked(now)
	return m, nil
}

// Scratch buffers: spareBufs of at most maxSpareBuf bytes each are kept
// for good (an append uses two at a time); buffers up to maxPooledBuf go to
// the sync.Pool, which drops them at the next garbage collections; larger
// ones are dropped at once.
const (
	spareBufs    = 4
	maxSpareBuf  = 4 << 20
	maxPooledBuf = 16 << 20
)

func (r *Ring) getBuf() *[]byte {
	select {
	case b := <-r.spare:
		return b
	default:
		return r.bufs.Get().(*[]byte)
	}
}

// putBuf returns a scratch buffer (grown to b) to the spares or the pool
// unless it grew too large to be worth keeping.
func (r *Ring) putBuf(bufp *[]byte, b []byte) {
	if cap(b) > maxPooledBuf {
		return
	}
	*bufp = b[:0]
	if cap(b) <= maxSpareBuf {
		select {
		case r.spare <- bufp:
			return
		default:
		}
	}
	r.bufs.Put(bufp)
}

func (r *Ring) pushLocked(m meta) {
	for r.mins.len() > 0 && r.mins.back().minT >= m.minT {
		r.mins.popBack()
	}
	r.mins.pushBack(minEntry{seq: m.seq, minT: m.minT})
	s := &r.stats[m.signal]
	s.Blocks++
	s.Items += m.items
	s.Bytes += m.stored
	if m.seg != nil {
		m.seg.live++
	}
	r.blocks.pushBack(m)
}

// popLocked evicts the oldest block.
func (r *Ring) popLocked() {
	m := r.blocks.popFront()
	if r.mins.len() > 0 && r.mins.front().seq == m.seq {
		r.mins.popFront()
	}
	s := &r.stats[m.signal]
	s.Blocks--
	s.Items -= m.items
	s.Bytes -= m.stored
	s.EvictedBlocks++
	s.EvictedItems += m.items
	s.EvictedBytes += m.stored
	r.logEvictionLocked(&m, r.lastArrival)
	if m.seg == nil {
		r.memBytes -= m.stored
		if m.inArena() {
			r.rescueLocked(&m)
		}
		r.evicted.Store(m.seq)
		return
	}
	m.seg.live--
	if m.seg.live == 0 && m.seg != r.active {
		r.dropSegmentLocked(m.seg)
	}
}

// evictLocked enforces MaxAge and MaxBytes.
func (r *Ring) evictLocked(now int64) {
	if r.cfg.MaxAge > 0 {
		cutoff := now - int64(r.cfg.MaxAge)
		for r.blocks.len() > 0 && r.blocks.front().arrival < cutoff {
			r.popLocked()
		}
	}
	if !r.disk {
		for r.memBytes > r.cfg.MaxBytes && r.blocks.len() > 1 {
			r.popLocked()
		}
		return
	}
	for r.diskBytes > r.cfg.MaxBytes && len(r.segs) > 1 {
		oldest := r.segs[0]
		for r.blocks.len() > 0 && r.blocks.front().seg == oldest {
			r.popLocked() // drops the segment with its last block
		}
		if len(r.segs) > 0 && r.segs[0] == oldest {
			r.dropSegmentLocked(oldest)
		}
	}
}

// LastSeq returns the sequence number of the newest block, 0 if none was
// ever appended.
func (r *Ring) LastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastSeq
}

// Stats returns a snapshot of the ring's counters.
func (r *Ring) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{
		Signals:        r.stats,
		DiskBytes:      r.diskBytes,
		Segments:       len(r.segs),
		CorruptRecords: r.corruptRecords,
		CorruptBytes:   r.corruptBytes,
		LastSeq:        r.lastSeq,
	}
	if r.blocks.len() > 0 {
		st.Oldest = fromUnixNano(r.blocks.front().arrival)
		st.OldestItemTime = fromUnixNano(r.mins.front().minT)
	}
	return st
}

// Lookback returns how far back from now the ring can currently see
// completely: now minus the arrival time of the oldest held block, capped at
// MaxAge. Eviction is oldest-arrival first, so every item whose own time is
// at or after now-Lookback (and which did not arrive before its own time) is
// still held; older items may be held partially (see
// Stats.OldestItemTime). An empty ring sees nothing and returns 0.
func (r *Ring) Lookback(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.blocks.len() == 0 {
		return 0
	}
	d := time.Duration(now.UnixNano() - r.blocks.front().arrival)
	if r.cfg.MaxAge > 0 {
		d = min(d, r.cfg.MaxAge)
	}
	return max(d, 0)
}

// Corruptions returns the corruption repaired when the ring was opened.
func (r *Ring) Corruptions() []CorruptionError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CorruptionError(nil), r.corruptions...)
}

// Close releases the ring. In disk mode it fsyncs and closes the segments;
// the data stays for the next Open. In memory mode it unmaps the arena.
// Payloads of blocks read after Close fail with ErrClosed (in disk mode,
// with ErrEvicted for blocks evicted before Close).
func (r *Ring) Close() error {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	r.wg.Wait() // background syncs of cut segments

	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.active != nil {
		if err := r.active.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("ring: sync segment %08d: %w", r.active.n, err))
		}
		if r.active.size == 0 {
			// Nothing was written to it: do not leave an empty file behind.
			r.segs = r.segs[:len(r.segs)-1]
			_ = r.active.f.Close()
			if err := os.Remove(r.active.path); err != nil {
				errs = append(errs, fmt.Errorf("ring: remove empty segment %08d: %w", r.active.n, err))
			}
		}
	}
	r.closeSegments()
	if r.arena != nil {
		// Wait for payload reads in progress; later ones see a nil arena.
		r.amu.Lock()
		r.arena = nil
		if err := r.freeArena(); err != nil {
			errs = append(errs, err)
		}
		r.amu.Unlock()
	}
	return errors.Join(errs...)
}
