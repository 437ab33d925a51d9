package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLength is the longest key accepted, in bytes (the S3 limit).
const MaxKeyLength = 1024

// ReservedPrefix starts the names of a backend's temporary files (the
// filesystem backend's, for one). Keys may not have a segment with this
// prefix, so temporary files can never be mistaken for objects.
const ReservedPrefix = ".evidence-tmp-"

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
		case strings.HasPrefix(seg, ReservedPrefix):
			return bad(fmt.Sprintf("segments must not start with the reserved %q", ReservedPrefix))
		}
	}
	return nil
}
