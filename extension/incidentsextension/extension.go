package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Tuning that is not configuration.
const (
	// defaultSyncLookback is how far behind the newest event it has seen a
	// replica re-reads the sync log, to pick up events written by slow
	// writers or replicas whose clocks lag.
	defaultSyncLookback = 5 * time.Minute
	// defaultSnapshotEvery is how often a replica rewrites its compacted
	// snapshot when its state changed.
	defaultSnapshotEvery = time.Minute
	// defaultCompactEvery is how often a replica deletes its own sync events
	// that every snapshot already covers and no retention needs.
	defaultCompactEvery = time.Hour
	// maxEvents and maxEventBytes bound the events kept in memory (and in
	// the stored snapshot) whatever their age; the oldest go first.
	maxEvents     = 100000
	maxEventBytes = 64 << 20
	// maxApplied bounds the set of sync keys remembered as applied.
	maxApplied = 1 << 17
	// shutdownSnapshotTimeout bounds the final snapshot write at shutdown.
	shutdownSnapshotTimeout = 10 * time.Second
)

// Origins of a change, for logs and metrics.
const (
	originLocal   = "local"
	originReplica = "replica"
)

// ErrNotStarted is returned by the Registry's write methods before Start
// and after Shutdown.
var ErrNotStarted = errors.New("incidents extension is not running")

// incidentsExtension implements incidentsapi.Registry.
type incidentsExtension struct {
	cfg    *Config
	id     string // collector ID
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder

	// Injectable for tests.
	now           func() time.Time
	openStore     func(context.Context, storage.Config) (store.Store, error)
	syncLookback  time.Duration
	snapshotEvery time.Duration
	compactEvery  time.Duration

	raw  store.Store   // the store as opened, returned by Store()
	st   countingStore // raw, counting failures
	host component.Host

	snap atomic.Pointer[incidentsapi.Snapshot]
	subs *subscribers

	// mu serializes writers: every state change, the store writes that
	// record it, and the publication of snapshots and changes.
	mu        sync.Mutex
	running   bool
	version   uint64
	seq       uint64
	incidents map[string]*incidentState
	deploys   map[string]*incident.Deploy
	pending   map[string]pendingResolve
	dirty     map[string]struct{} // incident.json files to rewrite
	rebuild   bool                // applying stored state at start: no metrics

	evMu   sync.RWMutex
	events eventLog

	// Sync loop state, owned by the loop goroutine (and Start before it).
	applied      map[string]time.Time
	cursor       time.Time
	maxSeen      time.Time
	snapWritten  uint64 // state version of the last stored snapshot
	lastSnapshot time.Time
	lastCompact  time.Time
	failing      bool
	stopLoop     context.CancelFunc
	loopDone     chan struct{}
	shutdownOnce sync.Once
}

// pendingResolve is a resolution received for an incident this replica did
// not know yet; it applies if the incident arrives from another replica
// soon after (the resolve overtook the open).
type pendingResolve struct {
	at      time.Time
	source  string
	expires time.Time
}

var (
	_ extension.Extension   = (*incidentsExtension)(nil)
	_ incidentsapi.Registry = (*incidentsExtension)(nil)
)

func newExtension(cfg *Config, set extension.Settings) (*incidentsExtension, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("incidents: create telemetry: %w", err)
	}
	e := &incidentsExtension{
		cfg:           cfg,
		id:            cfg.CollectorID,
		logger:        set.Logger.With(zap.String("collector_id", cfg.CollectorID)),
		tel:           tel,
		now:           time.Now,
		openStore:     storage.Open,
		syncLookback:  defaultSyncLookback,
		snapshotEvery: defaultSnapshotEvery,
		compactEvery:  defaultCompactEvery,
		incidents:     make(map[string]*incidentState),
		deploys:       make(map[string]*incident.Deploy),
		pending:       make(map[string]pendingResolve),
		dirty:         make(map[string]struct{}),
		applied:       make(map[string]time.Time),
	}
	e.subs = newSubscribers(e.logger)
	e.snap.Store(incidentsapi.NewSnapshot(0, nil, nil))
	return e, nil
}

// Start opens the store, checks that it is writable, rebuilds the registry
// from the replicas' snapshots and the sync log, and starts the sync loop.
func (e *incidentsExtension) Start(ctx context.Context, host component.Host) error {
	raw, err := e.openStore(ctx, e.cfg.Store)
	if err != nil {
		return fmt.Errorf("incidents: open the evidence store: %w", err)
	}
	e.raw, e.st, e.host = raw, countingStore{Store: raw, tel: e.tel}, host
	now := e.now().UTC()
	if err := putJSON(ctx, e.st, collectorKey(e.id), collectorRecord{CollectorID: e.id, StartedAt: now}); err != nil {
		return fmt.Errorf("incidents: the evidence store %s is not usable (check that the directory is writable or that the bucket exists and the credentials allow writing): %w", raw, err)
	}
	if err := e.load(ctx); err != nil {
		return fmt.Errorf("incidents: rebuild the registry from %s: %w", raw, err)
	}
	if err := e.tel.RegisterExtensionIncidentsOpenCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(len(e.snap.Load().Open)))
		return nil
	}); err != nil {
		return fmt.Errorf("incidents: register the open incidents gauge: %w", err)
	}
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()

	loopCtx, cancel := context.WithCancel(context.Background())
	e.stopLoop, e.loopDone = cancel, make(chan struct{})
	go e.run(loopCtx)
	snap := e.snap.Load()
	e.logger.Info("Incidents registry started", zap.Stringer("store", raw),
		zap.Int("open_incidents", len(snap.Open)), zap.Int("incidents", len(snap.Incidents)),
		zap.Duration("sync_interval", e.cfg.SyncInterval))
	return nil
}

// Shutdown stops the sync loop, writes a final snapshot and stops every
// subscription. It is safe to call without Start and more than once.
func (e *incidentsExtension) Shutdown(ctx context.Context) error {
	var err error
	e.shutdownOnce.Do(func() {
		e.mu.Lock()
		wasRunning := e.running
		e.running = false
		e.mu.Unlock()
		if e.stopLoop != nil {
			e.stopLoop()
			select {
			case <-e.loopDone:
			case <-ctx.Done():
				err = fmt.Errorf("incidents: waiting for the sync loop: %w", ctx.Err())
			}
		}
		if wasRunning && err == nil {
			sctx, cancel := context.WithTimeout(ctx, shutdownSnapshotTimeout)
			if serr := e.writeSnapshot(sctx, true); serr != nil {
				e.logger.Warn("Could not write the registry snapshot at shutdown; the next start reads the sync log instead", zap.Error(serr))
			}
			cancel()
		}
		e.subs.close()
		e.tel.Shutdown()
	})
	return err
}

// CollectorID implements incidentsapi.Registry.
func (e *incidentsExtension) CollectorID() string { return e.id }

// Snapshot implements incidentsapi.Registry.
func (e *incidentsExtension) Snapshot() *incidentsapi.Snapshot { return e.snap.Load() }

// Subscribe implements incidentsapi.Registry. Changes are queued without
// ever blocking a writer and delivered in order from one goroutine per
// subscriber. After cancel returns no further change is delivered, except
// one whose callback is already running.
func (e *incidentsExtension) Subscribe(fn func(incidentsapi.Change)) (cancel func()) {
	return e.subs.add(fn)
}

// Store implements incidentsapi.Registry. It is nil before Start.
func (e *incidentsExtension) Store() store.Store { return e.raw }

// Events implements incidentsapi.Registry. The returned events share their
// Incident, Deploy and Payload with the registry: treat them as read-only.
func (e *incidentsExtension) Events(from, to time.Time) []incident.Event {
	e.evMu.RLock()
	defer e.evMu.RUnlock()
	return e.events.between(from, to)
}

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
	key, err := e.appendEvent(ctx, &ev)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	e.recordEvent(key, ev)
	return nil
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

// publish swaps in a new snapshot and queues changes for the subscribers,
// logging and counting them. Called with e.mu held.
func (e *incidentsExtension) publish(changes []incidentsapi.Change, origin string) {
	e.version++
	incs := make([]incident.Incident, 0, len(e.incidents))
	for _, s := range e.incidents {
		incs = append(incs, s.rec)
	}
	deps := make([]incident.Deploy, 0, len(e.deploys))
	for _, d := range e.deploys {
		deps = append(deps, *d)
	}
	e.snap.Store(incidentsapi.NewSnapshot(e.version, incs, deps))
	if e.rebuild {
		return
	}
	for _, c := range changes {
		e.logChange(c, origin)
	}
	e.subs.publish(changes)
}

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
	opened := func() incidentsapi.Change {
		o := cloneIncident(next)
		o.Status, o.ResolvedAt = incident.StatusOpen, nil
		return incidentsapi.Change{Kind: incidentsapi.Opened, Incident: o}
	}
	ended := func() incidentsapi.Change { return incidentsapi.Change{Kind: endKind, Incident: cloneIncident(next)} }
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
		return []incidentsapi.Change{{Kind: incidentsapi.Extended, Incident: cloneIncident(next)}}
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
