package evidenceexporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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
	logger      *zap.Logger
	ring        *ring.Ring
	reg         incidentsapi.Registry
	store       store.Store
	spool       *spool
	up          *uploader
	tb          *metadata.TelemetryBuilder
	now         func() time.Time
	policy      windowPolicy
	encoding    string
	partMax     int64
	maxAge      time.Duration
	collectorID string
	// storeCheckTimeout bounds the store lookup in begin.
	storeCheckTimeout time.Duration

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
		inc := snap.Incidents[id]
		open := inc != nil && inc.IsOpen()
		if sp.done || st.Complete {
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
		f.jobs[id] = st
		f.up.submit(st.clone())
	}
	for _, inc := range snap.Open {
		f.changes = append(f.changes, incidentsapi.Change{Kind: incidentsapi.Opened, Incident: *inc})
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
	if !flushAll {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(f.jobs)) {
		if !flushed[id] && !f.jobs[id].Complete {
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
			st.Incident = inc
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
		st.Incident = inc
		if st.Complete {
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

// begin creates the job of an incident seen for the first time. It checks
// the store for a bundle this collector wrote before (its spool may have
// been lost): a complete one is left alone, an incomplete one is continued
// after its last part. The check gives up after storeCheckTimeout, so that
// an unreachable store never delays the part covering the past. It reports
// whether there is a job to flush.
func (f *freezer) begin(ctx context.Context, inc incident.Incident, res *time.Time) bool {
	id := inc.ID
	if f.skipped[id] {
		return false
	}
	st := &incidentState{
		Incident:   inc,
		StartedAt:  inc.StartedAt,
		ResolvedAt: res,
		NextPart:   1,
		Parts:      []bundle.PartRef{},
	}
	checkCtx, cancel := context.WithTimeout(ctx, f.storeCheckTimeout)
	m, err := f.storedManifest(checkCtx, id)
	cancel()
	switch {
	case err != nil:
		f.logger.Warn("Cannot check the store for an earlier bundle of this incident; freezing from part 1",
			zap.String("incident", id), zap.Error(err))
	case m != nil && m.Complete:
		f.logger.Info("The store already holds this collector's complete bundle of the incident; not freezing it again",
			zap.String("incident", id))
		f.skipped[id] = true
		return false
	case m != nil:
		f.logger.Warn("The store holds an incomplete bundle of this incident but the spool has no state for it; "+
			"continuing after its last part (items may repeat)", zap.String("incident", id), zap.Int("parts", len(m.Parts)))
		st.Parts = m.Parts
		st.NextPart = m.NextSeq()
		st.StartedAt = m.Window.Start.Add(f.policy.before)
	}
	f.jobs[id] = st
	f.tb.ExporterEvidenceFreezes.Add(ctx, 1)
	if lb := f.ring.Lookback(f.now()); f.now().Add(-lb).After(st.StartedAt.Add(-f.policy.before)) {
		f.logger.Warn("The ring does not reach back to the start of the incident's window; the evidence starts later",
			zap.String("incident", id), zap.Duration("lookback", lb),
			zap.Time("window_start", st.StartedAt.Add(-f.policy.before)))
	}
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

// flushAll flushes every incident that is not complete (Shutdown).
func (f *freezer) flushAll(ctx context.Context) {
	for _, c := range f.takeChanges() {
		f.handle(ctx, c)
	}
	for _, id := range slices.Sorted(maps.Keys(f.jobs)) {
		if !f.jobs[id].Complete {
			f.flush(ctx, id)
		}
	}
}

// flush freezes what is new for one incident, commits, and hands the state
// to the uploader. Errors are logged and counted; the flush is redone on the
// next tick.
func (f *freezer) flush(ctx context.Context, id string) {
	st := f.jobs[id]
	next, res, err := f.freeze(ctx, st)
	if err != nil {
		f.tb.ExporterEvidencePartsFailed.Add(ctx, 1)
		f.logger.Error("Freezing the incident's window failed; retrying at the next flush",
			zap.String("incident", id), zap.Error(err))
		return
	}
	if next == nil {
		return // nothing changed
	}
	if err := f.commit(ctx, next, res); err != nil {
		f.tb.ExporterEvidencePartsFailed.Add(ctx, 1)
		f.logger.Error("Committing the incident's state to the spool failed; retrying at the next flush",
			zap.String("incident", id), zap.Error(err))
	}
}

// commit saves an incident's state in the spool, counts what was frozen
// since the last commit and hands the state to the uploader.
func (f *freezer) commit(ctx context.Context, next *incidentState, res flushResult) error {
	id := next.Incident.ID
	if err := f.spool.saveState(next); err != nil {
		return err
	}
	f.jobs[id] = next
	if res.parts > 0 {
		f.tb.ExporterEvidencePartsWritten.Add(ctx, int64(res.parts))
	}
	for sig, n := range res.items {
		if n > 0 {
			f.tb.ExporterEvidenceItemsFrozen.Add(ctx, n, metric.WithAttributeSet(signalAttrs[sig]))
		}
	}
	if next.Complete {
		f.logger.Info("Froze the incident's window", zap.String("incident", id),
			zap.Time("window_start", next.StartedAt.Add(-f.policy.before)), zap.Time("window_end", next.Bound),
			zap.Int("parts", len(next.Parts)))
	}
	f.up.submit(next.clone())
	return nil
}

// flushResult counts what one flush wrote.
type flushResult struct {
	parts int
	items [ring.NumSignals]int64
}

// freeze builds the parts of one flush and writes them to the spool. It
// returns the state to commit (nil when nothing changed).
func (f *freezer) freeze(ctx context.Context, st *incidentState) (*incidentState, flushResult, error) {
	now := f.now()
	wb := f.policy.bounds(st.StartedAt, st.ResolvedAt, st.Bound, now)
	last := f.ring.LastSeq()
	first := st.Version == 0 && len(st.Parts) == 0

	next := st.clone()
	next.Cursor = max(st.Cursor, last)
	next.Bound = wb.bound
	next.Complete = wb.final
	next.Version++

	b := &partBuilder{
		f:      f,
		ctx:    ctx,
		state:  next,
		window: bundle.Window{Start: wb.start, End: wb.bound},
		now:    now,
	}

	// Blocks already scanned: the items between the old and the new bound.
	if !st.Bound.IsZero() && wb.bound.After(st.Bound) && st.Cursor > 0 {
		r := timeRange{lo: ts(st.Bound) + 1, hi: ts(wb.bound)}
		if err := f.ring.ScanRange(0, st.Cursor, st.Bound.Add(1), wb.bound, b.visit(r, false)); err != nil {
			return nil, flushResult{}, err
		}
	}
	// New blocks: every item in the window so far.
	if last > st.Cursor {
		r := timeRange{lo: ts(wb.start), hi: ts(wb.bound)}
		if err := f.ring.ScanRange(st.Cursor, last, wb.start, wb.bound, b.visit(r, true)); err != nil {
			return nil, flushResult{}, err
		}
	}
	if err := b.addEvents(wb); err != nil {
		return nil, flushResult{}, err
	}
	if first && b.w == nil && len(next.Parts) == 0 {
		// The part covering the past is always written, even empty: it
		// records that the window was looked at.
		if _, err := b.writer(); err != nil {
			return nil, flushResult{}, err
		}
	}
	if err := b.finish(); err != nil {
		return nil, flushResult{}, err
	}
	if b.commits == 0 && b.parts == 0 && next.Cursor == st.Cursor && next.Bound.Equal(st.Bound) && next.Complete == st.Complete &&
		timesEqual(next.ResolvedAt, st.ResolvedAt) && st.Version > 0 {
		return nil, flushResult{}, nil
	}
	return next, flushResult{parts: b.parts, items: b.items}, nil
}

func timesEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// partBuilder collects the items of one flush into parts of at most about
// partMax uncompressed bytes and writes each finished part to the spool.
type partBuilder struct {
	f      *freezer
	ctx    context.Context
	state  *incidentState
	window bundle.Window
	now    time.Time
	w      *bundle.PartWriter
	// parts and items count what was frozen since the last commit; commits
	// counts the commits made during the flush (see commitAt).
	parts   int
	items   [ring.NumSignals]int64
	commits int

	tr ptrace.ProtoUnmarshaler
	lr plog.ProtoUnmarshaler
	mr pmetric.ProtoUnmarshaler
}

func (b *partBuilder) writer() (*bundle.PartWriter, error) {
	if b.w != nil {
		return b.w, nil
	}
	w, err := bundle.NewPartWriter(bundle.PartInfo{
		IncidentID:  b.state.Incident.ID,
		CollectorID: b.f.collectorID,
		Seq:         b.state.NextPart,
		Encoding:    b.f.encoding,
		CreatedAt:   b.now,
		Window:      b.window,
	})
	if err != nil {
		return nil, err
	}
	b.w = w
	return w, nil
}

// visit returns the scan callback that adds the items of a block whose
// time is in r. With commit set (blocks after the old cursor), every part it
// cuts is committed at once.
func (b *partBuilder) visit(r timeRange, commit bool) func(ring.Block) error {
	return func(blk ring.Block) error {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		payload, err := blk.Payload()
		if err != nil {
			return fmt.Errorf("reading ring block %d: %w", blk.Seq, err)
		}
		n, err := b.add(blk.Signal, payload, r)
		if err != nil {
			if errors.Is(err, errCorruptBlock) {
				b.f.logger.Error("Skipping a ring block that does not decode", zap.Uint64("seq", blk.Seq), zap.Error(err))
				return nil
			}
			return err
		}
		if n == 0 {
			return nil
		}
		b.items[blk.Signal] += int64(n)
		if b.w.Size() < b.f.partMax {
			return nil
		}
		if err := b.finish(); err != nil {
			return err
		}
		if commit {
			return b.commitAt(blk.Seq)
		}
		return nil
	}
}

// commitAt commits the flush so far as if it had scanned up to block seq,
// so that its parts go to the store while it goes on. The flush's final
// commit gets a later version.
func (b *partBuilder) commitAt(seq uint64) error {
	cp := b.state.clone()
	cp.Cursor = seq
	cp.Complete = false
	if err := b.f.commit(b.ctx, cp, flushResult{parts: b.parts, items: b.items}); err != nil {
		return err
	}
	b.state.Version++
	b.parts, b.items = 0, [ring.NumSignals]int64{}
	b.commits++
	return nil
}

var errCorruptBlock = errors.New("ring block does not decode")

// add decodes a block's payload, keeps the items in r and adds them to the
// current part. It returns the number of items added.
func (b *partBuilder) add(sig ring.Signal, payload []byte, r timeRange) (int, error) {
	switch sig {
	case ring.SignalTraces:
		td, err := b.tr.UnmarshalTraces(payload)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptBlock, err)
		}
		n := selectTraces(td, r)
		if n == 0 {
			return 0, nil
		}
		w, err := b.writer()
		if err != nil {
			return 0, err
		}
		return n, w.AddTraces(td)
	case ring.SignalLogs:
		ld, err := b.lr.UnmarshalLogs(payload)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptBlock, err)
		}
		n := selectLogs(ld, r)
		if n == 0 {
			return 0, nil
		}
		w, err := b.writer()
		if err != nil {
			return 0, err
		}
		return n, w.AddLogs(ld)
	case ring.SignalMetrics:
		md, err := b.mr.UnmarshalMetrics(payload)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptBlock, err)
		}
		n := selectMetrics(md, r)
		if n == 0 {
			return 0, nil
		}
		w, err := b.writer()
		if err != nil {
			return 0, err
		}
		return n, w.AddMetrics(md)
	}
	return 0, fmt.Errorf("%w: unknown signal %s", errCorruptBlock, sig)
}

// addEvents adds the registry's events in [start, bound] that are not in
// the bundle yet. Events are identified by the SHA-256 of their JSON, so an
// event recorded late (with a time already frozen) is still added, once.
func (b *partBuilder) addEvents(wb windowBounds) error {
	evs := b.f.reg.Events(wb.start, wb.bound)
	if len(evs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(b.state.Events))
	for _, h := range b.state.Events {
		seen[h] = true
	}
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encoding %s event: %w", ev.Kind, err)
		}
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		if seen[h] {
			continue
		}
		w, err := b.writer()
		if err != nil {
			return err
		}
		if err := w.AddEvent(ev); err != nil {
			return err
		}
		seen[h] = true
		b.state.Events = append(b.state.Events, h)
	}
	return nil
}

// finish closes the current part, if any, and writes it to the spool.
func (b *partBuilder) finish() error {
	if b.w == nil {
		return nil
	}
	data, info, err := b.w.Finish()
	b.w = nil
	if err != nil {
		return err
	}
	ref, err := bundle.NewPartRef(info, data)
	if err != nil {
		return err
	}
	if err := b.f.spool.writePart(b.state.Incident.ID, info.Seq, data); err != nil {
		return err
	}
	b.state.Parts = append(b.state.Parts, ref)
	b.state.NextPart = info.Seq + 1
	b.parts++
	return nil
}

// signalAttrs are the metric attributes of each signal.
var signalAttrs = func() [ring.NumSignals]attribute.Set {
	var out [ring.NumSignals]attribute.Set
	for i := range out {
		out[i] = attribute.NewSet(attribute.String("signal", ring.Signal(i).String()))
	}
	return out
}()
