package evidencedir

import (
	"bytes"
	"io"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// SplitLines splits JSON Lines data into its non-blank lines.
func SplitLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, bytes.TrimRight(line, "\r"))
		}
	}
	return out
}

// ReadLines calls fn with every non-blank line of r. A line longer than
// the bundle's record limit is a *bundle.VerifyError, found before it is
// held: what a file contains never decides how much is held.
func ReadLines(r io.Reader, fn func(n int, line []byte) error) error {
	return bundle.ReadRecords(r, false, bundle.DefaultLimits.MaxRecordSize, fn)
}
