package incidentsextension

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// OpenIncident implements incidentsapi.Registry.
func (e *incidentsExtension) OpenIncident(ctx context.Context, inc incident.Incident, ev incident.Event) (bool, error) {
	changed, err := e.RecordBatch(ctx, []incidentsapi.Op{{Open: &inc, Event: ev}})
	if err != nil {
		return false, err
	}
	return changed[0], nil
}

// ResolveIncident implements incidentsapi.Registry. A resolution time
// before the incident's start resolves it at its start.
func (e *incidentsExtension) ResolveIncident(ctx context.Context, id string, at time.Time, ev incident.Event) (bool, error) {
	changed, err := e.RecordBatch(ctx, []incidentsapi.Op{{Resolve: &incidentsapi.Resolve{ID: id, At: at}, Event: ev}})
	if err != nil {
		return false, err
	}
	return changed[0], nil
}

// RecordDeploy implements incidentsapi.Registry.
func (e *incidentsExtension) RecordDeploy(ctx context.Context, d incident.Deploy, ev incident.Event) error {
	_, err := e.RecordBatch(ctx, []incidentsapi.Op{{Deploy: &d, Event: ev}})
	return err
}

// RecordEvent implements incidentsapi.Registry.
func (e *incidentsExtension) RecordEvent(ctx context.Context, ev incident.Event) error {
	_, err := e.RecordBatch(ctx, []incidentsapi.Op{{Event: ev}})
	return err
}

// RecordBatch implements incidentsapi.Batcher: the ops are staged in
// order, each seeing the changes of those before it, and then recorded as
// one sync log object; the registry changes only once that is written.
// An invalid op fails the whole batch before anything is written.
func (e *incidentsExtension) RecordBatch(ctx context.Context, ops []incidentsapi.Op) ([]bool, error) {
	now := e.now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return nil, ErrNotStarted
	}
	tx := e.newTxn()
	changed := make([]bool, len(ops))
	for i := range ops {
		op := &ops[i]
		var err error
		switch {
		case op.Open != nil:
			changed[i], err = e.stageOpen(tx, *op.Open, op.Event, now)
		case op.Resolve != nil:
			changed[i], err = e.stageResolve(tx, op.Resolve.ID, op.Resolve.At, op.Event, now)
		case op.Deploy != nil:
			err = e.stageDeploy(tx, *op.Deploy, op.Event, now)
		default:
			err = e.stageEvent(tx, op.Event, now)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := e.commit(ctx, tx); err != nil {
		return nil, err
	}
	if id := tx.batchID; id != "" && hasNotes(tx.events) {
		e.mu.Unlock()
		e.waitPublished(ctx, id)
		e.mu.Lock()
	}
	return changed, nil
}

// txn is what a batch changes, staged until its events are recorded.
type txn struct {
	e         *incidentsExtension
	batchID   string // set by commit
	events    []incident.Event
	changes   []incidentsapi.Change
	incidents map[string]*incidentState // next states
	written   []string                  // incidents whose incident.json to rewrite, in order
	deploys   map[string]*incident.Deploy
	deployIDs []string // in order
	pending   map[string]pendingResolve
	published bool // the registry's state changes: publish a snapshot
}

func (e *incidentsExtension) newTxn() *txn {
	return &txn{e: e, incidents: map[string]*incidentState{}, deploys: map[string]*incident.Deploy{}, pending: map[string]pendingResolve{}}
}

func (tx *txn) incident(id string) *incidentState {
	if s, ok := tx.incidents[id]; ok {
		return s
	}
	return tx.e.incidents[id]
}

func (tx *txn) deploy(id string) *incident.Deploy {
	if d, ok := tx.deploys[id]; ok {
		return d
	}
	return tx.e.deploys[id]
}

func (tx *txn) setIncident(s *incidentState, changes []incidentsapi.Change) {
	id := s.rec.ID
	if _, ok := tx.incidents[id]; !ok {
		tx.written = append(tx.written, id)
	}
	tx.incidents[id] = s
	tx.changes = append(tx.changes, changes...)
	tx.published = true
}

// commit makes the batch's events durable in the local journal, then
// applies its changes; the publisher takes them to the store. Called with
// e.mu held, so the journal's order is the order of the changes.
func (e *incidentsExtension) commit(ctx context.Context, tx *txn) error {
	if len(tx.events) == 0 {
		return nil
	}
	keys, id, err := e.appendEvents(ctx, tx.events)
	if err != nil {
		return err
	}
	tx.batchID = id
	for _, id := range tx.written {
		e.incidents[id] = tx.incidents[id]
		e.markIncident(id)
		e.dirty[id] = struct{}{} // the publisher writes incident.json
	}
	for _, id := range tx.deployIDs {
		e.deploys[id] = tx.deploys[id]
		e.markDeploys()
		e.tel.ExtensionIncidentsDeploysRecorded.Add(context.Background(), 1, originAttr(originLocal))
	}
	for id, p := range tx.pending {
		e.pending[id] = p
	}
	// The events go into the log before the changes are published, so a
	// subscriber told of a change finds its event in Events.
	for i, ev := range tx.events {
		e.recordEvent(keys[i], ev)
	}
	if tx.published {
		e.publish(tx.changes, originLocal)
	}
	return nil
}

// stageOpen stages the opening (or update) of inc.
func (e *incidentsExtension) stageOpen(tx *txn, inc incident.Incident, ev incident.Event, now time.Time) (bool, error) {
	if err := incident.ValidateID(inc.ID); err != nil {
		return false, fmt.Errorf("open incident: 'id': %w", err)
	}
	inc = cloneIncident(&inc)
	normalizeIncident(&inc)
	if inc.StartedAt.IsZero() {
		inc.StartedAt = orNow(ev.Time, now)
	}
	if inc.StartedAt.After(now) {
		inc.StartedAt = now
	}
	cur := tx.incident(inc.ID)
	next := &incidentState{rec: incident.Incident{ID: inc.ID}}
	if cur != nil {
		next = cur.clone()
	}
	meta := overlayMeta(next.meta(), &inc)
	if cur == nil || !sameMetaContent(meta, cur.meta()) {
		meta.UpdatedAt = now
		if cur != nil && !now.After(cur.rec.UpdatedAt) {
			meta.UpdatedAt = cur.rec.UpdatedAt.Add(time.Nanosecond)
		}
	}
	next.setMeta(meta)
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
	if changed {
		// The event and the state share the record: a state is never
		// modified once committed (a change is a clone), and derive builds
		// each record anew.
		ev.Incident = &next.rec
		tx.setIncident(next, changes)
	} else {
		published := next.rec // shared: records are never modified in place (derive builds each anew)
		ev.Incident = &published
	}
	tx.events = append(tx.events, ev)
	return changed, nil
}

// stageResolve stages the resolution of incident id at `at`. A resolution
// time before the incident's start resolves it at its start.
func (e *incidentsExtension) stageResolve(tx *txn, id string, at time.Time, ev incident.Event, now time.Time) (bool, error) {
	if err := incident.ValidateID(id); err != nil {
		return false, fmt.Errorf("resolve incident: 'id': %w", err)
	}
	at = orNow(at, now).UTC()
	if at.After(now) {
		at = now
	}
	ev = e.fillEvent(ev, now)
	ev.IncidentID = id
	if ev.Kind == "" {
		ev.Kind = incident.EventIncidentResolved
	}
	cur := tx.incident(id)
	var next *incidentState
	if cur != nil && cur.rec.Status == incident.StatusOpen {
		next = cur.clone()
		next.addResolve(maxTime(at, cur.rec.StartedAt))
		next.derive()
		ev.Kind = incident.EventIncidentResolved
	}
	switch {
	case next != nil:
		published := next.rec // shared: records are never modified in place (derive builds each anew)
		ev.Incident = &published
	case cur != nil:
		known := cur.rec
		ev.Incident = &known
	}
	if ev.Source == "" && ev.Incident != nil {
		ev.Source = ev.Incident.Source
	}
	tx.events = append(tx.events, ev)
	if next != nil {
		tx.setIncident(next, diffIncident(&cur.rec, &next.rec, ev.Kind))
	} else if cur == nil {
		tx.pending[id] = pendingResolve{at: at, source: ev.Source, expires: now.Add(2 * e.syncLookback)}
	}
	return next != nil, nil
}

// stageDeploy stages the recording (or update) of a deploy.
func (e *incidentsExtension) stageDeploy(tx *txn, d incident.Deploy, ev incident.Event, now time.Time) error {
	d = cloneDeploy(&d)
	normalizeDeploy(&d)
	if d.StartedAt.IsZero() {
		d.StartedAt = orNow(ev.Time, now).UTC()
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("record deploy: %w", err)
	}
	merged := d
	cur := tx.deploy(d.ID)
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
	tx.events = append(tx.events, ev)
	if changed {
		if _, ok := tx.deploys[d.ID]; !ok {
			tx.deployIDs = append(tx.deployIDs, d.ID)
		}
		tx.deploys[d.ID] = &merged
		tx.published = true
	}
	return nil
}

// stageEvent stages an event that changes no state.
func (e *incidentsExtension) stageEvent(tx *txn, ev incident.Event, now time.Time) error {
	ev = e.fillEvent(ev, now)
	if ev.Kind == "" {
		ev.Kind = incident.EventAlert
	}
	// The records of an event that changes nothing are not the registry's
	// to carry: other replicas would merge them.
	ev.Incident, ev.Deploy = nil, nil
	if ev.Kind == incident.EventNote {
		// Checked now; written to the incident's folder by the publisher,
		// before the batch that carries it.
		if _, err := noteKey(&ev); err != nil {
			return fmt.Errorf("record note: %w", err)
		}
	}
	tx.events = append(tx.events, ev)
	return nil
}

// writeNote keeps a note in its incident's folder, where it joins the
// timeline whenever it is written: the sync log and the bundle's parts
// only carry it while the incident's evidence is being frozen. The same
// note sent twice, to any replica, is one object.
func (e *incidentsExtension) writeNote(ctx context.Context, ev *incident.Event) error {
	key, err := noteKey(ev)
	if err != nil {
		return err
	}
	return putJSON(ctx, e.st, key, ev)
}

// noteKey checks a note event and returns the key of its object.
func noteKey(ev *incident.Event) (string, error) {
	if ev.Note == nil {
		return "", errors.New("a note event has no note")
	}
	if err := ev.Note.Validate(); err != nil {
		return "", err
	}
	return bundle.NoteKey(ev.IncidentID, incident.NoteID(ev))
}

// fillEvent sets the fields the registry owns.
func (e *incidentsExtension) fillEvent(ev incident.Event, now time.Time) incident.Event {
	ev.Time = orNow(ev.Time, now).UTC()
	if ev.CollectorID == "" {
		ev.CollectorID = e.id
	}
	return ev
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
