package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"
)

// Errors of Check, for errors.Is.
var (
	// ErrBucketMissing: the configured bucket does not exist.
	ErrBucketMissing = errors.New("the bucket does not exist")
	// ErrObjectLockMissing: 'object_lock' is configured but the bucket has
	// no Object Lock, so every immutable write would be refused.
	ErrObjectLockMissing = errors.New("the bucket has no Object Lock")
)

// Checker is implemented by stores that can verify, before the collector
// relies on them, that they have what the configuration needs.
type Checker interface {
	Check(ctx context.Context) error
}

// Check verifies that the bucket exists and, when 'object_lock' is
// configured, that it has Object Lock enabled: without it S3 refuses every
// write that asks for retention or a legal hold, and no evidence would
// ever be stored. Errors name the configuration key and the fix.
// (Writability is proven by a write, which the caller makes.)
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 store %s: cannot check that the bucket exists (check 'store.s3.endpoint', the credentials and the network): %w", s, s.mapErr("check bucket", "", err))
	}
	if !ok {
		hint := "create it"
		if s.objectLock.Enabled() {
			hint = "create it with Object Lock enabled (aws s3api create-bucket --object-lock-enabled-for-bucket)"
		}
		return fmt.Errorf("s3 store %s: %w: %s, or fix 'store.s3.bucket'", s, ErrBucketMissing, hint)
	}
	s.bucketSeen.Store(true)
	if !s.objectLock.Enabled() {
		return nil
	}
	status, _, _, _, err := s.client.GetObjectLockConfig(ctx, s.bucket)
	var er minio.ErrorResponse
	if err != nil && (!errors.As(err, &er) || er.StatusCode >= 500) {
		return fmt.Errorf("s3 store %s: cannot read the bucket's Object Lock configuration, which 'store.s3.object_lock' needs: %w", s, err)
	}
	if err != nil || status != "Enabled" {
		why := fmt.Sprintf("its Object Lock status is %q", status)
		if err != nil {
			why = err.Error()
		}
		return fmt.Errorf("s3 store %s: %w (%s), but 'store.s3.object_lock' asks for retention or a legal hold on every part and manifest, "+
			"which S3 then refuses: Object Lock can only be enabled when a bucket is created, so point 'store.s3.bucket' at a bucket "+
			"created with Object Lock, or remove 'store.s3.object_lock'", s, ErrObjectLockMissing, why)
	}
	return nil
}
