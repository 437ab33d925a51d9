package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadata"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// Incident labels the connector sets. LabelSLO is what Alertmanager alerts
// of the same SLO are joined on (see the webhook receiver).
const (
	labelSLO       = incident.LabelSLO
	labelGroup     = "slo_group"
	labelLevel     = "slo_level"
	labelBurnRate  = "burn_rate"
	labelWindows   = "windows"
	labelConsumed  = "error_budget_consumed"
	labelObjective = "objective"
)

// maxNameLength bounds SLO names so that "slo-<name>-<group>-<ms>" stays a
// valid incident ID.
const maxNameLength = 96

type actionKind int

const (
	actOpen actionKind = iota + 1
	actResolve
)

// action is one registry write decided by an evaluation.
type action struct {
	kind actionKind
	// update: the registry already knows the episode (a level change).
	update bool
	slo    string
	inc    incident.Incident // actOpen
	id     string            // actResolve
	at     time.Time
	ev     incident.Event
}

// decide updates g's episode from an evaluation and returns the registry
// write it calls for. g.mu is held.
//
// An episode starts when a level that opens incidents first holds and ends
// when none has held for resolve_after; a level that holds again before
// then continues the episode (and its incident). Its incident ID is "slo-<name>[-<group>]-<start ms>":
// stable for the episode, across restarts (the episode is saved with the
// state) and across replicas (a replica that finds another's open incident
// for the same SLO and group in the registry adopts it instead of opening
// its own). The registry is told again when the most urgent holding level
// changes (the severity follows it), not on every evaluation.
func (g *group) decide(ev *evaluation, now time.Time, snap func() *incidentsapi.Snapshot) (action, bool) {
	sp := g.slo.spec
	li := sp.incidentLevel(ev)
	ep := g.episode
	switch {
	case li < 0 && ep == nil:
		return action{}, false
	case li < 0:
		if ep.ClearSince.IsZero() {
			ep.ClearSince = now
		}
		if now.Sub(ep.ClearSince) < sp.resolveAfter {
			return action{}, false
		}
		g.episode = nil
		return action{kind: actResolve, slo: g.slo.cfg.Name, id: ep.ID, at: now, ev: incident.Event{
			Kind: incident.EventIncidentResolved, Time: now, Source: incident.SourceSLO,
			IncidentID: ep.ID, Payload: g.payload(ev, "resolved"),
		}}, true
	case ep == nil:
		ep = g.startEpisode(now, snap)
		g.episode = ep
	default:
		ep.ClearSince = time.Time{}
		if ep.Level == li {
			return action{}, false
		}
	}
	c := ev.cond[li]
	update := ep.Level >= 0
	ep.Level = li
	ep.BurnRate = formatRatio(min(ev.burn[c.long], ev.burn[c.short]))
	ep.Windows = sp.names[c.long] + "," + sp.names[c.short]
	ep.Consumed = formatRatio(sp.budgetConsumed(ev))
	inc := g.incident(ep, now)
	kind := incident.EventIncidentOpened
	if update {
		kind = incident.EventIncidentExtended
	}
	return action{kind: actOpen, update: update, slo: g.slo.cfg.Name, inc: inc, at: now, ev: incident.Event{
		Kind: kind, Time: now, Source: incident.SourceSLO, IncidentID: inc.ID, Incident: &inc,
		Payload: g.payload(ev, levelNames[li]),
	}}, true
}

// startEpisode adopts an open incident of the same SLO and group that
// another replica (or this one before a restart without state) opened, or
// starts a new one.
func (g *group) startEpisode(now time.Time, snap func() *incidentsapi.Snapshot) *episode {
	if snap != nil {
		if s := snap(); s != nil {
			for _, inc := range s.Open {
				if inc.Source == incident.SourceSLO && inc.Labels[labelSLO] == g.slo.cfg.Name && inc.Labels[labelGroup] == g.groupID {
					return &episode{ID: inc.ID, Start: inc.StartedAt, Level: -1}
				}
			}
		}
	}
	id := "slo-" + g.slo.cfg.Name
	if g.groupID != "" {
		id += "-" + g.groupID
	}
	id += "-" + strconv.FormatInt(now.UnixMilli(), 10)
	return &episode{ID: id, Start: now, Level: -1}
}

// incident builds the record for the episode's current level.
func (g *group) incident(ep *episode, now time.Time) incident.Incident {
	s := g.slo.cfg
	lv := g.slo.spec.levels[ep.Level]
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{
		labelSLO:       s.Name,
		labelLevel:     levelNames[ep.Level],
		labelBurnRate:  ep.BurnRate,
		labelWindows:   ep.Windows,
		labelConsumed:  ep.Consumed,
		labelObjective: strconv.FormatFloat(s.Objective, 'f', -1, 64),
	})
	if g.groupID != "" {
		labels[labelGroup] = g.groupID
	}
	title := fmt.Sprintf("SLO %s is burning its error budget at %sx over %s", s.Name, ep.BurnRate, ep.Windows)
	return incident.Incident{
		ID: ep.ID, Title: title, Severity: lv.severity, Source: incident.SourceSLO,
		Status: incident.StatusOpen, Scope: g.scope, StartedAt: ep.Start, UpdatedAt: now, Labels: labels,
	}
}

// payload is the evaluation kept with the event as evidence: every
// window's counts and burn rate.
func (g *group) payload(ev *evaluation, state string) json.RawMessage {
	type win struct {
		Window   string  `json:"window"`
		Good     uint64  `json:"good"`
		Bad      uint64  `json:"bad"`
		BurnRate float64 `json:"burn_rate"`
	}
	sp := g.slo.spec
	p := struct {
		SLO       string             `json:"slo"`
		State     string             `json:"state"`
		Objective float64            `json:"objective"`
		Scope     []incident.Matcher `json:"scope,omitempty"`
		Windows   []win              `json:"windows"`
	}{SLO: g.slo.cfg.Name, State: state, Objective: g.slo.cfg.Objective, Scope: g.scope}
	for i := range sp.names {
		p.Windows = append(p.Windows, win{Window: sp.names[i], Good: ev.good[i], Bad: ev.bad[i], BurnRate: ev.burn[i]})
	}
	b, _ := json.Marshal(p) // plain types: cannot fail
	return b
}

// incidentWriter applies the actions to the registry from one goroutine,
// so that a slow registry (a journal fsync, a store round trip) never
// blocks the pipeline. Actions of one SLO group are applied in order; a
// failed one stays queued, with the ones after it, and is retried on the
// next kick.
type incidentWriter struct {
	reg    incidentsapi.Registry
	tel    *metadata.TelemetryBuilder
	logger *zap.Logger

	mu      sync.Mutex
	pending map[*group][]action
	order   []*group
	// applying is set while a flush applies what it took from the queue.
	applying bool
	kick     chan struct{}
}

func newIncidentWriter(reg incidentsapi.Registry, tel *metadata.TelemetryBuilder, logger *zap.Logger) *incidentWriter {
	return &incidentWriter{reg: reg, tel: tel, logger: logger, pending: map[*group][]action{}, kick: make(chan struct{}, 1)}
}

// enqueue queues a for g and wakes the writer.
func (w *incidentWriter) enqueue(g *group, a action) {
	w.mu.Lock()
	if _, ok := w.pending[g]; !ok {
		w.order = append(w.order, g)
	}
	w.pending[g] = append(w.pending[g], a)
	w.mu.Unlock()
	w.wake()
}

func (w *incidentWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// idle reports whether nothing is queued or being applied: every action
// enqueued before has reached the registry (or failed and is queued).
func (w *incidentWriter) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.order) == 0 && !w.applying
}

// flush applies what is queued, group by group, and keeps what failed.
func (w *incidentWriter) flush(ctx context.Context) {
	w.mu.Lock()
	order, pending := w.order, w.pending
	w.order, w.pending = nil, map[*group][]action{}
	w.applying = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.applying = false
		w.mu.Unlock()
	}()
	for _, g := range order {
		acts := pending[g]
		for i, a := range acts {
			if err := w.apply(ctx, a); err != nil {
				w.logger.Warn("The incidents registry refused an SLO incident change; retrying",
					zap.String("slo", a.slo), zap.String("incident_id", a.inc.ID+a.id), zap.Error(err))
				w.requeue(g, acts[i:])
				break
			}
		}
	}
}

// requeue puts failed actions back in front of anything queued since.
func (w *incidentWriter) requeue(g *group, acts []action) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pending[g]; !ok {
		w.order = append(w.order, g)
	}
	w.pending[g] = append(acts, w.pending[g]...)
}

func (w *incidentWriter) apply(ctx context.Context, a action) error {
	var (
		changed bool
		err     error
		what    = "resolved"
	)
	switch a.kind {
	case actOpen:
		changed, err = w.reg.OpenIncident(ctx, a.inc, a.ev)
		what = "opened"
		if a.update {
			what = "updated"
		}
	case actResolve:
		changed, err = w.reg.ResolveIncident(ctx, a.id, a.at, a.ev)
	}
	if err != nil {
		what = "failed"
	}
	w.tel.ConnectorSloIncidentActions.Add(ctx, 1, metric.WithAttributes(attribute.String("slo", a.slo), attribute.String("action", what)))
	if err == nil {
		w.logger.Info("SLO incident "+what, zap.String("slo", a.slo), zap.String("incident_id", a.inc.ID+a.id), zap.Bool("changed", changed))
	}
	return err
}
