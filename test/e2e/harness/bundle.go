package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// S3Store returns the incidents extension's store configuration for a
// versitygw server and prefix (for Options.Store), and a store client of the
// same bucket and prefix for the test to read the evidence with.
func S3Store(t testing.TB, srv *s3server.Server, prefix string) (map[string]any, store.Store) {
	t.Helper()
	cfg := map[string]any{
		"backend": "s3",
		"s3": map[string]any{
			"endpoint":          srv.URL(),
			"bucket":            srv.Bucket,
			"prefix":            prefix,
			"region":            s3server.Region,
			"access_key_id":     srv.AccessKey,
			"secret_access_key": srv.SecretKey,
			"force_path_style":  true,
			"insecure":          true,
		},
	}
	st, err := storage.Open(context.Background(), storage.Config{Backend: storage.BackendS3, S3: storage.S3Config{
		Endpoint:        srv.URL(),
		Bucket:          srv.Bucket,
		Prefix:          prefix,
		Region:          s3server.Region,
		AccessKeyID:     configopaque.String(srv.AccessKey),
		SecretAccessKey: configopaque.String(srv.SecretKey),
		ForcePathStyle:  true,
		Insecure:        true,
		PartSize:        storage.DefaultPartSize,
	}})
	require.NoError(t, err)
	return cfg, st
}

// WaitBundleComplete waits until bundle.VerifyBundle finds incident id's
// evidence in st complete (every manifest says so and no problem was found)
// and returns the report.
func WaitBundleComplete(t testing.TB, st store.Store, id string, timeout time.Duration) bundle.Report {
	t.Helper()
	return WaitBundleCompleteFrom(t, st, id, 0, timeout)
}

// WaitBundleCompleteFrom is WaitBundleComplete for the bundles of
// collectors collectors (0: any number). A report is complete as soon as
// every collector found in the store is: a replica that learns of the
// incident through the store, and so stores its first part later, is not
// in it yet when the others complete.
func WaitBundleCompleteFrom(t testing.TB, st store.Store, id string, collectors int, timeout time.Duration) bundle.Report {
	t.Helper()
	var (
		mu  sync.Mutex // the condition may still run when the wait gives up
		rep bundle.Report
		err error
	)
	ctx := context.Background()
	if !assert.Eventually(t, func() bool {
		r, e := bundle.VerifyBundle(ctx, st, id)
		ok := e == nil && r.Complete() && (collectors == 0 || len(r.Collectors) == collectors)
		mu.Lock()
		defer mu.Unlock()
		rep, err = r, e
		return ok
	}, timeout, 200*time.Millisecond) {
		mu.Lock()
		defer mu.Unlock()
		// The last reading, not the one before the wait.
		t.Fatalf("the bundles of %s (collectors wanted: %d, 0 = any) were not complete within %s: err %v, problems %v, report %+v",
			id, collectors, timeout, err, rep.AllProblems(), rep.Collectors)
	}
	mu.Lock()
	defer mu.Unlock()
	return rep
}

// HasObject reports whether key exists in st (a store error counts as no).
func HasObject(st store.Store, key string) bool {
	_, err := st.Stat(context.Background(), key)
	return err == nil
}

// Bundle is one collector's evidence of one incident, read back from a store.
type Bundle struct {
	Manifest *bundle.Manifest
	// Parts are the parts the manifest lists, in order.
	Parts []*bundle.Part
}

// ReadBundle reads collector's manifest of incident id and every part it
// lists, and fails the test unless each part matches the manifest's size
// and SHA-256 and every file inside matches part.json.
func ReadBundle(t testing.TB, st store.Store, id, collector string) *Bundle {
	t.Helper()
	ctx := context.Background()
	key, err := bundle.ManifestKey(id, collector)
	require.NoError(t, err)
	m, err := bundle.ParseManifest(getObject(ctx, t, st, key))
	require.NoErrorf(t, err, "parsing %s", key)
	b := &Bundle{Manifest: m}
	for _, ref := range m.Parts {
		key, err := bundle.PartKey(id, collector, ref.Seq)
		require.NoError(t, err)
		data := getObject(ctx, t, st, key)
		require.Equalf(t, ref.Size, int64(len(data)), "size of %s", key)
		sum := sha256.Sum256(data)
		require.Equalf(t, ref.SHA256, hex.EncodeToString(sum[:]), "SHA-256 of %s", key)
		p, err := bundle.ReadPart(bytes.NewReader(data))
		require.NoErrorf(t, err, "reading %s", key)
		require.NoErrorf(t, p.Verify(), "verifying the files of %s", key)
		require.Equalf(t, ref.Seq, p.Info.Seq, "part.json of %s", key)
		b.Parts = append(b.Parts, p)
	}
	return b
}

func getObject(ctx context.Context, t testing.TB, st store.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(ctx, key)
	require.NoErrorf(t, err, "getting %s", key)
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	require.NoErrorf(t, err, "reading %s", key)
	return data
}

// Spans calls fn with every span of every part and its resource.
func (b *Bundle) Spans(t testing.TB, fn func(res pcommon.Resource, s ptrace.Span)) {
	t.Helper()
	for _, p := range b.Parts {
		require.NoError(t, p.Traces(func(td ptrace.Traces) error {
			for _, rs := range td.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					for _, s := range ss.Spans().All() {
						fn(rs.Resource(), s)
					}
				}
			}
			return nil
		}))
	}
}

// LogRecords calls fn with every log record of every part and its resource.
func (b *Bundle) LogRecords(t testing.TB, fn func(res pcommon.Resource, lr plog.LogRecord)) {
	t.Helper()
	for _, p := range b.Parts {
		require.NoError(t, p.Logs(func(ld plog.Logs) error {
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						fn(rl.Resource(), lr)
					}
				}
			}
			return nil
		}))
	}
}

// DataPoints calls fn with the attributes and timestamp of every data point
// (of every metric type) of every part, and its resource.
func (b *Bundle) DataPoints(t testing.TB, fn func(res pcommon.Resource, attrs pcommon.Map, ts pcommon.Timestamp)) {
	t.Helper()
	for _, p := range b.Parts {
		require.NoError(t, p.Metrics(func(md pmetric.Metrics) error {
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						EachDataPoint(m, func(attrs pcommon.Map, ts pcommon.Timestamp) { fn(rm.Resource(), attrs, ts) })
					}
				}
			}
			return nil
		}))
	}
}

// EachDataPoint calls fn with the attributes and item time of every data
// point of m, whatever the metric type (otlptime.DataPoints).
func EachDataPoint(m pmetric.Metric, fn func(attrs pcommon.Map, ts pcommon.Timestamp)) {
	otlptime.DataPoints(m, fn)
}
