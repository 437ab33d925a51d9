package incidentsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Op is one write of a batch. At most one of Open, Resolve and Deploy is
// set; with none, the op records Event only (as Registry.RecordEvent does).
type Op struct {
	// Open opens (or updates) the incident, as Registry.OpenIncident does.
	Open *incident.Incident
	// Resolve resolves an incident, as Registry.ResolveIncident does.
	Resolve *Resolve
	// Deploy records a deploy, as Registry.RecordDeploy does.
	Deploy *incident.Deploy
	// Event is the event the op records.
	Event incident.Event
}

// Resolve names the incident an Op resolves and when.
type Resolve struct {
	ID string
	At time.Time
}

// Batcher is implemented by registries that record a batch of writes as
// one: the whole batch is recorded or none of it, with one durable record
// and one sync log object, so that a request carrying a thousand alerts
// costs one write, not a thousand. Later ops see the changes of earlier
// ones.
type Batcher interface {
	// RecordBatch applies ops in order. changed[i] reports whether ops[i]
	// changed the registry (always false for deploys and plain events).
	RecordBatch(ctx context.Context, ops []Op) (changed []bool, err error)
}

// RecordBatch records ops through reg: as one batch when reg is a Batcher,
// else one call per op, stopping at the first failure. changed holds an
// entry for each op recorded (all of them, unless err is set).
func RecordBatch(ctx context.Context, reg Registry, ops []Op) (changed []bool, err error) {
	if b, ok := reg.(Batcher); ok {
		return b.RecordBatch(ctx, ops)
	}
	changed = make([]bool, 0, len(ops))
	for i := range ops {
		op := &ops[i]
		var c bool
		switch {
		case op.Open != nil:
			c, err = reg.OpenIncident(ctx, *op.Open, op.Event)
		case op.Resolve != nil:
			c, err = reg.ResolveIncident(ctx, op.Resolve.ID, op.Resolve.At, op.Event)
		case op.Deploy != nil:
			err = reg.RecordDeploy(ctx, *op.Deploy, op.Event)
		default:
			err = reg.RecordEvent(ctx, op.Event)
		}
		if err != nil {
			return changed, err
		}
		changed = append(changed, c)
	}
	return changed, nil
}

// EventBatch is a sync log object holding the events a writer recorded
// together. An object holding one event without a batch ID is the plain
// incident.Event, as tools write.
type EventBatch struct {
	// ID identifies the batch whatever object key it is published under:
	// a writer that publishes a batch again (after a crash, or a write
	// whose answer it did not get) publishes the same ID, and readers
	// recognise its events (BatchEventKey).
	ID     string           `json:"id,omitempty"`
	Events []incident.Event `json:"events"`
}

// syncObject decodes either form of a sync log object.
type syncObject struct {
	incident.Event
	ID     string           `json:"id"`
	Events []incident.Event `json:"events"`
}

// DecodeEvents decodes a sync log object: a single incident.Event or an
// EventBatch (whose ID it returns).
func DecodeEvents(b []byte) (id string, evs []incident.Event, err error) {
	var o syncObject
	if err := json.Unmarshal(b, &o); err != nil {
		return "", nil, err
	}
	if o.Events != nil {
		if o.Kind != "" {
			return "", nil, fmt.Errorf("a sync log object is either an event or a batch of 'events', not both")
		}
		return o.ID, o.Events, nil
	}
	return "", []incident.Event{o.Event}, nil
}

// BatchEventKey is the key under which a registry keeps the i-th of the n
// events of the sync log object at key: for a batch with an ID, a key made
// of the ID (the same under whichever object key it was published); else
// key itself for an object of one event, key#i for more.
func BatchEventKey(key, id string, i, n int) string {
	switch {
	case id != "":
		return fmt.Sprintf("batch/%s#%d", id, i)
	case n == 1:
		return key
	}
	return fmt.Sprintf("%s#%d", key, i)
}
