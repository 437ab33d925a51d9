// Package incidentsapitest helps test components that use the incidents
// extension's API: an in-memory Registry and a Host that offers it (and any
// other extensions) by component.ID, as the collector's host does.
package incidentsapitest // import "github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// DefaultID is the ID under which NewHost offers the registry.
var DefaultID = component.MustNewID("incidents")

// Registry is an in-memory incidentsapi.Registry. It keeps the extension's
// rules that components rely on (re-opening an open incident overlays its
// non-empty fields and adds labels and links, and changes nothing when
// that changes nothing; resolving an unknown or resolved
// incident only records the event) and delivers changes to subscribers
// synchronously, before the write returns. It logs every write, and can be
// told to fail writes.
type Registry struct {
	component.StartFunc
	component.ShutdownFunc

	collectorID string
	st          store.Store

	mu        sync.Mutex
	version   uint64
	snap      *incidentsapi.Snapshot // of version; nil until built
	incidents map[string]incident.Incident
	deploys   map[string]incident.Deploy
	events    []incident.Event
	calls     []string
	subs      map[int]func(incidentsapi.Change)
	nextSub   int
	// failAfter makes every write after this many calls fail with failErr.
	failAfter int
	failErr   error
}

var _ incidentsapi.Registry = (*Registry)(nil)

// NewRegistry returns an empty registry of collector collectorID whose
// Store is st (which may be nil for components that never write evidence).
func NewRegistry(collectorID string, st store.Store) *Registry {
	return &Registry{
		collectorID: collectorID,
		st:          st,
		incidents:   map[string]incident.Incident{},
		deploys:     map[string]incident.Deploy{},
		subs:        map[int]func(incidentsapi.Change){},
		failAfter:   -1,
	}
}

// CollectorID implements incidentsapi.Registry.
func (r *Registry) CollectorID() string { return r.collectorID }

// Store implements incidentsapi.Registry.
func (r *Registry) Store() store.Store { return r.st }

// Snapshot implements incidentsapi.Registry.
func (r *Registry) Snapshot() *incidentsapi.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap != nil && r.snap.Version == r.version {
		return r.snap
	}
	r.snap = incidentsapi.NewSnapshot(r.version, slices.Collect(maps.Values(r.incidents)), slices.Collect(maps.Values(r.deploys)))
	return r.snap
}

// SetSnapshot replaces the registry's content with s, which Snapshot then
// returns as it is; no subscriber is told.
func (r *Registry) SetSnapshot(s *incidentsapi.Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.incidents = map[string]incident.Incident{}
	for id, inc := range s.Incidents {
		r.incidents[id] = *inc
	}
	r.deploys = map[string]incident.Deploy{}
	for _, svc := range s.Services() {
		for _, d := range s.Deploys(svc) {
			r.deploys[d.ID] = *d
		}
	}
	r.version = s.Version
	r.snap = s
}

// Subscribe implements incidentsapi.Registry. fn runs on the writer's
// goroutine, after the change and before the write returns.
func (r *Registry) Subscribe(fn func(incidentsapi.Change)) (cancel func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextSub
	r.nextSub++
	r.subs[id] = fn
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, id)
	}
}

// notify calls the subscribers, in subscription order, without the lock.
func (r *Registry) notify(c incidentsapi.Change) {
	r.mu.Lock()
	ids := slices.Sorted(maps.Keys(r.subs))
	fns := make([]func(incidentsapi.Change), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, r.subs[id])
	}
	r.mu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}

// FailWrites makes every write after the next n fail with err (n < 0: none).
func (r *Registry) FailWrites(n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failAfter, r.failErr = len(r.calls)+n, err
	if n < 0 {
		r.failAfter = -1
	}
}

// call logs a write and returns the injected failure, if due. r.mu is held.
func (r *Registry) call(name string) error {
	r.calls = append(r.calls, name)
	if r.failAfter >= 0 && len(r.calls) > r.failAfter {
		return r.failErr
	}
	return nil
}

// OpenIncident implements incidentsapi.Registry.
func (r *Registry) OpenIncident(_ context.Context, inc incident.Incident, ev incident.Event) (bool, error) {
	r.mu.Lock()
	if err := r.call("open:" + inc.ID); err != nil {
		r.mu.Unlock()
		return false, err
	}
	r.events = append(r.events, ev)
	old, known := r.incidents[inc.ID]
	if known && old.Status == incident.StatusOpen {
		// As the extension does: an update of an open incident replaces
		// the non-empty title, severity, source and scope, adds labels and
		// links, and keeps the start.
		merged := overlay(old, inc)
		if reflect.DeepEqual(merged, old) {
			r.mu.Unlock()
			return false, nil
		}
		inc = merged
	}
	inc.Status = incident.StatusOpen
	r.incidents[inc.ID] = inc
	r.version++
	r.mu.Unlock()
	kind := incidentsapi.Opened
	if known && old.Status == incident.StatusOpen {
		kind = incidentsapi.Extended
	}
	r.notify(incidentsapi.Change{Kind: kind, Incident: inc})
	return true, nil
}

// overlay returns old updated with inc's fields as the extension merges
// them; UpdatedAt is old's unless something else changed.
func overlay(old, inc incident.Incident) incident.Incident {
	out := old
	out.Labels = maps.Clone(old.Labels)
	out.Links = slices.Clone(old.Links)
	if inc.Title != "" {
		out.Title = inc.Title
	}
	if inc.Severity != "" {
		out.Severity = inc.Severity
	}
	if inc.Source != "" {
		out.Source = inc.Source
	}
	if len(inc.Scope) > 0 {
		out.Scope = slices.Clone(inc.Scope)
	}
	if len(inc.Labels) > 0 && out.Labels == nil {
		out.Labels = map[string]string{}
	}
	maps.Copy(out.Labels, inc.Labels)
	for _, l := range inc.Links {
		if !slices.ContainsFunc(out.Links, func(e incident.Link) bool { return e.Href == l.Href }) {
			out.Links = append(out.Links, l)
		}
	}
	if !reflect.DeepEqual(out, old) {
		out.UpdatedAt = inc.UpdatedAt
	}
	return out
}

// ResolveIncident implements incidentsapi.Registry.
func (r *Registry) ResolveIncident(_ context.Context, id string, at time.Time, ev incident.Event) (bool, error) {
	r.mu.Lock()
	if err := r.call("resolve:" + id); err != nil {
		r.mu.Unlock()
		return false, err
	}
	r.events = append(r.events, ev)
	inc, ok := r.incidents[id]
	if !ok || inc.Status != incident.StatusOpen {
		r.mu.Unlock()
		return false, nil
	}
	inc.Status = incident.StatusResolved
	inc.ResolvedAt = &at
	r.incidents[id] = inc
	r.version++
	r.mu.Unlock()
	r.notify(incidentsapi.Change{Kind: incidentsapi.Resolved, Incident: inc})
	return true, nil
}

// RecordDeploy implements incidentsapi.Registry.
func (r *Registry) RecordDeploy(_ context.Context, d incident.Deploy, ev incident.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("deploy:" + d.ID); err != nil {
		return err
	}
	r.events = append(r.events, ev)
	r.deploys[d.ID] = d
	r.version++
	return nil
}

// RecordEvent implements incidentsapi.Registry.
func (r *Registry) RecordEvent(_ context.Context, ev incident.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("event:" + string(ev.Kind)); err != nil {
		return err
	}
	r.events = append(r.events, ev)
	return nil
}

// Events implements incidentsapi.Registry: the recorded events with
// from <= Time <= to, in time order (recording order among equal times).
func (r *Registry) Events(from, to time.Time) []incident.Event {
	evs, _ := r.EventsSince(from, to, 0, time.Time{})
	return evs
}

// EventsSince implements incidentsapi.Registry. The mark of an event is its
// place in recording order, from 1.
func (r *Registry) EventsSince(from, to time.Time, mark uint64, had time.Time) ([]incident.Event, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []incident.Event
	for i, ev := range r.events {
		if ev.Time.Before(from) || ev.Time.After(to) {
			continue
		}
		if uint64(i+1) <= mark && !had.IsZero() && !ev.Time.After(had) {
			continue
		}
		out = append(out, ev)
	}
	slices.SortStableFunc(out, func(a, b incident.Event) int { return a.Time.Compare(b.Time) })
	return out, uint64(len(r.events))
}

// Calls returns the writes so far, as "open:<id>", "resolve:<id>",
// "deploy:<id>" and "event:<kind>".
func (r *Registry) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Incident returns the registry's record of id.
func (r *Registry) Incident(id string) (incident.Incident, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	inc, ok := r.incidents[id]
	return inc, ok
}

// Host is a component.Host that offers extensions by ID and records the
// statuses components report.
type Host struct {
	exts map[component.ID]component.Component

	mu       sync.Mutex
	statuses []componentstatus.Status
}

var (
	_ component.Host           = (*Host)(nil)
	_ componentstatus.Reporter = (*Host)(nil)
)

// NewHost returns a host offering reg as DefaultID ("incidents") and the
// extensions in more; reg may be nil.
func NewHost(reg component.Component, more map[component.ID]component.Component) *Host {
	exts := map[component.ID]component.Component{}
	if reg != nil {
		exts[DefaultID] = reg
	}
	maps.Copy(exts, more)
	return &Host{exts: exts}
}

// GetExtensions implements component.Host.
func (h *Host) GetExtensions() map[component.ID]component.Component { return h.exts }

// Report implements componentstatus.Reporter.
func (h *Host) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statuses = append(h.statuses, ev.Status())
}

// Statuses returns the statuses reported so far, in order.
func (h *Host) Statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.statuses)
}
