package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// Defaults.
const (
	// defaultEndpoint listens on loopback only; set endpoint to
	// "0.0.0.0:8088" (with TLS and auth) to take requests from other hosts.
	defaultEndpoint = "localhost:8088"
	// defaultMaxRequestBodySize is far above any real webhook (Alertmanager
	// groups of hundreds of alerts stay below 1 MiB).
	defaultMaxRequestBodySize = 1 << 20

	// Server timeouts, so that a client sending its request slowly
	// (slowloris) is disconnected instead of holding a connection and its
	// memory forever. Webhook senders send small requests at once.
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	defaultWriteTimeout      = 30 * time.Second

	// defaultPagerDutyMaxAge: PagerDuty delivers within seconds; an event
	// older than this is a replay (or a delivery the collector missed for
	// longer, which it then refuses).
	defaultPagerDutyMaxAge = 10 * time.Minute

	// Limits. Real senders stay far below them: an Alertmanager sends one
	// request per alert group and group_interval, a CI system one per
	// deploy step.
	defaultEventsPerSecond       = 500
	defaultBurst                 = 2000
	defaultMaxEventsPerRequest   = 1000
	defaultMaxOpenIncidents      = 1000
	defaultMaxConcurrentRequests = 64

	defaultAlertmanagerPath = "/v1/alertmanager"
	defaultGrafanaPath      = "/v1/grafana"
	defaultPagerDutyPath    = "/v1/pagerduty"
	defaultIncidentsPath    = "/v1/incidents"
	defaultResolvePath      = "/v1/incidents/resolve"
	defaultDeploysPath      = "/v1/deploys"
	defaultNotesPath        = "/v1/notes"

	// defaultIncidentsExtension is the component ID of the incidents extension.
	defaultIncidentsExtension = "incidents"
)

// NewFactory returns the factory of the incident_webhook receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	server.MaxRequestBodySize = defaultMaxRequestBodySize
	server.ReadHeaderTimeout = defaultReadHeaderTimeout
	server.ReadTimeout = defaultReadTimeout
	server.WriteTimeout = defaultWriteTimeout

	def := triggers.DefaultPolicy()
	openOn := make([][]string, 0, len(def.OpenOn))
	for _, r := range def.OpenOn {
		openOn = append(openOn, []string{r.String()})
	}
	scope := make([]ScopeLabelConfig, 0, len(def.ScopeLabels))
	for _, s := range def.ScopeLabels {
		scope = append(scope, ScopeLabelConfig{Label: s.Label, Attribute: s.Attribute})
	}

	return &Config{
		ServerConfig: server,
		Incidents:    component.MustNewID(defaultIncidentsExtension),
		Paths: PathsConfig{
			Alertmanager: defaultAlertmanagerPath,
			Grafana:      defaultGrafanaPath,
			PagerDuty:    defaultPagerDutyPath,
			Incidents:    defaultIncidentsPath,
			Resolve:      defaultResolvePath,
			Deploys:      defaultDeploysPath,
			Notes:        defaultNotesPath,
		},
		PagerDuty: PagerDutyConfig{
			MaxAge: defaultPagerDutyMaxAge,
		},
		Policy: PolicyConfig{
			OpenOn:          openOn,
			ScopeLabels:     scope,
			IncidentIDLabel: def.IncidentIDLabel,
		},
		Limits: LimitsConfig{
			EventsPerSecond:       defaultEventsPerSecond,
			Burst:                 defaultBurst,
			MaxEventsPerRequest:   defaultMaxEventsPerRequest,
			MaxOpenIncidents:      defaultMaxOpenIncidents,
			MaxConcurrentRequests: defaultMaxConcurrentRequests,
		},
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
