package testfiles

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b/c/d.txt", "a.txt", "b/e.txt"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	assert.Equal(t, []string{"a.txt", "b/c/d.txt", "b/e.txt"}, List(t, dir))
	assert.Empty(t, List(t, t.TempDir()))
}
