package sloconnector

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	def := createDefaultConfig().(*Config)
	def.SLOs = []SLOConfig{{
		Name: "checkout-availability", Signal: SignalTraces, Objective: 99.9, Period: 30 * 24 * time.Hour,
		SLI: SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}},
	}}

	storageID := component.MustNewIDWithName("file_storage", "slo")
	full := createDefaultConfig().(*Config)
	full.Incidents = component.MustNewIDWithName("incidents", "primary")
	full.Storage = &storageID
	full.TimeScale = 60
	full.BucketsPerWindow = 30
	full.EvaluationInterval = 500 * time.Millisecond
	full.MetricsInterval = 5 * time.Second
	full.StateInterval = 30 * time.Second
	full.MaxGroups = 20
	full.Policy = PolicyConfig{
		ResolveAfter: 2 * time.Minute,
		Page:         LevelConfig{Severity: "page", OpenIncident: true, Windows: []WindowConfig{{Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4}}},
		Ticket:       LevelConfig{Severity: "ticket", OpenIncident: true, Windows: []WindowConfig{{Long: 24 * time.Hour, Short: 2 * time.Hour, BurnRate: 3}}},
	}
	full.SLOs = []SLOConfig{
		{
			Name: "checkout-latency", Signal: SignalTraces, Objective: 99, Period: 168 * time.Hour,
			Selector: SelectorConfig{Resource: map[string]string{"service.name": "checkout", "deployment.environment.name": "prod"}},
			SLI:      SLIConfig{LatencyThreshold: 300 * time.Millisecond, Good: []string{"kind == SPAN_KIND_SERVER"}},
			Labels:   map[string]string{"team": "payments"},
		},
		{
			Name: "api-logs", Signal: SignalLogs, Objective: 99.9, Period: 30 * 24 * time.Hour,
			Selector: SelectorConfig{GroupBy: []string{"service.name"}},
			SLI:      SLIConfig{Bad: []string{"severity_number >= SEVERITY_NUMBER_ERROR"}},
		},
	}

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr error
		wantMsg string
	}{
		{id: component.NewID(metadata.Type), want: def},
		{id: component.NewIDWithName(metadata.Type, "full"), want: full},
		{id: component.NewIDWithName(metadata.Type, "bad_objective"), wantErr: errInvalidSLO, wantMsg: "'slos[0].objective'"},
		{id: component.NewIDWithName(metadata.Type, "bad_ottl"), wantErr: errInvalidSLO, wantMsg: "'slos[0].sli': 'bad[0]'"},
		{id: component.NewIDWithName(metadata.Type, "no_slos"), wantErr: errNoSLOs, wantMsg: "'slos'"},
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
				assert.ErrorContains(t, err, tt.wantMsg)
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
		{name: "latency only", mutate: func(c *Config) { c.SLOs[0].SLI = SLIConfig{LatencyThreshold: time.Second} }},
		{name: "no incidents", mutate: func(c *Config) { c.Incidents = component.ID{} }, wantErr: errInvalidOption, wantMsg: "'incidents'"},
		{name: "time scale", mutate: func(c *Config) { c.TimeScale = 0.5 }, wantErr: errInvalidOption, wantMsg: "'time_scale'"},
		{name: "buckets", mutate: func(c *Config) { c.BucketsPerWindow = 1 }, wantErr: errInvalidOption, wantMsg: "'buckets_per_window'"},
		{name: "intervals", mutate: func(c *Config) { c.MetricsInterval = 0 }, wantErr: errInvalidOption, wantMsg: "'metrics_interval'"},
		{name: "max groups", mutate: func(c *Config) { c.MaxGroups = 0 }, wantErr: errInvalidOption, wantMsg: "'max_groups'"},
		{name: "short not shorter", mutate: func(c *Config) { c.Policy.Page.Windows[0].Short = 2 * time.Hour }, wantErr: errInvalidPolicy, wantMsg: "'policy.page.windows[0].short'"},
		{name: "resolve after", mutate: func(c *Config) { c.Policy.ResolveAfter = -time.Second }, wantErr: errInvalidPolicy, wantMsg: "'policy.resolve_after'"},
		{name: "burn rate", mutate: func(c *Config) { c.Policy.Ticket.Windows[1].BurnRate = 0 }, wantErr: errInvalidPolicy, wantMsg: "'policy.ticket.windows[1].burn_rate'"},
		{name: "open without windows", mutate: func(c *Config) { c.Policy.Ticket = LevelConfig{OpenIncident: true} }, wantErr: errInvalidPolicy, wantMsg: "'policy.ticket.open_incident'"},
		{name: "no name", mutate: func(c *Config) { c.SLOs[0].Name = "" }, wantErr: errInvalidSLO, wantMsg: "'slos[0].name' is required"},
		{name: "bad name", mutate: func(c *Config) { c.SLOs[0].Name = "a b" }, wantErr: errInvalidSLO, wantMsg: "'slos[0].name'"},
		{name: "duplicate name", mutate: func(c *Config) { c.SLOs = append(c.SLOs, c.SLOs[0]) }, wantErr: errInvalidSLO, wantMsg: "'slos[1].name' repeats"},
		{name: "signal", mutate: func(c *Config) { c.SLOs[0].Signal = "metrics" }, wantErr: errInvalidSLO, wantMsg: "'slos[0].signal'"},
		{name: "period", mutate: func(c *Config) { c.SLOs[0].Period = 0 }, wantErr: errInvalidSLO, wantMsg: "'slos[0].period'"},
		{name: "no sli", mutate: func(c *Config) { c.SLOs[0].SLI = SLIConfig{} }, wantErr: errInvalidSLO, wantMsg: "'slos[0].sli' needs"},
		{name: "latency on logs", mutate: func(c *Config) {
			c.SLOs[0].Signal = SignalLogs
			c.SLOs[0].SLI = SLIConfig{LatencyThreshold: time.Second}
		}, wantErr: errInvalidSLO, wantMsg: "'slos[0].sli.latency_threshold'"},
		{name: "group_by fixed", mutate: func(c *Config) { c.SLOs[0].Selector.GroupBy = []string{"service.name"} }, wantErr: errInvalidSLO, wantMsg: "'slos[0].selector.group_by[0]'"},
		{name: "bad good condition", mutate: func(c *Config) { c.SLOs[0].SLI.Good = []string{"nope("} }, wantErr: errInvalidSLO, wantMsg: "'good[0]'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.ErrorContains(t, err, tt.wantMsg)
		})
	}
}
