package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/config/configtls"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestNewDefaultConfig(t *testing.T) {
	cfg := NewDefaultConfig()
	require.Equal(t, BackendFilesystem, cfg.Backend)
	require.Equal(t, "./var/evidence", cfg.Filesystem.Directory)
	require.Equal(t, int64(16<<20), cfg.S3.PartSize)
	require.Equal(t, "us-east-1", cfg.S3.Region)
	require.NoError(t, cfg.Validate())
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		name    string
		want    Config
		wantErr []string
	}{
		{
			name: "s3_full",
			want: Config{
				Backend:    BackendS3,
				Filesystem: FilesystemConfig{Directory: DefaultDirectory},
				S3: S3Config{
					Endpoint:        "https://s3.eu-west-1.amazonaws.com",
					Bucket:          "evidence-prod",
					Prefix:          "/otel/prod/",
					Region:          "eu-west-1",
					AccessKeyID:     "AKIAEXAMPLE",
					SecretAccessKey: "secret-example",
					SessionToken:    "token-example",
					TLS:             configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/ssl/private-ca.pem", IncludeSystemCACertsPool: true}},
					ForcePathStyle:  true,
					PartSize:        32 << 20,
					SSE:             SSEConfig{Type: SSEKMS, KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:key/example"},
					ObjectLock:      ObjectLockConfig{Mode: ObjectLockCompliance, Retention: 90 * 24 * time.Hour, LegalHold: true},
					StorageClass:    "STANDARD_IA",
				},
			},
		},
		{
			name: "filesystem",
			want: func() Config {
				c := NewDefaultConfig()
				c.Filesystem.Directory = "/var/lib/otel-evidence"
				return c
			}(),
		},
		{
			name: "s3_invalid",
			wantErr: []string{
				"'s3.bucket' is required when 'backend' is s3",
				"'s3.endpoint' \"ftp://example.com\" is invalid",
				"'s3.part_size' must be at least 5 MiB",
				"'s3.object_lock.retention' must be positive when 's3.object_lock.mode' is set",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(tt.name)
			require.NoError(t, err)
			cfg := NewDefaultConfig()
			require.NoError(t, sub.Unmarshal(&cfg))
			err = cfg.Validate()
			if tt.wantErr != nil {
				require.ErrorIs(t, err, ErrInvalidConfig)
				for _, msg := range tt.wantErr {
					require.ErrorContains(t, err, msg)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}

func validS3() Config {
	cfg := NewDefaultConfig()
	cfg.Backend = BackendS3
	cfg.S3.Bucket = "evidence"
	return cfg
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // "" means valid
	}{
		{name: "default filesystem", mutate: func(*Config) {}},
		{name: "minimal s3", mutate: func(c *Config) { *c = validS3() }},
		{name: "tls.insecure", mutate: func(c *Config) { *c = validS3(); c.S3.TLS.Insecure = true }, wantErr: "'s3.tls.insecure' is not used: set 's3.insecure: true'"},
		{name: "unknown backend", mutate: func(c *Config) { c.Backend = "gcs" }, wantErr: `'backend' must be "filesystem" or "s3", got "gcs"`},
		{name: "empty backend", mutate: func(c *Config) { c.Backend = "" }, wantErr: `'backend' must be`},
		{name: "filesystem without directory", mutate: func(c *Config) { c.Filesystem.Directory = " " }, wantErr: "'filesystem.directory' is required when 'backend' is filesystem"},
		{name: "s3 settings ignored for filesystem", mutate: func(c *Config) { c.S3.PartSize = 1 }},
		{name: "s3 without bucket", mutate: func(c *Config) { *c = validS3(); c.S3.Bucket = "" }, wantErr: "'s3.bucket' is required when 'backend' is s3"},
		{name: "s3 bad bucket", mutate: func(c *Config) { *c = validS3(); c.S3.Bucket = "Bad_Bucket" }, wantErr: "'s3.bucket' \"Bad_Bucket\" is not a valid bucket name"},
		{name: "endpoint host:port", mutate: func(c *Config) { *c = validS3(); c.S3.Endpoint = "127.0.0.1:9000" }},
		{name: "endpoint http URL", mutate: func(c *Config) { *c = validS3(); c.S3.Endpoint = "http://minio:9000/" }},
		{name: "endpoint with path", mutate: func(c *Config) { *c = validS3(); c.S3.Endpoint = "https://s3.example.com/bucket" }, wantErr: "'s3.endpoint'"},
		{name: "endpoint host with path", mutate: func(c *Config) { *c = validS3(); c.S3.Endpoint = "s3.example.com/bucket" }, wantErr: "'s3.endpoint'"},
		{name: "endpoint bad scheme", mutate: func(c *Config) { *c = validS3(); c.S3.Endpoint = "ftp://s3.example.com" }, wantErr: "scheme must be http or https"},
		{name: "https endpoint with insecure", mutate: func(c *Config) { *c = validS3(); c.S3.Endpoint = "https://s3.example.com"; c.S3.Insecure = true }, wantErr: "conflicts with 's3.insecure: true'"},
		{name: "prefix with slashes", mutate: func(c *Config) { *c = validS3(); c.S3.Prefix = "/a/b/" }},
		{name: "prefix traversal", mutate: func(c *Config) { *c = validS3(); c.S3.Prefix = "a/../b" }, wantErr: "'s3.prefix' \"a/../b\" is invalid"},
		{name: "access key without secret", mutate: func(c *Config) { *c = validS3(); c.S3.AccessKeyID = "AK" }, wantErr: "'s3.secret_access_key' is required when 's3.access_key_id' is set"},
		{name: "secret without access key", mutate: func(c *Config) { *c = validS3(); c.S3.SecretAccessKey = "SK" }, wantErr: "'s3.access_key_id' is required when 's3.secret_access_key' is set"},
		{name: "session token alone", mutate: func(c *Config) { *c = validS3(); c.S3.SessionToken = "T" }, wantErr: "'s3.access_key_id' is required when 's3.session_token' is set"},
		{name: "part size zero", mutate: func(c *Config) { *c = validS3(); c.S3.PartSize = 0 }, wantErr: "'s3.part_size' must be at least 5 MiB"},
		{name: "part size too small", mutate: func(c *Config) { *c = validS3(); c.S3.PartSize = MinPartSize - 1 }, wantErr: "'s3.part_size' must be at least 5 MiB"},
		{name: "part size minimum", mutate: func(c *Config) { *c = validS3(); c.S3.PartSize = MinPartSize }},
		{name: "part size too large", mutate: func(c *Config) { *c = validS3(); c.S3.PartSize = MaxPartSize + 1 }, wantErr: "'s3.part_size' must be at most 5 GiB"},
		{name: "sse-s3", mutate: func(c *Config) { *c = validS3(); c.S3.SSE.Type = SSES3 }},
		{name: "sse-kms without key", mutate: func(c *Config) { *c = validS3(); c.S3.SSE.Type = SSEKMS }},
		{name: "sse unknown", mutate: func(c *Config) { *c = validS3(); c.S3.SSE.Type = "SSE-C" }, wantErr: "'s3.sse.type' must be empty"},
		{name: "kms key without sse-kms", mutate: func(c *Config) { *c = validS3(); c.S3.SSE.KMSKeyID = "k" }, wantErr: "'s3.sse.kms_key_id' is only allowed when 's3.sse.type' is SSE-KMS"},
		{name: "object lock governance", mutate: func(c *Config) {
			*c = validS3()
			c.S3.ObjectLock = ObjectLockConfig{Mode: ObjectLockGovernance, Retention: time.Hour}
		}},
		{name: "legal hold alone", mutate: func(c *Config) { *c = validS3(); c.S3.ObjectLock.LegalHold = true }},
		{name: "object lock without retention", mutate: func(c *Config) { *c = validS3(); c.S3.ObjectLock.Mode = ObjectLockCompliance }, wantErr: "'s3.object_lock.retention' must be positive when 's3.object_lock.mode' is set"},
		{name: "object lock negative retention", mutate: func(c *Config) {
			*c = validS3()
			c.S3.ObjectLock = ObjectLockConfig{Mode: ObjectLockCompliance, Retention: -time.Hour}
		}, wantErr: "'s3.object_lock.retention' must be positive"},
		{name: "retention without mode", mutate: func(c *Config) { *c = validS3(); c.S3.ObjectLock.Retention = time.Hour }, wantErr: "'s3.object_lock.mode' is required when 's3.object_lock.retention' is set"},
		{name: "object lock bad mode", mutate: func(c *Config) {
			*c = validS3()
			c.S3.ObjectLock = ObjectLockConfig{Mode: "governance", Retention: time.Hour}
		}, wantErr: "'s3.object_lock.mode' must be empty"},
		{name: "storage class", mutate: func(c *Config) { *c = validS3(); c.S3.StorageClass = "GLACIER_IR" }},
		{name: "storage class lower case", mutate: func(c *Config) { *c = validS3(); c.S3.StorageClass = "standard" }, wantErr: "'s3.storage_class' \"standard\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewDefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("filesystem", func(t *testing.T) {
		cfg := NewDefaultConfig()
		cfg.Filesystem.Directory = filepath.Join(t.TempDir(), "ev")
		s, err := Open(ctx, cfg)
		require.NoError(t, err)
		require.IsType(t, &Filesystem{}, s)
		require.DirExists(t, cfg.Filesystem.Directory)
	})
	t.Run("s3", func(t *testing.T) {
		cfg := validS3()
		cfg.S3.Endpoint = "127.0.0.1:1"
		cfg.S3.Insecure = true
		cfg.S3.Prefix = "/p/q/"
		cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey = "ak", "sk"
		s, err := Open(ctx, cfg)
		require.NoError(t, err)
		require.IsType(t, &S3{}, s)
		require.Equal(t, "s3://evidence/p/q", s.String())
		require.NoError(t, s.(*S3).Close())
	})
	t.Run("s3 without prefix", func(t *testing.T) {
		s, err := NewS3(validS3().S3)
		require.NoError(t, err)
		require.Equal(t, "s3://evidence", s.String())
		require.NoError(t, s.Close())
	})
	t.Run("invalid", func(t *testing.T) {
		cfg := NewDefaultConfig()
		cfg.Backend = "tape"
		_, err := Open(ctx, cfg)
		require.ErrorIs(t, err, ErrInvalidConfig)
	})
	t.Run("missing CA file", func(t *testing.T) {
		cfg := validS3()
		cfg.S3.TLS.CAFile = filepath.Join(t.TempDir(), "missing.pem")
		_, err := Open(ctx, cfg)
		require.ErrorContains(t, err, "'s3.tls.ca_file'")
	})
}
