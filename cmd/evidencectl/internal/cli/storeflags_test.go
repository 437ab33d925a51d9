package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otel-evidence/otel-evidence/internal/storage"
)

func parseStoreFlags(t *testing.T, env map[string]string, args ...string) (storage.Config, error) {
	t.Helper()
	var o storeOptions
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.addFlags(fs)
	require.NoError(t, fs.Parse(args))
	return o.config(context.Background(), func(k string) string { return env[k] })
}

func fsConfig(dir string) storage.Config {
	c := storage.NewDefaultConfig()
	c.Filesystem.Directory = dir
	return c
}

func s3Config(mod func(*storage.S3Config)) storage.Config {
	c := storage.NewDefaultConfig()
	c.Backend = storage.BackendS3
	mod(&c.S3)
	return c
}

func TestStoreFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want storage.Config
		err  string
	}{
		{name: "default", want: fsConfig("./var/evidence")},
		{name: "file absolute", args: []string{"--store", "file:///srv/evidence"}, want: fsConfig("/srv/evidence")},
		{name: "file relative", args: []string{"--store", "file://./evidence"}, want: fsConfig("./evidence")},
		{name: "file localhost", args: []string{"--store", "file://localhost/srv/e"}, want: fsConfig("/srv/e")},
		{name: "file escaped", args: []string{"--store", "file:///srv/my%20evidence"}, want: fsConfig("/srv/my evidence")},
		{name: "plain path", args: []string{"--store", "/data/evidence"}, want: fsConfig("/data/evidence")},
		{name: "env store", env: map[string]string{envStore: "file:///from/env"}, want: fsConfig("/from/env")},
		{name: "flag beats env", args: []string{"--store", "/flag"}, env: map[string]string{envStore: "/env"}, want: fsConfig("/flag")},
		{
			name: "s3 with flags",
			args: []string{"--store", "s3://evidence-bucket/prod/eu", "--s3-endpoint", "127.0.0.1:9000", "--s3-region", "eu-west-1",
				"--s3-insecure", "--s3-path-style", "--s3-ca-file", "/ca.pem", "--s3-access-key", "AK", "--s3-secret-key", "SK"},
			want: s3Config(func(s *storage.S3Config) {
				s.Bucket, s.Prefix, s.Endpoint, s.Region = "evidence-bucket", "prod/eu", "127.0.0.1:9000", "eu-west-1"
				s.Insecure, s.ForcePathStyle, s.TLS.CAFile = true, true, "/ca.pem"
				s.AccessKeyID, s.SecretAccessKey = configopaque.String("AK"), configopaque.String("SK")
			}),
		},
		{
			name: "s3 from AWS environment",
			args: []string{"--store", "s3://bucket"},
			env:  map[string]string{"AWS_ENDPOINT_URL": "https://minio.internal", "AWS_DEFAULT_REGION": "ap-south-1"},
			want: s3Config(func(s *storage.S3Config) {
				s.Bucket, s.Endpoint, s.Region = "bucket", "https://minio.internal", "ap-south-1"
			}),
		},
		{
			name: "s3 specific endpoint variable wins",
			args: []string{"--store", "s3://bucket/"},
			env:  map[string]string{"AWS_ENDPOINT_URL": "https://a", "AWS_ENDPOINT_URL_S3": "https://b", "AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2"},
			want: s3Config(func(s *storage.S3Config) { s.Bucket, s.Endpoint, s.Region = "bucket", "https://b", "r1" }),
		},
		{name: "unknown scheme", args: []string{"--store", "gs://bucket"}, err: `invalid --store "gs://bucket": unsupported scheme "gs"`},
		{name: "empty file", args: []string{"--store", "file://"}, err: "file:// needs a directory"},
		{name: "s3 without bucket", args: []string{"--store", "s3:///prefix"}, err: "s3:// needs a bucket"},
		{name: "s3 with query", args: []string{"--store", "s3://b/p?region=x"}, err: "--s3-* flags"},
		{name: "bad env", env: map[string]string{envStore: "ftp://x"}, err: "invalid EVIDENCECTL_STORE"},
		{name: "s3 flag on directory", args: []string{"--store", "/d", "--s3-region", "x"}, err: "--s3-region applies only to an S3 store"},
		{name: "half credentials", args: []string{"--store", "s3://b", "--s3-access-key", "AK"}, err: "without --s3-secret-key"},
		{name: "other half", args: []string{"--store", "s3://b", "--s3-secret-key", "SK"}, err: "without --s3-access-key"},
		{name: "store and config", args: []string{"--store", "/d", "--config", "/c.yaml"}, err: "--store and --config are both given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStoreFlags(t, tt.env, tt.args...)
			if tt.err != "" {
				require.ErrorIs(t, err, ErrUsage)
				assert.Contains(t, err.Error(), tt.err)
				assert.Equal(t, ExitUsage, ExitCode(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

const collectorConfig = `
extensions:
  health_check: {}
  incidents/unused:
    store:
      backend: filesystem
      filesystem:
        directory: /unused
  incidents/prod:
    collector_id: replica-a
    store:
      backend: s3
      s3:
        endpoint: ${env:CLI_TEST_S3_ENDPOINT}
        bucket: evidence
        prefix: prod
        access_key_id: AK
        secret_access_key: ${CLI_TEST_SECRET}
        force_path_style: true
        object_lock:
          mode: GOVERNANCE
          retention: 720h
service:
  extensions: [health_check, incidents/prod]
`

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestStoreFromCollectorConfig(t *testing.T) {
	t.Setenv("CLI_TEST_S3_ENDPOINT", "http://127.0.0.1:7070")
	t.Setenv("CLI_TEST_SECRET", "s3cr3t")
	path := writeConfig(t, collectorConfig)

	got, err := parseStoreFlags(t, nil, "--config", path)
	require.NoError(t, err)
	assert.Equal(t, storage.BackendS3, got.Backend)
	assert.Equal(t, "http://127.0.0.1:7070", got.S3.Endpoint)
	assert.Equal(t, "evidence", got.S3.Bucket)
	assert.Equal(t, "prod", got.S3.Prefix)
	assert.Equal(t, configopaque.String("s3cr3t"), got.S3.SecretAccessKey)
	assert.True(t, got.S3.ForcePathStyle)
	assert.Equal(t, storage.DefaultRegion, got.S3.Region, "defaults as the extension has them")
	assert.Equal(t, storage.DefaultPartSize, got.S3.PartSize)
	assert.Equal(t, "GOVERNANCE", got.S3.ObjectLock.Mode)

	// Flags refine the configuration; the environment does not override it.
	got, err = parseStoreFlags(t, map[string]string{"AWS_REGION": "env-region", envStore: "/ignored"},
		"--config", path, "--s3-region", "eu-north-1", "--s3-access-key", "AK2", "--s3-secret-key", "SK2")
	require.NoError(t, err)
	assert.Equal(t, "eu-north-1", got.S3.Region)
	assert.Equal(t, configopaque.String("AK2"), got.S3.AccessKeyID)
	assert.Equal(t, "evidence", got.S3.Bucket)

	// The only incidents extension, without a store section: the default.
	got, err = parseStoreFlags(t, nil, "--config", writeConfig(t, "extensions:\n  incidents:\n    collector_id: x\n"))
	require.NoError(t, err)
	assert.Equal(t, storage.NewDefaultConfig(), got)
}

func TestStoreFromCollectorConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, err string
	}{
		{"no extensions", "receivers: {}\n", "has no incidents extension"},
		{"no incidents", "extensions:\n  health_check: {}\n", "has no incidents extension"},
		{"ambiguous", "extensions:\n  incidents/a: {}\n  incidents/b: {}\n", "several incidents extensions (incidents/a, incidents/b)"},
		{"unknown key", "extensions:\n  incidents:\n    store:\n      backend: filesystem\n      bogus: 1\n", "'extensions::incidents::store'"},
		{"not yaml", "extensions: [\n", "cannot parse --config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseStoreFlags(t, nil, "--config", writeConfig(t, tt.config))
			require.ErrorIs(t, err, ErrUsage)
			assert.Contains(t, err.Error(), tt.err)
			assert.Contains(t, err.Error(), "--store")
		})
	}
	_, err := parseStoreFlags(t, nil, "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorIs(t, err, ErrUsage)
	assert.Contains(t, err.Error(), "cannot read --config")
}

func TestStoreOpen(t *testing.T) {
	// Through the CLI: --config with a filesystem store lists it.
	st, _ := newFSStore(t)
	twoCollectorFixture("INC-C").write(t, st)
	cfg := writeConfig(t, "extensions:\n  incidents:\n    store:\n      filesystem:\n        directory: "+st.Dir()+"\n")
	r := run(t, "--config", cfg, "list").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "INC-C")

	// A file where the store directory should be.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	r = run(t, "--store", file, "list").requireCode(t, ExitStoreUnreachable)
	assert.Contains(t, r.stderr, "is not a directory")

	// An invalid S3 configuration is a usage error naming the key.
	r = run(t, "--store", "s3://Not_A_Bucket", "list").requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "'s3.bucket'")

	// An S3 endpoint nobody listens on: the store is unreachable.
	r = run(t, "--store", "s3://bucket", "--s3-endpoint", "127.0.0.1:1", "--s3-insecure",
		"--s3-access-key", "a", "--s3-secret-key", "b", "list").requireCode(t, ExitStoreUnreachable)
	assert.Contains(t, r.stderr, "check --store, the S3 endpoint")
}
