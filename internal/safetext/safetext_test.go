package safetext

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"plain":              "plain",
		"Zürich café ✓":      "Zürich café ✓",
		"a\x1b]0;pwned\x07b": `a\x1b]0;pwned\x07b`,
		"clear\x1b[2J":       `clear\x1b[2J`,
		"nul\x00byte":        `nul\x00byte`,
		"two\nlines\r\ttab":  `two\nlines\r\ttab`,
		"del\x7f":            `del\x7f`,
		"c1\u009b31m":        `c1\x9b31m`,
		"bidi\u202eevil":     `bidi\u202eevil`,
		"bad\xffutf8":        `bad\xffutf8`,
		`back\slash`:         `back\slash`,
		"sep\u2028x":         `sep\u2028x`,
		"":                   "",
	}
	for in, want := range tests {
		assert.Equal(t, want, Escape(in), "%q", in)
	}
}

type stringer struct{}

func (stringer) String() string { return "s\x1b" }

func TestArgs(t *testing.T) {
	type status string
	got := Args([]any{"a\x07", errors.New("e\x00"), stringer{}, 3, time.Duration(5), status("x\x1b"), nil})
	assert.Equal(t, []any{`a\x07`, `e\x00`, `s\x1b`, 3, time.Duration(5), `x\x1b`, nil}, got)
}
