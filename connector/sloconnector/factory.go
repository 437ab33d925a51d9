package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadata"
)

// Defaults.
const (
	defaultIncidentsExtension = "incidents"
	defaultTimeScale          = 1
	defaultBucketsPerWindow   = 60
	defaultEvaluationInterval = time.Second
	defaultMetricsInterval    = 15 * time.Second
	defaultStateInterval      = 10 * time.Second
	defaultMaxGroups          = 100
	defaultPageSeverity       = "critical"
	defaultTicketSeverity     = "warning"
	defaultResolveAfter       = 5 * time.Minute

	// maxBucketsPerWindow bounds the memory of one window (16 bytes a bucket).
	maxBucketsPerWindow = 3600
)

// NewFactory returns the factory of the slo connector.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithTracesToMetrics(createTracesToMetrics, metadata.TracesToMetricsStability),
		connector.WithLogsToMetrics(createLogsToMetrics, metadata.LogsToMetricsStability),
	)
}

// createDefaultConfig holds the Google SRE workbook's policy for a 30-day
// period: page at 14.4x over 1h and 5m (2% of the budget in an hour) and
// 6x over 6h and 30m (5% in six hours); ticket at 3x over 1d and 2h (10% in
// a day) and 1x over 3d and 6h (10% in three days).
func createDefaultConfig() component.Config {
	return &Config{
		Incidents:          component.MustNewID(defaultIncidentsExtension),
		TimeScale:          defaultTimeScale,
		BucketsPerWindow:   defaultBucketsPerWindow,
		EvaluationInterval: defaultEvaluationInterval,
		MetricsInterval:    defaultMetricsInterval,
		StateInterval:      defaultStateInterval,
		MaxGroups:          defaultMaxGroups,
		Policy: PolicyConfig{
			ResolveAfter: defaultResolveAfter,
			Page: LevelConfig{
				Severity:     defaultPageSeverity,
				OpenIncident: true,
				Windows: []WindowConfig{
					{Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
					{Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6},
				},
			},
			Ticket: LevelConfig{
				Severity: defaultTicketSeverity,
				Windows: []WindowConfig{
					{Long: 24 * time.Hour, Short: 2 * time.Hour, BurnRate: 3},
					{Long: 72 * time.Hour, Short: 6 * time.Hour, BurnRate: 1},
				},
			},
		},
	}
}

// SLO defaults, applied to each entry of 'slos' by Unmarshal.
const (
	defaultSignal    = SignalTraces
	defaultObjective = 99.9
	defaultPeriod    = 30 * 24 * time.Hour
)

// instances holds the one connector of each configuration, shared by its
// traces-to-metrics and logs-to-metrics pipelines (the collector passes
// the same *Config to both), as core's otlp receiver shares its server.
var instances = struct {
	sync.Mutex
	m map[*Config]*sharedConnector
}{m: map[*Config]*sharedConnector{}}

// sharedConnector starts the connector on the first Start and shuts it
// down on the last Shutdown.
type sharedConnector struct {
	*sloConnector
	cfg  *Config
	refs int
}

func (s *sharedConnector) Shutdown(ctx context.Context) error {
	instances.Lock()
	s.refs--
	last := s.refs <= 0
	if last {
		delete(instances.m, s.cfg)
	}
	instances.Unlock()
	if !last {
		return nil
	}
	return s.sloConnector.Shutdown(ctx)
}

func getOrCreate(set connector.Settings, cfg *Config, next consumer.Metrics) (*sharedConnector, error) {
	instances.Lock()
	defer instances.Unlock()
	if s, ok := instances.m[cfg]; ok {
		s.refs++
		return s, nil
	}
	c, err := newConnector(set, cfg, next)
	if err != nil {
		return nil, err
	}
	s := &sharedConnector{sloConnector: c, cfg: cfg, refs: 1}
	instances.m[cfg] = s
	return s, nil
}

func createTracesToMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Traces, error) {
	return getOrCreate(set, cfg.(*Config), next)
}

func createLogsToMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Logs, error) {
	return getOrCreate(set, cfg.(*Config), next)
}

// nopTelemetry is what Validate parses the OTTL conditions with.
func nopTelemetry() component.TelemetrySettings {
	return component.TelemetrySettings{Logger: zap.NewNop()}
}
