package incidentsextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	s3 := storage.NewDefaultConfig()
	s3.Backend = storage.BackendS3
	s3.S3.Endpoint = "http://127.0.0.1:9000"
	s3.S3.Bucket = "evidence"
	s3.S3.Prefix = "prod"
	s3.S3.Region = "eu-west-1"
	s3.S3.AccessKeyID = "key"
	s3.S3.SecretAccessKey = "secret"
	s3.S3.ForcePathStyle = true
	s3.S3.Insecure = true

	fs := storage.NewDefaultConfig()
	fs.Filesystem.Directory = "/var/lib/otel-evidence"

	def := createDefaultConfig().(*Config)
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: def},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				CollectorID: "collector-a", Store: s3, Journal: JournalConfig{Directory: "/var/lib/otel-evidence/journal"}, SyncInterval: 5 * time.Second,
				MaxOpenDuration: 12 * time.Hour, DeployRetention: 72 * time.Hour, EventRetention: 48 * time.Hour,
				Web: def.Web,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "filesystem"),
			want: &Config{
				CollectorID: "collector-b", Store: fs, Journal: JournalConfig{Directory: defaultJournalDirectory}, SyncInterval: defaultSyncInterval,
				MaxOpenDuration: defaultMaxOpenDuration, DeployRetention: defaultDeployRetention, EventRetention: defaultEventRetention,
				Web: def.Web,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "web"),
			want: func() *Config {
				c := *def
				c.CollectorID = "collector-d"
				web := confighttp.NewDefaultServerConfig()
				web.NetAddr.Endpoint = "localhost:8089"
				web.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{
					AuthenticatorID: component.MustNewIDWithName("bearertokenauth", "web"),
				}})
				c.Web = configoptional.Some(WebConfig{ServerConfig: web})
				return &c
			}(),
		},
		{id: component.NewIDWithName(metadata.Type, "bad_interval"), wantErr: "'sync_interval' must be positive"},
		{id: component.NewIDWithName(metadata.Type, "web_without_auth"), wantErr: "'web.auth' is required"},
		{id: component.NewIDWithName(metadata.Type, "no_journal"), wantErr: "'journal.directory' is required"},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidConfig)
				require.ErrorContains(t, err, tt.wantErr)
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
		{name: "empty collector_id", mutate: func(c *Config) { c.CollectorID = "" }, wantErr: incident.ErrInvalidID, wantMsg: "'collector_id'"},
		{name: "collector_id with slash", mutate: func(c *Config) { c.CollectorID = "a/b" }, wantErr: incident.ErrInvalidID, wantMsg: "'collector_id'"},
		{name: "collector_id dot-dot", mutate: func(c *Config) { c.CollectorID = ".." }, wantErr: incident.ErrInvalidID, wantMsg: "'collector_id'"},
		{name: "zero sync_interval", mutate: func(c *Config) { c.SyncInterval = 0 }, wantErr: ErrInvalidConfig, wantMsg: "'sync_interval' must be positive"},
		{name: "negative max_open_duration", mutate: func(c *Config) { c.MaxOpenDuration = -time.Hour }, wantErr: ErrInvalidConfig, wantMsg: "'max_open_duration' must be positive"},
		{name: "zero deploy_retention", mutate: func(c *Config) { c.DeployRetention = 0 }, wantErr: ErrInvalidConfig, wantMsg: "'deploy_retention' must be positive"},
		{name: "zero event_retention", mutate: func(c *Config) { c.EventRetention = 0 }, wantErr: ErrInvalidConfig, wantMsg: "'event_retention' must be positive"},
		{name: "unknown backend", mutate: func(c *Config) { c.Store.Backend = "ftp" }, wantErr: storage.ErrInvalidConfig, wantMsg: "store: 'backend'"},
		{name: "s3 without bucket", mutate: func(c *Config) { c.Store.Backend = storage.BackendS3 }, wantErr: storage.ErrInvalidConfig, wantMsg: "'s3.bucket' is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := confmap.Validate(cfg)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantMsg)
		})
	}
}

func TestDefaultCollectorID(t *testing.T) {
	id := defaultCollectorID()
	require.NoError(t, incident.ValidateID(id))
	assert.Equal(t, id, createDefaultConfig().(*Config).CollectorID)
}
