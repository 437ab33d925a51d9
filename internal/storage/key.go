package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// exactReader passes through exactly size bytes of r and fails with
// store.ErrSizeMismatch when r ends early or holds more. When r holds more, the
// last bytes are withheld, so the consumer never sees a complete body; it also
// stops at the first read after ctx is done.
type exactReader struct {
	ctx       context.Context
	r         io.Reader
	size      int64
	remaining int64
	err       error
}

func newExactReader(ctx context.Context, r io.Reader, size int64) *exactReader {
	return &exactReader{ctx: ctx, r: r, size: size, remaining: size}
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if err := e.ctx.Err(); err != nil {
		e.err = err
		return 0, err
	}
	if e.remaining == 0 {
		// Only reached for size 0: probe for unexpected content.
		return 0, e.probe()
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	switch {
	case e.remaining == 0:
		// Check that nothing follows before handing over the final bytes.
		if perr := e.probe(); !errors.Is(perr, io.EOF) {
			return 0, perr
		}
		return n, nil
	case err == io.EOF:
		e.err = fmt.Errorf("%w: reader ended after %d of %d bytes", store.ErrSizeMismatch, e.size-e.remaining, e.size)
		return n, e.err
	case err != nil:
		e.err = err
		return n, err
	}
	return n, nil
}

// probe returns io.EOF when the underlying reader is exhausted, an
// store.ErrSizeMismatch error when it holds more data, or its read error.
func (e *exactReader) probe() error {
	var one [1]byte
	for range 100 {
		n, err := e.r.Read(one[:])
		if n > 0 {
			e.err = fmt.Errorf("%w: reader holds more than %d bytes", store.ErrSizeMismatch, e.size)
			return e.err
		}
		if err == io.EOF {
			e.err = io.EOF
			return io.EOF
		}
		if err != nil {
			e.err = err
			return err
		}
	}
	e.err = io.ErrNoProgress
	return e.err
}

// failure returns the error the reader reported, if any other than io.EOF.
func (e *exactReader) failure() error {
	if errors.Is(e.err, io.EOF) {
		return nil
	}
	return e.err
}
