package incidentcontextprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := createDefaultConfig().(*Config)
	full.Incidents = component.MustNewIDWithName("incidents", "primary")
	full.Level = LevelRecord
	full.Override = true
	full.StaticDeploymentID = "checkout-2026-03-02"
	full.Keys = KeysConfig{
		DeploymentID:   "deploy.id",
		DeploymentName: "deploy.name",
		Environment:    "deploy.env",
		Revision:       "",
		IncidentID:     "incident.ids",
	}

	derived := createDefaultConfig().(*Config)
	derived.DeploymentIDFrom = []string{"k8s.deployment.name", "service.version"}
	derived.DeploymentIDSeparator = "@"

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr error
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "full"), want: full},
		{id: component.NewIDWithName(metadata.Type, "derived"), want: derived},
		{id: component.NewIDWithName(metadata.Type, "bad_level"), wantErr: errInvalidLevel},
		{id: component.NewIDWithName(metadata.Type, "both_fallbacks"), wantErr: errInvalidFallback},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr error
		wantMsg string
	}{
		{name: "default", mutate: func(*Config) {}},
		{name: "record", mutate: func(c *Config) { c.Level = LevelRecord }},
		{name: "static", mutate: func(c *Config) { c.StaticDeploymentID = "d-1" }},
		{name: "derived", mutate: func(c *Config) { c.DeploymentIDFrom = []string{"a", "b"} }},
		{name: "only incident key", mutate: func(c *Config) { c.Keys = KeysConfig{IncidentID: "incident.id"} }},
		{
			name:    "empty level",
			mutate:  func(c *Config) { c.Level = "" },
			wantErr: errInvalidLevel, wantMsg: "'level'",
		},
		{
			name:    "unknown level",
			mutate:  func(c *Config) { c.Level = "span" },
			wantErr: errInvalidLevel, wantMsg: `got "span"`,
		},
		{
			name:    "no incidents extension",
			mutate:  func(c *Config) { c.Incidents = component.ID{} },
			wantErr: errMissingIncident, wantMsg: "'incidents'",
		},
		{
			name: "static and derived",
			mutate: func(c *Config) {
				c.StaticDeploymentID = "d-1"
				c.DeploymentIDFrom = []string{"service.version"}
			},
			wantErr: errInvalidFallback, wantMsg: "mutually exclusive",
		},
		{
			name:    "empty source key",
			mutate:  func(c *Config) { c.DeploymentIDFrom = []string{"a", ""} },
			wantErr: errInvalidFallback, wantMsg: "'deployment_id_from[1]'",
		},
		{
			name:    "repeated source key",
			mutate:  func(c *Config) { c.DeploymentIDFrom = []string{"a", "b", "a"} },
			wantErr: errInvalidFallback, wantMsg: "'deployment_id_from[2]' repeats",
		},
		{
			name:    "every key disabled",
			mutate:  func(c *Config) { c.Keys = KeysConfig{} },
			wantErr: errInvalidKeys, wantMsg: "'keys'",
		},
		{
			name:    "duplicate keys",
			mutate:  func(c *Config) { c.Keys.IncidentID = c.Keys.DeploymentID },
			wantErr: errInvalidKeys, wantMsg: "'keys.deployment_id' and 'keys.incident_id'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}
