package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	require.NoError(t, WriteFile(OS, p, []byte("old"), Options{}))
	require.NoError(t, WriteFile(OS, p, []byte("new content"), Options{Perm: 0o600}))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "new content", string(got))
	info, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.Equal(t, []string{"state.json"}, entries(t, dir), "no temporary file is left")
}

func TestAbortLeavesTheTarget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "part")
	require.NoError(t, WriteFile(OS, p, []byte("v1"), Options{}))
	f, err := Create(OS, p, Options{TempPrefix: ".evidence-tmp-"})
	require.NoError(t, err)
	_, err = f.Write([]byte("half"))
	require.NoError(t, err)
	assert.Len(t, entries(t, dir), 2, "the data goes to a temporary file")
	f.Abort()
	f.Abort()
	require.Error(t, f.Commit(), "nothing to commit after abort")
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got))
	assert.Equal(t, []string{"part"}, entries(t, dir))
}

func TestTempNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	a, err := Create(OS, p, Options{TempPrefix: ".pre-"})
	require.NoError(t, err)
	b, err := Create(OS, p, Options{TempPrefix: ".pre-"})
	require.NoError(t, err)
	assert.NotEqual(t, a.tmp, b.tmp, "prefixed names never collide")
	assert.Regexp(t, `^\.pre-x-\w+$`, filepath.Base(a.tmp))
	a.Abort()
	b.Abort()

	// A suffixed name replaces what an interrupted writer left.
	require.NoError(t, os.WriteFile(p+".partial", []byte("torn and longer"), 0o600))
	c, err := Create(OS, p, Options{TempSuffix: ".partial"})
	require.NoError(t, err)
	_, err = c.Write([]byte("ok"))
	require.NoError(t, err)
	require.NoError(t, c.Commit())
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(got))
	assert.Equal(t, []string{"x"}, entries(t, dir))
}

func TestInsideRoot(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, root.Close()) }()
	require.NoError(t, root.Mkdir("a", 0o750))
	require.NoError(t, WriteFile(root, "a/obj", []byte("data"), Options{}))
	got, err := os.ReadFile(filepath.Join(dir, "a", "obj"))
	require.NoError(t, err)
	assert.Equal(t, "data", string(got))
	require.Error(t, WriteFile(root, "../escape", []byte("x"), Options{}), "a root keeps names inside")
	require.NoError(t, SyncDir(root, "a"))
	require.Error(t, SyncDir(root, "missing"))
}
