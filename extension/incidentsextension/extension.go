package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/journal"
	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/webui"
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
	// defaultStoreProbeEvery is how often a replica rewrites its collector
	// record to prove the store still takes writes, so that a store that
	// starts refusing them shows in the health check (after the
	// health_check extension's recovery_duration) even while nothing else
	// is written.
	defaultStoreProbeEvery = 15 * time.Second
	// startCheckTimeout bounds the store checks at start.
	startCheckTimeout = 30 * time.Second
	// shutdownPublishTimeout bounds the last publication at shutdown.
	shutdownPublishTimeout = 5 * time.Second
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
	tset   component.TelemetrySettings
	// web serves the evidence pages when 'web' is configured.
	web     *http.Server
	webDone chan struct{}
	pages   *webui.Server

	// Injectable for tests.
	now           func() time.Time
	openStore     func(context.Context, storage.Config) (store.Store, error)
	syncLookback  time.Duration
	snapshotEvery time.Duration
	compactEvery  time.Duration

	// journal makes changes durable locally; the publisher takes them to
	// the store (local.go).
	journal    *journal.Journal
	pendingPub []pendingBatch // journaled, not yet published; guarded by mu
	pubSeq     uint64         // sequence of the sync log objects written; guarded by mu
	pubWake    chan struct{}
	pubNotify  chan struct{} // closed (and replaced) whenever a batch is published; guarded by mu
	stopPub    context.CancelFunc
	pubDone    chan struct{}

	raw    store.Store   // the store as opened, returned by Store()
	st     countingStore // raw, counting failures
	writes writeHealth   // whether the store takes writes
	// storeProbeEvery is how often the replica proves the store still takes
	// writes by rewriting its collector record.
	storeProbeEvery time.Duration
	lastProbe       time.Time
	host            component.Host

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
	// snapDirty and deploysDirty: what changed since the last snapshot.
	snapDirty    map[string]struct{}
	deploysDirty bool
	rebuild      bool // applying stored state at start: no metrics

	evMu   sync.RWMutex
	events eventLog

	// Sync loop state, owned by the loop goroutine (and Start before it).
	applied      map[string]time.Time
	cursor       time.Time
	maxSeen      time.Time
	snapWritten  uint64 // state version of the last stored snapshot
	lastSnapshot time.Time
	lastCompact  time.Time
	started      time.Time // when this replica started (its collector record)
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
		cfg:             cfg,
		tset:            set.TelemetrySettings,
		id:              cfg.CollectorID,
		logger:          set.Logger.With(zap.String("collector_id", cfg.CollectorID)),
		tel:             tel,
		now:             time.Now,
		openStore:       storage.Open,
		syncLookback:    defaultSyncLookback,
		snapshotEvery:   defaultSnapshotEvery,
		compactEvery:    defaultCompactEvery,
		storeProbeEvery: defaultStoreProbeEvery,
		incidents:       make(map[string]*incidentState),
		deploys:         make(map[string]*incident.Deploy),
		pending:         make(map[string]pendingResolve),
		dirty:           make(map[string]struct{}),
		snapDirty:       make(map[string]struct{}),
		pubWake:         make(chan struct{}, 1),
		pubNotify:       make(chan struct{}),
		applied:         make(map[string]time.Time),
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
	e.raw, e.st, e.host = raw, countingStore{Store: raw, tel: e.tel, writes: &e.writes}, host
	if c, ok := raw.(storage.Checker); ok {
		cctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
		err := c.Check(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("incidents: the evidence store cannot hold evidence as configured: %w", err)
		}
	}
	now := e.now().UTC()
	if err := putJSON(ctx, e.st, collectorKey(e.id), collectorRecord{CollectorID: e.id, StartedAt: now, LastSeen: now}); err != nil {
		return fmt.Errorf("incidents: the evidence store %s is not usable (check that the directory is writable or that the bucket exists and the credentials allow writing): %w", raw, err)
	}
	e.started, e.lastProbe = now, e.now()
	batches, published, err := e.openJournal()
	if err != nil {
		return err
	}
	if err := e.load(ctx); err != nil {
		_ = e.journal.Close()
		return fmt.Errorf("incidents: rebuild the registry from %s: %w", raw, err)
	}
	e.mu.Lock()
	e.rebuild = true
	e.mu.Unlock()
	e.replayJournal(batches, published)
	e.mu.Lock()
	e.rebuild = false
	e.mu.Unlock()
	if err := e.registerJournalGauges(); err != nil {
		_ = e.journal.Close()
		return fmt.Errorf("incidents: register the journal gauges: %w", err)
	}
	if err := e.tel.RegisterExtensionIncidentsOpenCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(len(e.snap.Load().Open)))
		return nil
	}); err != nil {
		return fmt.Errorf("incidents: register the open incidents gauge: %w", err)
	}
	if err := e.tel.RegisterExtensionIncidentsStoreWritableCallback(func(_ context.Context, o metric.Int64Observer) error {
		if failing := e.writes.state(); failing != nil {
			o.Observe(0)
		} else {
			o.Observe(1)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("incidents: register the store writable gauge: %w", err)
	}
	if err := e.startWeb(ctx, host); err != nil {
		return err
	}
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()

	loopCtx, cancel := context.WithCancel(context.Background())
	e.stopLoop, e.loopDone = cancel, make(chan struct{})
	go e.run(loopCtx)
	pubCtx, stopPub := context.WithCancel(context.Background())
	e.stopPub, e.pubDone = stopPub, make(chan struct{})
	go e.publishLoop(pubCtx)
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
		webErr := e.stopWeb(ctx)
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
		if e.stopPub != nil {
			e.stopPub()
			select {
			case <-e.pubDone:
				// A last publication, bounded: what is still not published
				// stays in the journal for the next start.
				pctx, cancel := context.WithTimeout(ctx, shutdownPublishTimeout)
				if perr := e.publishPending(pctx); perr != nil {
					e.logger.Warn("Changes not yet published stay in the local journal until the next start", zap.Error(perr))
				}
				cancel()
			case <-ctx.Done():
				err = errors.Join(err, fmt.Errorf("incidents: waiting for the publisher: %w", ctx.Err()))
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
		if e.journal != nil && (e.pubDone == nil || isClosed(e.pubDone)) {
			if cerr := e.journal.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
		e.tel.Shutdown()
		err = errors.Join(err, webErr)
	})
	return err
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
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
	evs, _ := e.EventsSince(from, to, 0, time.Time{})
	return evs
}

// EventsSince implements incidentsapi.Registry, with the same sharing as
// Events.
func (e *incidentsExtension) EventsSince(from, to time.Time, mark uint64, had time.Time) ([]incident.Event, uint64) {
	e.evMu.RLock()
	defer e.evMu.RUnlock()
	return e.events.between(from, to, mark, had)
}
