package evidenceexporter

import (
	"context"
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// flushAll flushes every incident that is not complete (Shutdown).
func (f *freezer) flushAll(ctx context.Context) {
	for _, c := range f.takeChanges() {
		f.handle(ctx, c)
	}
	f.checkAll(ctx)
	for _, id := range slices.Sorted(maps.Keys(f.jobs)) {
		if !f.jobs[id].Final {
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
	if next.Unchecked {
		f.settleUnchecked(ctx, next)
	}
	if err := f.spool.appendEvents(id, next.EventsCount, false, next.newEvents); err != nil {
		return err
	}
	next.EventsCount += len(next.newEvents)
	next.newEvents = nil
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
	for _, l := range res.losses {
		if l.Items > 0 {
			f.tb.ExporterEvidenceItemsLost.Add(ctx, l.Items, metric.WithAttributes(
				attribute.String("signal", l.Signal), attribute.String("reason", l.Reason)))
		}
		f.logger.Warn("The incident's bundle lacks evidence; its manifest and part name the loss",
			zap.String("incident", id), zap.String("signal", l.Signal), zap.String("reason", l.Reason),
			zap.Int64("items", l.Items), zap.Time("from", l.From), zap.Time("to", l.To))
	}
	if next.Final {
		f.logger.Info("Froze the incident's window", zap.String("incident", id),
			zap.Time("window_start", next.StartedAt.Add(-f.policy.before)), zap.Time("window_end", next.Bound),
			zap.Int("parts", len(next.Parts)))
	}
	f.up.submit(next) // committed: never changed again (see update)
	return nil
}

// flushResult counts what one flush wrote.
type flushResult struct {
	parts  int
	items  [ring.NumSignals]int64
	losses []bundle.Loss
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
	late := st.Complete // what this flush finds arrived after the bundle was complete
	if next.Complete && !st.Complete {
		next.LateUntil = now.Add(f.latePeriod)
	}
	next.Final = next.Complete && !now.Before(next.LateUntil)
	next.Version++
	next.Pending = nil

	b := &partBuilder{
		f:       f,
		ctx:     ctx,
		state:   next,
		bounds:  wb,
		window:  bundle.Window{Start: wb.start, End: wb.bound},
		now:     now,
		pending: bundle.MergeLosses(nil, st.Pending...),
		late:    late,
	}
	defer func() {
		if b.w != nil { // a part the flush gave up on
			b.w.Discard()
		}
	}()

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
	f.evictionLosses(b, st, wb, last)
	refused, newest := f.refused.since(st.Refused, wb.start, wb.bound)
	b.pending = bundle.MergeLosses(b.pending, refused...)
	next.Refused = newest
	if err := b.addEvents(wb, st); err != nil {
		return nil, flushResult{}, err
	}
	if len(b.pending) > 0 && b.w == nil {
		// What the flush found missing is recorded in a part of its own.
		if _, err := b.writer(); err != nil {
			return nil, flushResult{}, err
		}
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
	if b.commits == 0 && b.parts == 0 && next.Cursor == st.Cursor && next.Bound.Equal(st.Bound) && next.Complete == st.Complete && next.Final == st.Final &&
		timesEqual(next.ResolvedAt, st.ResolvedAt) && st.Version > 0 {
		return nil, flushResult{}, nil
	}
	return next, flushResult{parts: b.parts, items: b.items, losses: b.lost}, nil
}

// evictionLosses names the items of the window that the ring evicted before
// this incident froze them: blocks after the old cursor that the flush did
// not get to read, and blocks up to it whose items between the old and the
// new bound it would have taken. An evicted block is counted whole (the
// ring keeps the item-time range and count of every evicted block, not
// each item's time), so a block that straddles an edge of the window is
// counted with its items outside it; its time range is clipped to the
// window.
func (f *freezer) evictionLosses(b *partBuilder, st *incidentState, wb windowBounds, last uint64) {
	add := func(blocks []ring.BlockInfo, lo, hi time.Time) {
		for _, e := range blocks {
			if b.visited(e.Seq) {
				continue // taken before its eviction
			}
			b.pending = bundle.MergeLosses(b.pending, bundle.Loss{
				Signal: e.Signal.String(), Reason: bundle.LossEvicted, Items: e.Items,
				From: latest(e.MinTime, lo), To: earliest(e.MaxTime, hi),
			})
		}
	}
	if !st.Bound.IsZero() && wb.bound.After(st.Bound) && st.Cursor > 0 {
		// An old block is counted once: by the flush whose bound passes
		// its newest item.
		blocks, _ := f.ring.Evicted(0, st.Cursor, st.Bound.Add(1), wb.bound)
		blocks = slices.DeleteFunc(blocks, func(e ring.BlockInfo) bool {
			return !e.MaxTime.After(st.Bound) || e.MaxTime.After(wb.bound)
		})
		add(blocks, st.Bound.Add(1), wb.bound)
	}
	if last > st.Cursor {
		blocks, complete := f.ring.Evicted(st.Cursor, last, wb.start, wb.bound)
		add(blocks, wb.start, wb.bound)
		if !complete {
			// Blocks evicted before the ring's log began (a disk ring
			// reopened after a long stop): their number is not known.
			for sig := range ring.NumSignals {
				b.pending = bundle.MergeLosses(b.pending, bundle.Loss{
					Signal: ring.Signal(sig).String(), Reason: bundle.LossEvicted, From: wb.start, To: wb.bound,
				})
			}
		}
	}
}

func timesEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }
