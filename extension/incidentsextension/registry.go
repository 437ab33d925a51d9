package incidentsextension

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// OpenIncident implements incidentsapi.Registry.
func (e *incidentsExtension) OpenIncident(ctx context.Context, inc incident.Incident, ev incident.Event) (bool, error) {
	if err := incident.ValidateID(inc.ID); err != nil {
		return false, fmt.Errorf("open incident: 'id': %w", err)
	}
	now := e.now().UTC()
	inc = cloneIncident(&inc)
	normalizeIncident(&inc)
	if inc.StartedAt.IsZero() {
		inc.StartedAt = orNow(ev.Time, now)
	}
	if inc.StartedAt.After(now) {
		inc.StartedAt = now
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return false, ErrNotStarted
	}
	cur := e.incidents[inc.ID]
	next := &incidentState{rec: incident.Incident{ID: inc.ID}}
	if cur != nil {
		next = cur.clone()
	}
	meta := overlayMeta(next.meta, &inc)
	if cur == nil || !sameMetaContent(meta, cur.meta) {
		meta.UpdatedAt = now
		if cur != nil && !now.After(cur.meta.UpdatedAt) {
			meta.UpdatedAt = cur.meta.UpdatedAt.Add(time.Nanosecond)
		}
	}
	next.meta = meta
	next.addOpen(openMark{At: inc.StartedAt, By: e.id})
	next.derive()
	// Keep only the marks the published record carries, as every other
	// replica will (see incidentState).
	rec := next.rec
	if cur != nil {
		next = cur.clone()
		next.mergeRecord(&rec)
	} else {
		next = newStateFromRecord(&rec)
	}
	changed := cur == nil || !sameIncident(&cur.rec, &next.rec)

	ev = e.fillEvent(ev, now)
	ev.IncidentID = inc.ID
	if ev.Source == "" {
		ev.Source = next.rec.Source
	}
	var changes []incidentsapi.Change
	if changed {
		changes = diffIncident(curRec(cur), &next.rec, ev.Kind)
		ev.Kind = eventKindFor(changes, ev.Kind)
	} else if ev.Kind == "" {
		ev.Kind = incident.EventIncidentOpened
	}
	published := cloneIncident(&next.rec)
	ev.Incident = &published
	key, err := e.appendEvent(ctx, &ev)
	if err != nil {
		return false, fmt.Errorf("open incident %q: %w", inc.ID, err)
	}
	if changed {
		e.incidents[inc.ID] = next
		e.writeIncident(ctx, &next.rec)
		e.publish(changes, originLocal)
	}
	e.recordEvent(key, ev)
	return changed, nil
}

// ResolveIncident implements incidentsapi.Registry. A resolution time
// before the incident's start resolves it at its start.
func (e *incidentsExtension) ResolveIncident(ctx context.Context, id string, at time.Time, ev incident.Event) (bool, error) {
	if err := incident.ValidateID(id); err != nil {
		return false, fmt.Errorf("resolve incident: 'id': %w", err)
	}
	now := e.now().UTC()
	at = orNow(at, now).UTC()
	if at.After(now) {
		at = now
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return false, ErrNotStarted
	}
	ev = e.fillEvent(ev, now)
	ev.IncidentID = id
	if ev.Kind == "" {
		ev.Kind = incident.EventIncidentResolved
	}
	cur := e.incidents[id]
	var next *incidentState
	if cur != nil && cur.rec.Status == incident.StatusOpen {
		next = cur.clone()
		next.addResolve(maxTime(at, cur.rec.StartedAt))
		next.derive()
		ev.Kind = incident.EventIncidentResolved
	}
	switch {
	case next != nil:
		published := cloneIncident(&next.rec)
		ev.Incident = &published
	case cur != nil:
		known := cloneIncident(&cur.rec)
		ev.Incident = &known
	}
	if ev.Source == "" && ev.Incident != nil {
		ev.Source = ev.Incident.Source
	}
	key, err := e.appendEvent(ctx, &ev)
	if err != nil {
		return false, fmt.Errorf("resolve incident %q: %w", id, err)
	}
	if next != nil {
		e.incidents[id] = next
		e.writeIncident(ctx, &next.rec)
		e.publish(diffIncident(&cur.rec, &next.rec, ev.Kind), originLocal)
	} else if cur == nil {
		e.pending[id] = pendingResolve{at: at, source: ev.Source, expires: now.Add(2 * e.syncLookback)}
	}
	e.recordEvent(key, ev)
	return next != nil, nil
}

// RecordDeploy implements incidentsapi.Registry.
func (e *incidentsExtension) RecordDeploy(ctx context.Context, d incident.Deploy, ev incident.Event) error {
	now := e.now().UTC()
	d = cloneDeploy(&d)
	normalizeDeploy(&d)
	if d.StartedAt.IsZero() {
		d.StartedAt = orNow(ev.Time, now).UTC()
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("record deploy: %w", err)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return ErrNotStarted
	}
	merged := d
	cur := e.deploys[d.ID]
	if cur != nil {
		merged = mergeDeploy(cur, &d)
	}
	changed := cur == nil || !sameDeploy(cur, &merged)
	ev = e.fillEvent(ev, now)
	ev.DeployID = d.ID
	if ev.Kind == "" {
		ev.Kind = incident.EventDeploy
	}
	if ev.Source == "" {
		ev.Source = incident.SourceDeploy
	}
	published := cloneDeploy(&merged)
	ev.Deploy = &published
	key, err := e.appendEvent(ctx, &ev)
	if err != nil {
		return fmt.Errorf("record deploy %q: %w", d.ID, err)
	}
	if changed {
		e.deploys[d.ID] = &merged
		e.tel.ExtensionIncidentsDeploysRecorded.Add(context.Background(), 1, originAttr(originLocal))
		e.publish(nil, originLocal)
	}
	e.recordEvent(key, ev)
	return nil
}

// RecordEvent implements incidentsapi.Registry.
func (e *incidentsExtension) RecordEvent(ctx context.Context, ev incident.Event) error {
	now := e.now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return ErrNotStarted
	}
	ev = e.fillEvent(ev, now)
	if ev.Kind == "" {
		ev.Kind = incident.EventAlert
	}
	// The records of an event that changes nothing are not the registry's
	// to carry: other replicas would merge them.
	ev.Incident, ev.Deploy = nil, nil
	if ev.Kind == incident.EventNote {
		if err := e.writeNote(ctx, &ev); err != nil {
			return fmt.Errorf("record note: %w", err)
		}
	}
	key, err := e.appendEvent(ctx, &ev)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	e.recordEvent(key, ev)
	return nil
}

// writeNote keeps a note in its incident's folder, where it joins the
// timeline whenever it is written: the sync log and the bundle's parts
// only carry it while the incident's evidence is being frozen. The same
// note sent twice, to any replica, is one object.
func (e *incidentsExtension) writeNote(ctx context.Context, ev *incident.Event) error {
	if ev.Note == nil {
		return errors.New("a note event has no note")
	}
	if err := ev.Note.Validate(); err != nil {
		return err
	}
	key, err := bundle.NoteKey(ev.IncidentID, incident.NoteID(ev))
	if err != nil {
		return err
	}
	return putJSON(ctx, e.st, key, ev)
}

// fillEvent sets the fields the registry owns.
func (e *incidentsExtension) fillEvent(ev incident.Event, now time.Time) incident.Event {
	ev.Time = orNow(ev.Time, now).UTC()
	if ev.CollectorID == "" {
		ev.CollectorID = e.id
	}
	return ev
}

// appendEvent writes ev to the sync log. Called with e.mu held, so the
// log's order is the order of the changes.
func (e *incidentsExtension) appendEvent(ctx context.Context, ev *incident.Event) (string, error) {
	e.seq++
	key, err := incidentsapi.EventKey(e.now(), e.id, e.seq)
	if err != nil {
		return "", err
	}
	if err := putJSON(ctx, e.st, key, ev); err != nil {
		return "", err
	}
	t, _, _, _ := incidentsapi.ParseEventKey(key)
	e.applied[key] = t
	return key, nil
}

// writeIncident (re)writes incidents/<id>/incident.json; on failure the
// sync loop retries. Called with e.mu held.
func (e *incidentsExtension) writeIncident(ctx context.Context, rec *incident.Incident) {
	key, err := incidentKey(rec.ID)
	if err == nil {
		err = putJSON(ctx, e.st, key, rec)
	}
	if err != nil {
		e.dirty[rec.ID] = struct{}{}
		e.logger.Warn("Could not write incident.json; retrying at the next sync", zap.String("incident.id", rec.ID), zap.Error(err))
		return
	}
	delete(e.dirty, rec.ID)
}

// recordEvent keeps ev in memory for Events. Called with e.mu held.
func (e *incidentsExtension) recordEvent(key string, ev incident.Event) {
	if ev.Time.Before(e.now().Add(-e.cfg.EventRetention)) {
		return
	}
	e.evMu.Lock()
	e.events.add(key, ev)
	e.evMu.Unlock()
}
