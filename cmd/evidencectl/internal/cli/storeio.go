package cli

import (
	"context"
	"errors"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Limits on the small JSON objects read whole into memory.
const (
	maxIncidentJSON = bundle.MaxIncidentSize
	maxManifestJSON = bundle.MaxManifestSize
)

// listAll returns every object under prefix (storage.ListAll), its errors
// saying what to do next.
func listAll(ctx context.Context, st store.Store, prefix string) ([]store.ObjectInfo, error) {
	objs, err := storage.ListAll(ctx, st, prefix)
	return objs, storeErr(err)
}

// readObject reads a whole object of at most limit bytes
// (storage.ReadAll), its errors saying what to do next.
func readObject(ctx context.Context, st store.Store, key string, limit int64) ([]byte, error) {
	data, err := storage.ReadAll(ctx, st, key, limit)
	return data, storeErr(err)
}

// storeErr maps the errors of the storage helpers to the CLI's: a store
// that fails (exit 5, unless the object is missing or the context ended),
// keys listed out of order, an object too large to be evidence.
func storeErr(err error) error {
	var op *storage.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &op):
		return storeError(op.Err, op.What)
	case errors.Is(err, storage.ErrListOutOfOrder):
		return newError(ErrStoreUnreachable, nil, "the store returned keys out of order; check the S3 endpoint", "%v", err)
	case errors.Is(err, storage.ErrObjectTooLarge):
		return newError(ErrVerifyFailed, nil, "the object is not what the collector writes; check the store", "%v", err)
	}
	return err
}
