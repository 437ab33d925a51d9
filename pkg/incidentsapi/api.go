// Package incidentsapi is the small interface the incidents extension offers
// to the other otel-evidence components, and to anyone's own: the incident
// and deploy registry, change notifications, and the evidence store.
// Components find it by component.ID in Start with Find.
//
// It lives in the shared module, apart from the extension (as core keeps
// extension/xextension/storage apart from the storage extensions), and
// speaks only public types (pkg/incident, pkg/store): a component written
// against it requires neither the extension's module nor anything
// internal, and its tests can use incidentsapitest instead of the
// extension.
package incidentsapi // import "github.com/otel-evidence/otel-evidence/pkg/incidentsapi"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// ChangeKind names what happened to an incident.
type ChangeKind int

const (
	// Opened: the incident is new to this replica (opened here or learned
	// from another replica through the store).
	Opened ChangeKind = iota + 1
	// Extended: an open incident was updated (new alerts, new title or scope).
	Extended
	// Resolved: the incident was resolved.
	Resolved
	// Expired: the incident stayed open past the configured maximum and was closed.
	Expired
)

func (k ChangeKind) String() string {
	switch k {
	case Opened:
		return "opened"
	case Extended:
		return "extended"
	case Resolved:
		return "resolved"
	case Expired:
		return "expired"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is delivered to subscribers, in order, from one goroutine. The
// incident's scope, labels and links are shared with the registry:
// subscribers read them and never modify them.
type Change struct {
	Kind     ChangeKind
	Incident incident.Incident
}

// Registry is the shared incident and deploy registry of one collector.
type Registry interface {
	// CollectorID names this replica in the store layout.
	CollectorID() string
	// Snapshot returns the current immutable view. It never blocks and never
	// returns nil; callers must not modify it.
	Snapshot() *Snapshot
	// Subscribe calls fn for every change from now on, sequentially from one
	// goroutine; the returned func cancels the subscription. Subscribers that
	// need the incidents already open read Snapshot after subscribing.
	Subscribe(fn func(Change)) (cancel func())
	// OpenIncident opens (or, if already open, updates) the incident and
	// records ev. It is idempotent: re-sent notifications change nothing.
	// changed reports whether the registry changed.
	OpenIncident(ctx context.Context, inc incident.Incident, ev incident.Event) (changed bool, err error)
	// ResolveIncident resolves the incident at time at and records ev.
	// Resolving an unknown or resolved incident only records ev (an unknown
	// incident that another replica opened moments before is resolved once
	// this replica learns of it).
	ResolveIncident(ctx context.Context, id string, at time.Time, ev incident.Event) (changed bool, err error)
	// RecordDeploy records (or updates) a deploy and ev.
	RecordDeploy(ctx context.Context, d incident.Deploy, ev incident.Event) error
	// RecordEvent records an event that changes no state (an alert below
	// the policy, an acknowledgement).
	RecordEvent(ctx context.Context, ev incident.Event) error
	// Events returns the recorded events with from <= Time <= to, in time order.
	Events(from, to time.Time) []incident.Event
	// EventsSince is Events without what a caller that reads the same
	// window again already has: the events recorded up to mark whose Time
	// is at most had (had zero: none left out). next is the mark of the
	// newest event recorded so far, for the caller's next call. Marks grow
	// with every event recorded and mean nothing to another registry or
	// process. Events left out are never copied, so a caller that reads a
	// window over and over pays for the new events only.
	EventsSince(from, to time.Time, mark uint64, had time.Time) (evs []incident.Event, next uint64)
	// Store is the evidence store shared by the replicas.
	Store() store.Store
}

// ErrNotFound is returned by Find when no extension has the given ID.
var ErrNotFound = errors.New("incidents extension not found")

// ErrWrongType is returned by Find when the extension with the given ID is
// not an incidents extension.
var ErrWrongType = errors.New("extension is not an incidents extension")

// Find returns the Registry of the extension with the given ID.
func Find(host component.Host, id component.ID) (Registry, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q (add it under 'extensions' and to 'service.extensions')", ErrNotFound, id)
	}
	r, ok := ext.(Registry)
	if !ok {
		return nil, fmt.Errorf("%w: %q is a %T", ErrWrongType, id, ext)
	}
	return r, nil
}
