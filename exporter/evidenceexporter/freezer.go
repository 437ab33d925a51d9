package evidenceexporter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// freezer turns the ring's blocks into bundle parts, one job per incident.
//
// Exactly once: each incident's state holds a ring cursor C and a bound L.
// Blocks with seq <= C have given the bundle every item whose own time is in
// [start, L]. A flush with the new bound L' (L' >= L) and the ring's last
// sequence number N takes, from the blocks with seq <= C, the items in
// (L, L'], and from the blocks in (C, N], the items in [start, L'], and then
// commits C = N, L = L'. So an item is taken by exactly one flush: the first
// one that both has seen its block and reaches its time. A flush commits
// (state.json) only parts that are in the spool: at its end, and whenever it
// cuts a part from the new blocks, with C = the last block taken, so that a
// large window reaches the store part by part instead of all at the end
// (the older blocks are all taken up to L' by then, so C and L' keep the
// rule). What a flush that fails or is cut short by a crash has not
// committed is redone.
//
// All methods except enqueue run on one goroutine at a time (the freeze
// loop, or Start and Shutdown while the loop is not running).
type freezer struct {
	logger   *zap.Logger
	ring     *ring.Ring
	reg      incidentsapi.Registry
	store    store.Store
	spool    *spool
	up       *uploader
	tb       *metadata.TelemetryBuilder
	now      func() time.Time
	policy   windowPolicy
	encoding string
	// viaPdata makes traces and logs go into parts through pdata (decode,
	// filter, marshal) instead of otlpwire's transcoder (otlp_json) or
	// filter (otlp_proto): the peer of the benchmarks and tests.
	viaPdata bool
	// refused are the batches the ring could not keep.
	refused *refusedLog
	// latePeriod is how long a complete bundle takes late parts.
	latePeriod time.Duration
	// dataLimit bounds the data bytes of a part (see partDataLimit).
	dataLimit   int64
	maxAge      time.Duration
	collectorID string
	// signer signs each part.json; nil leaves parts unsigned.
	signer *bundle.Signer
	// storeCheckTimeout bounds the store lookup of a new incident (see
	// lookup).
	storeCheckTimeout time.Duration
	// lookups are the store lookups of unchecked jobs, by ID (see lookup).
	lookups map[string]*storeLookup
	// partWritten, if set (tests), is called on the freeze loop after
	// each part is written to the spool, before it is committed.
	partWritten func(id string, seq int)

	// restart is what the previous process's memory ring held (nil with a
	// disk ring, or without a previous process); recorder is this
	// process's recorder state, rewritten every flush (nil with a disk
	// ring).
	restart  *restartGap
	recorder *recorderState
	// ledger is this process's arrival ledger (nil with a disk ring).
	ledger *ledger

	// jobs are the incidents with a state in the spool, by ID.
	jobs map[string]*incidentState
	// skipped are incidents whose bundle the store already holds complete.
	skipped map[string]bool

	mu      sync.Mutex
	changes []incidentsapi.Change
	wake    chan struct{}
}

// enqueue is the registry subscription: it never blocks.
func (f *freezer) enqueue(c incidentsapi.Change) {
	f.mu.Lock()
	f.changes = append(f.changes, c)
	f.mu.Unlock()
	f.kick()
}

// kick wakes the freeze loop.
func (f *freezer) kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *freezer) takeChanges() []incidentsapi.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.changes
	f.changes = nil
	return c
}

// resume adopts the states found in the spool and queues the incidents the
// registry has open, so that incidents opened while the collector was down
// are frozen too. It runs in Start, before the loop.
func (f *freezer) resume(found []spooledIncident, snap *incidentsapi.Snapshot) {
	last := f.ring.LastSeq()
	for _, sp := range found {
		st := sp.state
		id := st.Incident.ID
		if err := f.loadTaken(st); err != nil {
			// Without them, every event of the window is added again.
			f.logger.Warn("Cannot read which events the incident's parts hold; its next part repeats them",
				zap.String("incident", id), zap.Error(err))
			st.taken = map[[sha256.Size]byte]struct{}{}
		}
		inc := snap.Incidents[id]
		open := inc != nil && inc.IsOpen()
		if sp.done || st.Final {
			if sp.done && !open {
				if err := f.spool.removeIncident(id); err != nil {
					f.logger.Warn("Cannot remove a finished incident from the spool", zap.String("incident", id), zap.Error(err))
				}
				continue
			}
			f.jobs[id] = st
			if !sp.done {
				f.up.submit(st.clone())
			}
			continue
		}
		st.Refused = 0          // refused batches are numbered per process
		frozenUpTo := st.Cursor // in the previous process's ring
		if st.Cursor > last {
			// The ring restarted empty (memory ring) or lost its tail:
			// every block it holds now is new to this incident.
			f.logger.Info("The ring restarted below this incident's cursor; continuing from its newest block",
				zap.String("incident", id), zap.Uint64("cursor", st.Cursor), zap.Uint64("ring_last_seq", last))
			st.Cursor = last
		}
		if inc != nil {
			st.Incident = *inc
			if !open && st.ResolvedAt == nil {
				st.ResolvedAt = resolvedAt(inc, f.now())
			}
		}
		wb := f.policy.bounds(st.StartedAt, st.ResolvedAt, st.Bound, f.now())
		st.Pending = bundle.MergeLosses(st.Pending, f.restart.losses(wb.start, wb.bound, frozenUpTo, st.Bound)...)
		f.jobs[id] = st
		f.up.submit(st.clone())
	}
	for _, inc := range snap.Open {
		f.changes = append(f.changes, incidentsapi.Change{Kind: incidentsapi.Opened, Incident: *inc})
	}
}

// loadTaken reads the hashes of the events st's parts hold, moving those an
// earlier version listed in state.json to the events file.
func (f *freezer) loadTaken(st *incidentState) error {
	id := st.Incident.ID
	if st.Events != nil {
		taken, err := legacyEvents(st.Events)
		if err != nil {
			return err
		}
		sums := slices.SortedFunc(maps.Keys(taken), func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
		if err := f.spool.appendEvents(id, 0, true, sums); err != nil {
			return err
		}
		st.Events, st.EventsCount, st.taken = nil, len(sums), taken
		return nil
	}
	taken, err := f.spool.readEvents(id, st.EventsCount)
	if err != nil {
		return err
	}
	st.taken = taken
	return nil
}

// saveRecorder rewrites recorder.json with what the memory ring holds.
func (f *freezer) saveRecorder() {
	if f.recorder == nil {
		return
	}
	f.recorder.UpdatedAt = f.now()
	recordRing(f.recorder, f.ring)
	if f.ledger != nil && f.ledger.failed.Load() && !f.recorder.LedgerFailed {
		f.recorder.LedgerFailed = true
		f.logger.Warn("A write to the arrival ledger failed; after a crash, what the memory ring took since its last record is named without a count")
	}
	if err := f.spool.writeRecorder(f.recorder); err != nil {
		f.logger.Warn("Cannot record what the memory ring holds; after a crash, the bundles cannot name what it lost",
			zap.Error(err))
	}
}

// resolvedAt is the incident's resolution time, or now when the record has none.
func resolvedAt(inc *incident.Incident, now time.Time) *time.Time {
	t := now
	if inc.ResolvedAt != nil {
		t = *inc.ResolvedAt
	}
	return &t
}

// run is the freeze loop: it handles registry changes as they come and
// flushes every incident on each tick.
func (f *freezer) run(ctx context.Context, tick <-chan time.Time, sync <-chan chan struct{}) {
	for {
		var reply chan struct{}
		flushAll := false
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-tick:
			flushAll = true
		case reply = <-sync:
			flushAll = true
		}
		f.step(ctx, flushAll)
		if reply != nil {
			close(reply)
		}
	}
}

// step handles the queued changes, then flushes every active incident if
// flushAll is set.
func (f *freezer) step(ctx context.Context, flushAll bool) {
	flushed := make(map[string]bool)
	for _, c := range f.takeChanges() {
		if id := f.handle(ctx, c); id != "" {
			flushed[id] = true
		}
	}
	// New incidents have their past in the spool now: the store check
	// comes after it.
	f.checkAll(ctx)
	if !flushAll {
		return
	}
	f.saveRecorder()
	for _, id := range slices.Sorted(maps.Keys(f.jobs)) {
		if !flushed[id] && !f.jobs[id].Final {
			f.flush(ctx, id)
		}
	}
}

// handle applies one registry change and returns the ID of the incident it
// flushed, if any.
func (f *freezer) handle(ctx context.Context, c incidentsapi.Change) string {
	inc := c.Incident
	id := inc.ID
	if err := incident.ValidateID(id); err != nil {
		f.logger.Warn("Ignoring an incident with an invalid ID", zap.Error(err))
		return ""
	}
	st := f.jobs[id]
	switch c.Kind {
	case incidentsapi.Opened, incidentsapi.Extended:
		if st != nil {
			f.update(st).Incident = inc
			return ""
		}
		if !inc.IsOpen() {
			return ""
		}
		if !f.begin(ctx, inc, nil) {
			return ""
		}
	case incidentsapi.Resolved, incidentsapi.Expired:
		if st == nil {
			// Opened and resolved while this collector did not watch:
			// freeze it if the ring can still hold some of its window.
			res := resolvedAt(&inc, f.now())
			b := f.policy.bounds(inc.StartedAt, res, time.Time{}, f.now())
			if b.bound.Before(f.now().Add(-f.maxAge)) || !f.begin(ctx, inc, res) {
				return ""
			}
			break
		}
		st = f.update(st)
		st.Incident = inc
		if st.Final {
			if f.spool.isDone(id) {
				if err := f.spool.removeIncident(id); err != nil {
					f.logger.Warn("Cannot remove a finished incident from the spool", zap.String("incident", id), zap.Error(err))
				}
				delete(f.jobs, id)
			}
			return ""
		}
		if st.ResolvedAt == nil {
			st.ResolvedAt = resolvedAt(&inc, f.now())
		}
	default:
		return ""
	}
	f.flush(ctx, id)
	return id
}

// update returns a copy of a committed state to change, in its place: the
// uploader reads committed states, unlocked, so they are never changed.
func (f *freezer) update(st *incidentState) *incidentState {
	c := st.clone()
	f.jobs[st.Incident.ID] = c
	return c
}

// begin creates the job of an incident seen for the first time, marked
// unchecked: its first flush, right after, freezes the past into the spool
// before anything else, so that a crash of a memory ring from then on
// loses none of it. Whether the store already holds this collector's
// bundle of the incident (its spool may have been lost) is asked at the
// same time, in the background (see lookup); the uploader leaves the
// job's parts alone until the answer is in. It reports whether there is a
// job to flush.
func (f *freezer) begin(ctx context.Context, inc incident.Incident, res *time.Time) bool {
	if f.skipped[inc.ID] {
		return false
	}
	st := f.newState(inc, res, inc.StartedAt)
	st.Unchecked = true
	f.jobs[inc.ID] = st
	f.lookup(ctx, inc.ID)
	f.tb.ExporterEvidenceFreezes.Add(ctx, 1)
	// Whether the ring still holds the window's past is known from what it
	// evicted (item times, like the window), not from how far back its
	// arrivals reach: the first flush names what is missing, if anything.
	return true
}

// newState is the state of an incident before its first flush, its window
// computed from startedAt.
func (f *freezer) newState(inc incident.Incident, res *time.Time, startedAt time.Time) *incidentState {
	st := &incidentState{
		Incident:   inc,
		StartedAt:  startedAt,
		ResolvedAt: res,
		NextPart:   1,
		Parts:      []bundle.PartRef{},
	}
	wb := f.policy.bounds(st.StartedAt, res, time.Time{}, f.now())
	st.Pending = f.restart.losses(wb.start, wb.bound, 0, time.Time{})
	return st
}

// checkAll checks every unchecked job (see check), in order.
func (f *freezer) checkAll(ctx context.Context) {
	for _, id := range slices.Sorted(maps.Keys(f.jobs)) {
		if f.jobs[id].Unchecked {
			f.check(ctx, id)
		}
	}
}

// check asks the store whether it holds this collector's bundle of an
// unchecked job's incident, which the spool does not know (the spool was
// lost, or the state found at start was written before the check): a
// complete one is left alone and the job's spooled parts are deleted; an
// incomplete one is continued after its last part (the job's spooled
// parts are deleted and the window is frozen again from the ring, so that
// no part number is used twice; items may repeat, and the self-metrics
// count the discarded freeze as well). Otherwise the job is
// committed as checked and the uploader takes it (a commit of the flush
// may have done that already: see settleUnchecked). The look gives up
// after storeCheckTimeout: an unreachable store counts as holding nothing,
// as the parts must reach it some day. A check whose commit fails is
// redone at the next step.
func (f *freezer) check(ctx context.Context, id string) {
	l := f.lookup(ctx, id)
	select {
	case <-l.done:
	case <-ctx.Done():
	}
	delete(f.lookups, id)
	if ctx.Err() != nil {
		return // shutting down: the next start checks again
	}
	m, err := l.manifest, l.err
	st := f.jobs[id]
	switch {
	case err != nil:
		f.warnUnchecked(id, err)
	case m != nil && m.Complete:
		f.logger.Info("The store already holds this collector's complete bundle of the incident; not freezing it again",
			zap.String("incident", id))
		if !f.discard(id) {
			return
		}
		f.skipped[id] = true
		return
	case m != nil:
		f.logger.Warn("The store holds an incomplete bundle of this incident but the spool has no state for it; "+
			"continuing after its last part (items may repeat)", zap.String("incident", id), zap.Int("parts", len(m.Parts)))
		if !f.discard(id) {
			return
		}
		next := f.newState(st.Incident, st.ResolvedAt, m.Window.Start.Add(f.policy.before))
		next.Parts = m.Parts
		next.NextPart = m.NextSeq()
		f.jobs[id] = next
		f.flush(ctx, id)
		return
	}
	next := f.update(st)
	next.Unchecked = false
	if st.Version == 0 {
		return // nothing committed yet: the next flush commits it checked
	}
	next.Version++
	if err := f.commit(ctx, next, flushResult{}); err != nil {
		f.jobs[id] = st
		f.logger.Error("Committing the incident's state to the spool failed; checking the store again at the next flush",
			zap.String("incident", id), zap.Error(err))
	}
}

// storeLookup is the answer of the store to whether it holds this
// collector's manifest of an incident: manifest and err are set once done
// is closed.
type storeLookup struct {
	done     chan struct{}
	manifest *bundle.Manifest
	err      error
}

// lookup returns the store lookup of incident id, started now in the
// background (for at most storeCheckTimeout) if none is under way. It runs
// while the job's first flush freezes the past into the spool, so that on
// a large past the parts go to the store as they are committed, not once
// the whole past is frozen.
func (f *freezer) lookup(ctx context.Context, id string) *storeLookup {
	if l := f.lookups[id]; l != nil {
		return l
	}
	l := &storeLookup{done: make(chan struct{})}
	f.lookups[id] = l
	go func() {
		defer close(l.done)
		lctx, cancel := context.WithTimeout(ctx, f.storeCheckTimeout)
		defer cancel()
		l.manifest, l.err = f.storedManifest(lctx, id)
	}()
	return l
}

// settleUnchecked marks next, an unchecked state about to be committed by
// a flush, as checked when its store lookup has answered that the store
// holds no bundle of the incident from this collector (or could not be
// asked), so that the uploader takes its parts from this commit on. A
// bundle found in the store is left to check, after the flush.
func (f *freezer) settleUnchecked(ctx context.Context, next *incidentState) {
	id := next.Incident.ID
	l := f.lookups[id]
	if l == nil || ctx.Err() != nil {
		return
	}
	select {
	case <-l.done:
	default:
		return // no answer yet: a later commit or check settles it
	}
	if l.manifest != nil {
		return
	}
	if l.err != nil {
		f.warnUnchecked(id, l.err)
	}
	next.Unchecked = false
	delete(f.lookups, id)
}

func (f *freezer) warnUnchecked(id string, err error) {
	f.logger.Warn("Cannot check the store for an earlier bundle of this incident; uploading the spooled parts from part 1",
		zap.String("incident", id), zap.Error(err))
}

// discard deletes an unchecked job and what the spool holds of it, which
// the uploader has left alone, and reports whether that worked (if not,
// the job stays, unchecked, and is checked again at the next step).
func (f *freezer) discard(id string) bool {
	if err := f.spool.removeIncident(id); err != nil {
		f.logger.Error("Cannot remove the incident's unchecked parts from the spool; checking the store again at the next flush",
			zap.String("incident", id), zap.Error(err))
		return false
	}
	f.up.forget(id)
	delete(f.jobs, id)
	return true
}

// storedManifest returns this collector's manifest of incident id, nil if
// there is none.
func (f *freezer) storedManifest(ctx context.Context, id string) (*bundle.Manifest, error) {
	key, err := bundle.ManifestKey(id, f.collectorID)
	if err != nil {
		return nil, err
	}
	rc, _, err := f.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }() // read only: ReadAll reports what matters
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, err
	}
	return bundle.ParseManifest(data)
}
