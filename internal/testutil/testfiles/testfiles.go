// Package testfiles lists the files tests leave on disk.
package testfiles // import "github.com/otel-evidence/otel-evidence/internal/testutil/testfiles"

import (
	"io/fs"
	"path/filepath"

	"github.com/stretchr/testify/require"
)

// List returns the regular files below dir, relative to it and
// slash-separated, in the lexical walk order of filepath.WalkDir. tb may be
// the *assert.CollectT of an EventuallyWithT condition.
func List(tb require.TestingT, dir string) []string {
	if h, ok := tb.(interface{ Helper() }); ok {
		h.Helper()
	}
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
