// Package store is the evidence store's contract: one small interface, the
// rules for object keys, and the errors every backend returns. Keys are
// slash-separated relative paths such as
// "incidents/INC-1/collectors/c1/part-000001.tar.zst"; a backend applies its
// configured prefix, never the callers. The project's two backends (a local
// directory and S3) live with the components that open them; package
// storetest checks any implementation against the contract.
package store // import "github.com/otel-evidence/otel-evidence/pkg/store"

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) when a key does not exist.
var ErrNotFound = errors.New("object not found")

// ErrInvalidKey is returned (wrapped) for keys that are empty, absolute, or
// contain "..", backslashes or control characters.
var ErrInvalidKey = errors.New("invalid object key")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// PutOptions tune one write.
type PutOptions struct {
	// ContentType is recorded where the backend supports it.
	ContentType string
	// Immutable marks evidence parts and manifests: the S3 backend applies
	// the configured object-lock retention and legal hold to them.
	Immutable bool
}

// Store is the evidence store. Implementations are safe for concurrent use.
type Store interface {
	// Put writes the object atomically: readers see the whole object or
	// nothing. size must be the exact length of r's content.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error
	// Get opens the object. Callers close the reader. The reader gives the
	// object as it was when Get returned, even if a Put replaces it before
	// the read ends (an exporter rewrites a bundle's manifest while readers
	// poll it).
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// Stat returns the object's info or ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns objects whose key starts with prefix and sorts strictly
	// after startAfter ("" for all), in lexical key order.
	List(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String names the store for logs, e.g. "file:///var/evidence" or "s3://bucket/prefix".
	String() string
}

// ErrNotRegular is returned (wrapped) when a key names something other
// than a regular object: in a filesystem store, a symbolic link, a device
// or a directory where an object belongs. Evidence readers report it as
// tampering.
var ErrNotRegular = errors.New("not a regular object")
