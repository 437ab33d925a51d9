package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Exit codes of evidencectl.
const (
	// ExitOK: the command did what was asked.
	ExitOK = 0
	// ExitFailure: any failure without a more specific code.
	ExitFailure = 1
	// ExitUsage: bad flags, arguments or input.
	ExitUsage = 2
	// ExitNotFound: the incident (or another named object) does not exist.
	ExitNotFound = 3
	// ExitVerifyFailed: evidence is corrupt, incomplete where completeness
	// was required, or does not match its manifest.
	ExitVerifyFailed = 4
	// ExitStoreUnreachable: the evidence store cannot be reached or read.
	ExitStoreUnreachable = 5
)

// Classes of error; every error the commands return wraps at most one of
// them, and ExitCode maps them onto exit codes with errors.Is.
var (
	// ErrUsage marks bad flags, arguments or input.
	ErrUsage = errors.New("usage error")
	// ErrNotFound marks a missing incident or object.
	ErrNotFound = errors.New("not found")
	// ErrVerifyFailed marks evidence that failed verification.
	ErrVerifyFailed = errors.New("verification failed")
	// ErrNotLossless marks intact evidence that names missing items, when
	// the caller asked for lossless evidence (exit code 4 like a failed
	// verification: the evidence is not what was required).
	ErrNotLossless = errors.New("evidence is not lossless")
	// ErrStoreUnreachable marks a store that cannot be reached or read.
	ErrStoreUnreachable = errors.New("store unreachable")
)

// ExitCode maps an error returned by a command onto an exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrVerifyFailed), errors.Is(err, bundle.ErrCorrupt), errors.Is(err, ErrNotLossless):
		return ExitVerifyFailed
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, ErrStoreUnreachable):
		return ExitStoreUnreachable
	default:
		return ExitFailure
	}
}

// errorKind is the machine word for an exit code, used in JSON errors.
func errorKind(code int) string {
	switch code {
	case ExitUsage:
		return "usage"
	case ExitNotFound:
		return "not_found"
	case ExitVerifyFailed:
		return "verification_failed"
	case ExitStoreUnreachable:
		return "store_unreachable"
	default:
		return "failure"
	}
}

// cliError is an error with a class (one of the Err* sentinels, or nil), an
// optional cause, and a hint saying what to do next. Its text is
// "message: hint"; the cause's text belongs in the message when it helps.
type cliError struct {
	class error
	cause error
	msg   string
	hint  string
}

func (e *cliError) Error() string {
	if e.hint == "" {
		return e.msg
	}
	return e.msg + ": " + e.hint
}

// Unwrap exposes the class and the cause to errors.Is and errors.As.
func (e *cliError) Unwrap() []error {
	var out []error
	if e.class != nil {
		out = append(out, e.class)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// newError builds a cliError. class may be nil (exit code 1 unless the
// cause says otherwise).
func newError(class, cause error, hint, format string, args ...any) error {
	return &cliError{class: class, cause: cause, msg: fmt.Sprintf(format, args...), hint: hint}
}

// usageError reports bad flags or arguments.
func usageError(hint, format string, args ...any) error {
	return newError(ErrUsage, nil, hint, format, args...)
}

// storeError classifies an error from a store operation: a missing object
// stays ErrNotFound, cancellation stays as it is, anything else means the
// store could not be read (exit code 5).
func storeError(err error, where string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return newError(ErrStoreUnreachable, err,
		"check --store, the S3 endpoint, bucket and credentials (--s3-* flags or AWS_* variables), and that the store is reachable",
		"reading %s failed: %v", where, err)
}

// interrupted turns a cancelled context into an error that says how to go on.
func interrupted(err error, resume string) error {
	if errors.Is(err, context.Canceled) {
		return newError(nil, err, resume, "interrupted")
	}
	return err
}
