package incidentwebhookreceiver

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// loadConfig loads one named configuration of testdata/config.yaml.
func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	id := component.NewID(metadata.Type)
	if name != "" {
		id = component.NewIDWithName(metadata.Type, name)
	}
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, "allow_unauthenticated")
	require.NoError(t, confmap.Validate(cfg))

	assert.Equal(t, "localhost:8088", cfg.NetAddr.Endpoint)
	assert.Equal(t, int64(1<<20), cfg.MaxRequestBodySize)
	assert.Equal(t, component.MustNewID("incidents"), cfg.Incidents)
	assert.True(t, cfg.AllowUnauthenticated)
	assert.False(t, cfg.Auth.HasValue())
	assert.False(t, cfg.TLS.HasValue())
	assert.Equal(t, PathsConfig{
		Alertmanager: "/v1/alertmanager",
		Grafana:      "/v1/grafana",
		PagerDuty:    "/v1/pagerduty",
		Incidents:    "/v1/incidents",
		Resolve:      "/v1/incidents/resolve",
		Deploys:      "/v1/deploys",
		Notes:        "/v1/notes",
	}, cfg.Paths)
	assert.Equal(t, "incident_id", cfg.Policy.IncidentIDLabel)

	// Hardening defaults: server timeouts against slow clients, replay
	// protection, and limits.
	assert.Equal(t, 10*time.Second, cfg.ReadHeaderTimeout)
	assert.Equal(t, 30*time.Second, cfg.ReadTimeout)
	assert.Equal(t, 30*time.Second, cfg.WriteTimeout)
	assert.Equal(t, 10*time.Minute, cfg.PagerDuty.MaxAge)
	assert.Equal(t, LimitsConfig{EventsPerSecond: 500, Burst: 2000, MaxEventsPerRequest: 1000, MaxOpenIncidents: 1000, MaxConcurrentRequests: 64}, cfg.Limits)

	// The default policy round-trips through its configuration form.
	pol, err := cfg.Policy.build()
	require.NoError(t, err)
	def := triggers.DefaultPolicy()
	require.Len(t, pol.OpenOn, len(def.OpenOn))
	for i := range def.OpenOn {
		assert.Equal(t, def.OpenOn[i].String(), pol.OpenOn[i].String())
	}
	assert.Equal(t, def.ScopeLabels, pol.ScopeLabels)
	assert.True(t, pol.Opens(map[string]string{"severity": "critical"}))
	assert.True(t, pol.Opens(map[string]string{"sloth_slo": "availability"}))
	assert.False(t, pol.Opens(map[string]string{"severity": "warning"}))
}

func TestLoadConfigFull(t *testing.T) {
	cfg := loadConfig(t, "full")
	require.NoError(t, confmap.Validate(cfg))

	assert.Equal(t, "0.0.0.0:9443", cfg.NetAddr.Endpoint)
	require.True(t, cfg.TLS.HasValue())
	assert.Equal(t, "/etc/otel/tls/server.crt", cfg.TLS.Get().CertFile)
	require.True(t, cfg.Auth.HasValue())
	assert.Equal(t, component.MustNewIDWithName("bearertokenauth", "webhooks"), cfg.Auth.Get().Config.AuthenticatorID)
	assert.Equal(t, int64(524288), cfg.MaxRequestBodySize)
	assert.Equal(t, component.MustNewIDWithName("incidents", "primary"), cfg.Incidents)
	assert.Equal(t, "/hooks/alertmanager", cfg.Paths.Alertmanager)
	assert.Equal(t, "/api/deploys", cfg.Paths.Deploys)
	assert.Equal(t, configopaque.String("grafana-hmac-secret"), cfg.Grafana.Secret)
	assert.Equal(t, "X-Signature", cfg.Grafana.SignatureHeader)
	assert.Equal(t, "X-Signature-Timestamp", cfg.Grafana.TimestampHeader)
	assert.Equal(t, 5*time.Minute, cfg.Grafana.MaxAge)
	assert.Equal(t, []configopaque.String{"old-signing-secret", "new-signing-secret"}, cfg.PagerDuty.Secrets)
	assert.Equal(t, 15*time.Minute, cfg.PagerDuty.MaxAge)
	assert.Equal(t, 5*time.Second, cfg.ReadHeaderTimeout)
	assert.Equal(t, 20*time.Second, cfg.ReadTimeout)
	assert.Equal(t, 15*time.Second, cfg.WriteTimeout)
	assert.Equal(t, LimitsConfig{EventsPerSecond: 5.5, Burst: 20, MaxEventsPerRequest: 20, MaxOpenIncidents: 200, MaxConcurrentRequests: 16}, cfg.Limits)
	assert.Equal(t, [][]string{{`severity=~"critical|page"`}, {"team=payments", "severity=warning"}}, cfg.Policy.OpenOn)
	assert.Equal(t, "ticket", cfg.Policy.IncidentIDLabel)

	pol, err := cfg.Policy.build()
	require.NoError(t, err)
	assert.True(t, pol.Opens(map[string]string{"severity": "page"}))
	assert.True(t, pol.Opens(map[string]string{"severity": "warning", "team": "payments"}))
	assert.False(t, pol.Opens(map[string]string{"severity": "warning", "team": "search"}))
	assert.Equal(t, []triggers.ScopeLabel{
		{Label: "service", Attribute: "service.name"},
		{Label: "namespace", Attribute: "k8s.namespace.name"},
	}, pol.ScopeLabels)
}

func TestLoadConfigRecordOnly(t *testing.T) {
	cfg := loadConfig(t, "record_only")
	require.NoError(t, confmap.Validate(cfg))
	pol, err := cfg.Policy.build()
	require.NoError(t, err)
	assert.Empty(t, pol.OpenOn)
	assert.False(t, pol.Opens(map[string]string{"severity": "critical"}))
	// An empty, non-nil list: no scope rather than the default one.
	require.NotNil(t, pol.ScopeLabels)
	assert.Empty(t, pol.ScopeLabels)
}

func TestValidateFromFile(t *testing.T) {
	tests := []struct {
		name    string
		wantIs  error
		wantErr []string
	}{
		{name: "", wantIs: errUnauthenticated, wantErr: []string{"'paths.alertmanager' (/v1/alertmanager)", "'allow_unauthenticated: true'", "'auth'", "'tls.client_ca_file'"}},
		{name: "allow_unauthenticated"},
		{name: "full"},
		{name: "signed_only"},
		{name: "mtls"},
		{name: "record_only"},
		{name: "secret_not_enough", wantIs: errUnauthenticated, wantErr: []string{"'paths.deploys' (/v1/deploys)"}},
		{name: "bad_rule", wantErr: []string{"'policy.open_on[0][0]'"}},
		{name: "same_paths", wantErr: []string{"'paths.alertmanager' and 'paths.grafana' must differ"}},
		{name: "relative_path", wantErr: []string{"'paths.deploys' must start with '/'"}},
		{name: "too_large", wantErr: []string{"'max_request_body_size' must be at most 4194304"}},
		{name: "no_paths", wantErr: []string{"'paths' disables every endpoint"}},
		{name: "no_limits"},
		{name: "bad_limits", wantErr: []string{
			"'pagerduty.max_age' must not be negative",
			"'limits.burst' must be at least 1 when 'limits.events_per_second' is set, got 0",
			"'limits.max_open_incidents' must not be negative, got -1",
			"'limits.max_concurrent_requests' must not be negative, got -2",
		}},
	}
	for _, tt := range tests {
		t.Run("config_"+tt.name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, tt.name))
			if tt.wantIs == nil && tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantIs  error
		wantErr string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "empty endpoint", mutate: func(c *Config) { c.NetAddr.Endpoint = "" }, wantErr: "'endpoint' must not be empty"},
		{name: "zero body size", mutate: func(c *Config) { c.MaxRequestBodySize = 0 }, wantErr: "'max_request_body_size' must be positive"},
		{name: "negative max age", mutate: func(c *Config) { c.Grafana.MaxAge = -time.Second }, wantErr: "'grafana.max_age' must not be negative"},
		{name: "empty pagerduty secret", mutate: func(c *Config) { c.PagerDuty.Secrets = []configopaque.String{"a", ""} }, wantErr: "'pagerduty.secrets[1]' must not be empty"},
		{name: "negative pagerduty max age", mutate: func(c *Config) { c.PagerDuty.MaxAge = -time.Second }, wantErr: "'pagerduty.max_age' must not be negative"},
		{name: "pagerduty max age off", mutate: func(c *Config) { c.PagerDuty.MaxAge = 0 }},
		{name: "negative rate", mutate: func(c *Config) { c.Limits.EventsPerSecond = -1 }, wantErr: "'limits.events_per_second' must be a finite number, 0 or more, got -1"},
		{name: "infinite rate", mutate: func(c *Config) { c.Limits.EventsPerSecond = math.Inf(1) }, wantErr: "'limits.events_per_second' must be a finite number"},
		{name: "rate without burst", mutate: func(c *Config) { c.Limits.Burst = 0 }, wantErr: "'limits.burst' must be at least 1"},
		{name: "negative burst", mutate: func(c *Config) { c.Limits.Burst = -1 }, wantErr: "'limits.burst' must not be negative, got -1"},
		{name: "rate limiting off", mutate: func(c *Config) { c.Limits.EventsPerSecond, c.Limits.Burst = 0, 0 }},
		{name: "negative max open", mutate: func(c *Config) { c.Limits.MaxOpenIncidents = -1 }, wantErr: "'limits.max_open_incidents' must not be negative"},
		{name: "negative max concurrent", mutate: func(c *Config) { c.Limits.MaxConcurrentRequests = -1 }, wantErr: "'limits.max_concurrent_requests' must not be negative"},
		{name: "empty rule", mutate: func(c *Config) { c.Policy.OpenOn = [][]string{{}} }, wantErr: "'policy.open_on[0]' must list at least one label matcher"},
		{name: "matcher without operator", mutate: func(c *Config) { c.Policy.OpenOn = [][]string{{"severity"}} }, wantErr: "'policy.open_on[0][0]'"},
		{name: "scope label without attribute", mutate: func(c *Config) {
			c.Policy.ScopeLabels = []ScopeLabelConfig{{Label: "service"}}
		}, wantErr: "'policy.scope_labels[0].attribute' must not be empty"},
		{name: "scope label without label", mutate: func(c *Config) {
			c.Policy.ScopeLabels = []ScopeLabelConfig{{Attribute: "service.name"}}
		}, wantErr: "'policy.scope_labels[0].label' must not be empty"},
		{name: "empty incident id label", mutate: func(c *Config) { c.Policy.IncidentIDLabel = "" }, wantErr: "'policy.incident_id_label' must not be empty"},
		{name: "path with query", mutate: func(c *Config) { c.Paths.Grafana = "/v1/grafana?x=1" }, wantErr: "'paths.grafana' must be a plain path"},
		{name: "unauthenticated", mutate: func(c *Config) { c.AllowUnauthenticated = false }, wantIs: errUnauthenticated},
		{name: "grafana secret with only grafana enabled", mutate: func(c *Config) {
			c.AllowUnauthenticated = false
			c.Grafana.Secret = "s"
			c.Paths = PathsConfig{Grafana: "/v1/grafana"}
		}},
		{name: "grafana secret leaves pagerduty open", mutate: func(c *Config) {
			c.AllowUnauthenticated = false
			c.Grafana.Secret = "s"
			c.Paths = PathsConfig{Grafana: "/v1/grafana", PagerDuty: "/v1/pagerduty"}
		}, wantIs: errUnauthenticated, wantErr: "'paths.pagerduty' (/v1/pagerduty)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.AllowUnauthenticated = true
			tt.mutate(cfg)
			err := confmap.Validate(cfg)
			if tt.wantIs == nil && tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
