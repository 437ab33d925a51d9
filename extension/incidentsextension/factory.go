package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Defaults.
const (
	defaultSyncInterval = 2 * time.Second
	// defaultJournalDirectory sits beside the exporter's default spool
	// (./var/spool) and the default filesystem store (./var/evidence).
	defaultJournalDirectory = "./var/journal"
	defaultMaxOpenDuration  = 6 * time.Hour
	defaultDeployRetention  = 7 * 24 * time.Hour
	defaultEventRetention   = 24 * time.Hour
	// fallbackCollectorID is used when the host name has no usable character.
	fallbackCollectorID = "collector"
)

// NewFactory returns the factory of the incidents extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		CollectorID:     defaultCollectorID(),
		Store:           storage.NewDefaultConfig(),
		Journal:         JournalConfig{Directory: defaultJournalDirectory},
		SyncInterval:    defaultSyncInterval,
		MaxOpenDuration: defaultMaxOpenDuration,
		DeployRetention: defaultDeployRetention,
		EventRetention:  defaultEventRetention,
		Web:             configoptional.Default(WebConfig{ServerConfig: confighttp.NewDefaultServerConfig()}),
	}
}

// defaultCollectorID is the host name mapped onto the ID alphabet.
func defaultCollectorID() string {
	host, err := os.Hostname()
	if err != nil {
		return fallbackCollectorID
	}
	if id := incident.SanitizeID(host); id != "" {
		return id
	}
	return fallbackCollectorID
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(cfg.(*Config), set)
}
