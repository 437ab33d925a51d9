package evidenceexporter

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// Defaults.
const (
	defaultIncidents           = "incidents"
	defaultWindowBefore        = 30 * time.Minute
	defaultWindowAfter         = 10 * time.Minute
	defaultWindowMax           = 2 * time.Hour
	defaultExtendUntilResolved = true
	defaultBufferMaxBytes      = 256 << 20
	defaultBufferMaxAge        = 35 * time.Minute
	defaultFlushInterval       = time.Minute
	defaultLatePeriod          = 5 * time.Minute
	defaultItemMaxPast         = 7 * 24 * time.Hour
	defaultItemMaxFuture       = time.Hour
	defaultEncoding            = bundle.EncodingProto
	defaultPartMaxBytes        = 64 << 20
	defaultSpoolDirectory      = "./var/spool"
	defaultRetryInitial        = 5 * time.Second
	defaultRetryMax            = 5 * time.Minute
	defaultRetryMultiplier     = 1.5
	defaultRetryRandomization  = 0.5
)

// NewFactory returns the factory of the evidence exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval = defaultRetryInitial
	retry.MaxInterval = defaultRetryMax
	retry.Multiplier = defaultRetryMultiplier
	retry.RandomizationFactor = defaultRetryRandomization
	retry.MaxElapsedTime = 0 // the spool keeps retrying for ever
	return &Config{
		Incidents: component.MustNewID(defaultIncidents),
		Window: WindowConfig{
			Before:              defaultWindowBefore,
			After:               defaultWindowAfter,
			ExtendUntilResolved: defaultExtendUntilResolved,
			Max:                 defaultWindowMax,
		},
		Buffer: BufferConfig{
			MaxBytes:    defaultBufferMaxBytes,
			MaxAge:      defaultBufferMaxAge,
			Compression: ring.DefaultCompression,
		},
		LateData:       LateDataConfig{Period: defaultLatePeriod},
		ItemTime:       ItemTimeConfig{MaxPast: defaultItemMaxPast, MaxFuture: defaultItemMaxFuture},
		FlushInterval:  defaultFlushInterval,
		Encoding:       defaultEncoding,
		PartMaxBytes:   defaultPartMaxBytes,
		Spool:          SpoolConfig{Directory: defaultSpoolDirectory},
		RetryOnFailure: retry,
	}
}

// exporters holds one evidenceExporter per component ID: the traces, logs
// and metrics pipelines of one exporter share its ring and freezer.
var exporters = &sharedExporters{m: make(map[component.ID]*sharedExporter)}

type sharedExporters struct {
	mu sync.Mutex
	m  map[component.ID]*sharedExporter
}

type sharedExporter struct {
	*evidenceExporter
	refs int
}

// acquire returns the exporter of set.ID, creating it on first use.
func (s *sharedExporters) acquire(set exporter.Settings, cfg *Config, opts options) (*evidenceExporter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se := s.m[set.ID]; se != nil {
		se.refs++
		return se.evidenceExporter, nil
	}
	e, err := newEvidenceExporter(cfg, set, opts)
	if err != nil {
		return nil, err
	}
	s.m[set.ID] = &sharedExporter{evidenceExporter: e, refs: 1}
	return e, nil
}

// release shuts the exporter down when its last pipeline does.
func (s *sharedExporters) release(ctx context.Context, id component.ID) error {
	s.mu.Lock()
	se := s.m[id]
	if se == nil {
		s.mu.Unlock()
		return nil
	}
	se.refs--
	last := se.refs == 0
	if last {
		delete(s.m, id)
	}
	s.mu.Unlock()
	if !last {
		return nil
	}
	return se.shutdown(ctx)
}

// helperOptions are the exporterhelper options of every signal: no sending
// queue, no retries and no timeout, because the ring is the buffer and an
// Append never waits; the data is only read.
func helperOptions(e *evidenceExporter, id component.ID) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(func(ctx context.Context) error { return exporters.release(ctx, id) }),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	e, err := exporters.acquire(set, cfg.(*Config), defaultOptions())
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, set, cfg, e.consumeTraces, helperOptions(e, set.ID)...)
	if err != nil {
		_ = exporters.release(ctx, set.ID)
	}
	return exp, err
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	e, err := exporters.acquire(set, cfg.(*Config), defaultOptions())
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewLogs(ctx, set, cfg, e.consumeLogs, helperOptions(e, set.ID)...)
	if err != nil {
		_ = exporters.release(ctx, set.ID)
	}
	return exp, err
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	e, err := exporters.acquire(set, cfg.(*Config), defaultOptions())
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewMetrics(ctx, set, cfg, e.consumeMetrics, helperOptions(e, set.ID)...)
	if err != nil {
		_ = exporters.release(ctx, set.ID)
	}
	return exp, err
}
