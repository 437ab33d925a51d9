package triggers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Limits on what a payload may carry. Bodies above MaxBodyBytes are refused
// with 413; the receiver should cap its reads at the same size
// (http.MaxBytesReader). The other limits are refused with 400
// limit_exceeded, except derived titles, which are shortened.
const (
	MaxBodyBytes             = 4 << 20
	MaxLabels                = 256 // per label or annotation map
	MaxLabelNameLength       = 256
	MaxLabelValueLength      = 4096
	MaxAnnotationValueLength = 64 << 10
	MaxTitleLength           = 1024
	MaxTextLength            = 256 // severity, version, environment, status, ...
	MaxScopeMatchers         = 32
	MaxLinks                 = 32
	MaxURLLength             = 4096
)

// decode unmarshals a JSON object body into v. Syntax errors, non-object
// bodies and trailing data are malformed_json; unknown members are ignored
// (the tools add fields over time). A type mismatch is returned as
// invalid_field after v has been filled as far as possible, so that callers
// can check a version member first.
func decode(body []byte, v any) *Error {
	if len(body) > MaxBodyBytes {
		return newError(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "",
			fmt.Sprintf("body is %d bytes, the limit is %d", len(body), MaxBodyBytes))
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return malformed("body is empty")
	}
	if trimmed[0] != '{' {
		return malformed("body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &typeErr):
		// Decoding went on past the mismatch; report it once the rest of
		// the body is known to be well-formed.
	default:
		return jsonSyntaxError(err)
	}
	if _, terr := dec.Token(); terr != io.EOF {
		return malformed("unexpected data after the JSON object")
	}
	if typeErr != nil {
		return typeError("", typeErr)
	}
	return nil
}

// decodeValue unmarshals one already well-formed JSON value (such as one
// alert of a group) into v; prefix names it in errors.
func decodeValue(raw json.RawMessage, prefix string, v any) *Error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeError(prefix, typeErr)
	}
	return invalid(prefix, err.Error())
}

func jsonSyntaxError(err error) *Error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return malformed(fmt.Sprintf("%v (at byte %d)", syn, syn.Offset))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("body ends inside a JSON value")
	}
	return malformed(err.Error())
}

func typeError(prefix string, e *json.UnmarshalTypeError) *Error {
	field := joinField(prefix, e.Field)
	return invalid(field, fmt.Sprintf("must be %s, got JSON %s", jsonKind(e.Type.String()), e.Value))
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "map["):
		return "an object of strings"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	default:
		return "an object"
	}
}

func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}

// parseTime parses an optional RFC 3339 timestamp into UTC. "" and Go's zero
// time (Alertmanager's "0001-01-01T00:00:00Z" for "not ended") mean unset.
// Times that cannot be written back as RFC 3339 are refused.
func parseTime(field, s string) (time.Time, *Error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid(field, fmt.Sprintf("must be an RFC 3339 timestamp such as 2006-01-02T15:04:05Z, got %q", truncate(s, 64)))
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, invalid(field, fmt.Sprintf("year %d is out of range", y))
	}
	return t, nil
}

// checkLabels enforces the label limits on one map.
func checkLabels(field string, m map[string]string, maxValue int) *Error {
	if len(m) > MaxLabels {
		return tooMany(field, fmt.Sprintf("has %d entries, the limit is %d", len(m), MaxLabels))
	}
	for k, v := range m {
		switch {
		case k == "":
			return invalid(field, "label names must not be empty")
		case len(k) > MaxLabelNameLength:
			return tooMany(field, fmt.Sprintf("label name %q... is longer than %d bytes", truncate(k, 32), MaxLabelNameLength))
		case len(v) > maxValue:
			return tooMany(joinField(field, k), fmt.Sprintf("is longer than %d bytes", maxValue))
		}
	}
	return nil
}

// checkText enforces a length limit on a free-text member.
func checkText(field, s string, limit int) *Error {
	if len(s) > limit {
		return tooMany(field, fmt.Sprintf("is longer than %d bytes", limit))
	}
	return nil
}

// validateGivenID checks an ID taken from a payload as is: never sanitized.
func validateGivenID(field, id string) *Error {
	if id == "" {
		return missing(field)
	}
	if err := incident.ValidateID(id); err != nil {
		return invalidID(field, err)
	}
	return nil
}

// hashID derives a stable ID from an arbitrary key: prefix + the first 16
// hex characters of its SHA-256.
func hashID(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:])[:16]
}

// deriveID turns an outside identifier into an ID: prefix+raw when raw is
// already safe and short enough, else a sanitized readable part plus a hash
// of raw, so that distinct inputs never collide after sanitizing.
func deriveID(prefix, raw string) string {
	id := prefix + raw
	if incident.SanitizeID(raw) == raw && incident.ValidateID(id) == nil {
		return id
	}
	readable := incident.SanitizeID(raw)
	if len(readable) > 64 {
		readable = readable[:64]
	}
	if readable == "" {
		return hashID(prefix, raw)
	}
	return hashID(prefix+readable+"-", raw)
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// webURL reports whether s is an absolute http or https URL of bounded
// length: the only links we keep, since they end up in front of people.
func webURL(s string) bool {
	if s == "" || len(s) > MaxURLLength {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// linkSet collects links without duplicates, up to MaxLinks.
type linkSet struct {
	links []incident.Link
	seen  map[string]bool
}

func (l *linkSet) add(href, text string) {
	if !webURL(href) || l.seen[href] || len(l.links) >= MaxLinks {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[href] = true
	l.links = append(l.links, incident.Link{Href: href, Text: text})
}

func copyLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// orNow returns t, or now when t is unset.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// notAfter returns t clamped to now, for times reported by clocks that run
// ahead: an incident never starts or resolves in the future.
func notAfter(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}
