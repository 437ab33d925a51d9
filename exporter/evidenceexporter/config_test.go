package evidenceexporter

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval = time.Second
	retry.MaxInterval = time.Minute
	retry.MaxElapsedTime = 0
	retry.Multiplier = 2
	retry.RandomizationFactor = 0.1

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				Incidents: component.MustNewIDWithName("incidents", "prod"),
				Window:    WindowConfig{Before: 45 * time.Minute, After: 15 * time.Minute, Max: 3 * time.Hour},
				Buffer: BufferConfig{
					MaxBytes: 1 << 30, MaxAge: 50 * time.Minute,
					Directory: "/var/lib/otelcol/ring", Compression: "zstd",
				},
				LateData:       LateDataConfig{Period: 2 * time.Minute},
				ItemTime:       ItemTimeConfig{MaxPast: 24 * time.Hour, MaxFuture: 0},
				FlushInterval:  30 * time.Second,
				Encoding:       "otlp_json",
				PartMaxBytes:   32 << 20,
				Spool:          SpoolConfig{Directory: "/var/lib/otelcol/spool"},
				RetryOnFailure: retry,
			},
		},
		{
			id:      component.NewIDWithName(metadata.Type, "invalid"),
			wantErr: "'window.before' must be positive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, errInvalidConfig)
				assert.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "'encoding' must be")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	priv, pub, _, err := bundle.GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	keyFile, pubFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub.pem")
	require.NoError(t, os.WriteFile(keyFile, priv, 0o600))
	require.NoError(t, os.WriteFile(pubFile, pub, 0o600))
	t.Setenv("EVIDENCE_TEST_SIGNING_KEY", string(priv))
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "default", mutate: func(*Config) {}},
		{name: "before", mutate: func(c *Config) { c.Window.Before = 0 }, wantErr: "'window.before' must be positive"},
		{name: "after", mutate: func(c *Config) { c.Window.After = -time.Second }, wantErr: "'window.after' must not be negative"},
		{name: "zero after", mutate: func(c *Config) { c.Window.After = 0 }},
		{name: "max", mutate: func(c *Config) { c.Window.Max = 0 }, wantErr: "'window.max' must be positive"},
		{name: "max below after", mutate: func(c *Config) { c.Window.Max = 5 * time.Minute }, wantErr: "'window.max' (5m0s) must not be less than 'window.after'"},
		{name: "max_bytes", mutate: func(c *Config) { c.Buffer.MaxBytes = 0 }, wantErr: "'buffer.max_bytes' must be positive"},
		{name: "max_age", mutate: func(c *Config) { c.Buffer.MaxAge = 0 }, wantErr: "'buffer.max_age' must be positive"},
		{name: "late period", mutate: func(c *Config) { c.LateData.Period = -time.Second }, wantErr: "'late_data.period' must not be negative"},
		{name: "item max_past", mutate: func(c *Config) { c.ItemTime.MaxPast = -time.Second }, wantErr: "'item_time.max_past' must not be negative"},
		{name: "item max_future", mutate: func(c *Config) { c.ItemTime.MaxFuture = -time.Second }, wantErr: "'item_time.max_future' must not be negative"},
		{name: "max_age below before", mutate: func(c *Config) { c.Buffer.MaxAge = 10 * time.Minute }, wantErr: "'buffer.max_age' (10m0s) must not be less than 'window.before'"},
		{name: "compression", mutate: func(c *Config) { c.Buffer.Compression = "gzip" }, wantErr: "'buffer.compression' must be"},
		{name: "zstd", mutate: func(c *Config) { c.Buffer.Compression = "zstd" }},
		{name: "flush_interval", mutate: func(c *Config) { c.FlushInterval = 0 }, wantErr: "'flush_interval' must be positive"},
		{name: "encoding", mutate: func(c *Config) { c.Encoding = "json" }, wantErr: "'encoding' must be"},
		{name: "json", mutate: func(c *Config) { c.Encoding = "otlp_json" }},
		{name: "part_max_bytes", mutate: func(c *Config) { c.PartMaxBytes = 0 }, wantErr: "'part_max_bytes' must be between"},
		{name: "part_max_bytes too small", mutate: func(c *Config) { c.PartMaxBytes = 64<<10 - 1 }, wantErr: "'part_max_bytes' must be between 65536 and"},
		{name: "part_max_bytes too big", mutate: func(c *Config) { c.PartMaxBytes = 1 << 30 }, wantErr: "'part_max_bytes' must be between"},
		{name: "spool", mutate: func(c *Config) { c.Spool.Directory = " " }, wantErr: "'spool.directory' is required"},
		{name: "same dirs", mutate: func(c *Config) { c.Buffer.Directory = "./var/spool/" }, wantErr: "'buffer.directory' and 'spool.directory' must be different"},
		{name: "signing key file", mutate: func(c *Config) { c.Signing.KeyFile = keyFile }},
		{name: "signing key env", mutate: func(c *Config) { c.Signing.KeyEnv = "EVIDENCE_TEST_SIGNING_KEY" }},
		{name: "signing both", mutate: func(c *Config) { c.Signing.KeyFile, c.Signing.KeyEnv = keyFile, "X" }, wantErr: "set one of 'signing.key_file' and 'signing.key_env'"},
		{name: "signing key file missing", mutate: func(c *Config) { c.Signing.KeyFile = keyFile + ".nope" }, wantErr: "'signing.key_file': open"},
		{name: "signing key env unset", mutate: func(c *Config) { c.Signing.KeyEnv = "EVIDENCE_TEST_UNSET_VARIABLE" }, wantErr: `'signing.key_env': the environment variable "EVIDENCE_TEST_UNSET_VARIABLE" is not set`},
		{name: "signing public key", mutate: func(c *Config) { c.Signing.KeyFile = pubFile }, wantErr: "'signing.key_file' " + pubFile + ": signing key"},
		{name: "signing not a key", mutate: func(c *Config) { c.Signing.KeyFile = "testdata/config.yaml" }, wantErr: "'signing.key_file' testdata/config.yaml: signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errInvalidConfig)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}
