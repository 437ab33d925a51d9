package ring

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"go.uber.org/zap"
)

// segment is one segment file of a disk ring. Its fields other than n, path
// and f are guarded by Ring.mu.
type segment struct {
	n       int
	path    string
	f       *os.File // read-write, append-only writes; ReadAt for payloads
	size    int64
	live    int  // blocks of this segment in the index
	refs    int  // pins by Scan chunks and background syncs
	dead    bool // evicted: closed once refs drops to zero
	removed bool // the file is gone (it is unlinked when evicted)
}

func segmentName(n int) string { return fmt.Sprintf("%08d", n) }

// listSegments returns the segment numbers in dir, ascending. Other files
// are ignored.
func listSegments(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ring: read Directory %q: %w", dir, err)
	}
	var nums []int
	for _, e := range entries {
		name := e.Name()
		if len(name) != 8 || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || n < 0 || segmentName(n) != name {
			continue
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums, nil
}

func createSegment(dir string, n int) (*segment, error) {
	path := filepath.Join(dir, segmentName(n))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("ring: create segment: %w", err)
	}
	return &segment{n: n, path: path, f: f}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// readResult is what readSegment found.
type readResult struct {
	records int
	end     int64  // offset after the last intact record
	lastSeq uint64 // sequence number of the last intact record
	reason  string // why reading stopped before the end of the file; "" if it did not
}

// readSegment parses the records of a segment of size bytes, calling visit
// for each intact one, and stops at the first bad record. Sequence numbers
// must increase beyond prevSeq. It returns an error only for I/O failures.
func readSegment(rd io.Reader, size int64, prevSeq uint64, visit func(h blockHeader, off, recLen int64)) (readResult, error) {
	res := readResult{lastSeq: prevSeq}
	br := bufio.NewReaderSize(rd, 256<<10)
	var (
		hdr  [frameHeaderLen]byte
		data []byte
	)
	for {
		k, err := io.ReadFull(br, hdr[:])
		switch {
		case errors.Is(err, io.EOF):
			return res, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			res.reason = fmt.Sprintf("torn record header (%d of %d bytes)", k, frameHeaderLen)
			return res, nil
		case err != nil:
			return res, err
		}
		length, crc, err := parseFrameHeader(hdr[:])
		if err != nil {
			res.reason = err.Error()
			return res, nil
		}
		if left := size - res.end - frameHeaderLen; int64(length) > left {
			res.reason = fmt.Sprintf("torn record (length %d, %d bytes left in the file)", length, left)
			return res, nil
		}
		if cap(data) < length {
			data = make([]byte, length)
		}
		data = data[:length]
		if _, err := io.ReadFull(br, data); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				res.reason = fmt.Sprintf("torn record (length %d)", length)
				return res, nil
			}
			return res, err
		}
		h, err := parseRecordData(data, crc)
		if err == nil && h.seq <= res.lastSeq {
			err = fmt.Errorf("sequence number %d does not follow %d", h.seq, res.lastSeq)
		}
		if err != nil {
			res.reason = err.Error()
			return res, nil
		}
		recLen := int64(frameHeaderLen + length)
		if visit != nil {
			visit(h, res.end, recLen)
		}
		res.records++
		res.end += recLen
		res.lastSeq = h.seq
	}
}

// load opens the segments in the directory, repairs them and fills the
// index. It fails only on I/O errors, never on corruption.
func (r *Ring) load() error {
	dir := r.cfg.Directory
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("ring: create Directory %q: %w", dir, err)
	}
	nums, err := listSegments(dir)
	if err != nil {
		return err
	}
	var corrupt *CorruptionError
	next := 0
	for _, n := range nums {
		next = n + 1
		if corrupt != nil {
			if err := r.dropLaterSegment(n); err != nil {
				return err
			}
			continue
		}
		seg, cerr, err := r.loadSegment(n)
		if err != nil {
			return err
		}
		corrupt = cerr
		if seg.live == 0 {
			// Empty, or truncated to nothing: no reason to keep the file.
			_ = seg.f.Close()
			if err := os.Remove(seg.path); err != nil {
				return fmt.Errorf("ring: remove empty segment: %w", err)
			}
			continue
		}
		r.segs = append(r.segs, seg)
		r.diskBytes += seg.size
	}
	if corrupt != nil {
		r.corruptions = append(r.corruptions, *corrupt)
		r.logger.Warn("Repaired a corrupt evidence ring: dropped the damaged tail",
			zap.Error(corrupt),
			zap.Int64("dropped_records", r.corruptRecords),
			zap.Int64("dropped_bytes", r.corruptBytes),
			zap.Uint64("last_seq", r.lastSeq))
	}
	active, err := createSegment(dir, next)
	if err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		r.logger.Warn("Cannot sync the ring directory", zap.String("directory", dir), zap.Error(err))
	}
	r.segs = append(r.segs, active)
	r.active = active
	r.logger.Info("Opened evidence ring",
		zap.String("directory", dir),
		zap.Int("segments", len(r.segs)),
		zap.Int("blocks", r.blocks.len()),
		zap.Int64("bytes", r.diskBytes),
		zap.Uint64("last_seq", r.lastSeq))
	return nil
}

// loadSegment reads segment n into the index. On corruption it truncates
// the segment after its last intact record and returns the corruption.
func (r *Ring) loadSegment(n int) (*segment, *CorruptionError, error) {
	path := filepath.Join(r.cfg.Directory, segmentName(n))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("ring: open segment: %w", err)
	}
	seg := &segment{n: n, path: path, f: f}
	fail := func(err error) (*segment, *CorruptionError, error) {
		_ = f.Close()
		return nil, nil, fmt.Errorf("ring: read segment %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	res, err := readSegment(f, fi.Size(), r.lastSeq, func(h blockHeader, off, recLen int64) {
		r.pushLocked(meta{
			seq:     h.seq,
			arrival: h.arrival,
			minT:    h.minT,
			maxT:    h.maxT,
			items:   int64(h.items),
			stored:  recLen,
			rawLen:  int(h.rawLen),
			signal:  h.signal,
			codec:   h.codec,
			seg:     seg,
			off:     off,
		})
		r.lastArrival = max(r.lastArrival, h.arrival)
	})
	if err != nil {
		return fail(err)
	}
	r.lastSeq = res.lastSeq
	seg.size = res.end
	if res.reason == "" {
		return seg, nil, nil
	}
	cerr := &CorruptionError{Segment: n, Offset: res.end, Reason: res.reason}
	r.corruptRecords++
	r.corruptBytes += fi.Size() - res.end
	if err := f.Truncate(res.end); err != nil {
		return fail(fmt.Errorf("truncate at offset %d after a corrupt record (%s): %w", res.end, res.reason, err))
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	return seg, cerr, nil
}

// dropLaterSegment deletes segment n, which follows a corrupt record, and
// counts what it held.
func (r *Ring) dropLaterSegment(n int) error {
	path := filepath.Join(r.cfg.Directory, segmentName(n))
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ring: open segment: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		var res readResult
		res, err = readSegment(f, fi.Size(), 0, nil)
		r.corruptRecords += int64(res.records)
		if res.reason != "" {
			r.corruptRecords++
		}
		r.corruptBytes += fi.Size()
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		return fmt.Errorf("ring: read segment %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("ring: remove segment after corruption: %w", err)
	}
	return nil
}

// writeLocked appends a framed record to the active segment, cutting a new
// segment first when the record would not fit.
func (r *Ring) writeLocked(m *meta, rec []byte) error {
	seg := r.active
	if r.needCut || (seg.size > 0 && seg.size+int64(len(rec)) > r.cfg.SegmentSize) {
		if err := r.cutLocked(); err != nil {
			return err
		}
		seg = r.active
	}
	if _, err := seg.f.Write(rec); err != nil {
		// Undo a partial write so that later records stay readable; if
		// that fails too, continue in a fresh segment.
		if terr := seg.f.Truncate(seg.size); terr != nil {
			r.needCut = true
		}
		return fmt.Errorf("ring: write segment %s: %w", seg.path, err)
	}
	m.seg, m.off, m.stored = seg, seg.size, int64(len(rec))
	seg.size += m.stored
	r.diskBytes += m.stored
	return nil
}

// cutLocked starts a new active segment. The previous one is fsynced in the
// background so that Append does not wait for the disk.
func (r *Ring) cutLocked() error {
	old := r.active
	seg, err := createSegment(r.cfg.Directory, old.n+1)
	if err != nil {
		return err
	}
	r.segs = append(r.segs, seg)
	r.active = seg
	r.needCut = false
	old.refs++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := old.f.Sync(); err != nil {
			r.logger.Warn("Cannot sync a ring segment", zap.String("path", old.path), zap.Error(err))
		}
		if err := syncDir(r.cfg.Directory); err != nil {
			r.logger.Warn("Cannot sync the ring directory", zap.String("directory", r.cfg.Directory), zap.Error(err))
		}
		r.mu.Lock()
		r.unpinLocked(old)
		r.mu.Unlock()
	}()
	if old.live == 0 {
		r.dropSegmentLocked(old)
	}
	return nil
}

// dropSegmentLocked evicts a segment: it leaves the ring and its file is
// unlinked at once; the descriptor stays open while a Scan or a background
// sync still uses it (on systems that cannot remove open files, the file
// goes when the last user is done).
func (r *Ring) dropSegmentLocked(seg *segment) {
	if i := slices.Index(r.segs, seg); i >= 0 {
		r.segs = slices.Delete(r.segs, i, i+1)
	}
	r.diskBytes -= seg.size
	seg.dead = true
	r.logger.Debug("Evicted ring segment", zap.String("path", seg.path), zap.Int64("bytes", seg.size))
	if err := os.Remove(seg.path); err == nil || errors.Is(err, os.ErrNotExist) {
		seg.removed = true
	}
	if seg.refs == 0 {
		r.releaseSegment(seg)
	}
}

func (r *Ring) unpinLocked(seg *segment) {
	seg.refs--
	if seg.dead && seg.refs == 0 {
		r.releaseSegment(seg)
	}
}

// releaseSegment closes an evicted segment nobody uses any more.
func (r *Ring) releaseSegment(seg *segment) {
	_ = seg.f.Close()
	if seg.removed {
		return
	}
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.logger.Warn("Cannot remove an evicted ring segment", zap.String("path", seg.path), zap.Error(err))
	}
}

// closeSegments closes the files of the live segments.
func (r *Ring) closeSegments() {
	for _, seg := range r.segs {
		_ = seg.f.Close()
	}
}
