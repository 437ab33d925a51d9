package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestValidateKey(t *testing.T) {
	valid := []string{
		"a",
		"incidents/INC-1/collectors/c1/part-000001.tar.zst",
		"incidents/INC..1/incident.json", // ".." inside a segment is harmless
		"..a/b..",
		".hidden",
		"control/2026-01-01T00:00:00Z.json",
		"ünïcode/ключ",
		"with space/and+plus",
		strings.Repeat("k", MaxKeyLength),
	}
	for _, key := range valid {
		t.Run("valid "+testName(key), func(t *testing.T) {
			require.NoError(t, ValidateKey(key))
		})
	}
	for _, key := range invalidKeys {
		t.Run("invalid "+testName(key), func(t *testing.T) {
			err := ValidateKey(key)
			require.ErrorIs(t, err, ErrInvalidKey)
		})
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range append([]string{"a/b", "incidents/INC-1/incident.json", "a..b/c"}, invalidKeys...) {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		// Every accepted key is a canonical local path on every OS.
		if !filepath.IsLocal(key) || path.Clean(key) != key || !utf8.ValidString(key) ||
			strings.ContainsAny(key, "\\\x00") || len(key) > MaxKeyLength {
			t.Fatalf("ValidateKey accepted unsafe key %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, tempPrefix) {
				t.Fatalf("ValidateKey accepted segment %q in %q", seg, key)
			}
		}
	})
}

func TestExactReader(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		size    int64
		want    string
		wantErr error
	}{
		{name: "exact", r: strings.NewReader("hello"), size: 5, want: "hello"},
		{name: "exact one byte reads", r: iotest.OneByteReader(strings.NewReader("hello")), size: 5, want: "hello"},
		{name: "exact with data and EOF together", r: iotest.DataErrReader(strings.NewReader("hello")), size: 5, want: "hello"},
		{name: "empty", r: strings.NewReader(""), size: 0, want: ""},
		{name: "short", r: strings.NewReader("hell"), size: 5, wantErr: ErrSizeMismatch},
		{name: "long", r: strings.NewReader("hello!"), size: 5, wantErr: ErrSizeMismatch},
		{name: "long at zero", r: strings.NewReader("x"), size: 0, wantErr: ErrSizeMismatch},
		{name: "error", r: io.MultiReader(strings.NewReader("he"), iotest.ErrReader(boom)), size: 5, wantErr: boom},
		{name: "error at probe", r: io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(boom)), size: 5, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xr := newExactReader(context.Background(), tt.r, tt.size)
			got, err := io.ReadAll(xr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, xr.failure(), tt.wantErr)
				require.Less(t, int64(len(got)), max(tt.size, 1), "a bad stream never yields all bytes")
				return
			}
			require.NoError(t, err)
			require.NoError(t, xr.failure())
			require.Equal(t, tt.want, string(got))
		})
	}
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		xr := newExactReader(ctx, bytes.NewReader(make([]byte, 10)), 10)
		_, err := xr.Read(make([]byte, 4))
		require.NoError(t, err)
		cancel()
		_, err = xr.Read(make([]byte, 4))
		require.ErrorIs(t, err, context.Canceled)
	})
}

func BenchmarkValidateKey(b *testing.B) {
	key := "incidents/INC-2026-0042/collectors/otelcol-7f9c-abcde/part-000123.tar.zst"
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateKey(key); err != nil {
			b.Fatal(err)
		}
	}
}
