package timeline

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
)

// The scan reads one line of OTLP JSON (an Export*ServiceRequest) and
// extracts what the analysis needs without building pdata: the fields of
// spans, log records and data points it uses, and the attributes
// service.name, service.version and deployment.id. It accepts the
// canonical form pdata's JSON marshaler writes (camelCase keys, IDs in
// hex, integers as strings or numbers, enums as numbers); anything else it
// is unsure of (snake_case keys, an enum by name, a tag that is not a
// plain string, escapes in a string it reads, a duplicated oneof) is
// errRescan, and the caller decodes the line with pdata instead, so the
// analysis sees exactly what pdata would. Fields the analysis does not use
// are checked for JSON syntax only, and strings for their end and escapes
// only.

// errRescan asks the caller to decode the line with pdata.
var errRescan = errors.New("not in the canonical OTLP JSON form")

// scanner walks JSON held in memory. Every method leaves pos after what it
// read; errors are returned, never panics.
type scanner struct {
	b   []byte
	pos int
	// depth bounds nesting, as encoding/json does.
	depth int
}

const maxScanDepth = 10000

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-blank byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.b) {
		return 0
	}
	return s.b[s.pos]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.errorf("want %q", c)
	}
	s.pos++
	return nil
}

// object calls field with every key of the object that starts here, with
// pos at its value; field must read the value.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.depth++; s.depth > maxScanDepth {
		return s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped {
			return errRescan // a key spelled with escapes
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or '}'")
		}
	}
}

// array calls elem for every element of the array (or null) that starts
// here, with pos at the element.
func (s *scanner) array(elem func() error) error {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.depth++; s.depth > maxScanDepth {
		return s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or ']'")
		}
	}
}

// str reads a string and returns its raw content (escapes not decoded)
// and whether it has any. Only its end and its escapes are checked.
func (s *scanner) str() ([]byte, bool, error) {
	if err := s.expect('"'); err != nil {
		return nil, false, err
	}
	start := s.pos
	// The common case, a string without escapes, in one search.
	if i := bytes.IndexByte(s.b[start:], '"'); i >= 0 && bytes.IndexByte(s.b[start:start+i], '\\') < 0 {
		s.pos = start + i + 1
		return s.b[start : start+i], false, nil
	}
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case '"':
			s.pos++
			return s.b[start : s.pos-1], true, nil
		case '\\':
			if s.pos+1 >= len(s.b) {
				return nil, false, s.errorf("unterminated string")
			}
			switch s.b[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.b) || !isHex(s.b[s.pos+2:s.pos+6]) {
					return nil, false, s.errorf("bad \\u escape")
				}
				s.pos += 6
			default:
				return nil, false, s.errorf("bad escape")
			}
		default:
			s.pos++
		}
	}
	return nil, false, s.errorf("unterminated string")
}

func isHex(b []byte) bool {
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func (s *scanner) literal(word string) error {
	s.ws()
	if len(s.b)-s.pos < len(word) || string(s.b[s.pos:s.pos+len(word)]) != word {
		return s.errorf("want %s", word)
	}
	s.pos += len(word)
	return nil
}

// number skips a JSON number and returns its text.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.pos
	if s.pos < len(s.b) && s.b[s.pos] == '-' {
		s.pos++
	}
	digits := func() int {
		n := 0
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.pos < len(s.b) && s.b[s.pos] == '0' {
		s.pos++
	} else if digits() == 0 {
		return nil, s.errorf("want a value")
	}
	if s.pos < len(s.b) && s.b[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	if s.pos < len(s.b) && (s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.b) && (s.b[s.pos] == '+' || s.b[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	return s.b[start:s.pos], nil
}

// skip reads any value.
func (s *scanner) skip() error {
	switch s.peek() {
	case '{':
		return s.object(func([]byte) error { return s.skip() })
	case '[':
		return s.array(s.skip)
	case '"':
		_, _, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, err := s.number()
	return err
}

// uint reads an unsigned integer, as a string of digits or a number, as
// pdata reads OTLP's 64-bit integers; anything else is errRescan.
func (s *scanner) uint() (uint64, error) {
	var digits []byte
	if s.peek() == '"' {
		raw, escaped, err := s.str()
		if err != nil {
			return 0, err
		}
		if escaped {
			return 0, errRescan
		}
		digits = raw
	} else {
		raw, err := s.number()
		if err != nil {
			return 0, err
		}
		digits = raw
	}
	if len(digits) == 0 || len(digits) > 20 {
		return 0, errRescan
	}
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, errRescan
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, errRescan
		}
		v = v*10 + d
	}
	return v, nil
}

// id reads a hex ID into dst (all zero for "").
func (s *scanner) id(dst []byte) error {
	raw, escaped, err := s.str()
	if err != nil {
		return err
	}
	clear(dst)
	if len(raw) == 0 {
		return nil
	}
	if escaped || len(raw) != 2*len(dst) {
		return errRescan
	}
	if _, err := hex.Decode(dst, raw); err != nil {
		return errRescan
	}
	return nil
}

// plain reads a string without escapes; a string with escapes, or another
// value, is errRescan.
func (s *scanner) plain() (string, error) {
	if s.peek() != '"' {
		return "", errRescan
	}
	raw, escaped, err := s.str()
	if err != nil {
		return "", err
	}
	if escaped {
		return "", errRescan
	}
	return string(raw), nil
}

// tag is an attribute the analysis reads.
type tag int

const (
	tagNone tag = iota
	tagService
	tagVersion
	tagDeployment
)

func tagOf(key []byte) tag {
	switch string(key) {
	case serviceNameKey:
		return tagService
	case serviceVersionKey:
		return tagVersion
	case deploymentIDKey:
		return tagDeployment
	}
	return tagNone
}

// tags are the tags an attribute list sets; the last of a key wins, as it
// does reading pdata's attributes in order.
type tags struct {
	service, version, deployment string
	hasService, hasVersion       bool
	hasDeployment                bool
}

// attributes reads a KeyValue array into t. A tag whose value is not a
// plain string is errRescan: pdata would turn it into a string.
func (s *scanner) attributes(t *tags) error {
	return s.array(func() error {
		var key []byte
		keySeen, valueSeen := false, false
		var value string
		var valueOK bool
		var valueErr error
		err := s.object(func(k []byte) error {
			switch string(k) {
			case "key":
				if keySeen {
					return errRescan
				}
				keySeen = true
				raw, escaped, err := s.str()
				if err != nil {
					return err
				}
				if escaped {
					return errRescan
				}
				key = raw
				return nil
			case "value":
				if valueSeen {
					return errRescan
				}
				valueSeen = true
				// Read the value now; whether it matters is known once the
				// key is (keys come first in the canonical form).
				if keySeen && tagOf(key) == tagNone {
					return s.skip()
				}
				value, valueOK, valueErr = s.stringValue()
				return valueErr
			}
			return errRescan
		})
		if err != nil {
			return err
		}
		tg := tagOf(key)
		if tg == tagNone {
			return nil
		}
		if !valueOK {
			return errRescan
		}
		switch tg {
		case tagService:
			t.service, t.hasService = value, true
		case tagVersion:
			t.version, t.hasVersion = value, true
		case tagDeployment:
			t.deployment, t.hasDeployment = value, true
		}
		return nil
	})
}

// stringValue reads an AnyValue and returns its string when it is exactly
// {"stringValue": "plain"}; ok is false for any other value.
func (s *scanner) stringValue() (string, bool, error) {
	var out string
	n, ok := 0, true
	err := s.object(func(k []byte) error {
		n++
		if string(k) != "stringValue" || s.peek() != '"' {
			ok = false
			return s.skip()
		}
		raw, escaped, err := s.str()
		ok = ok && !escaped
		out = string(raw)
		return err
	})
	return out, ok && n == 1, err
}
