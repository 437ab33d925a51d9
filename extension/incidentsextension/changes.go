package incidentsextension

import (
	"context"
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// publish swaps in a new snapshot and queues changes for the subscribers,
// logging and counting them. Called with e.mu held. The snapshot is
// derived from the previous one and the incidents marked changed
// (markIncident), so that publishing costs no copy of every record.
func (e *incidentsExtension) publish(changes []incidentsapi.Change, origin string) {
	e.version++
	var changed []*incident.Incident
	var removed []string
	for id := range e.snapDirty {
		if s, ok := e.incidents[id]; ok {
			// Shared: a state is never modified in place (see stageOpen).
			changed = append(changed, &s.rec)
		} else {
			removed = append(removed, id)
		}
	}
	clear(e.snapDirty)
	var deps []incident.Deploy
	if e.deploysDirty {
		deps = make([]incident.Deploy, 0, len(e.deploys))
		for _, d := range e.deploys {
			deps = append(deps, *d)
		}
		e.deploysDirty = false
	}
	e.snap.Store(e.snap.Load().UpdateShared(e.version, changed, removed, deps))
	if e.rebuild {
		return
	}
	for _, c := range changes {
		e.logChange(c, origin)
	}
	e.subs.publish(changes)
}

// markIncident notes that incident id changed (or was removed) since the
// last snapshot. Called with e.mu held.
func (e *incidentsExtension) markIncident(id string) { e.snapDirty[id] = struct{}{} }

// markDeploys notes that the deploys changed. Called with e.mu held.
func (e *incidentsExtension) markDeploys() { e.deploysDirty = true }

func (e *incidentsExtension) logChange(c incidentsapi.Change, origin string) {
	inc := &c.Incident
	attrs := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("source", inc.Source), attribute.String("origin", origin)))
	fields := []zap.Field{
		zap.String("incident.id", inc.ID), zap.String("origin", origin),
		zap.String("source", inc.Source), zap.Time("started_at", inc.StartedAt),
	}
	ctx := context.Background()
	switch c.Kind {
	case incidentsapi.Opened:
		e.tel.ExtensionIncidentsOpened.Add(ctx, 1, attrs)
		e.logger.Info("Incident opened", append(fields, zap.String("title", inc.Title))...)
	case incidentsapi.Extended:
		e.logger.Info("Incident extended", fields...)
	case incidentsapi.Resolved:
		e.tel.ExtensionIncidentsResolved.Add(ctx, 1, attrs)
		e.logger.Info("Incident resolved", append(fields, zap.Timep("resolved_at", inc.ResolvedAt))...)
	case incidentsapi.Expired:
		e.tel.ExtensionIncidentsExpired.Add(ctx, 1, attrs)
		e.logger.Info("Incident expired", append(fields, zap.Timep("resolved_at", inc.ResolvedAt),
			zap.Duration("max_open_duration", e.cfg.MaxOpenDuration))...)
	}
}

func originAttr(origin string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("origin", origin)))
}

func curRec(s *incidentState) *incident.Incident {
	if s == nil {
		return nil
	}
	return &s.rec
}

// diffIncident returns the changes subscribers see when an incident goes
// from prev (nil: unknown) to next. An incident learned already resolved
// (or reopened and resolved again between two reads) is reported opened
// and then resolved, so that every replica freezes its evidence.
func diffIncident(prev, next *incident.Incident, kind incident.EventKind) []incidentsapi.Change {
	endKind := incidentsapi.Resolved
	if kind == incident.EventIncidentExpired {
		endKind = incidentsapi.Expired
	}
	// The changes share next's scope, labels and links, which nobody
	// modifies (see derive).
	opened := func() incidentsapi.Change {
		o := *next
		o.Status, o.ResolvedAt = incident.StatusOpen, nil
		return incidentsapi.Change{Kind: incidentsapi.Opened, Incident: o}
	}
	ended := func() incidentsapi.Change { return incidentsapi.Change{Kind: endKind, Incident: *next} }
	nextOpen := next.Status == incident.StatusOpen
	switch {
	case prev == nil || prev.Status == "":
		if nextOpen {
			return []incidentsapi.Change{opened()}
		}
		return []incidentsapi.Change{opened(), ended()}
	case prev.Status == incident.StatusOpen && nextOpen:
		if prev.StartedAt.Equal(next.StartedAt) && sameMetaContent(metaOf(prev), metaOf(next)) {
			return nil
		}
		return []incidentsapi.Change{{Kind: incidentsapi.Extended, Incident: *next}}
	case prev.Status == incident.StatusOpen:
		return []incidentsapi.Change{ended()}
	case nextOpen:
		return []incidentsapi.Change{opened()}
	case !prev.StartedAt.Equal(next.StartedAt):
		return []incidentsapi.Change{opened(), ended()}
	}
	return nil
}

// eventKindFor names the event recording changes.
func eventKindFor(changes []incidentsapi.Change, given incident.EventKind) incident.EventKind {
	if len(changes) == 0 {
		if given == "" {
			return incident.EventIncidentExtended
		}
		return given
	}
	switch changes[len(changes)-1].Kind {
	case incidentsapi.Opened:
		return incident.EventIncidentOpened
	case incidentsapi.Extended:
		return incident.EventIncidentExtended
	case incidentsapi.Expired:
		return incident.EventIncidentExpired
	default:
		return incident.EventIncidentResolved
	}
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sortedIDs returns the keys of m in order, for deterministic iteration.
func sortedIDs[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
