package cli

import (
	"fmt"
	"io"
)

// textWriter prints human-readable results and keeps the first write
// error, so a report of many lines checks for failure once, at the end.
type textWriter struct {
	w   io.Writer
	err error
}

// printf writes a formatted string unless an earlier write failed.
func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// println writes its operands and a newline unless an earlier write failed.
func (t *textWriter) println(args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintln(t.w, args...)
	}
}
