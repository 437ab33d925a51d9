package cli

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
)

// newS3Store starts a real S3 server (versitygw) and returns it, a store
// on its bucket under prefix, and the evidencectl flags that name that
// store with its credentials.
func newS3Store(t *testing.T, prefix string) (*s3server.Server, *storage.S3, []string) {
	t.Helper()
	srv := s3server.Start(t)
	st, err := storage.NewS3(storage.S3Config{
		Endpoint: srv.URL(), Bucket: srv.Bucket, Prefix: prefix, Region: s3server.Region,
		AccessKeyID: configopaque.String(srv.AccessKey), SecretAccessKey: configopaque.String(srv.SecretKey),
		ForcePathStyle: true, PartSize: storage.DefaultPartSize,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	args := []string{"--store", "s3://" + srv.Bucket + "/" + prefix, "--s3-endpoint", srv.URL(), "--s3-path-style",
		"--s3-access-key", srv.AccessKey, "--s3-secret-key", srv.SecretKey}
	return srv, st, args
}

// TestS3GetAndVerify runs get, verify and list against a real S3 server
// (versitygw): a two-collector bundle under a prefix, credentials once as
// flags and once from the standard AWS environment variables.
func TestS3GetAndVerify(t *testing.T) {
	srv, st, storeArgs := newS3Store(t, "prod/eu")
	f := twoCollectorFixture("INC-S3")
	f.write(t, st)

	dir := filepath.Join(t.TempDir(), "INC-S3")
	r := run(t, append(storeArgs, "get", "INC-S3", "-o", dir, "--parallel", "3")...).requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "from s3://"+srv.Bucket+"/prod/eu")
	requireMergedExactly(t, dir, f)
	assert.Equal(t, f.events, readMerged(t, dir).Totals.Events)
	run(t, "verify", dir).requireCode(t, ExitOK)

	// The standard AWS variables instead of flags; the endpoint from
	// AWS_ENDPOINT_URL_S3.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	env := map[string]string{envStore: "s3://" + srv.Bucket + "/prod/eu", "AWS_ENDPOINT_URL_S3": srv.URL()}
	r = runWith(t, runOpts{env: env}, "--s3-path-style", "list").requireCode(t, ExitOK)
	assert.True(t, containsAll(r.stdout, "INC-S3", "2/2 done", "yes"), r.stdout)
	runWith(t, runOpts{env: env}, "--s3-path-style", "verify", "INC-S3", "--in-store", "--require-complete").requireCode(t, ExitOK)

	// Resume over S3: nothing is downloaded again.
	var res getResult
	runWith(t, runOpts{env: env}, "--s3-path-style", "--output", "json", "get", "INC-S3", "-o", dir).requireCode(t, ExitOK).jsonOut(t, &res)
	assert.Equal(t, evidencedir.DownloadStats{Skipped: 4}, res.Download)

	// One flipped byte in the downloaded copy: verify fails and names it.
	bad := partPath(dir, "INC-S3", "collector-a", 2)
	flipByte(t, bad)
	r = run(t, "verify", dir).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "BAD  "+bad)

	// An incident the bucket does not hold, and a bucket that does not exist.
	r = runWith(t, runOpts{env: env}, "--s3-path-style", "get", "INC-NONE", "-o", t.TempDir()).requireCode(t, ExitNotFound)
	assert.Contains(t, r.stderr, "incident INC-NONE not found in s3://"+srv.Bucket+"/prod/eu")
	env[envStore] = "s3://no-such-bucket"
	r = runWith(t, runOpts{env: env}, "--s3-path-style", "list").requireCode(t, ExitStoreUnreachable)
	assert.Contains(t, r.stderr, "no-such-bucket")

	// An object changed behind the server's back is reported as corrupt
	// by verify and get, not as an unreachable store.
	corrupt := "incidents/INC-S3/collectors/collector-b/part-000001.tar.zst"
	flipByte(t, filepath.Join(srv.Dir, srv.Bucket, "prod", "eu", filepath.FromSlash(corrupt)))
	env[envStore] = "s3://" + srv.Bucket + "/prod/eu"
	r = runWith(t, runOpts{env: env}, "--s3-path-style", "verify", "INC-S3", "--in-store").requireCode(t, ExitVerifyFailed)
	// Whether the SHA-256 or the S3 client's own CRC check notices first
	// depends on where the flipped byte falls.
	assert.Regexp(t, "BAD  "+regexp.QuoteMeta(corrupt)+": (sha256 |failed the store's integrity check)", r.stdout)
	r = runWith(t, runOpts{env: env}, "--s3-path-style", "get", "INC-S3", "-o", t.TempDir()).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "BAD  "+corrupt+": ")
	assert.Contains(t, r.stderr, corrupt)
}
