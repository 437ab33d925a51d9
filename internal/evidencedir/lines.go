package evidencedir

import (
	"bufio"
	"bytes"
	"io"
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

// ReadLines calls fn with every non-blank line of r.
func ReadLines(r io.Reader, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(n, bytes.TrimRight(line, "\r\n")); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
