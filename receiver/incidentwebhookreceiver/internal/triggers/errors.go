package triggers

import (
	"errors"
	"net/http"
)

// Reasons are the short machine words an Error carries; they become the
// "error" member of the receiver's JSON error response.
const (
	ReasonMalformedJSON      = "malformed_json"
	ReasonUnsupportedVersion = "unsupported_version"
	ReasonMissingField       = "missing_field"
	ReasonInvalidField       = "invalid_field"
	ReasonInvalidID          = "invalid_id"
	ReasonLimitExceeded      = "limit_exceeded"
	ReasonBodyTooLarge       = "body_too_large"
	ReasonMissingSignature   = "missing_signature"
	ReasonBadSignature       = "bad_signature"
)

// Error is a rejected payload or signature. Status is the HTTP status the
// receiver should answer with (always 4xx); Reason is one of the Reason
// constants; Field names the offending JSON member or header, when there is
// one, as a path such as "alerts[2].labels.incident_id".
type Error struct {
	Status int
	Reason string
	Field  string
	Msg    string

	cause error
}

// Error implements error.
func (e *Error) Error() string {
	s := e.Reason
	if e.Field != "" {
		s += " '" + e.Field + "'"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the underlying cause, such as incident.ErrInvalidID.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, ErrBadSignature) works whatever the field or message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// ErrorResponse is the JSON body the receiver sends with an Error.
type ErrorResponse struct {
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

// Response returns the JSON body for the error.
func (e *Error) Response() ErrorResponse {
	return ErrorResponse{Error: e.Reason, Field: e.Field, Message: e.Msg}
}

// Sentinels for errors.Is; compare by Reason only.
var (
	ErrMalformedJSON      = &Error{Status: http.StatusBadRequest, Reason: ReasonMalformedJSON}
	ErrUnsupportedVersion = &Error{Status: http.StatusBadRequest, Reason: ReasonUnsupportedVersion}
	ErrMissingField       = &Error{Status: http.StatusBadRequest, Reason: ReasonMissingField}
	ErrInvalidField       = &Error{Status: http.StatusBadRequest, Reason: ReasonInvalidField}
	ErrInvalidID          = &Error{Status: http.StatusBadRequest, Reason: ReasonInvalidID}
	ErrLimitExceeded      = &Error{Status: http.StatusBadRequest, Reason: ReasonLimitExceeded}
	ErrBodyTooLarge       = &Error{Status: http.StatusRequestEntityTooLarge, Reason: ReasonBodyTooLarge}
	ErrMissingSignature   = &Error{Status: http.StatusUnauthorized, Reason: ReasonMissingSignature}
	ErrBadSignature       = &Error{Status: http.StatusForbidden, Reason: ReasonBadSignature}
)

// AsError returns err as an *Error when it is (or wraps) one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// HTTPStatus returns the status to answer with for err: the Error's Status,
// 200 for nil and 500 for any other error.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if e, ok := AsError(err); ok {
		return e.Status
	}
	return http.StatusInternalServerError
}

func newError(status int, reason, field, msg string) *Error {
	return &Error{Status: status, Reason: reason, Field: field, Msg: msg}
}

func malformed(msg string) *Error {
	return newError(http.StatusBadRequest, ReasonMalformedJSON, "", msg)
}

func missing(field string) *Error {
	return newError(http.StatusBadRequest, ReasonMissingField, field, "is required")
}

func invalid(field, msg string) *Error {
	return newError(http.StatusBadRequest, ReasonInvalidField, field, msg)
}

func invalidID(field string, cause error) *Error {
	e := newError(http.StatusBadRequest, ReasonInvalidID, field, cause.Error())
	e.cause = cause
	return e
}

func tooMany(field, msg string) *Error {
	return newError(http.StatusBadRequest, ReasonLimitExceeded, field, msg)
}
