package evidenceexporter

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// A memory ring dies with its process: whatever it held that no committed
// part holds is lost, also by a clean shutdown (which writes only the open
// windows). recorder.json in the spool lists the blocks the memory ring of
// the running process holds (sequence number, signal, item-time range and
// item count of each), rewritten every flush interval and at shutdown, and
// the arrival ledger (see ledger.go) records every block the ring accepts
// after that; the next process names what of an incident's window those
// blocks held, and the incident had not frozen, as a restart loss, item for
// item. Only when the ledger is incomplete (a write failed, a power loss,
// or more than ledgerSlots blocks arrived between two records) are the
// items that arrived after the last record named by time range only, with
// an unknown count.
const recorderFile = "recorder.json"

// recorderState is recorder.json.
type recorderState struct {
	// Ring is "memory" (only a memory ring loses its content).
	Ring      string    `json:"ring"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Blocks are the blocks the ring held at UpdatedAt, oldest first:
	// [seq, signal, min item time, max item time, items].
	Blocks [][5]int64 `json:"blocks"`
	// Seq is the ring's newest sequence number at UpdatedAt: the arrival
	// ledger lists the blocks after it.
	Seq uint64 `json:"seq"`
	// LedgerFailed is set once a write to the arrival ledger failed: it
	// may lack blocks.
	LedgerFailed bool `json:"ledger_failed,omitempty"`
	// BootTime is when the machine booted (the wall clock less
	// CLOCK_BOOTTIME; zero where unknown). The arrival ledger, never
	// fsynced, is trusted only by a process of the same boot: a killed
	// process leaves its writes in the page cache, a power loss or a
	// reboot may not.
	BootTime time.Time `json:"boot_time,omitzero"`
	// Clean is set by a clean shutdown, after the open windows were
	// written: nothing arrived after UpdatedAt.
	Clean bool `json:"clean,omitempty"`
}

func (s *spool) recorderPath() string { return filepath.Join(s.dir, recorderFile) }

// readRecorder returns the previous process's recorder state, nil if none.
func (s *spool) readRecorder() (*recorderState, error) {
	data, err := os.ReadFile(s.recorderPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st recorderState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (s *spool) writeRecorder(st *recorderState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.recorderPath(), data)
}

// recordRing lists the blocks r holds in st.
func recordRing(st *recorderState, r *ring.Ring) {
	held, last := r.Held()
	st.Seq = last
	st.Blocks = make([][5]int64, len(held))
	for i, b := range held {
		st.Blocks[i] = [5]int64{int64(b.Seq), int64(b.Signal), b.MinTime.UnixNano(), b.MaxTime.UnixNano(), b.Items}
	}
}

// restartGap is what the previous process's memory ring held.
type restartGap struct {
	prev recorderState
	// blocks are the blocks of prev and those its arrival ledger lists
	// after them.
	blocks [][5]int64
	// unknownTail is set when blocks may lack some that arrived after
	// prev was written: a crash with an incomplete ledger.
	unknownTail bool
	// until is when this process started: a ring that crashed may have
	// taken items up to then.
	until time.Time
}

// newRestartGap returns the gap the previous recorder state and its
// ledger tail describe, nil when there was none, or when the previous
// process ended cleanly holding nothing.
func newRestartGap(prev *recorderState, tail ledgerTail, boot, now time.Time) *restartGap {
	if prev == nil || prev.Ring != "memory" {
		return nil
	}
	g := &restartGap{
		prev:        *prev,
		blocks:      append(slices.Clone(prev.Blocks), tail.blocks...),
		unknownTail: !prev.Clean && (!tail.complete || prev.LedgerFailed || !sameBoot(prev, boot)),
		until:       now,
	}
	if len(g.blocks) == 0 && !g.unknownTail {
		return nil
	}
	return g
}

// losses are the restart losses of the window [start, end] of an incident
// whose blocks up to cursor gave it every item up to bound (zero cursor
// and bound for an incident the previous process did not freeze): the
// recorded blocks it did not freeze that overlap the window, counted whole
// with their time ranges clipped to the window, and, after a crash with an
// incomplete ledger, the items that arrived after the last record, by time
// range only.
func (g *restartGap) losses(start, end time.Time, cursor uint64, bound time.Time) []bundle.Loss {
	if g == nil {
		return nil
	}
	var out []bundle.Loss
	for _, b := range g.blocks {
		seq, sig, lo, hi := uint64(b[0]), ring.Signal(b[1]), fromNanos(b[2]), fromNanos(b[3])
		from := latest(lo, start)
		if seq <= cursor && !bound.IsZero() {
			from = latest(from, bound.Add(1)) // frozen up to bound
		}
		to := earliest(hi, end)
		if sig >= ring.NumSignals || to.Before(from) {
			continue
		}
		out = bundle.MergeLosses(out, bundle.Loss{Signal: sig.String(), Reason: bundle.LossRestart, Items: b[4], From: from, To: to})
	}
	if g.unknownTail {
		from, to := latest(start, g.prev.UpdatedAt), earliest(end, g.until)
		if !bound.IsZero() {
			from = latest(from, bound.Add(1))
		}
		if !to.Before(from) {
			for sig := range ring.NumSignals {
				out = bundle.MergeLosses(out, bundle.Loss{Signal: ring.Signal(sig).String(), Reason: bundle.LossRestart, From: from, To: to})
			}
		}
	}
	return out
}

// sameBootSlack is how far two readings of the boot time may differ
// within one boot (the wall clock is slewed and stepped; CLOCK_BOOTTIME is
// not).
const sameBootSlack = 10 * time.Second

// sameBoot reports whether the process prev describes ran in the boot that
// started at boot: both boot times known and close, and the boot started
// before prev's last record (a boot that started after it is a later one).
func sameBoot(prev *recorderState, boot time.Time) bool {
	if prev.BootTime.IsZero() || boot.IsZero() {
		return false
	}
	d := prev.BootTime.Sub(boot)
	return d < sameBootSlack && d > -sameBootSlack && boot.Before(prev.UpdatedAt)
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
