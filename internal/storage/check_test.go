package storage

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
)

// TestS3Check runs the start-up checks against versitygw: a bucket with
// and without Object Lock, a missing bucket, a stopped server.
func TestS3Check(t *testing.T) {
	ctx := context.Background()
	plain := s3server.Start(t)
	locked := s3server.Start(t, s3server.WithObjectLock())
	lock := ObjectLockConfig{Mode: ObjectLockGovernance, Retention: time.Hour}

	t.Run("plain bucket without object_lock", func(t *testing.T) {
		require.NoError(t, newTestS3(t, s3Config(plain, "")).Check(ctx))
	})
	t.Run("locked bucket with object_lock", func(t *testing.T) {
		cfg := s3Config(locked, "")
		cfg.ObjectLock = lock
		require.NoError(t, newTestS3(t, cfg).Check(ctx))
	})
	t.Run("plain bucket with object_lock", func(t *testing.T) {
		for _, l := range []ObjectLockConfig{lock, {LegalHold: true}} {
			cfg := s3Config(plain, "")
			cfg.ObjectLock = l
			err := newTestS3(t, cfg).Check(ctx)
			require.ErrorIs(t, err, ErrObjectLockMissing)
			require.ErrorContains(t, err, "'store.s3.object_lock'")
			require.ErrorContains(t, err, "created with Object Lock")
		}
	})
	t.Run("missing bucket", func(t *testing.T) {
		cfg := s3Config(plain, "")
		cfg.Bucket = "no-such-bucket"
		err := newTestS3(t, cfg).Check(ctx)
		require.ErrorIs(t, err, ErrBucketMissing)
		require.ErrorContains(t, err, "'store.s3.bucket'")
	})
	t.Run("server down", func(t *testing.T) {
		srv := s3server.Start(t)
		cfg := s3Config(srv, "")
		srv.Stop()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := newTestS3(t, cfg).Check(cctx)
		require.ErrorContains(t, err, "'store.s3.endpoint'")
	})
}
