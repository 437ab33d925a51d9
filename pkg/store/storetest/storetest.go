// Package storetest checks a store.Store implementation against the
// contract every evidence store keeps (atomic puts, exact sizes, sorted
// listing, key validation), and holds the small helpers those checks use.
package storetest // import "github.com/otel-evidence/otel-evidence/pkg/store/storetest"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// NewStoreFunc returns an empty store for one subtest.
type NewStoreFunc func(t *testing.T) store.Store

// Run checks the store.Store contract; every backend must pass it.
func Run(t *testing.T, newStore NewStoreFunc) {
	t.Run("PutGetStat", func(t *testing.T) { testPutGetStat(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("OverwriteWhileReading", func(t *testing.T) { testOverwriteWhileReading(t, newStore(t)) })
	t.Run("EmptyObject", func(t *testing.T) { testEmptyObject(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("ReaderError", func(t *testing.T) { testReaderError(t, newStore(t)) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrentPuts(t, newStore(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceledContext(t, newStore(t)) })
}

func Put(t *testing.T, s store.Store, key string, data []byte) {
	t.Helper()
	// iotest.OneByteReader hides Seek, ReadAt and WriteTo, like a pipe.
	r := iotest.OneByteReader(bytes.NewReader(data))
	if len(data) > 4096 {
		r = io.MultiReader(bytes.NewReader(data))
	}
	require.NoError(t, s.Put(context.Background(), key, r, int64(len(data)), store.PutOptions{ContentType: "application/octet-stream"}))
}

func Get(t *testing.T, s store.Store, key string) ([]byte, store.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b, info
}

// Keys returns the keys of infos, in order.
func Keys(infos []store.ObjectInfo) []string {
	out := make([]string, 0, len(infos))
	for _, i := range infos {
		out = append(out, i.Key)
	}
	return out
}

func testPutGetStat(t *testing.T, s store.Store) {
	ctx := context.Background()
	const key = "incidents/INC-1/collectors/c1/part-000001.tar.zst"
	data := []byte("zstd bytes \x00\x01\x02 and more")
	before := time.Now().Add(-time.Minute)
	Put(t, s, key, data)

	got, info := Get(t, s, key)
	require.Equal(t, data, got)
	require.Equal(t, key, info.Key)
	require.Equal(t, int64(len(data)), info.Size)
	require.WithinRange(t, info.Modified, before, time.Now().Add(time.Minute))

	st, err := s.Stat(ctx, key)
	require.NoError(t, err)
	require.Equal(t, key, st.Key)
	require.Equal(t, int64(len(data)), st.Size)

	// A seekable reader positioned after its start uploads the rest only.
	r := bytes.NewReader([]byte("skip:payload"))
	_, err = r.Seek(5, io.SeekStart)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "seek", r, 7, store.PutOptions{}))
	got, _ = Get(t, s, "seek")
	require.Equal(t, "payload", string(got))
}

func testOverwrite(t *testing.T, s store.Store) {
	Put(t, s, "manifest.json", []byte(`{"complete":false}`))
	Put(t, s, "manifest.json", []byte(`{"complete":true,"parts":3}`))
	got, info := Get(t, s, "manifest.json")
	require.JSONEq(t, `{"complete":true,"parts":3}`, string(got))
	require.Equal(t, int64(len(got)), info.Size)
}

// testOverwriteWhileReading replaces an object between Get and the read:
// the reader still gives the version Get opened, whole.
func testOverwriteWhileReading(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := bytes.Repeat([]byte(`{"complete":false}`), 1000)
	Put(t, s, "manifest.json", first)
	rc, info, err := s.Get(ctx, "manifest.json")
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	require.Equal(t, int64(len(first)), info.Size)
	Put(t, s, "manifest.json", []byte(`{"complete":true,"parts":3}`))
	got, err := io.ReadAll(rc)
	require.NoError(t, err, "an object replaced after Get must still read as it was opened")
	require.Equal(t, first, got)
}

func testEmptyObject(t *testing.T, s store.Store) {
	Put(t, s, "empty", nil)
	got, info := Get(t, s, "empty")
	require.Empty(t, got)
	require.Zero(t, info.Size)
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, "dir/present", []byte("x"))
	for _, key := range []string{"missing", "dir/missing", "dir/present/below", "dir"} {
		t.Run(key, func(t *testing.T) {
			_, err := s.Stat(ctx, key)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, _, err = s.Get(ctx, key)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, s.Delete(ctx, key), "deleting a missing key is not an error")
		})
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, "a/one", []byte("1"))
	Put(t, s, "a/two", []byte("2"))
	require.NoError(t, s.Delete(ctx, "a/one"))
	_, err := s.Stat(ctx, "a/one")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.Delete(ctx, "a/one"), "second delete")
	list, err := s.List(ctx, "", "")
	require.NoError(t, err)
	require.Equal(t, []string{"a/two"}, Keys(list))
}

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	all := []string{
		"a-c",
		"a/b",
		"control/0001-open.json",
		"incidents/INC-1-x/incident.json",
		"incidents/INC-1/collectors/c1/manifest.json",
		"incidents/INC-1/collectors/c1/part-000001.tar.zst",
		"incidents/INC-1/collectors/c1/part-000002.tar.zst",
		"incidents/INC-1/collectors/c2/part-000001.tar.zst",
		"incidents/INC-1/incident.json",
		"incidents/INC-10/incident.json",
		"z",
	}
	// Write in a scrambled order; List must sort.
	for i := range all {
		k := all[(i*7)%len(all)]
		Put(t, s, k, []byte(k))
	}
	tests := []struct {
		name, prefix, startAfter string
		want                     []string
	}{
		{name: "all", want: all},
		{name: "dash sorts before slash", prefix: "a", want: []string{"a-c", "a/b"}},
		{name: "directory prefix", prefix: "incidents/INC-1/", want: all[4:9]},
		{name: "partial segment prefix", prefix: "incidents/INC-1", want: all[3:10]},
		{name: "collector", prefix: "incidents/INC-1/collectors/c1/", want: all[4:7]},
		{name: "partial name prefix", prefix: "incidents/INC-1/collectors/c1/part-", want: all[5:7]},
		{name: "start after a key", prefix: "incidents/", startAfter: "incidents/INC-1/collectors/c1/part-000001.tar.zst", want: all[6:10]},
		{name: "start after a non-key", startAfter: "incidents/INC-1/collectors/c2", want: all[7:]},
		{name: "start after a directory", startAfter: "incidents/INC-1/collectors/", want: all[4:]},
		{name: "start after a skipped directory", startAfter: "incidents/INC-1/collectors/c1/zzz", want: all[7:]},
		{name: "start after below prefix", prefix: "incidents/INC-10/", startAfter: "a", want: all[9:10]},
		{name: "start after beyond prefix", prefix: "incidents/INC-1/", startAfter: "incidents/INC-2", want: nil},
		{name: "start after everything", startAfter: "zz", want: nil},
		{name: "no match", prefix: "nothing/", want: nil},
		{name: "file as directory", prefix: "z/", want: nil},
		{name: "exact key as prefix", prefix: "incidents/INC-1/incident.json", want: all[8:9]},
		{name: "invalid prefix matches nothing", prefix: "../", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(ctx, tt.prefix, tt.startAfter)
			require.NoError(t, err)
			require.Equal(t, tt.want, nilIfEmpty(Keys(got)))
			for _, info := range got {
				require.Equal(t, int64(len(info.Key)), info.Size, info.Key)
				require.False(t, info.Modified.IsZero(), info.Key)
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// InvalidKeys are rejected by every backend and every method.
var InvalidKeys = []string{
	"", "/abs", "../x", "a/../b", "a/..", "..", ".", "./a", "a/./b", "a\\b", "a\x00b",
	"a\nb", "a\x7fb", "a//b", "a/", "a\u0085b", "\xff\xfe", strings.Repeat("k", store.MaxKeyLength+1),
	store.ReservedPrefix + "x", "a/" + store.ReservedPrefix + "b",
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, key := range InvalidKeys {
		t.Run(KeyName(key), func(t *testing.T) {
			require.ErrorIs(t, s.Put(ctx, key, strings.NewReader("x"), 1, store.PutOptions{}), store.ErrInvalidKey)
			_, _, err := s.Get(ctx, key)
			require.ErrorIs(t, err, store.ErrInvalidKey)
			_, err = s.Stat(ctx, key)
			require.ErrorIs(t, err, store.ErrInvalidKey)
			require.ErrorIs(t, s.Delete(ctx, key), store.ErrInvalidKey)
		})
	}
	list, err := s.List(ctx, "", "")
	require.NoError(t, err)
	require.Empty(t, list)
}

// KeyName quotes key for a subtest name, shortened to 40 bytes.
func KeyName(key string) string {
	q := fmt.Sprintf("%q", key)
	if len(q) > 40 {
		q = q[:37] + "..."
	}
	return q
}

func testSizeMismatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	data := []byte("0123456789")
	tests := []struct {
		name string
		r    io.Reader
		size int64
	}{
		{name: "stream short", r: iotest.OneByteReader(bytes.NewReader(data)), size: 11},
		{name: "stream long", r: iotest.OneByteReader(bytes.NewReader(data)), size: 9},
		{name: "stream long by one at zero", r: iotest.OneByteReader(bytes.NewReader(data[:1])), size: 0},
		{name: "stream empty", r: iotest.OneByteReader(bytes.NewReader(nil)), size: 3},
		{name: "seekable short", r: bytes.NewReader(data), size: 11},
		{name: "seekable long", r: bytes.NewReader(data), size: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "mismatch/" + strings.ReplaceAll(tt.name, " ", "-")
			err := s.Put(ctx, key, tt.r, tt.size, store.PutOptions{Immutable: true})
			require.ErrorIs(t, err, store.ErrSizeMismatch)
			_, err = s.Stat(ctx, key)
			require.ErrorIs(t, err, store.ErrNotFound, "a failed Put must leave nothing")
		})
	}
	require.Error(t, s.Put(ctx, "negative", bytes.NewReader(nil), -1, store.PutOptions{}))
	list, err := s.List(ctx, "", "")
	require.NoError(t, err)
	require.Empty(t, list)
}

func testReaderError(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("partial content"), iotest.ErrReader(boom))
	err := s.Put(ctx, "broken", r, 100, store.PutOptions{})
	require.ErrorIs(t, err, boom)
	_, err = s.Stat(ctx, "broken")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testConcurrentPuts(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers = 8
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 1000+i) }
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			// Distinct keys in a shared, new directory, plus one shared key.
			assert.NoError(t, s.Put(ctx, fmt.Sprintf("conc/dir/obj-%d", i), bytes.NewReader(payload(i)), int64(1000+i), store.PutOptions{}))
			assert.NoError(t, s.Put(ctx, "conc/shared", bytes.NewReader(payload(i)), int64(1000+i), store.PutOptions{}))
		})
	}
	wg.Wait()
	list, err := s.List(ctx, "conc/dir/", "")
	require.NoError(t, err)
	require.Len(t, list, writers)
	for i := range writers {
		got, _ := Get(t, s, fmt.Sprintf("conc/dir/obj-%d", i))
		require.Equal(t, payload(i), got)
	}
	// The shared key holds exactly one writer's complete payload.
	got, info := Get(t, s, "conc/shared")
	require.Equal(t, int64(len(got)), info.Size)
	i := int(info.Size) - 1000
	require.True(t, i >= 0 && i < writers, "size %d", info.Size)
	require.Equal(t, payload(i), got)
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Put(ctx, "canceled", iotest.OneByteReader(strings.NewReader("abc")), 3, store.PutOptions{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Stat(context.Background(), "canceled")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.List(ctx, "", "")
	require.ErrorIs(t, err, context.Canceled)
}
