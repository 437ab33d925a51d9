package evidencedir

import (
	"bytes"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func FuzzJSONLines(f *testing.F) {
	for _, s := range []string{"{}\n{}\n", "\n\n  \r\n{}", "{}", "a\r\nb\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int
		for _, line := range SplitLines(data) {
			if len(bytes.TrimSpace(line)) == 0 || bytes.ContainsRune(line, '\n') {
				t.Fatalf("bad line %q", line)
			}
			n++
		}
		var m int
		_ = ReadLines(bytes.NewReader(data), func(int, []byte) error { m++; return nil })
		if n != m {
			t.Fatalf("SplitLines found %d lines, ReadLines %d", n, m)
		}
	})
}
