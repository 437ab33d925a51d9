package release

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDirFilesTarGzAndChecksumsAreStable(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b/z.json", "a.txt", "b/a/y"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(f), 0o600))
	}
	files, err := DirFiles(dir, "top/")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"top/a.txt", "top/b/a/y", "top/b/z.json"}, names)

	mtime := time.Unix(1_700_000_000, 0)
	one, err := TarGz(files, mtime)
	require.NoError(t, err)
	// A later write of the same files gives the same bytes.
	for _, f := range []string{"a.txt", "b/a/y", "b/z.json"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, f), time.Now(), time.Now()))
	}
	files, err = DirFiles(dir, "top/")
	require.NoError(t, err)
	two, err := TarGz(files, mtime)
	require.NoError(t, err)
	require.Equal(t, one, two)

	out := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(out, "x.tar.gz"), one, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "a.deb"), []byte("deb"), 0o644))
	sums, err := WriteChecksums(out)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{64}  a\.deb\n[0-9a-f]{64}  x\.tar\.gz\n$`, sums)
	again, err := WriteChecksums(out)
	require.NoError(t, err)
	require.Equal(t, sums, again, "sha256sums.txt does not list itself")
}
