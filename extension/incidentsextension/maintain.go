package incidentsextension

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// maintain applies pending resolutions, expires incidents open too long,
// prunes old state, and wakes the publisher for incident.json files whose
// write failed or whose content changed through another replica. It does
// no store I/O while it holds e.mu: the registry's writers never wait on
// the store.
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
			e.markIncident(id)
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

	if len(e.dirty) > 0 {
		e.wakePublisher() // it writes the incident.json files
	}
	return errors.Join(errs...)
}

// resolveLocked resolves an open incident at `at` on this replica's own
// account (a pending resolution or an expiry), writing the event first.
func (e *incidentsExtension) resolveLocked(ctx context.Context, s *incidentState, at time.Time, kind incident.EventKind, source string, now time.Time) error {
	next := s.clone()
	next.addResolve(maxTime(at, s.rec.StartedAt))
	next.derive()
	published := next.rec // shared: records are never modified in place (derive builds each anew)
	ev := incident.Event{
		Kind: kind, Time: now, Source: source, IncidentID: s.rec.ID,
		Incident: &published, CollectorID: e.id,
	}
	tx := e.newTxn()
	tx.events = append(tx.events, ev)
	tx.setIncident(next, diffIncident(&s.rec, &next.rec, kind))
	if err := e.commit(ctx, tx); err != nil {
		return fmt.Errorf("%s incident %q: %w", kind, s.rec.ID, err)
	}
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
			e.markDeploys()
			changed = true
		}
	}
	return changed
}
