package incidentsextension

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func s3Config(srv *s3server.Server, bucket string) func(*Config) {
	return func(c *Config) {
		c.Store.Backend = storage.BackendS3
		c.Store.S3.Endpoint = srv.URL()
		c.Store.S3.Bucket = bucket
		c.Store.S3.Prefix = "evidence"
		c.Store.S3.AccessKeyID = configopaque.String(srv.AccessKey)
		c.Store.S3.SecretAccessKey = configopaque.String(srv.SecretKey)
		c.Store.S3.ForcePathStyle = true
		c.Store.S3.Insecure = true
	}
}

func TestS3Replicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	srv := s3server.Start(t)
	ctx := context.Background()

	a := startTestExt(t, "", "a", testOptions{cfg: s3Config(srv, srv.Bucket)})
	b := startTestExt(t, "", "b", testOptions{cfg: s3Config(srv, srv.Bucket)})
	_, err := a.OpenIncident(ctx, incident.Incident{ID: "INC-s3", Title: "over S3"}, genericEvent(incident.EventIncidentOpened))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.status("INC-s3") == incident.StatusOpen }, waitFor, 5*time.Millisecond)
	_, err = b.ResolveIncident(ctx, "INC-s3", time.Now(), genericEvent(incident.EventIncidentResolved))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.status("INC-s3") == incident.StatusResolved }, waitFor, 5*time.Millisecond)

	rc, _, err := a.Store().Get(ctx, "incidents/INC-s3/incident.json")
	require.NoError(t, err)
	require.NoError(t, rc.Close())
}

func TestS3MissingBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	srv := s3server.Start(t)
	e := newTestExt(t, "", "a", testOptions{cfg: s3Config(srv, "no-such-bucket")})
	err := e.Start(context.Background(), e.host)
	require.ErrorIs(t, err, storage.ErrBucketMissing)
	assert.ErrorContains(t, err, "'store.s3.bucket'")
	require.NoError(t, e.Shutdown(context.Background()))
}

// TestS3ObjectLockMissing: 'object_lock' on a bucket created without
// Object Lock refuses to start, naming the key and the fix; on a bucket
// with it, the replica starts.
func TestS3ObjectLockMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	lock := func(c *Config) {
		c.Store.S3.ObjectLock = storage.ObjectLockConfig{Mode: storage.ObjectLockGovernance, Retention: time.Hour}
	}
	plain := s3server.Start(t)
	e := newTestExt(t, "", "a", testOptions{cfg: func(c *Config) { s3Config(plain, plain.Bucket)(c); lock(c) }})
	err := e.Start(context.Background(), e.host)
	require.ErrorIs(t, err, storage.ErrObjectLockMissing)
	assert.ErrorContains(t, err, "'store.s3.object_lock'")
	require.NoError(t, e.Shutdown(context.Background()))

	locked := s3server.Start(t, s3server.WithObjectLock())
	startTestExt(t, "", "b", testOptions{cfg: func(c *Config) { s3Config(locked, locked.Bucket)(c); lock(c) }})
}
