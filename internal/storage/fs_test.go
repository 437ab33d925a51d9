package storage

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/otel-evidence/otel-evidence/pkg/store/storetest"

	"github.com/otel-evidence/otel-evidence/pkg/store"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testutil/testfiles"
)

func newTestFilesystem(t testing.TB) *Filesystem {
	t.Helper()
	s, err := NewFilesystem(filepath.Join(t.TempDir(), "evidence"))
	require.NoError(t, err)
	return s
}

func TestFilesystemConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newTestFilesystem(t) })
}

func TestFilesystemFailedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := newTestFilesystem(t)
	tests := []struct {
		name string
		r    io.Reader
		size int64
	}{
		{name: "short", r: strings.NewReader("abc"), size: 4},
		{name: "long", r: strings.NewReader("abcde"), size: 4},
		{name: "reader error", r: io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(io.ErrClosedPipe)), size: 4},
		{name: "timeout", r: iotest.TimeoutReader(strings.NewReader("abcd")), size: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, s.Put(ctx, "parts/p1", iotest.OneByteReader(tt.r), tt.size, store.PutOptions{}))
			require.Empty(t, testfiles.List(t, s.Dir()), "no object and no temporary file may remain")
		})
	}
	// A failed overwrite keeps the previous object intact.
	require.NoError(t, s.Put(ctx, "parts/p1", strings.NewReader("good"), 4, store.PutOptions{}))
	require.ErrorIs(t, s.Put(ctx, "parts/p1", strings.NewReader("bad"), 4, store.PutOptions{}), store.ErrSizeMismatch)
	got, _ := storetest.Get(t, s, "parts/p1")
	require.Equal(t, "good", string(got))
	require.Equal(t, []string{"parts/p1"}, testfiles.List(t, s.Dir()))
}

// TestFilesystemReadersSeeWholeObjects overwrites one key with two payloads
// while readers check they only ever see one of them complete.
func TestFilesystemReadersSeeWholeObjects(t *testing.T) {
	ctx := context.Background()
	s := newTestFilesystem(t)
	a := bytes.Repeat([]byte("A"), 64<<10)
	b := bytes.Repeat([]byte("B"), 32<<10)
	require.NoError(t, s.Put(ctx, "obj", bytes.NewReader(a), int64(len(a)), store.PutOptions{}))

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				rc, info, err := s.Get(ctx, "obj")
				if !assertNoError(t, err) {
					return
				}
				got, err := io.ReadAll(rc)
				_ = rc.Close()
				if !assertNoError(t, err) {
					return
				}
				if !bytes.Equal(got, a) && !bytes.Equal(got, b) || int64(len(got)) != info.Size {
					t.Errorf("read a torn object: %d bytes, info size %d", len(got), info.Size)
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := range 20 {
		p := a
		if i%2 == 0 {
			p = b
		}
		require.NoError(t, s.Put(ctx, "obj", bytes.NewReader(p), int64(len(p)), store.PutOptions{}))
	}
	stop.Store(true)
	wg.Wait()
	require.Positive(t, reads.Load())
	require.Equal(t, []string{"obj"}, testfiles.List(t, s.Dir()))
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func TestFilesystemIgnoresTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	s := newTestFilesystem(t)
	storetest.Put(t, s, "inc/part-1", []byte("1"))
	// Leftovers of a crash in the middle of a Put.
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir(), "inc", store.ReservedPrefix+"part-2-XYZ"), []byte("partial"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(s.Dir(), store.ReservedPrefix+"dir"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir(), store.ReservedPrefix+"dir", "x"), []byte("x"), 0o600))

	list, err := s.List(ctx, "", "")
	require.NoError(t, err)
	require.Equal(t, []string{"inc/part-1"}, storetest.Keys(list))
}

func TestFilesystemStaysInsideRoot(t *testing.T) {
	ctx := context.Background()
	s := newTestFilesystem(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600))
	// A symbolic link planted in the store must not lead out of it.
	require.NoError(t, os.Symlink(outside, filepath.Join(s.Dir(), "escape")))

	_, _, err := s.Get(ctx, "escape/secret")
	require.Error(t, err)
	_, err = s.Stat(ctx, "escape/secret")
	require.Error(t, err)
	require.Error(t, s.Put(ctx, "escape/new", strings.NewReader("x"), 1, store.PutOptions{}))
	require.Error(t, s.Delete(ctx, "escape/secret"))
	list, err := s.List(ctx, "", "")
	require.NoError(t, err)
	require.Empty(t, list)
	require.Equal(t, []string{"secret"}, testfiles.List(t, outside))
}

func TestFilesystemKeyFileConflicts(t *testing.T) {
	ctx := context.Background()
	s := newTestFilesystem(t)
	storetest.Put(t, s, "a", []byte("file"))
	require.ErrorContains(t, s.Put(ctx, "a/b", strings.NewReader("x"), 1, store.PutOptions{}), "not a directory")
	storetest.Put(t, s, "d/e", []byte("x"))
	require.Error(t, s.Put(ctx, "d", strings.NewReader("x"), 1, store.PutOptions{}))
	require.NoError(t, s.Delete(ctx, "d"), "a directory is not an object")
	got, _ := storetest.Get(t, s, "d/e")
	require.Equal(t, "x", string(got))
	require.ElementsMatch(t, []string{"a", "d/e"}, testfiles.List(t, s.Dir()))
}

func TestNewFilesystem(t *testing.T) {
	t.Run("relative directory", func(t *testing.T) {
		t.Chdir(t.TempDir())
		s, err := NewFilesystem("var/evidence")
		require.NoError(t, err)
		wd, err := os.Getwd()
		require.NoError(t, err)
		require.Equal(t, filepath.Join(wd, "var", "evidence"), s.Dir())
		require.DirExists(t, s.Dir())
		require.Equal(t, "file://"+filepath.ToSlash(s.Dir()), s.String())
	})
	t.Run("string escapes", func(t *testing.T) {
		s, err := NewFilesystem(filepath.Join(t.TempDir(), "with space"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(s.String(), "file:///"))
		require.True(t, strings.HasSuffix(s.String(), "/with%20space"), s.String())
	})
	t.Run("empty", func(t *testing.T) {
		_, err := NewFilesystem("")
		require.Error(t, err)
	})
	t.Run("not a directory", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		_, err := NewFilesystem(p)
		require.Error(t, err)
	})
}

func BenchmarkFilesystemPut(b *testing.B) {
	s := newTestFilesystem(b)
	data := bytes.Repeat([]byte("evidence"), 128<<10/8) // 128 KiB, a small part
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.Put(ctx, "incidents/INC-1/collectors/c1/part-000001.tar.zst", bytes.NewReader(data), int64(len(data)), store.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
