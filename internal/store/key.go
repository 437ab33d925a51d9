package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLength is the longest key accepted, in bytes (the S3 limit).
const MaxKeyLength = 1024

// tempPrefix starts the names of the filesystem backend's temporary files.
// Keys may not have a segment with this prefix, so temporary files can never
// be mistaken for objects.
const tempPrefix = ".evidence-tmp-"

// ErrSizeMismatch is returned (wrapped) by Put when the reader holds fewer or
// more bytes than the declared size. Nothing is stored in that case.
var ErrSizeMismatch = errors.New("content length does not match size")

// ValidateKey checks that key is a safe, canonical object key: a relative
// slash-separated path of at most MaxKeyLength bytes of valid UTF-8, without
// empty, "." or ".." segments, backslashes, control characters (including
// NUL), or a leading or trailing slash. Errors wrap ErrInvalidKey.
func ValidateKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why) }
	switch {
	case key == "":
		return fmt.Errorf("%w: key is empty", ErrInvalidKey)
	case len(key) > MaxKeyLength:
		return bad(fmt.Sprintf("longer than %d bytes", MaxKeyLength))
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("absolute path")
	case strings.HasSuffix(key, "/"):
		return bad("ends with '/'")
	}
	for _, r := range key {
		switch {
		case r == '\\':
			return bad("contains a backslash")
		case unicode.IsControl(r):
			return bad("contains a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return bad("contains an empty path segment")
		case seg == "." || seg == "..":
			return bad(fmt.Sprintf("contains a %q path segment", seg))
		case strings.HasPrefix(seg, tempPrefix):
			return bad(fmt.Sprintf("segments must not start with the reserved %q", tempPrefix))
		}
	}
	return nil
}

// exactReader passes through exactly size bytes of r and fails with
// ErrSizeMismatch when r ends early or holds more. When r holds more, the
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
		e.err = fmt.Errorf("%w: reader ended after %d of %d bytes", ErrSizeMismatch, e.size-e.remaining, e.size)
		return n, e.err
	case err != nil:
		e.err = err
		return n, err
	}
	return n, nil
}

// probe returns io.EOF when the underlying reader is exhausted, an
// ErrSizeMismatch error when it holds more data, or its read error.
func (e *exactReader) probe() error {
	var one [1]byte
	for range 100 {
		n, err := e.r.Read(one[:])
		if n > 0 {
			e.err = fmt.Errorf("%w: reader holds more than %d bytes", ErrSizeMismatch, e.size)
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
