// Package testfiles lists the files tests leave on disk.
package testfiles // import "github.com/otel-evidence/otel-evidence/internal/testutil/testfiles"

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// List returns the regular files below dir, relative to it and
// slash-separated, in the lexical walk order of filepath.WalkDir.
func List(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	require.NoError(tb, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	}))
	return out
}
