package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// snapshotFormat is the version of the stored snapshot layout.
const snapshotFormat = 1

// maxObjectSize bounds what the extension reads from one control object.
const maxObjectSize = 256 << 20

// storedSnapshot is the compacted state one replica writes to
// control/snapshots/<collector-id>.json.
type storedSnapshot struct {
	Format      int    `json:"format"`
	CollectorID string `json:"collector_id"`
	// WrittenAt is the writer's clock when it wrote the snapshot.
	WrittenAt time.Time `json:"written_at"`
	// Cursor: the snapshot holds every sync event written before Cursor
	// (as far as the writer could see); readers continue from there.
	Cursor    time.Time         `json:"cursor"`
	Incidents []storedIncident  `json:"incidents"`
	Deploys   []incident.Deploy `json:"deploys"`
	Events    []storedEvent     `json:"events"`
}

// storedIncident is an incident with the marks it was derived from.
type storedIncident struct {
	Incident incident.Incident `json:"incident"`
	Opens    []openMark        `json:"opens"`
	Resolves []time.Time       `json:"resolves,omitempty"`
}

// storedEvent is a recorded event with the sync log key it was read from
// or written to.
type storedEvent struct {
	Key   string         `json:"key"`
	Event incident.Event `json:"event"`
}

// collectorRecord is written to control/collectors/<collector-id>.json at
// start: it proves the store is writable and tells operators which replicas
// share the store.
type collectorRecord struct {
	CollectorID string    `json:"collector_id"`
	StartedAt   time.Time `json:"started_at"`
	Version     string    `json:"version,omitempty"`
	// LastSeen is when the replica last wrote the record: it is rewritten
	// every storeProbeEvery, which proves the store still takes writes.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// writeHealth remembers whether the store took the last write.
type writeHealth struct {
	mu      sync.Mutex
	failing error // the last write's error; nil when it succeeded
}

func (w *writeHealth) record(err error) {
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = err
}

// state returns the last write's error (nil: it succeeded).
func (w *writeHealth) state() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failing
}

// countingStore wraps the store to count failed operations by name. A
// missing object is not a failure.
type countingStore struct {
	store.Store
	tel *metadata.TelemetryBuilder
	// writes, when set, learns the outcome of every write.
	writes *writeHealth
}

func (c countingStore) count(op string, err error) error {
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.tel.ExtensionIncidentsStoreErrors.Add(context.Background(), 1,
			metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", op))))
	}
	return err
}

func (c countingStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts store.PutOptions) error {
	err := c.Store.Put(ctx, key, r, size, opts)
	if c.writes != nil && ctx.Err() == nil {
		c.writes.record(err)
	}
	return c.count("put", err)
}

func (c countingStore) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	rc, info, err := c.Store.Get(ctx, key)
	return rc, info, c.count("get", err)
}

func (c countingStore) List(ctx context.Context, prefix, startAfter string) ([]store.ObjectInfo, error) {
	objs, err := c.Store.List(ctx, prefix, startAfter)
	return objs, c.count("list", err)
}

func (c countingStore) Delete(ctx context.Context, key string) error {
	return c.count("delete", c.Store.Delete(ctx, key))
}

// putJSON writes v as an indented JSON object.
func putJSON(ctx context.Context, st store.Store, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	b = append(b, '\n')
	if err := st.Put(ctx, key, bytes.NewReader(b), int64(len(b)), store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// getEvents reads the sync log object at key: one event or a batch (whose
// ID it returns). Errors wrap store.ErrNotFound for a missing object and
// errBadObject for undecodable content.
func getEvents(ctx context.Context, st store.Store, key string) (string, []incident.Event, error) {
	b, err := getBytes(ctx, st, key)
	if err != nil {
		return "", nil, err
	}
	id, evs, err := incidentsapi.DecodeEvents(b)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %w", errBadObject, key, err)
	}
	return id, evs, nil
}

// getBytes reads the object at key, up to maxObjectSize.
func getBytes(ctx context.Context, st store.Store, key string) ([]byte, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(io.LimitReader(rc, maxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxObjectSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errBadObject, key, maxObjectSize)
	}
	return b, nil
}

// getJSON reads the object at key into v. Errors wrap store.ErrNotFound for
// a missing object and errBadObject for undecodable content.
func getJSON(ctx context.Context, st store.Store, key string, v any) error {
	b, err := getBytes(ctx, st, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %w", errBadObject, key, err)
	}
	return nil
}

// errBadObject marks a control object whose content cannot be used; it is
// skipped, never retried.
var errBadObject = errors.New("malformed control object")

func snapshotKey(collectorID string) string {
	return incidentsapi.SnapshotsPrefix + collectorID + ".json"
}

func collectorKey(collectorID string) string {
	return incidentsapi.CollectorsPrefix + collectorID + ".json"
}

func incidentKey(id string) (string, error) {
	return bundle.IncidentKey(id)
}

// validateEvent checks the records an event read from the store carries and
// normalizes their times.
func validateEvent(ev *incident.Event) error {
	if ev.Incident != nil {
		normalizeIncident(ev.Incident)
		if err := ev.Incident.Validate(); err != nil {
			return fmt.Errorf("incident: %w", err)
		}
		if ev.Incident.Status == incident.StatusResolved && ev.Incident.ResolvedAt == nil {
			return errors.New("incident: 'resolved_at' is required when 'status' is resolved")
		}
	}
	if ev.Deploy != nil {
		normalizeDeploy(ev.Deploy)
		if err := ev.Deploy.Validate(); err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
	}
	if ev.Time.IsZero() {
		return errors.New("'time' is required")
	}
	ev.Time = ev.Time.UTC()
	return nil
}

// normalizeIncident puts every time of the record in UTC without a
// monotonic reading, so equal instants encode and compare equally.
func normalizeIncident(i *incident.Incident) {
	i.StartedAt = i.StartedAt.UTC()
	i.UpdatedAt = i.UpdatedAt.UTC()
	if i.ResolvedAt != nil {
		r := i.ResolvedAt.UTC()
		i.ResolvedAt = &r
	}
}

func normalizeDeploy(d *incident.Deploy) {
	d.StartedAt = d.StartedAt.UTC()
	if d.FinishedAt != nil {
		f := d.FinishedAt.UTC()
		d.FinishedAt = &f
	}
}
