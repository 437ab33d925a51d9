package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor/internal/metadata"
)

// Defaults.
const (
	defaultIncidentsExtension    = "incidents"
	defaultLevel                 = LevelResource
	defaultDeploymentIDSeparator = "-"

	// Attribute keys; semantic conventions where they exist.
	defaultKeyDeploymentID   = "deployment.id"
	defaultKeyDeploymentName = "deployment.name"
	defaultKeyEnvironment    = "deployment.environment.name"
	defaultKeyRevision       = "vcs.ref.head.revision"
	defaultKeyIncidentID     = "incident.id"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the incident_context processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Incidents:             component.MustNewID(defaultIncidentsExtension),
		Level:                 defaultLevel,
		DeploymentIDSeparator: defaultDeploymentIDSeparator,
		Keys: KeysConfig{
			DeploymentID:   defaultKeyDeploymentID,
			DeploymentName: defaultKeyDeploymentName,
			Environment:    defaultKeyEnvironment,
			Revision:       defaultKeyRevision,
			IncidentID:     defaultKeyIncidentID,
		},
	}
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newContextProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newContextProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newContextProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}
