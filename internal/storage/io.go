package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// OpError is a store operation that failed: what it read and why. Callers
// that say what to do next tell it from the object's own problems.
type OpError struct {
	// What names the object or listing, with the store.
	What string
	Err  error
}

func (e *OpError) Error() string { return fmt.Sprintf("reading %s failed: %v", e.What, e.Err) }

func (e *OpError) Unwrap() error { return e.Err }

// ErrListOutOfOrder is what (errors.Is) ListAll returns when a store lists keys
// out of order, which would make pagination loop.
var ErrListOutOfOrder = errors.New("the store listed keys out of order")

// ErrObjectTooLarge is what (errors.Is) ReadAll returns for an object larger
// than the reader accepts.
var ErrObjectTooLarge = errors.New("object larger than the limit")

// ListAll returns every object under prefix, following the store's
// pagination.
func ListAll(ctx context.Context, st store.Store, prefix string) ([]store.ObjectInfo, error) {
	var out []store.ObjectInfo
	after := ""
	for {
		objs, err := st.List(ctx, prefix, after)
		if err != nil {
			return nil, &OpError{What: fmt.Sprintf("the list of %q in %s", prefix, st), Err: err}
		}
		if len(objs) == 0 {
			return out, nil
		}
		out = append(out, objs...)
		next := objs[len(objs)-1].Key
		if next <= after {
			return nil, &kindError{ErrListOutOfOrder, fmt.Sprintf("listing %q in %s went back from %q to %q", prefix, st, after, next)}
		}
		after = next
	}
}

// kindError is an error that is its kind (errors.Is) but says only msg.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// ReadAll reads a whole object of at most limit bytes.
func ReadAll(ctx context.Context, st store.Store, key string, limit int64) ([]byte, error) {
	what := fmt.Sprintf("%s in %s", key, st)
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, &OpError{What: what, Err: err}
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, &OpError{What: what, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &kindError{ErrObjectTooLarge, fmt.Sprintf("%s is larger than the limit of %d bytes", what, limit)}
	}
	return data, nil
}
