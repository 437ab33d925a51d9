package evidenceexporter

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
)

// The arrival ledger names, after a crash, the blocks a memory ring took
// after recorder.json last listed its blocks. Every block the ring accepts
// gets a fixed-size record (sequence number, signal, item count, item-time
// range), written into slot seq mod ledgerSlots of
// <spool.directory>/arrivals before the batch is acknowledged, and never
// fsynced. On Linux the file is mapped shared and a record is a copy into
// the mapping (no system call on the ingest path); elsewhere it is one
// pwrite(2). Either way the record is in the page cache at once, and a
// killed process (kill -9, OOM) leaves it there for the next process to
// read. A power loss or a kernel crash may lose the latest records, so the
// ledger is trusted only within one boot (see recorderState.BootID); a
// gap, or a ledger not trusted, makes the next process name the tail by
// time range with an unknown count, as without a ledger. A record is taken
// only when its checksum holds (a record torn by the kill does not count)
// and it carries the epoch (the start time) of the process that
// recorder.json describes, so records of an earlier process are never read
// as this one's.
const (
	ledgerFile  = "arrivals"
	ledgerSlots = 1 << 16
	// ledgerRecord is the size of one record:
	//   0 seq u64 | 8 epoch i64 | 16 min item time i64 | 24 max item time i64
	//   32 items u32 | 36 signal u8 | 37 reserved [3]
	//   40 CRC32C of bytes 0..40 u32 | 44 reserved [4]
	ledgerRecord = 48
)

var ledgerCRC = crc32.MakeTable(crc32.Castagnoli)

// ledger is the arrival ledger of the running process.
type ledger struct {
	f     *os.File
	epoch int64
	// mem is the file mapped shared (Linux), nil where records are
	// written with pwrite.
	mem   []byte
	unmap func() error
	// failed is set by the first write that fails: recorder.json then
	// says the ledger is incomplete.
	failed atomic.Bool
}

func ledgerPath(dir string) string { return filepath.Join(dir, ledgerFile) }

// openLedger empties the ledger in dir (after readLedger has taken what
// the previous process left) and opens it for a process started at epoch.
func openLedger(dir string, epoch int64) (*ledger, error) {
	f, err := os.OpenFile(ledgerPath(dir), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	// Written, not truncated to size: the file's blocks are allocated
	// now, so that a store into the mapping never needs a block (on a
	// full disk that would be a SIGBUS, not an error).
	if _, err := f.Write(make([]byte, ledgerSlots*ledgerRecord)); err != nil {
		// The write error is the one to report; a partial file would
		// only take space from the spool on a disk that is short of it.
		_ = f.Close()
		_ = os.Remove(ledgerPath(dir))
		return nil, err
	}
	l := &ledger{f: f, epoch: epoch}
	if l.mem, l.unmap, err = mapLedger(f, ledgerSlots*ledgerRecord); err != nil {
		_ = f.Close() // the map error is the one to report
		return nil, err
	}
	return l, nil
}

// add records block b. It is safe for concurrent use.
func (l *ledger) add(b ring.BlockInfo) {
	var rec [ledgerRecord]byte
	binary.LittleEndian.PutUint64(rec[0:], b.Seq)
	binary.LittleEndian.PutUint64(rec[8:], uint64(l.epoch))
	binary.LittleEndian.PutUint64(rec[16:], uint64(b.MinTime.UnixNano()))
	binary.LittleEndian.PutUint64(rec[24:], uint64(b.MaxTime.UnixNano()))
	binary.LittleEndian.PutUint32(rec[32:], uint32(b.Items))
	rec[36] = byte(b.Signal)
	binary.LittleEndian.PutUint32(rec[40:], crc32.Checksum(rec[:40], ledgerCRC))
	off := int64(b.Seq%ledgerSlots) * ledgerRecord
	if l.mem != nil {
		copy(l.mem[off:off+ledgerRecord], rec[:])
		return
	}
	if _, err := l.f.WriteAt(rec[:], off); err != nil {
		l.failed.Store(true)
	}
}

// close unmaps and closes the ledger; what it holds stays in the file.
func (l *ledger) close() error {
	var err error
	if l.unmap != nil {
		err = l.unmap()
	}
	return errors.Join(err, l.f.Close())
}

// ledgerTail is what the ledger of a previous process adds to its
// recorder.json.
type ledgerTail struct {
	// blocks are the recorded blocks after the recorder's last sequence
	// number, [seq, signal, min item time, max item time, items] like
	// recorderState.Blocks, in sequence order.
	blocks [][5]int64
	// complete reports that the ledger holds every block up to the newest
	// it records: no sequence number after the recorder's is missing.
	complete bool
}

// readLedger returns the records in dir of the process started at epoch
// with a sequence number after since. A missing ledger is an empty,
// incomplete one.
func readLedger(dir string, epoch int64, since uint64) (ledgerTail, error) {
	data, err := os.ReadFile(ledgerPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return ledgerTail{}, nil
	}
	if err != nil {
		return ledgerTail{}, err
	}
	found := make(map[uint64][5]int64)
	var newest uint64
	for off := 0; off+ledgerRecord <= len(data); off += ledgerRecord {
		rec := data[off : off+ledgerRecord]
		seq := binary.LittleEndian.Uint64(rec[0:])
		if seq <= since || int64(binary.LittleEndian.Uint64(rec[8:])) != epoch ||
			binary.LittleEndian.Uint32(rec[40:]) != crc32.Checksum(rec[:40], ledgerCRC) ||
			ring.Signal(rec[36]) >= ring.NumSignals {
			continue
		}
		found[seq] = [5]int64{
			int64(seq), int64(rec[36]),
			int64(binary.LittleEndian.Uint64(rec[16:])), int64(binary.LittleEndian.Uint64(rec[24:])),
			int64(binary.LittleEndian.Uint32(rec[32:])),
		}
		newest = max(newest, seq)
	}
	// No record after since: nothing is missing (newest-since would
	// wrap around).
	t := ledgerTail{complete: len(found) == 0 || uint64(len(found)) == newest-since}
	for _, seq := range slices.Sorted(maps.Keys(found)) {
		t.blocks = append(t.blocks, found[seq])
	}
	return t, nil
}
