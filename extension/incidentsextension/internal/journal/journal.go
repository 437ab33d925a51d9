// Package journal is the incidents extension's local write-ahead journal:
// the registry's changes are durable on local disk before they are acted
// on, whether or not the evidence store is reachable.
//
// The layout follows Prometheus' tsdb/wlog: a directory of numbered
// segments (%08d), each a sequence of records framed as
//
//	type (1 byte) | length (4 bytes, little endian) | CRC32C of type and payload (4 bytes) | payload
//
// Appends are fsync'd before they return. Open reads every segment; at the
// first record that is torn, short or fails its checksum it truncates that
// segment there and removes the segments after it, keeping every intact
// record before it, and reports the damage as a *CorruptionError: a
// damaged journal never stops the collector from starting.
package journal // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/journal"

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

const (
	headerSize = 9
	// DefaultSegmentSize is the size past which appends go to a new segment.
	DefaultSegmentSize = 8 << 20
	// MaxRecordSize bounds one record's payload.
	MaxRecordSize = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one journal record.
type Record struct {
	// Segment and Offset locate the record.
	Segment int
	Offset  int64
	Type    byte
	Payload []byte
}

// CorruptionError describes the first damaged record Open found; every
// record from there on was dropped.
type CorruptionError struct {
	Segment int
	Offset  int64
	Err     error
	// DroppedBytes is how much was cut off, in that segment and the
	// segments removed after it.
	DroppedBytes int64
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("journal segment %08d is damaged at offset %d (%v): %d bytes from there on were dropped",
		e.Segment, e.Offset, e.Err, e.DroppedBytes)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Errors a damaged record shows.
var (
	ErrTorn     = errors.New("torn record")
	ErrChecksum = errors.New("checksum mismatch")
	ErrTooLarge = errors.New("record larger than the limit")
	ErrType     = errors.New("record of type 0")
)

// Journal is a directory of segments. It is safe for concurrent use.
type Journal struct {
	dir         string
	segmentSize int64

	mu      sync.Mutex
	f       *os.File // the current segment, open for appending
	seg     int      // its number
	off     int64    // its size
	segs    []int    // every segment, ascending, the current one last
	sizes   map[int]int64
	closed  bool
	written []byte // reusable frame buffer
}

// Open opens (creating) the journal in dir and calls fn for every intact
// record, in order. A damaged journal is repaired as described in the
// package documentation; the damage is returned as a *CorruptionError
// together with a usable Journal. Other errors (the directory cannot be
// created, read or written; fn fails) return no Journal.
func Open(dir string, segmentSize int64, fn func(Record) error) (*Journal, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", dir, err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	j := &Journal{dir: dir, segmentSize: segmentSize, sizes: map[int]int64{}}
	var corrupt *CorruptionError
	for i, s := range segs {
		size, cerr, err := readSegment(j.path(s), s, fn)
		if err != nil {
			return nil, err
		}
		j.segs = append(j.segs, s)
		j.sizes[s] = size
		if cerr == nil {
			continue
		}
		// Repair: cut this segment at the bad record, drop the later ones.
		corrupt = cerr
		fi, err := os.Stat(j.path(s))
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		corrupt.DroppedBytes = fi.Size() - cerr.Offset
		if err := truncateSync(j.path(s), cerr.Offset); err != nil {
			return nil, err
		}
		j.sizes[s] = cerr.Offset
		for _, later := range segs[i+1:] {
			if fi, err := os.Stat(j.path(later)); err == nil {
				corrupt.DroppedBytes += fi.Size()
			}
			if err := os.Remove(j.path(later)); err != nil {
				return nil, fmt.Errorf("journal: remove %s: %w", j.path(later), err)
			}
		}
		if err := syncDir(dir); err != nil {
			return nil, err
		}
		break
	}
	// Append to a new segment: the last one may end in a repaired spot,
	// and a fresh file makes the append path simple.
	next := 0
	if len(j.segs) > 0 {
		next = j.segs[len(j.segs)-1] + 1
	}
	if err := j.openSegment(next); err != nil {
		return nil, err
	}
	if corrupt != nil {
		return j, corrupt
	}
	return j, nil
}

func (j *Journal) path(seg int) string { return filepath.Join(j.dir, fmt.Sprintf("%08d", seg)) }

func listSegments(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", dir, err)
	}
	var segs []int
	for _, e := range entries {
		if len(e.Name()) != 8 || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// readSegment calls fn for every intact record of the segment. It returns
// the segment's intact length and, at the first damaged record, a
// *CorruptionError.
func readSegment(path string, seg int, fn func(Record) error) (int64, *CorruptionError, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	var hdr [headerSize]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return off, nil, nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return off, &CorruptionError{Segment: seg, Offset: off, Err: ErrTorn}, nil
			}
			return off, nil, fmt.Errorf("journal: read %s: %w", path, err)
		}
		typ := hdr[0]
		n := binary.LittleEndian.Uint32(hdr[1:5])
		sum := binary.LittleEndian.Uint32(hdr[5:9])
		if typ == 0 {
			return off, &CorruptionError{Segment: seg, Offset: off, Err: ErrType}, nil
		}
		if n > MaxRecordSize {
			return off, &CorruptionError{Segment: seg, Offset: off, Err: ErrTooLarge}, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return off, &CorruptionError{Segment: seg, Offset: off, Err: ErrTorn}, nil
			}
			return off, nil, fmt.Errorf("journal: read %s: %w", path, err)
		}
		if checksum(typ, payload) != sum {
			return off, &CorruptionError{Segment: seg, Offset: off, Err: ErrChecksum}, nil
		}
		if err := fn(Record{Segment: seg, Offset: off, Type: typ, Payload: payload}); err != nil {
			return off, nil, err
		}
		off += headerSize + int64(n)
	}
}

func checksum(typ byte, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, []byte{typ})
	return crc32.Update(c, castagnoli, payload)
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("journal: repair %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("journal: repair %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: repair %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}

// openSegment creates segment n and makes it the current one. Called with
// j.mu held (or before j is shared).
func (j *Journal) openSegment(n int) error {
	f, err := os.OpenFile(j.path(n), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("journal: create segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		_ = f.Close()
		return err
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f, j.seg, j.off = f, n, 0
	j.segs = append(j.segs, n)
	j.sizes[n] = 0
	return nil
}

// Append writes one record and fsyncs it, returning where it was written.
// A failed append leaves the journal as it was: a partly written record is
// cut off.
func (j *Journal) Append(typ byte, payload []byte) (segment int, offset int64, err error) {
	if typ == 0 {
		return 0, 0, errors.New("journal: record type 0 is reserved")
	}
	if len(payload) > MaxRecordSize {
		return 0, 0, fmt.Errorf("journal: a record of %d bytes is over the %d byte limit", len(payload), MaxRecordSize)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, 0, errors.New("journal: closed")
	}
	if j.off > 0 && j.off+headerSize+int64(len(payload)) > j.segmentSize {
		if err := j.f.Sync(); err != nil {
			return 0, 0, fmt.Errorf("journal: sync: %w", err)
		}
		if err := j.openSegment(j.seg + 1); err != nil {
			return 0, 0, err
		}
	}
	b := j.written[:0]
	b = append(b, typ)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, checksum(typ, payload))
	b = append(b, payload...)
	if cap(b) <= 1<<20 {
		j.written = b
	}
	if _, err := j.f.Write(b); err != nil {
		_ = j.f.Truncate(j.off)
		return 0, 0, fmt.Errorf("journal: write: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		_ = j.f.Truncate(j.off)
		return 0, 0, fmt.Errorf("journal: sync: %w", err)
	}
	segment, offset = j.seg, j.off
	j.off += int64(len(b))
	j.sizes[j.seg] = j.off
	return segment, offset, nil
}

// Read reads back the record Append wrote at segment and offset, checking
// its checksum.
func (j *Journal) Read(segment int, offset int64) (Record, error) {
	f, err := os.Open(j.path(segment))
	if err != nil {
		return Record{}, fmt.Errorf("journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	var hdr [headerSize]byte
	if _, err := f.ReadAt(hdr[:], offset); err != nil {
		return Record{}, fmt.Errorf("journal: read segment %08d at %d: %w", segment, offset, err)
	}
	n := binary.LittleEndian.Uint32(hdr[1:5])
	if hdr[0] == 0 || n > MaxRecordSize {
		return Record{}, &CorruptionError{Segment: segment, Offset: offset, Err: ErrType}
	}
	payload := make([]byte, n)
	if _, err := f.ReadAt(payload, offset+headerSize); err != nil {
		return Record{}, &CorruptionError{Segment: segment, Offset: offset, Err: ErrTorn}
	}
	if checksum(hdr[0], payload) != binary.LittleEndian.Uint32(hdr[5:9]) {
		return Record{}, &CorruptionError{Segment: segment, Offset: offset, Err: ErrChecksum}
	}
	return Record{Segment: segment, Offset: offset, Type: hdr[0], Payload: payload}, nil
}

// RemoveBefore deletes the segments numbered below seg (never the current
// one): their records are no longer needed.
func (j *Journal) RemoveBefore(seg int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	keep := j.segs[:0]
	var errs []error
	for _, s := range j.segs {
		if s < seg && s != j.seg {
			if err := os.Remove(j.path(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
				keep = append(keep, s)
				continue
			}
			delete(j.sizes, s)
			continue
		}
		keep = append(keep, s)
	}
	j.segs = keep
	return errors.Join(errs...)
}

// Size is the journal's size on disk, in bytes.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	var n int64
	for _, s := range j.sizes {
		n += s
	}
	return n
}

// Segments returns the segment numbers, ascending.
func (j *Journal) Segments() []int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.segs)
}

// Close closes the current segment.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	return j.f.Close()
}
