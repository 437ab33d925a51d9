package evidenceexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// options are the seams unit tests use; the factory uses the defaults.
type options struct {
	// now is the clock of windows, ring arrivals and manifests.
	now func() time.Time
	// tick drives the periodic flushes; nil means a ticker of
	// flush_interval.
	tick <-chan time.Time
	// storeCheckTimeout bounds the look for an earlier bundle when an
	// incident is first seen; zero means defaultStoreCheckTimeout.
	storeCheckTimeout time.Duration
}

// defaultStoreCheckTimeout bounds the store lookup that follows an
// incident's first part (see freezer.check). The part covering the past is
// in the spool by then, but its upload waits for the answer, and the freeze
// loop serves every incident: an unreachable store (the S3 client retries
// for seconds, and a hanging connection for much longer) must not hold
// them up.
const defaultStoreCheckTimeout = 2 * time.Second

func defaultOptions() options { return options{now: time.Now} }

// evidenceExporter is one evidence exporter, shared by the traces, logs and
// metrics pipelines that use the same component ID (one ring for all).
type evidenceExporter struct {
	cfg    *Config
	logger *zap.Logger
	opts   options
	tb     *metadata.TelemetryBuilder

	// mu keeps the ring and the ledger from closing under an Append.
	mu   sync.RWMutex
	ring *ring.Ring
	// ledger records each block a memory ring accepts (nil with a disk
	// ring).
	ledger *ledger

	startOnce sync.Once
	startErr  error
	started   bool
	unsub     func()
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	ticker    *time.Ticker
	freezer   *freezer
	uploader  *uploader
	// refused are the batches the ring could not keep, for the bundles.
	refused *refusedLog
	// syncReq runs one freeze step (all incidents) and replies; tests
	// use it through flushNow.
	syncReq chan chan struct{}
}

func newEvidenceExporter(cfg *Config, set exporter.Settings, opts options) (*evidenceExporter, error) {
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.storeCheckTimeout <= 0 {
		opts.storeCheckTimeout = defaultStoreCheckTimeout
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &evidenceExporter{
		cfg:     cfg,
		logger:  set.Logger,
		opts:    opts,
		tb:      tb,
		syncReq: make(chan chan struct{}),
		refused: &refusedLog{},
	}, nil
}

// start runs once for all the pipelines sharing the exporter.
func (e *evidenceExporter) start(ctx context.Context, host component.Host) error {
	e.startOnce.Do(func() { e.startErr = e.doStart(ctx, host) })
	return e.startErr
}

func (e *evidenceExporter) doStart(_ context.Context, host component.Host) (err error) {
	cfg := e.cfg
	reg, err := incidentsapi.Find(host, cfg.Incidents)
	if err != nil {
		return fmt.Errorf("evidence exporter: 'incidents': %w", err)
	}
	st := reg.Store()
	if st == nil {
		return fmt.Errorf("evidence exporter: the incidents extension %q has no evidence store", cfg.Incidents)
	}
	collectorID := reg.CollectorID()
	if err := incident.ValidateID(collectorID); err != nil {
		return fmt.Errorf("evidence exporter: collector id of %q: %w", cfg.Incidents, err)
	}
	sp, err := openSpool(cfg.Spool.Directory)
	if err != nil {
		return fmt.Errorf("evidence exporter: 'spool.directory': %w", err)
	}
	found, problems, err := sp.load()
	if err != nil {
		return fmt.Errorf("evidence exporter: 'spool.directory': %w", err)
	}
	for _, p := range problems {
		e.logger.Error("Problem in the spool", zap.Error(p))
	}
	r, err := ring.Open(ring.Config{
		MaxBytes:    cfg.Buffer.MaxBytes,
		MaxAge:      cfg.Buffer.MaxAge,
		Directory:   cfg.Buffer.Directory,
		Compression: cfg.Buffer.Compression,
		Now:         e.opts.now,
		MaxPast:     cfg.ItemTime.MaxPast,
		MaxFuture:   cfg.ItemTime.MaxFuture,
	}, e.logger.With(zap.String("part", "ring")))
	if err != nil {
		return fmt.Errorf("evidence exporter: 'buffer': %w", err)
	}
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()
	signer, err := cfg.Signing.signer()
	if err != nil {
		return fmt.Errorf("evidence exporter: %w", err)
	}
	if signer != nil {
		e.logger.Info("Signing evidence", zap.String("key_id", signer.KeyID()))
	} else {
		e.logger.Warn("No signing key configured: evidence bundles are unsigned ('signing.key_file' or 'signing.key_env')")
	}
	if err := e.registerGauges(); err != nil {
		return fmt.Errorf("evidence exporter: telemetry: %w", err)
	}

	e.uploader = newUploader(&uploader{
		logger:      e.logger,
		store:       st,
		spool:       sp,
		reg:         reg,
		tb:          e.tb,
		retry:       cfg.RetryOnFailure,
		before:      cfg.Window.Before,
		collectorID: collectorID,
		now:         e.opts.now,
		signer:      signer,
	})
	e.freezer = &freezer{
		logger:            e.logger,
		ring:              r,
		reg:               reg,
		store:             st,
		spool:             sp,
		up:                e.uploader,
		tb:                e.tb,
		now:               e.opts.now,
		storeCheckTimeout: e.opts.storeCheckTimeout,
		policy: windowPolicy{
			before: cfg.Window.Before,
			after:  cfg.Window.After,
			max:    cfg.Window.Max,
			extend: cfg.Window.ExtendUntilResolved,
			grace:  cfg.FlushInterval,
		},
		encoding:    cfg.Encoding,
		dataLimit:   partDataLimit(cfg.PartMaxBytes),
		latePeriod:  cfg.LateData.Period,
		refused:     e.refused,
		maxAge:      cfg.Buffer.MaxAge,
		collectorID: collectorID,
		signer:      signer,
		jobs:        make(map[string]*incidentState),
		skipped:     make(map[string]bool),
		lookups:     make(map[string]*storeLookup),
		wake:        make(chan struct{}, 1),
	}

	var led *ledger
	if cfg.Buffer.Directory == "" {
		prev, err := sp.readRecorder()
		if err != nil {
			e.logger.Warn("Cannot read what the previous process's memory ring held", zap.Error(err))
		}
		var tail ledgerTail
		if prev != nil {
			if tail, err = readLedger(sp.dir, prev.StartedAt.UnixNano(), prev.Seq); err != nil {
				e.logger.Warn("Cannot read the previous process's arrival ledger; what its ring took after its last record is named without a count",
					zap.Error(err))
			}
		}
		boot := bootTime()
		if e.freezer.restart = newRestartGap(prev, tail, boot, e.opts.now()); e.freezer.restart != nil {
			e.logger.Warn("The previous process's memory ring is lost; bundles whose window it held name a restart loss",
				zap.Time("previous_start", prev.StartedAt), zap.Time("previous_update", prev.UpdatedAt),
				zap.Int("blocks_after_update", len(tail.blocks)), zap.Bool("count_known", !e.freezer.restart.unknownTail))
		}
		// The new record (a new epoch) first: the old ledger is then
		// never read again, so emptying it cannot lose what it held.
		e.freezer.recorder = &recorderState{Ring: "memory", StartedAt: e.opts.now(), BootTime: boot}
		e.freezer.saveRecorder()
		// Without a ledger (a full spool disk, say) the collector still
		// records: recorder.json says so, and after a crash the bundles
		// name what the ring took since its last record without a count.
		if led, err = openLedger(sp.dir, e.freezer.recorder.StartedAt.UnixNano()); err != nil {
			e.logger.Warn("Cannot create the arrival ledger in 'spool.directory'; after a crash, what the memory ring took since its last record is named without a count",
				zap.Error(err))
			e.freezer.recorder.LedgerFailed = true
			e.freezer.saveRecorder()
		}
		e.freezer.ledger = led
	}

	e.mu.Lock()
	e.ring = r
	e.ledger = led
	e.mu.Unlock()

	// Subscribe first, then read the snapshot (see Registry.Subscribe).
	e.unsub = reg.Subscribe(e.freezer.enqueue)
	e.freezer.resume(found, reg.Snapshot())

	tick := e.opts.tick
	if tick == nil {
		e.ticker = time.NewTicker(cfg.FlushInterval)
		tick = e.ticker.C
	}
	// Both loops need the ticks; fan them out.
	freezeTick := make(chan time.Time, 1)
	uploadTick := make(chan time.Time, 1)
	loopCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(3)
	go func() {
		defer e.wg.Done()
		for {
			select {
			case <-loopCtx.Done():
				return
			case t := <-tick:
				offer(freezeTick, t)
				offer(uploadTick, t)
			}
		}
	}()
	go func() {
		defer e.wg.Done()
		e.freezer.run(loopCtx, freezeTick, e.syncReq)
	}()
	go func() {
		defer e.wg.Done()
		e.uploader.run(loopCtx, uploadTick)
	}()
	// Freeze the incidents found at start right away.
	e.freezer.kick()
	e.started = true
	e.logger.Info("Evidence recorder started",
		zap.String("store", st.String()), zap.String("collector_id", collectorID),
		zap.String("spool", sp.dir), zap.Int("spooled_incidents", len(found)))
	return nil
}

// partDataLimit is the data a part may hold for its object to stay within
// part_max_bytes: the limit less bundle.PartOverhead (the whole limit when
// it is too small for that, as only tests set it).
func partDataLimit(partMax int64) int64 {
	if partMax >= 2*bundle.PartOverhead {
		return partMax - bundle.PartOverhead
	}
	return partMax
}

// offer sends t unless the channel already holds a tick.
func offer(c chan time.Time, t time.Time) {
	select {
	case c <- t:
	default:
	}
}

// registerGauges registers the asynchronous instruments.
func (e *evidenceExporter) registerGauges() error {
	withRing := func(fn func(r *ring.Ring)) {
		e.mu.RLock()
		defer e.mu.RUnlock()
		if e.ring != nil {
			fn(e.ring)
		}
	}
	// perSignal observes one field of the ring's per-signal stats.
	perSignal := func(field func(ring.SignalStats) int64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			withRing(func(r *ring.Ring) {
				s := r.Stats()
				for i := range s.Signals {
					o.Observe(field(s.Signals[i]), metric.WithAttributeSet(signalAttrs[i]))
				}
			})
			return nil
		}
	}
	return errors.Join(
		e.tb.RegisterExporterEvidenceBufferBytesCallback(perSignal(func(s ring.SignalStats) int64 { return s.Bytes })),
		e.tb.RegisterExporterEvidenceBufferItemsCallback(perSignal(func(s ring.SignalStats) int64 { return s.Items })),
		e.tb.RegisterExporterEvidenceBufferEvictedItemsCallback(perSignal(func(s ring.SignalStats) int64 { return s.EvictedItems })),
		e.tb.RegisterExporterEvidenceBufferLookbackCallback(func(_ context.Context, o metric.Float64Observer) error {
			withRing(func(r *ring.Ring) { o.Observe(r.Lookback(e.opts.now()).Seconds()) })
			return nil
		}),
		e.tb.RegisterExporterEvidenceSpoolBytesCallback(func(_ context.Context, o metric.Int64Observer) error {
			_, size := e.uploader.spooled()
			o.Observe(size)
			return nil
		}),
		e.tb.RegisterExporterEvidenceSpoolPartsCallback(func(_ context.Context, o metric.Int64Observer) error {
			parts, _ := e.uploader.spooled()
			o.Observe(parts)
			return nil
		}),
	)
}

// flushNow runs one freeze step over every incident and waits for it
// (tests).
func (e *evidenceExporter) flushNow(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case e.syncReq <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown stops the loops, writes what the open windows hold so far to the
// spool (not complete: the next start continues), and closes the ring.
func (e *evidenceExporter) shutdown(ctx context.Context) error {
	var errs []error
	if e.started {
		e.unsub()
		e.cancel()
		if e.ticker != nil {
			e.ticker.Stop()
		}
		e.wg.Wait()
		e.freezer.flushAll(ctx)
		if e.freezer.recorder != nil {
			e.freezer.recorder.Clean = true
			e.freezer.saveRecorder()
		}
		e.mu.Lock()
		errs = append(errs, e.ring.Close())
		e.ring = nil
		if e.ledger != nil {
			errs = append(errs, e.ledger.close())
			e.ledger = nil
		}
		e.mu.Unlock()
		e.started = false
	}
	e.tb.Shutdown()
	return errors.Join(errs...)
}

func (e *evidenceExporter) consumeTraces(_ context.Context, td ptrace.Traces) error {
	b, err := e.store(td.SpanCount, func(r *ring.Ring) (ring.Batch, error) { return r.AppendTraces(td) })
	e.countSkewedTraces(td, b.MinT, b.MaxT)
	e.unusable(ring.SignalTraces, b.Unusable)
	e.dropped(ring.SignalTraces, b, err)
	return nil
}

func (e *evidenceExporter) consumeLogs(_ context.Context, ld plog.Logs) error {
	b, err := e.store(ld.LogRecordCount, func(r *ring.Ring) (ring.Batch, error) { return r.AppendLogs(ld) })
	e.countSkewedLogs(ld, b.MinT, b.MaxT)
	e.unusable(ring.SignalLogs, b.Unusable)
	e.dropped(ring.SignalLogs, b, err)
	return nil
}

func (e *evidenceExporter) consumeMetrics(_ context.Context, md pmetric.Metrics) error {
	b, err := e.store(md.DataPointCount, func(r *ring.Ring) (ring.Batch, error) { return r.AppendMetrics(md) })
	e.countSkewedMetrics(md, b.MinT, b.MaxT)
	e.unusable(ring.SignalMetrics, b.Unusable)
	e.dropped(ring.SignalMetrics, b, err)
	return nil
}

// store marshals one batch into the ring (add) and records its block in
// the arrival ledger before the batch is acknowledged, or only counts its
// items when the ring is closed.
func (e *evidenceExporter) store(count func() int, add func(*ring.Ring) (ring.Batch, error)) (ring.Batch, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ring == nil {
		return ring.Batch{Items: count()}, ring.ErrClosed
	}
	b, err := add(e.ring)
	if err == nil && e.ledger != nil && b.Block.Seq != 0 {
		e.ledger.add(b.Block)
	}
	return b, err
}

// unusable counts the items of a batch whose time no window can hold (see
// ItemTimeConfig); they are in the ring with the rest of their batch.
func (e *evidenceExporter) unusable(sig ring.Signal, n int) {
	if n > 0 {
		e.tb.ExporterEvidenceItemsUnusableTime.Add(context.Background(), int64(n), metric.WithAttributeSet(signalAttrs[sig]))
	}
}

// dropped counts and logs a batch of n items the ring could not hold. The
// pipeline never fails on it.
func (e *evidenceExporter) dropped(sig ring.Signal, b ring.Batch, err error) {
	if err != nil {
		e.tb.ExporterEvidenceBufferDroppedItems.Add(context.Background(), int64(b.Items), metric.WithAttributeSet(signalAttrs[sig]))
		e.logger.Warn("Dropping a batch the ring buffer cannot hold", zap.Stringer("signal", sig), zap.Int("items", b.Items), zap.Error(err))
		e.refused.add(sig, b.Items, b.MinT, b.MaxT, e.opts.now())
	}
}
