package cli

import (
	"fmt"
	"io"

	"github.com/otel-evidence/otel-evidence/internal/safetext"
)

// textWriter prints human-readable results and keeps the first write
// error, so a report of many lines checks for failure once, at the end.
// Every string, error and Stringer argument is escaped with safetext (the
// one rule for evidence-derived text): the formats are the program's own,
// the values may come from a webhook or an edited store.
type textWriter struct {
	w   io.Writer
	err error
}

// printf writes a formatted string unless an earlier write failed. The
// format is the program's own and is written as it is (tabs of a table
// included); only the arguments are escaped.
func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, safetext.Args(args)...)
	}
}

// println writes its operands, escaped, and a newline unless an earlier
// write failed.
func (t *textWriter) println(args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintln(t.w, safetext.Args(args)...)
	}
}
