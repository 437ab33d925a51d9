package cli

import (
	"errors"

	"github.com/otel-evidence/otel-evidence/internal/storage"
)

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
