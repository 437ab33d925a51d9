package cli

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/store/storetest"
)

// TestShare presigns the objects of a bundle in a real S3 server
// (versitygw) and downloads each link without credentials.
func TestShare(t *testing.T) {
	_, st, storeArgs := newS3Store(t, "prod")
	twoCollectorFixture("INC-SHARE").write(t, st)

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
