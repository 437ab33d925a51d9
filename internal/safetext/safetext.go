// Package safetext is the one escaping rule for evidence-derived text in
// human output (tables, reports, errors, progress, the Markdown timeline).
//
// Evidence comes from webhooks, telemetry and the store, so any string in
// it may carry terminal control sequences (ESC, BEL, CSI), NUL bytes, line
// breaks that forge extra output lines, bidirectional overrides that
// reorder what is shown, or bytes that are not UTF-8. Escape makes such a
// string one inert line: every C0 and C1 control character, DEL, every
// bidirectional formatting character and every invalid byte is written as
// a Go-style escape (\x1b, \n, \u202e), visible rather than acted on.
// Everything else, including a backslash, is kept as it is: the escape is
// for eyes, not for parsing back (JSON output carries the raw values).
package safetext

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Escape returns s as one safe line.
func Escape(s string) string {
	if isSafe(s) {
		return s
	}
	return escape(s)
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			// Multi-byte: decide rune by rune.
			return isSafeRunes(s[i:])
		}
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func isSafeRunes(s string) bool {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w == 1) || unsafeRune(r) {
			return false
		}
		i += w
	}
	return true
}

// unsafeRune reports whether r is escaped.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional formatting
	case r == 0x2028 || r == 0x2029:
		return true // line and paragraph separators
	}
	return false
}

func escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafeRune(r):
			b.WriteString(s[i : i+w])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += w
	}
	return b.String()
}

// Args returns args with every string (of any string type), error and
// non-numeric fmt.Stringer replaced by its escaped text, for fmt's
// printing functions whose format is the program's own. Numbers keep their
// type, so that %d still formats them.
func Args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
		if a == nil {
			continue
		}
		switch v := a.(type) {
		case string:
			out[i] = Escape(v)
			continue
		case error:
			out[i] = Escape(v.Error())
			continue
		}
		rv := reflect.ValueOf(a)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.Bool:
			continue
		}
		if v, ok := a.(fmt.Stringer); ok {
			out[i] = Escape(v.String())
		} else if rv.Kind() == reflect.String {
			out[i] = Escape(rv.String())
		}
	}
	return out
}
