package cli

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"

	"github.com/otel-evidence/otel-evidence/internal/storage"
)

func FuzzParseStoreURL(f *testing.F) {
	for _, s := range []string{"file:///srv/evidence", "file://./var/evidence", "file://localhost/x", "file:///a%20b", "file:///%zz",
		"s3://bucket/prefix/x", "s3://b", "s3:///p", "s3://u@b/p?x=1#f", "gs://x", "/plain/dir", "", "://", "S3://B/P"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := parseStoreURL(s)
		if err != nil {
			return
		}
		switch cfg.Backend {
		case storage.BackendFilesystem:
			if cfg.Filesystem.Directory == "" {
				t.Fatalf("%q: empty directory", s)
			}
		case storage.BackendS3:
			if cfg.S3.Bucket == "" || strings.HasPrefix(cfg.S3.Prefix, "/") || strings.HasSuffix(cfg.S3.Prefix, "/") {
				t.Fatalf("%q: bucket %q prefix %q", s, cfg.S3.Bucket, cfg.S3.Prefix)
			}
		default:
			t.Fatalf("%q: backend %q", s, cfg.Backend)
		}
	})
}

func FuzzParseTimeFlag(f *testing.F) {
	for _, s := range []string{"now", "90m", "-2h", "2026-03-02", "2026-03-02T09:30:00Z", "2026-03-02 09:30:00", "9999-12-31T23:59:59.999999999-23:59", "1e9h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTimeFlag(s, testNow)
		if err != nil {
			return
		}
		if got.Location() != testNow.Location() || got.After(testNow) && !strings.ContainsAny(s, ":-") {
			t.Fatalf("%q: %v", s, got)
		}
	})
}

func FuzzParseReceiverError(f *testing.F) {
	for _, s := range []string{`{"error":"invalid_field","field":"id","message":"m"}`, `{"error":""}`, "404 page not found", "", "\xff\xfe", strings.Repeat("x", 500)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := parseReceiverError(body).String()
		// The message is quoted in an error line: valid UTF-8, and never
		// much longer than the body (JSON decoding may widen invalid
		// bytes to U+FFFD).
		if !utf8.ValidString(s) {
			t.Fatalf("message %q is not valid UTF-8", s)
		}
		if len(s) > 3*len(body)+8 {
			t.Fatalf("message of %d bytes from a body of %d", len(s), len(body))
		}
	})
}

func FuzzStoreConfigFromConf(f *testing.F) {
	f.Add([]byte(collectorConfig))
	f.Add([]byte("extensions:\n  incidents:\n    store:\n      backend: s3\n      s3: {bucket: b, part_size: 1}\n"))
	f.Add([]byte("extensions:\n  incidents/a: {}\n  incidents/b: {}\nservice:\n  extensions: [incidents/b]\n"))
	f.Add([]byte("extensions: 3\n"))
	f.Fuzz(func(_ *testing.T, data []byte) {
		var m map[string]any
		if yaml.Unmarshal(data, &m) != nil || m == nil {
			return
		}
		_, _ = storeConfigFromConf(confmap.NewFromStringMap(m), "fuzz.yaml")
	})
}
