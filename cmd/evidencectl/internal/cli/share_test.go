package cli

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/store/storetest"
)

// TestShare presigns the objects of a bundle in a real S3 server
// (versitygw) and downloads each link without credentials.
func TestShare(t *testing.T) {
	srv := s3server.Start(t)
	st, err := storage.NewS3(storage.S3Config{
		Endpoint: srv.URL(), Bucket: srv.Bucket, Prefix: "prod", Region: s3server.Region,
		AccessKeyID: configopaque.String(srv.AccessKey), SecretAccessKey: configopaque.String(srv.SecretKey),
		ForcePathStyle: true, PartSize: storage.DefaultPartSize,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	twoCollectorFixture("INC-SHARE").write(t, st)
	storeArgs := []string{"--store", "s3://" + srv.Bucket + "/prod", "--s3-endpoint", srv.URL(), "--s3-path-style",
		"--s3-access-key", srv.AccessKey, "--s3-secret-key", srv.SecretKey}

	now := time.Now().UTC()
	var res shareResult
	runWith(t, runOpts{now: now}, append(storeArgs, "--output", "json", "share", "INC-SHARE", "--expires", "2h")...).
		requireCode(t, ExitOK).jsonOut(t, &res)
	assert.Equal(t, now.Add(2*time.Hour).Truncate(time.Second), res.Expires)
	require.Len(t, res.Objects, 7, "incident.json, two manifests, four parts")
	for _, o := range res.Objects {
		want, _ := storetest.Get(t, st, o.Key)
		resp, err := http.Get(o.URL) //nolint:noctx // loopback test server
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, o.Key)
		assert.Equal(t, want, got, o.Key)
		assert.Equal(t, int64(len(want)), o.Size)
	}
	r := run(t, append(storeArgs, "share", "INC-SHARE")...).requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Links to the 7 objects of INC-SHARE")
	assert.Contains(t, r.stdout, "X-Amz-Expires=86400")

	run(t, append(storeArgs, "share", "INC-NONE")...).requireCode(t, ExitNotFound)
	run(t, append(storeArgs, "share", "INC-SHARE", "--expires", "200h")...).requireCode(t, ExitUsage)
	_, url := newFSStore(t)
	r = run(t, "--store", url, "share", "INC-SHARE").requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "only an S3 store can share")
}
