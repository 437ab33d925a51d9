package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// run is the sync loop: every sync_interval it reads the other replicas'
// events, expires and prunes, and now and then stores a snapshot.
func (e *incidentsExtension) run(ctx context.Context) {
	defer close(e.loopDone)
	ticker := time.NewTicker(e.cfg.SyncInterval)
	defer ticker.Stop()
	for {
		e.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// tick runs one sync round. Store errors are logged, counted and reported
// as a recoverable component status; the next round retries.
func (e *incidentsExtension) tick(ctx context.Context) {
	err := e.poll(ctx)
	if ctx.Err() != nil {
		return
	}
	err = errors.Join(err, e.maintain(ctx))
	now := e.now()
	if now.Sub(e.lastSnapshot) >= e.snapshotEvery {
		if serr := e.writeSnapshot(ctx, false); serr != nil {
			err = errors.Join(err, serr)
		} else if now.Sub(e.lastCompact) >= e.compactEvery {
			e.lastCompact = now
			err = errors.Join(err, e.compact(ctx))
		}
	}
	if ctx.Err() != nil {
		return
	}
	e.reportHealth(err)
}

func (e *incidentsExtension) reportHealth(err error) {
	if err != nil {
		e.tel.ExtensionIncidentsSyncErrors.Add(context.Background(), 1)
		e.logger.Warn("Incident registry sync failed; retrying at the next interval", zap.Error(err))
		if !e.failing && e.host != nil {
			componentstatus.ReportStatus(e.host, componentstatus.NewRecoverableErrorEvent(err))
		}
		e.failing = true
		return
	}
	if e.failing {
		e.logger.Info("Incident registry sync recovered")
		if e.host != nil {
			componentstatus.ReportStatus(e.host, componentstatus.NewEvent(componentstatus.StatusOK))
		}
	}
	e.failing = false
}

// poll lists the sync log from the cursor and applies every event not
// applied yet, in key order. The cursor trails the newest event seen (or
// the local clock, if earlier) by syncLookback, so that events written late
// or by replicas with lagging clocks are still found; keys already applied
// are skipped.
func (e *incidentsExtension) poll(ctx context.Context) error {
	e.tel.ExtensionIncidentsSyncPolls.Add(context.Background(), 1)
	startAfter := ""
	if !e.cursor.IsZero() {
		startAfter = incidentsapi.EventKeyCursor(e.cursor)
	}
	objs, err := e.st.List(ctx, incidentsapi.EventsPrefix, startAfter)
	if err != nil {
		return fmt.Errorf("list the sync log: %w", err)
	}
	for _, o := range objs {
		if t, ok := e.appliedAt(o.Key); ok {
			// Applied already (this replica's own events, or re-listed
			// inside the lookback); still the cursor may move past it.
			if t.After(e.maxSeen) {
				e.maxSeen = t
			}
			continue
		}
		if err := e.applyKey(ctx, o.Key); err != nil {
			return err
		}
	}
	e.advanceCursor()
	return nil
}

// applyKey reads and applies one sync log object. It returns an error only
// for a failure worth retrying.
func (e *incidentsExtension) applyKey(ctx context.Context, key string) error {
	t, writer, _, err := incidentsapi.ParseEventKey(key)
	if err != nil {
		e.logger.Debug("Ignoring an object in the sync log", zap.String("key", key), zap.Error(err))
		e.markApplied(key, e.now())
		return nil
	}
	var ev incident.Event
	err = getJSON(ctx, e.st, key, &ev)
	if err == nil {
		err = validateEvent(&ev)
		if err != nil {
			err = fmt.Errorf("%w: %s: %w", errBadObject, key, err)
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Deleted since it was listed (compaction): nothing to apply.
	case errors.Is(err, errBadObject):
		e.logger.Warn("Skipping a malformed event in the sync log", zap.String("key", key), zap.Error(err))
	case err != nil:
		return fmt.Errorf("read the sync log: %w", err)
	default:
		e.applyRemote(key, ev)
		if writer != e.id && !e.isRebuilding() {
			e.tel.ExtensionIncidentsSyncEventsApplied.Add(context.Background(), 1)
			e.tel.ExtensionIncidentsSyncLag.Record(context.Background(), max(e.now().Sub(t), 0).Seconds())
		}
	}
	e.markApplied(key, t)
	return nil
}

func (e *incidentsExtension) appliedAt(key string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.applied[key]
	return t, ok
}

func (e *incidentsExtension) isRebuilding() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rebuild
}

func (e *incidentsExtension) markApplied(key string, t time.Time) {
	e.mu.Lock()
	e.applied[key] = t
	e.mu.Unlock()
	if t.After(e.maxSeen) {
		e.maxSeen = t
	}
}

// advanceCursor moves the cursor to syncLookback before the newest event
// seen (or now, whichever is earlier) and forgets applied keys before it.
func (e *incidentsExtension) advanceCursor() {
	c := e.maxSeen
	if now := e.now(); now.Before(c) {
		c = now
	}
	c = c.Add(-e.syncLookback)
	if c.After(e.cursor) {
		e.cursor = c
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, t := range e.applied {
		if t.Before(e.cursor) {
			delete(e.applied, k)
		}
	}
	if over := len(e.applied) - maxApplied; over > 0 {
		// Far more events than expected inside the lookback: forget the
		// oldest. Re-applying one later is harmless (merges are idempotent).
		keys := sortedIDs(e.applied)
		for _, k := range keys[:over] {
			delete(e.applied, k)
		}
	}
}

// applyRemote merges an event read from the sync log.
func (e *incidentsExtension) applyRemote(key string, ev incident.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var changes []incidentsapi.Change
	changed := false
	if rec := ev.Incident; rec != nil {
		cur := e.incidents[rec.ID]
		var next *incidentState
		if cur != nil {
			next = cur.clone()
			next.mergeRecord(rec)
		} else {
			next = newStateFromRecord(rec)
		}
		if cur == nil || !sameIncident(&cur.rec, &next.rec) {
			changed = true
			e.incidents[rec.ID] = next
			e.dirty[rec.ID] = struct{}{}
			changes = diffIncident(curRec(cur), &next.rec, ev.Kind)
		}
	}
	if d := ev.Deploy; d != nil {
		merged := *d
		cur := e.deploys[d.ID]
		if cur != nil {
			merged = mergeDeploy(cur, d)
		}
		if cur == nil || !sameDeploy(cur, &merged) {
			changed = true
			e.deploys[d.ID] = &merged
			if !e.rebuild {
				e.tel.ExtensionIncidentsDeploysRecorded.Add(context.Background(), 1, originAttr(originReplica))
			}
		}
	}
	if changed {
		e.publish(changes, originReplica)
	}
	e.recordEvent(key, ev)
}

// maintain applies pending resolutions, expires incidents open too long,
// prunes old state and rewrites incident.json files whose write failed or
// whose content changed through another replica.
func (e *incidentsExtension) maintain(ctx context.Context) error {
	now := e.now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error

	for _, id := range sortedIDs(e.pending) {
		p := e.pending[id]
		s := e.incidents[id]
		switch {
		case s != nil && s.rec.Status == incident.StatusOpen && !s.rec.StartedAt.After(p.at):
			if err := e.resolveLocked(ctx, s, p.at, incident.EventIncidentResolved, p.source, now); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(e.pending, id)
		case s != nil || now.After(p.expires):
			delete(e.pending, id)
		}
	}

	for _, id := range sortedIDs(e.incidents) {
		s := e.incidents[id]
		if s.rec.Status != incident.StatusOpen {
			continue
		}
		end := s.rec.StartedAt.Add(e.cfg.MaxOpenDuration)
		if now.Before(end) {
			continue
		}
		if err := e.resolveLocked(ctx, s, end, incident.EventIncidentExpired, s.rec.Source, now); err != nil {
			errs = append(errs, err)
		}
	}

	changed := false
	keepResolved := now.Add(-max(e.cfg.EventRetention, e.cfg.MaxOpenDuration))
	for id, s := range e.incidents {
		if s.rec.Status == incident.StatusResolved && s.rec.ResolvedAt.Before(keepResolved) {
			delete(e.incidents, id)
			delete(e.dirty, id)
			changed = true
		}
	}
	changed = e.pruneDeploysLocked(now) || changed
	if changed {
		e.publish(nil, originLocal)
	}
	e.evMu.Lock()
	e.events.pruneBefore(now.Add(-e.cfg.EventRetention))
	e.evMu.Unlock()

	for _, id := range sortedIDs(e.dirty) {
		s := e.incidents[id]
		if s == nil {
			delete(e.dirty, id)
			continue
		}
		key, err := incidentKey(id)
		if err == nil {
			err = putJSON(ctx, e.st, key, &s.rec)
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		delete(e.dirty, id)
	}
	return errors.Join(errs...)
}

// resolveLocked resolves an open incident at `at` on this replica's own
// account (a pending resolution or an expiry), writing the event first.
func (e *incidentsExtension) resolveLocked(ctx context.Context, s *incidentState, at time.Time, kind incident.EventKind, source string, now time.Time) error {
	next := s.clone()
	next.addResolve(maxTime(at, s.rec.StartedAt))
	next.derive()
	published := cloneIncident(&next.rec)
	ev := incident.Event{
		Kind: kind, Time: now, Source: source, IncidentID: s.rec.ID,
		Incident: &published, CollectorID: e.id,
	}
	key, err := e.appendEvent(ctx, &ev)
	if err != nil {
		return fmt.Errorf("%s incident %q: %w", kind, s.rec.ID, err)
	}
	e.incidents[s.rec.ID] = next
	e.writeIncident(ctx, &next.rec)
	e.publish(diffIncident(&s.rec, &next.rec, kind), originLocal)
	e.recordEvent(key, ev)
	return nil
}

// pruneDeploysLocked drops deploys started before the retention, except the
// latest of each service (it may still be live).
func (e *incidentsExtension) pruneDeploysLocked(now time.Time) bool {
	cutoff := now.Add(-e.cfg.DeployRetention)
	latest := make(map[string]*incident.Deploy)
	for _, d := range e.deploys {
		l := latest[d.Service]
		if l == nil || d.StartedAt.After(l.StartedAt) || (d.StartedAt.Equal(l.StartedAt) && d.ID > l.ID) {
			latest[d.Service] = d
		}
	}
	changed := false
	for id, d := range e.deploys {
		if d.StartedAt.Before(cutoff) && latest[d.Service] != d {
			delete(e.deploys, id)
			changed = true
		}
	}
	return changed
}

// load rebuilds the registry at Start: it merges every replica's stored
// snapshot, then applies the sync log from the newest snapshot's cursor
// (minus the lookback), or the whole log when there is no snapshot.
func (e *incidentsExtension) load(ctx context.Context) error {
	e.mu.Lock()
	e.rebuild = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.rebuild = false
		e.mu.Unlock()
	}()

	objs, err := e.st.List(ctx, incidentsapi.SnapshotsPrefix, "")
	if err != nil {
		return fmt.Errorf("list the snapshots: %w", err)
	}
	var from time.Time
	for _, o := range objs {
		var snap storedSnapshot
		if err := getJSON(ctx, e.st, o.Key, &snap); err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, errBadObject) {
				e.logger.Warn("Skipping an unreadable registry snapshot", zap.String("key", o.Key), zap.Error(err))
				continue
			}
			return err
		}
		if snap.Format != snapshotFormat {
			e.logger.Warn("Skipping a registry snapshot of an unknown format", zap.String("key", o.Key), zap.Int("format", snap.Format))
			continue
		}
		e.mergeSnapshot(&snap)
		if snap.Cursor.After(from) {
			from = snap.Cursor
		}
	}
	if !from.IsZero() {
		from = from.Add(-e.syncLookback)
	}
	e.cursor = from
	if err := e.poll(ctx); err != nil {
		return err
	}
	return nil
}

// mergeSnapshot merges a stored snapshot into the registry.
func (e *incidentsExtension) mergeSnapshot(snap *storedSnapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range snap.Incidents {
		si := &snap.Incidents[i]
		rec := si.Incident
		normalizeIncident(&rec)
		if err := rec.Validate(); err != nil || len(si.Opens) == 0 {
			e.logger.Warn("Skipping an invalid incident in a registry snapshot", zap.String("incident.id", rec.ID), zap.Error(err))
			continue
		}
		s := &incidentState{rec: incident.Incident{ID: rec.ID}, meta: metaOf(&rec)}
		for _, m := range si.Opens {
			s.addOpen(openMark{At: m.At.UTC(), By: m.By})
		}
		for _, r := range si.Resolves {
			s.addResolve(r.UTC())
		}
		s.derive()
		if cur := e.incidents[rec.ID]; cur != nil {
			cur.mergeState(s)
		} else {
			e.incidents[rec.ID] = s
		}
	}
	for i := range snap.Deploys {
		d := snap.Deploys[i]
		normalizeDeploy(&d)
		if err := d.Validate(); err != nil {
			continue
		}
		if cur := e.deploys[d.ID]; cur != nil {
			d = mergeDeploy(cur, &d)
		}
		e.deploys[d.ID] = &d
	}
	for _, se := range snap.Events {
		ev := se.Event
		if validateEvent(&ev) != nil {
			continue
		}
		e.recordEvent(se.Key, ev)
	}
	e.publish(nil, originReplica)
}

// writeSnapshot stores this replica's compacted state if it changed since
// the last one (or always, when force is set).
func (e *incidentsExtension) writeSnapshot(ctx context.Context, force bool) error {
	now := e.now()
	e.mu.Lock()
	version := e.version
	if !force && version == e.snapWritten && !e.lastSnapshot.IsZero() {
		e.mu.Unlock()
		e.lastSnapshot = now
		return nil
	}
	snap := storedSnapshot{
		Format:      snapshotFormat,
		CollectorID: e.id,
		WrittenAt:   now.UTC(),
		Cursor:      e.cursor.UTC(),
		Incidents:   make([]storedIncident, 0, len(e.incidents)),
		Deploys:     make([]incident.Deploy, 0, len(e.deploys)),
	}
	for _, id := range sortedIDs(e.incidents) {
		s := e.incidents[id]
		snap.Incidents = append(snap.Incidents, storedIncident{
			Incident: cloneIncident(&s.rec), Opens: slices.Clone(s.opens), Resolves: slices.Clone(s.resolves),
		})
	}
	for _, id := range sortedIDs(e.deploys) {
		snap.Deploys = append(snap.Deploys, cloneDeploy(e.deploys[id]))
	}
	e.evMu.RLock()
	snap.Events = slices.Clone(e.events.all())
	e.evMu.RUnlock()
	e.mu.Unlock()

	if err := putJSON(ctx, e.st, snapshotKey(e.id), &snap); err != nil {
		return err
	}
	e.snapWritten, e.lastSnapshot = version, now
	return nil
}

// compact deletes this replica's own sync events older than any retention
// needs; the stored snapshots hold their effect.
func (e *incidentsExtension) compact(ctx context.Context) error {
	keep := max(e.cfg.EventRetention, e.cfg.DeployRetention, e.cfg.MaxOpenDuration) + e.syncLookback
	// Never past the cursor: the snapshot just written covers only what
	// lies before it.
	cutoff := e.now().Add(-keep)
	if e.cursor.Before(cutoff) {
		cutoff = e.cursor
	}
	objs, err := e.st.List(ctx, incidentsapi.EventsPrefix, "")
	if err != nil {
		return fmt.Errorf("list the sync log for compaction: %w", err)
	}
	deleted := 0
	for _, o := range objs {
		t, writer, _, perr := incidentsapi.ParseEventKey(o.Key)
		if perr != nil {
			continue
		}
		if !t.Before(cutoff) {
			break
		}
		if writer != e.id {
			continue
		}
		if err := e.st.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("compact the sync log: %w", err)
		}
		deleted++
	}
	if deleted > 0 {
		e.logger.Debug("Compacted the sync log", zap.Int("deleted", deleted), zap.Time("before", cutoff))
	}
	return nil
}
