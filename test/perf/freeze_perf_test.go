//go:build perf

package perf

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Freeze timing limits: every wait is bounded.
const (
	freezeLoadTimeout = 10 * time.Minute
	freezeRingTimeout = 3 * time.Minute
	freezeWaitTimeout = 10 * time.Minute
	freezeBufferBytes = 2 << 30 // holds 1M spans without eviction
)

// freezeRun is the outcome of one freeze measurement.
type freezeRun struct {
	store       string
	encoding    string // "" is the exporter's default
	spans       int
	loadRate    float64
	first       time.Duration // trigger -> part-000001 in the store
	all         time.Duration // trigger -> a stored manifest listing every span
	complete    time.Duration // trigger -> complete manifest
	parts       int
	part1Bytes  int64
	bundleBytes int64
	frozen      int64
	cpu         time.Duration // collector CPU from trigger to complete
	hwm         int64
	rawBundle   time.Duration // raw write of bundleBytes to the same store
	rawPart1    time.Duration // raw write of part1Bytes
	verified    bool
	load        string
}

// TestPerfFreeze loads the ring with N spans over OTLP, opens an incident
// through the webhook and measures how long the evidence takes to reach
// the store, for each store and N; beside it, a raw write of the same
// number of bytes to the same store.
func TestPerfFreeze(t *testing.T) {
	page := startPerf(t)
	var runs []freezeRun
	var cs cases
	encodings := envList(EnvFreezeEncodings, "")
	if len(encodings) == 0 {
		encodings = []string{""}
	}
	for _, st := range envList(EnvFreezeStores, "filesystem,s3") {
		for _, ns := range envList(EnvFreezeSpans, "100000,1000000") {
			n, err := strconv.Atoi(ns)
			require.NoErrorf(t, err, "%s: %q", EnvFreezeSpans, ns)
			require.Truef(t, n >= 1000 && n%1000 == 0, "%s: %d must be a positive multiple of 1000", EnvFreezeSpans, n)
			// Several encodings alternate per store and size, so that
			// they are measured under the same load.
			for _, enc := range encodings {
				require.Containsf(t, []string{"", "otlp_json", "otlp_proto"}, enc, "%s: unknown encoding %q", EnvFreezeEncodings, enc)
				name := fmt.Sprintf("%s/%d", st, n)
				if enc != "" {
					name += "/" + enc
				}
				cs.run(t, name, func(t *testing.T) {
					r := runFreeze(t, st, n, enc)
					runs = append(runs, r)
					t.Logf("%+v", r)
				})
			}
		}
	}

	res := Result{
		Section: "2-freeze",
		Title:   "Freeze latency and bundle size",
		Params: map[string]string{
			"pipeline":   VariantFull.Describe(),
			"evidence":   "memory ring 2 GiB s2 (no eviction), window before 30m / after 1s, extend_until_resolved false, flush_interval 5s, encoding otlp_json, part_max_bytes 64 MiB",
			"load":       "N spans in 1,000-span testgen batches over OTLP/gRPC (2 concurrent calls), span times spread over the 25 minutes before the trigger",
			"trigger":    "POST /v1/incidents (started_at = now) once the ring holds all N spans",
			"first part": "time from the POST to part-000001.tar.zst present in the store (polled every 5 ms on the filesystem, 20 ms on S3)",
			"peer":       "a raw write of the same number of random bytes to the same store: os.WriteFile-like write + fsync on the filesystem, one minio-go PutObject to versitygw",
		},
		Failed: cs.failed,
	}
	table := Table{
		Title: "Freeze: trigger to store",
		Header: []string{"store", "encoding", "spans", "trigger -> part-000001", "trigger -> all spans stored", "trigger -> complete manifest",
			"parts", "part-000001", "bundle", "bytes/span", "raw write of bundle bytes", "all stored / raw", "raw write of part-000001 bytes",
			"collector CPU", "frozen", "verify"},
	}
	for _, r := range runs {
		table.Rows = append(table.Rows, []string{
			r.store, encodingName(r.encoding), strconv.Itoa(r.spans), secs(r.first), secs(r.all), secs(r.complete),
			strconv.Itoa(r.parts), mib(r.part1Bytes), mib(r.bundleBytes), fmt.Sprintf("%.1f", float64(r.bundleBytes)/float64(r.spans)),
			secs(r.rawBundle), fmt.Sprintf("%.1fx", r.all.Seconds()/r.rawBundle.Seconds()), secs(r.rawPart1),
			secs(r.cpu), strconv.FormatInt(r.frozen, 10), map[bool]string{true: "ok", false: "FAILED"}[r.verified],
		})
	}
	table.Notes = append(table.Notes,
		"\"all spans stored\" is the first stored manifest whose totals count every span sent; \"complete manifest\" additionally waits for the window end (1 s after the trigger) plus one flush_interval (5 s) of grace.",
		"\"collector CPU\" is the collector's CPU time from the trigger to the complete manifest (encoding, zstd, spool, upload).",
		"\"verify\" is bundle.VerifyBundle over the stored bundle: every SHA-256, every part readable, manifest complete.")
	res.Tables = append(res.Tables, table)
	for _, r := range runs {
		where := r.store
		if r.encoding != "" {
			where += ", encoding " + r.encoding
		}
		f := Figure{
			Name:  fmt.Sprintf("Freeze %s spans to %s: trigger -> part-000001", human(r.spans), where),
			Value: r.first.Seconds(), Unit: "s",
			Peer: fmt.Sprintf("raw write of part-000001's %s", mib(r.part1Bytes)), PeerValue: r.rawPart1.Seconds(),
			Ratio: r.first.Seconds() / r.rawPart1.Seconds(),
		}
		if r.spans >= 1000000 {
			f.Target, f.Met = "<= 10 s for 1M spans", Met(r.first <= 10*time.Second)
		}
		all := Figure{
			Name:  fmt.Sprintf("Freeze %s spans to %s: trigger -> all spans stored", human(r.spans), where),
			Value: r.all.Seconds(), Unit: "s",
			Peer: fmt.Sprintf("raw write of the bundle's %s", mib(r.bundleBytes)), PeerValue: r.rawBundle.Seconds(),
			Ratio: r.all.Seconds() / r.rawBundle.Seconds(),
			Note:  fmt.Sprintf("bundle %s in %d parts, %.1f bytes/span", mib(r.bundleBytes), r.parts, float64(r.bundleBytes)/float64(r.spans)),
		}
		cpu := Figure{
			Name:  fmt.Sprintf("Freeze %s spans to %s: collector CPU, trigger -> complete manifest", human(r.spans), where),
			Value: r.cpu.Seconds(), Unit: "CPU s",
		}
		if r.spans == 1000000 {
			all.Target, all.Met = "<= 3 s for 1M spans", Met(r.all <= 3*time.Second)
			cpu.Target, cpu.Met = "<= 4 s for 1M spans", Met(r.cpu <= 4*time.Second)
		}
		res.Figures = append(res.Figures, f, all, cpu)
	}
	page.write(res)
}

// encodingName names enc in the table ("" is the exporter's default).
func encodingName(enc string) string {
	if enc == "" {
		return "default"
	}
	return enc
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func human(n int) string {
	switch {
	case n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func runFreeze(t *testing.T, backend string, n int, enc string) freezeRun {
	ctx := context.Background()
	run := freezeRun{store: backend, encoding: enc, spans: n}
	var (
		storeCfg map[string]any
		st       store.Store
		rawPut   func(size int64) time.Duration
	)
	evidenceDir := t.TempDir()
	switch backend {
	case "filesystem":
		storeCfg = map[string]any{"backend": "filesystem", "filesystem": map[string]any{"directory": evidenceDir}}
		fs, err := storage.NewFilesystem(evidenceDir)
		require.NoError(t, err)
		st = fs
		rawPut = func(size int64) time.Duration { return rawFileWrite(t, evidenceDir, size) }
	case "s3":
		srv := s3server.Start(t)
		storeCfg = map[string]any{"backend": "s3", "s3": map[string]any{
			"endpoint": srv.URL(), "bucket": srv.Bucket, "prefix": "perf", "region": s3server.Region,
			"access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey,
			"force_path_style": true, "insecure": true,
		}}
		s3, err := storage.Open(ctx, storage.Config{Backend: storage.BackendS3, S3: storage.S3Config{
			Endpoint: srv.URL(), Bucket: srv.Bucket, Prefix: "perf", Region: s3server.Region,
			AccessKeyID: configopaque.String(srv.AccessKey), SecretAccessKey: configopaque.String(srv.SecretKey),
			ForcePathStyle: true, Insecure: true, PartSize: storage.DefaultPartSize,
		}})
		require.NoError(t, err)
		if c, ok := s3.(io.Closer); ok {
			t.Cleanup(func() { _ = c.Close() })
		}
		st = s3
		client := srv.NewClient()
		rawPut = func(size int64) time.Duration { return rawPutObject(t, client, srv.Bucket, size) }
	default:
		t.Fatalf("%s: unknown store %q (want filesystem or s3)", EnvFreezeStores, backend)
	}

	p := newPorts(t)
	opts := ConfigOptions{
		Store: storeCfg,
		Evidence: map[string]any{
			"window":         map[string]any{"before": "30m", "after": "1s", "extend_until_resolved": false},
			"buffer":         map[string]any{"max_bytes": freezeBufferBytes, "max_age": "35m"},
			"flush_interval": "5s",
		},
	}
	if enc != "" {
		opts.Evidence["encoding"] = enc
	}
	cfg, err := CollectorConfig(VariantFull, p, opts)
	require.NoError(t, err)
	c := startCollector(t, p, cfg)
	postFixtures(c, false)

	// Load: N spans, times spread over [trigger-27m, trigger-2m].
	loadStart := time.Now()
	first := loadStart.Add(-27 * time.Minute)
	step := 25 * time.Minute / time.Duration(n)
	s := c.dial()
	batches := n / 1000
	ls, err := s.SendAll(ctx, batches, 2, freezeLoadTimeout, func(k int) (Batch, error) {
		return BuildBatch(int64(1000+k), 1000, func(i int) time.Time { return first.Add(time.Duration(k*1000+i) * step) })
	})
	require.NoError(t, err)
	require.Zerof(t, ls.Errors, "load: %v", ls.FirstError)
	require.Equal(t, n, ls.Spans)
	run.loadRate = ls.Rate()
	t.Logf("loaded %d spans in %s (%.0f spans/s)", ls.Spans, ls.Elapsed.Round(time.Millisecond), ls.Rate())

	// Wait until the ring holds every span (the batch processor flushes
	// within 200ms, the ring appends synchronously).
	items := "otelcol_exporter_evidence_buffer_items"
	var held float64
	waitFor(t, freezeRingTimeout, 100*time.Millisecond, func() bool {
		held, _ = c.metric(items, map[string]string{"signal": "traces"})
		return held >= float64(n)
	}, func() string { return fmt.Sprintf("the ring holds %.0f of %d spans", held, n) })

	id := fmt.Sprintf("INC-PERF-FREEZE-%s-%d", backend, n)
	part1, err := bundle.PartKey(id, CollectorID, 1)
	require.NoError(t, err)
	manifestKey, err := bundle.ManifestKey(id, CollectorID)
	require.NoError(t, err)
	poll := 20 * time.Millisecond
	if backend == "filesystem" {
		poll = 5 * time.Millisecond
	}

	run.load = LoadAvg()
	cpu0 := c.cpu()
	trigger := time.Now()
	c.post("/v1/incidents", fmt.Sprintf(`{"id":%q,"title":"perf freeze","severity":"critical"}`, id))

	waitFor(t, freezeWaitTimeout, poll, func() bool {
		_, err := st.Stat(ctx, part1)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("stat %s: %v", part1, err)
		}
		return err == nil
	}, func() string { return "part-000001 never appeared" })
	run.first = time.Since(trigger)

	var m *bundle.Manifest
	waitFor(t, freezeWaitTimeout, 100*time.Millisecond, func() bool {
		m = readManifest(t, st, manifestKey)
		if m != nil && run.all == 0 && m.Totals.Spans >= int64(n) {
			run.all = time.Since(trigger)
		}
		return m != nil && m.Complete
	}, func() string { return "the manifest never became complete" })
	run.complete = time.Since(trigger)
	run.cpu = c.cpu() - cpu0
	run.hwm = c.memory().HWM
	if run.all == 0 { // complete, yet short of spans: report it, keep the time
		run.all = run.complete
	}
	run.parts = len(m.Parts)
	run.frozen = m.Totals.Spans
	for i, pr := range m.Parts {
		run.bundleBytes += pr.Size
		if i == 0 {
			run.part1Bytes = pr.Size
		}
	}
	rep, err := bundle.VerifyBundle(ctx, st, id)
	run.verified = err == nil && rep.OK() && rep.Complete()
	if !run.verified {
		t.Errorf("bundle %s does not verify: err %v, problems %v", id, err, rep.AllProblems())
	}
	if run.frozen != int64(n) {
		t.Errorf("bundle %s holds %d spans, %d were sent", id, run.frozen, n)
	}

	run.rawBundle = medianTime(3, func() time.Duration { return rawPut(run.bundleBytes) })
	run.rawPart1 = medianTime(3, func() time.Duration { return rawPut(run.part1Bytes) })
	return run
}

// medianTime runs f n times and returns the median of what it returns.
func medianTime(n int, f func() time.Duration) time.Duration {
	var v []float64
	for range n {
		v = append(v, float64(f()))
	}
	return time.Duration(Median(v))
}

// waitFor polls cond every interval until it holds, failing the test with
// what() after timeout.
func waitFor(t *testing.T, timeout, interval time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what())
		}
		<-tick.C
	}
}

func readManifest(t *testing.T, st store.Store, key string) *bundle.Manifest {
	rc, _, err := st.Get(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	m, err := bundle.ParseManifest(data)
	require.NoError(t, err)
	return m
}

// randomBytes returns size incompressible bytes.
func randomBytes(t *testing.T, size int64) []byte {
	buf := make([]byte, size)
	_, err := rand.Read(buf)
	require.NoError(t, err)
	return buf
}

// rawFileWrite writes size random bytes to a new file in dir, fsyncs it
// and its directory, and returns how long that took.
func rawFileWrite(t *testing.T, dir string, size int64) time.Duration {
	data := randomBytes(t, size)
	path := filepath.Join(dir, fmt.Sprintf("raw-%d.bin", size))
	start := time.Now()
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	d, err := os.Open(dir)
	require.NoError(t, err)
	require.NoError(t, d.Sync())
	require.NoError(t, d.Close())
	took := time.Since(start)
	require.NoError(t, os.Remove(path))
	return took
}

// rawPutObject uploads size random bytes with one minio-go PutObject (the
// client's default multipart behaviour) and returns how long it took.
func rawPutObject(t *testing.T, client *minio.Client, bucket string, size int64) time.Duration {
	data := randomBytes(t, size)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := client.PutObject(ctx, bucket, fmt.Sprintf("raw/peer-%d", size), bytes.NewReader(data), size,
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	require.NoError(t, err)
	return time.Since(start)
}
