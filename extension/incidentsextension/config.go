package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Config configures the incidents extension.
type Config struct {
	// CollectorID names this replica in the store layout and in every event
	// it writes. Replicas sharing one store must have distinct IDs. Defaults
	// to the host name, mapped onto [A-Za-z0-9._-].
	CollectorID string `mapstructure:"collector_id"`
	// Store is the evidence store shared by the replicas.
	Store storage.Config `mapstructure:"store"`
	// Journal is the local journal where every change (an incident opened
	// or resolved, a deploy, an event) is made durable before it is acted
	// on, and from which it is published to the store, so that the
	// registry keeps working while the store is unreachable.
	Journal JournalConfig `mapstructure:"journal"`
	// SyncInterval is how often the replica reads the other replicas'
	// events from the store, expires incidents and prunes old state.
	SyncInterval time.Duration `mapstructure:"sync_interval"`
	// MaxOpenDuration is how long an incident may stay open: an incident
	// never resolved is resolved (expired) at started_at + max_open_duration.
	MaxOpenDuration time.Duration `mapstructure:"max_open_duration"`
	// DeployRetention is how long deploys are kept; the latest deploy of
	// every service is kept regardless.
	DeployRetention time.Duration `mapstructure:"deploy_retention"`
	// EventRetention is how long recorded events (and resolved incidents)
	// are kept in memory for Events() and Snapshot().
	EventRetention time.Duration `mapstructure:"event_retention"`

	// prevent unkeyed literal initialization
	// Web serves the evidence pages that `evidencectl serve` serves (the
	// incidents, their summary, charts, traces, logs and bundles),
	// read-only, on their own endpoint. Off unless configured; an
	// authenticator ('web.auth') is required, since the pages show all the
	// evidence.
	Web configoptional.Optional[WebConfig] `mapstructure:"web"`

	_ struct{}
}

// WebConfig is the server of the evidence pages: endpoint, TLS, timeouts
// and the authenticator every request must pass.
type WebConfig struct {
	confighttp.ServerConfig `mapstructure:",squash"`
}

// JournalConfig configures the local journal.
type JournalConfig struct {
	// Directory holds the journal's segments. It must be on a local disk
	// that survives restarts (a volume, in containers), and not be shared
	// with another replica or with the exporter's spool or buffer.
	Directory string `mapstructure:"directory"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid incidents extension config")

// Validate checks the configuration. The 'store' section validates itself
// (storage.Config.Validate); xconfmap.Validate runs both.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...)))
	}
	if err := incident.ValidateID(c.CollectorID); err != nil {
		errs = append(errs, fmt.Errorf("%w: 'collector_id': %w", ErrInvalidConfig, err))
	}
	if strings.TrimSpace(c.Journal.Directory) == "" {
		add("'journal.directory' is required")
	}
	if c.SyncInterval <= 0 {
		add("'sync_interval' must be positive, got %s", c.SyncInterval)
	}
	if c.MaxOpenDuration <= 0 {
		add("'max_open_duration' must be positive, got %s", c.MaxOpenDuration)
	}
	if c.DeployRetention <= 0 {
		add("'deploy_retention' must be positive, got %s", c.DeployRetention)
	}
	if c.EventRetention <= 0 {
		add("'event_retention' must be positive, got %s", c.EventRetention)
	}
	if web := c.Web.Get(); web != nil {
		if web.NetAddr.Endpoint == "" {
			add("'web.endpoint' is required, for example localhost:8089")
		}
		if !web.Auth.HasValue() {
			add("'web.auth' is required: the pages show all the evidence, so set 'web.auth.authenticator' to an auth extension (for example bearertokenauth)")
		}
	}
	return errors.Join(errs...)
}
