package incidentsextension

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

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
		s := &incidentState{rec: incident.Incident{ID: rec.ID}}
		s.setMeta(metaOf(&rec))
		for _, m := range si.Opens {
			s.addOpen(openMark{At: m.At.UTC(), By: m.By})
		}
		for _, r := range si.Resolves {
			s.addResolve(r.UTC())
		}
		s.derive()
		if cur := e.incidents[rec.ID]; cur != nil {
			// A state is never modified in place: events share its record.
			merged := cur.clone()
			merged.mergeState(s)
			e.incidents[rec.ID] = merged
		} else {
			e.incidents[rec.ID] = s
		}
		e.markIncident(rec.ID)
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
		e.markDeploys()
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
	snap.Events = e.events.stored()
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
