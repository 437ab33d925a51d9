package store_test

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/store"
	"github.com/otel-evidence/otel-evidence/pkg/store/storetest"
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
		strings.Repeat("k", store.MaxKeyLength),
	}
	for _, key := range valid {
		t.Run("valid "+storetest.KeyName(key), func(t *testing.T) {
			require.NoError(t, store.ValidateKey(key))
		})
	}
	for _, key := range storetest.InvalidKeys {
		t.Run("invalid "+storetest.KeyName(key), func(t *testing.T) {
			err := store.ValidateKey(key)
			require.ErrorIs(t, err, store.ErrInvalidKey)
		})
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range append([]string{"a/b", "incidents/INC-1/incident.json", "a..b/c"}, storetest.InvalidKeys...) {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if store.ValidateKey(key) != nil {
			return
		}
		// Every accepted key is a canonical local path on every OS.
		if !filepath.IsLocal(key) || path.Clean(key) != key || !utf8.ValidString(key) ||
			strings.ContainsAny(key, "\\\x00") || len(key) > store.MaxKeyLength {
			t.Fatalf("ValidateKey accepted unsafe key %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, store.ReservedPrefix) {
				t.Fatalf("ValidateKey accepted segment %q in %q", seg, key)
			}
		}
	})
}

func BenchmarkValidateKey(b *testing.B) {
	key := "incidents/INC-2026-0042/collectors/otelcol-7f9c-abcde/part-000123.tar.zst"
	b.ReportAllocs()
	for b.Loop() {
		if err := store.ValidateKey(key); err != nil {
			b.Fatal(err)
		}
	}
}
