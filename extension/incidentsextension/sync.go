package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"context"
	"errors"
	"fmt"
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
	if now.Sub(e.lastProbe) >= e.storeProbeEvery {
		e.lastProbe = now
		rec := collectorRecord{CollectorID: e.id, StartedAt: e.started, LastSeen: now.UTC()}
		if perr := putJSON(ctx, e.st, collectorKey(e.id), rec); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	if failing := e.writes.state(); failing != nil {
		err = errors.Join(err, fmt.Errorf("the evidence store refuses writes: %w", failing))
	}
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
	batchID, evs, err := getEvents(ctx, e.st, key)
	for i := range evs {
		if err != nil {
			break
		}
		if verr := validateEvent(&evs[i]); verr != nil {
			err = fmt.Errorf("%w: %s: %w", errBadObject, key, verr)
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
		for i, ev := range evs {
			e.applyRemote(incidentsapi.BatchEventKey(key, batchID, i, len(evs)), ev)
		}
		if writer != e.id && !e.isRebuilding() {
			e.tel.ExtensionIncidentsSyncEventsApplied.Add(context.Background(), int64(len(evs)))
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
			e.markIncident(rec.ID)
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
			e.markDeploys()
			if !e.rebuild {
				e.tel.ExtensionIncidentsDeploysRecorded.Add(context.Background(), 1, originAttr(originReplica))
			}
		}
	}
	e.recordEvent(key, ev) // before the change is published, as in commit
	if changed {
		e.publish(changes, originReplica)
	}
}
