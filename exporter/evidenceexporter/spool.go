package evidenceexporter

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// The spool keeps, per incident, the parts not yet in the store and the
// freezing state:
//
//	<spool>/incidents/<incident-id>/state.json          freezing state (the commit point)
//	<spool>/incidents/<incident-id>/part-000001.tar.zst  a part waiting for the store
//	<spool>/incidents/<incident-id>/done                 the complete manifest is in the store
//
// A flush writes its parts first, then state.json atomically. A part file
// whose number the committed state does not list yet is left over from a
// flush that never committed; it is deleted at start and written again.
// A listed part file is deleted once the store has it.
const (
	spoolIncidentsDir = "incidents"
	stateFile         = "state.json"
	doneFile          = "done"
	tempPrefix        = ".tmp-"
	stateFormat       = 1

	dirPerm  os.FileMode = 0o750
	filePerm os.FileMode = 0o640
)

// incidentState is the freezing state of one incident, persisted in
// state.json after every flush.
type incidentState struct {
	Format int `json:"format"`
	// Incident is the registry's record as last seen.
	Incident incident.Incident `json:"incident"`
	// StartedAt is T, the start the window is computed from, fixed when
	// freezing began.
	StartedAt time.Time `json:"started_at"`
	// ResolvedAt is set once the incident is resolved or expired.
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Cursor is the last ring sequence number scanned: blocks with
	// seq <= Cursor have given every item with a time in
	// [window start, Bound] to the bundle.
	Cursor uint64 `json:"cursor"`
	// Bound is how far the window has been frozen; zero before the first
	// flush.
	Bound time.Time `json:"bound"`
	// NextPart is the number of the next part.
	NextPart int `json:"next_part"`
	// Parts are the committed parts, in order.
	Parts []bundle.PartRef `json:"parts"`
	// Events is where states of earlier versions list the SHA-256 (hex)
	// of every event already in a part; it is read at start and then kept
	// in the events file instead.
	Events []string `json:"events,omitempty"`
	// EventsCount is how many lines of the events file (eventsFile) are
	// committed: the hashes of the events already in a part.
	EventsCount int `json:"events_count,omitempty"`
	// Losses are what the committed parts name as missing (the manifest's
	// losses): each is recorded in the part written by the flush that
	// found it.
	Losses []bundle.Loss `json:"losses,omitempty"`
	// Refused is the newest refused batch (of this process) the flushes
	// have looked at; see refusedLog.
	Refused uint64 `json:"refused,omitempty"`
	// Pending are losses found outside a flush (a restart), which the next
	// flush writes into its part.
	Pending []bundle.Loss `json:"pending_losses,omitempty"`
	// Complete is set by the flush that wrote the last part of the window.
	Complete bool `json:"complete"`
	// Final (next to Complete, so that the two bools share a word and a
	// state fits the 512-byte allocation class) is set once the bundle is
	// complete and its late-data period is over: the manifest is then
	// written immutable and the incident is done. A state written before
	// late parts existed has Complete without LateUntil, which load takes
	// as Final.
	Final bool `json:"final,omitempty"`
	// LateUntil is when the late-data period of a complete bundle ends:
	// until then, items of the window that arrive late are frozen into
	// late parts.
	LateUntil time.Time `json:"late_until,omitzero"`
	// Version counts commits.
	Version uint64 `json:"version"`
	// Unchecked is set from an incident's first commit until the store
	// has been asked whether it already holds this collector's bundle of
	// the incident (see freezer.check): the past is frozen into the spool
	// first, and the uploader leaves an unchecked state's parts alone.
	Unchecked bool `json:"unchecked,omitempty"`

	// eventMark is the registry's mark after the events this process's
	// last flush took (see incidentsapi.Registry.EventsSince).
	eventMark uint64
	// eventBound is the window bound of that flush's events: a commit in
	// the middle of a flush has its new Bound, not yet its events.
	eventBound time.Time
	// taken are the hashes of the events already in a part, loaded at
	// start, until the first flush of this process; nil after it, when
	// eventMark and eventBound say the same.
	taken map[[sha256.Size]byte]struct{}
	// newEvents are the hashes of the events a flush took, which its
	// commit appends to the events file.
	newEvents [][sha256.Size]byte
}

// window returns the evidence window as frozen so far.
func (s *incidentState) window(before time.Duration) bundle.Window {
	return bundle.Window{Start: s.StartedAt.Add(-before), End: s.Bound}
}

// clone returns a deep copy.
func (s *incidentState) clone() *incidentState {
	c := *s
	if s.ResolvedAt != nil {
		t := *s.ResolvedAt
		c.ResolvedAt = &t
	}
	c.Parts = append([]bundle.PartRef(nil), s.Parts...)
	c.Events = nil
	c.newEvents = nil
	c.Losses = append([]bundle.Loss(nil), s.Losses...)
	c.Pending = append([]bundle.Loss(nil), s.Pending...)
	return &c
}

// spool is the local directory of parts waiting for the store.
type spool struct {
	dir string
}

func openSpool(dir string) (*spool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: resolve %q: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, spoolIncidentsDir), dirPerm); err != nil {
		return nil, fmt.Errorf("spool: create %q: %w", abs, err)
	}
	return &spool{dir: abs}, nil
}

// incidentDir is the directory of one incident. id must be valid
// (incident.ValidateID), which keeps it inside the spool.
func (s *spool) incidentDir(id string) string {
	return filepath.Join(s.dir, spoolIncidentsDir, id)
}

func (s *spool) partPath(id string, seq int) string {
	name, _ := bundle.PartName(seq)
	return filepath.Join(s.incidentDir(id), name)
}

// writePartWith writes part seq of incident id as write produces it
// (bundle.PartWriter.FinishTo: the object is not held in memory whole),
// atomically and durably: if write or the commit fails, no part is left.
func (s *spool) writePartWith(id string, seq int, write func(io.Writer) error) error {
	if err := os.MkdirAll(s.incidentDir(id), dirPerm); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	f, err := atomicfile.Create(atomicfile.OS, s.partPath(id, seq), atomicfile.Options{TempPrefix: tempPrefix, Perm: filePerm})
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// scratchFile creates an empty file for a part of incident id being
// written to keep its compressed frames in (bundle.PartWriter.SetSpill),
// and unlinks it at once: it is gone when closed, or if the collector
// dies first. Should the unlink fail, it is a temporary file, which load
// removes.
func (s *spool) scratchFile(id string) (*os.File, error) {
	if err := os.MkdirAll(s.incidentDir(id), dirPerm); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.CreateTemp(s.incidentDir(id), tempPrefix+"frames-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// openPart opens a spooled part for reading and returns its size, or an
// error wrapping fs.ErrNotExist. The caller closes it.
func (s *spool) openPart(id string, seq int) (*os.File, int64, error) {
	f, err := os.Open(s.partPath(id, seq))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	return f, fi.Size(), nil
}

// hasPart reports whether part seq of incident id waits in the spool.
func (s *spool) hasPart(id string, seq int) bool {
	_, err := os.Stat(s.partPath(id, seq))
	return err == nil
}

// removePart deletes a part the store has.
func (s *spool) removePart(id string, seq int) error {
	err := os.Remove(s.partPath(id, seq))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.incidentDir(id))
}

// saveState commits st.
func (s *spool) saveState(st *incidentState) error {
	if err := os.MkdirAll(s.incidentDir(st.Incident.ID), dirPerm); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	st.Format = stateFormat
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("spool: encoding state of %s: %w", st.Incident.ID, err)
	}
	return writeFileAtomic(filepath.Join(s.incidentDir(st.Incident.ID), stateFile), append(data, '\n'))
}

// markDone records that the complete manifest of incident id is in the store.
func (s *spool) markDone(id string) error {
	return writeFileAtomic(filepath.Join(s.incidentDir(id), doneFile), nil)
}

func (s *spool) isDone(id string) bool {
	_, err := os.Stat(filepath.Join(s.incidentDir(id), doneFile))
	return err == nil
}

// removeIncident deletes everything the spool holds for incident id.
func (s *spool) removeIncident(id string) error {
	if err := os.RemoveAll(s.incidentDir(id)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(filepath.Join(s.dir, spoolIncidentsDir))
}

// spooledIncident is what load finds for one incident.
type spooledIncident struct {
	state *incidentState
	done  bool
}

// load reads every committed state and removes what no commit covers:
// temporary files, parts numbered from the state's NextPart on, and
// incident directories without a state. Unreadable states are reported in
// problems and their directories are left alone.
func (s *spool) load() (found []spooledIncident, problems []error, err error) {
	root := filepath.Join(s.dir, spoolIncidentsDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || incident.ValidateID(id) != nil {
			continue
		}
		dir := s.incidentDir(id)
		data, err := os.ReadFile(filepath.Join(dir, stateFile))
		if errors.Is(err, fs.ErrNotExist) {
			// Parts of a first flush that never committed.
			if err := os.RemoveAll(dir); err != nil {
				problems = append(problems, fmt.Errorf("spool: %w", err))
			}
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("spool: %w", err))
			continue
		}
		st, err := parseState(data, id)
		if err != nil {
			problems = append(problems, fmt.Errorf("spool: %s is not a valid state file, its incident is skipped: %w",
				filepath.Join(dir, stateFile), err))
			continue
		}
		if err := s.removeUncommitted(st); err != nil {
			problems = append(problems, err)
		}
		found = append(found, spooledIncident{state: st, done: s.isDone(id)})
	}
	return found, problems, nil
}

// parseState decodes the state file of incident id and checks the fields
// load relies on.
func parseState(data []byte, id string) (*incidentState, error) {
	st := new(incidentState)
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	switch {
	case st.Format != stateFormat:
		return nil, fmt.Errorf("'format' is %d, want %d", st.Format, stateFormat)
	case st.Incident.ID != id:
		return nil, fmt.Errorf("'incident.id' is %q, want its directory name %q", st.Incident.ID, id)
	case st.NextPart < 1:
		return nil, fmt.Errorf("'next_part' is %d, must be at least 1", st.NextPart)
	}
	if st.Complete && st.LateUntil.IsZero() {
		st.Final = true
	}
	return st, nil
}

// removeUncommitted deletes temporary files and parts st does not list.
func (s *spool) removeUncommitted(st *incidentState) error {
	dir := s.incidentDir(st.Incident.ID)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		remove := strings.HasPrefix(name, tempPrefix)
		if seq, ok := partSeq(name); ok {
			remove = seq >= st.NextPart
		}
		if remove {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				errs = append(errs, fmt.Errorf("spool: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// partSeq returns the number of a part file name such as
// "part-000001.tar.zst".
func partSeq(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".tar.zst")
	if !ok || len(digits) != 6 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// writeFileAtomic writes data to path atomically and durably (see
// atomicfile); its temporary file starts with tempPrefix, which load
// removes.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(atomicfile.OS, path, data, atomicfile.Options{TempPrefix: tempPrefix, Perm: filePerm}); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(atomicfile.OS, dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
