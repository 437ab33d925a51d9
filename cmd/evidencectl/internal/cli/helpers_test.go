package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// testNow is the clock of every in-process run.
var testNow = time.Date(2026, time.March, 2, 12, 0, 0, 0, time.UTC)

// result is the outcome of one in-process run of evidencectl.
type result struct {
	code   int
	stdout string
	stderr string
}

// runOpts adjust an in-process run.
type runOpts struct {
	env      map[string]string
	terminal bool
	now      time.Time
}

// run runs evidencectl in-process with an empty environment.
func run(t testing.TB, args ...string) result {
	t.Helper()
	return runWith(t, runOpts{}, args...)
}

func runWith(t testing.TB, o runOpts, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	now := o.now
	if now.IsZero() {
		now = testNow
	}
	code := Main(context.Background(), args, Env{
		Stdout:           &stdout,
		Stderr:           &stderr,
		Getenv:           func(k string) string { return o.env[k] },
		Now:              func() time.Time { return now },
		StderrIsTerminal: func() bool { return o.terminal },
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// requireCode fails with the run's output when the exit code differs.
func (r result) requireCode(t testing.TB, code int) result {
	t.Helper()
	require.Equalf(t, code, r.code, "exit code\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	return r
}

// jsonOut decodes stdout into v.
func (r result) jsonOut(t testing.TB, v any) {
	t.Helper()
	require.NoErrorf(t, json.Unmarshal([]byte(r.stdout), v), "stdout is not JSON:\n%s", r.stdout)
}

// partSpec is the content of one part.
type partSpec struct {
	traces  []ptrace.Traces
	logs    []plog.Logs
	metrics []pmetric.Metrics
	events  []incident.Event
}

// collectorSpec is one collector's parts.
type collectorSpec struct {
	id       string
	encoding string
	parts    []partSpec
	// incomplete leaves the manifest open.
	incomplete bool
	// losses are named in the manifest.
	losses []bundle.Loss
}

// fixture is a bundle written to a store, with what it holds.
type fixture struct {
	id         string
	collectors []collectorSpec
	// spans, logRecords, dataPoints and events (distinct) are the totals
	// a merge must produce; recorded counts events before deduplication.
	spans, logRecords, dataPoints, events, recorded int64
	// resolvedAt, when set, writes a resolved incident.
	resolvedAt *time.Time
	// startedAt overrides the incident's start (default testgen.DefaultStart).
	startedAt time.Time
	// signer, when set, signs every part.json and manifest.
	signer *bundle.Signer
	// editIncident, when set, changes the incident record before it is
	// written (and frozen into the parts).
	editIncident func(*incident.Incident)
}

// traces, logs and metrics return the batches in merge order: collector
// by collector, part by part.
func (f *fixture) traces() []ptrace.Traces {
	return inMergeOrder(f, func(p partSpec) []ptrace.Traces { return p.traces })
}

func (f *fixture) logs() []plog.Logs {
	return inMergeOrder(f, func(p partSpec) []plog.Logs { return p.logs })
}

func (f *fixture) metrics() []pmetric.Metrics {
	return inMergeOrder(f, func(p partSpec) []pmetric.Metrics { return p.metrics })
}

func inMergeOrder[T any](f *fixture, of func(partSpec) []T) []T {
	var out []T
	for _, c := range f.collectors {
		for _, p := range c.parts {
			out = append(out, of(p)...)
		}
	}
	return out
}

// twoCollectorFixture describes a complete bundle of incident id from two
// collectors: collector-a writes otlp_json, collector-b otlp_proto. Both
// recorded the opening and the resolution of the incident (the same
// events, synced between replicas); only collector-a recorded a deploy.
func twoCollectorFixture(id string) *fixture {
	start := testgen.DefaultStart
	step := time.Second
	opened := incident.Event{
		Kind: incident.EventIncidentOpened, Time: start, Source: incident.SourceGeneric,
		IncidentID: id, CollectorID: "collector-a", Payload: json.RawMessage(`{"id":"` + id + `"}`),
	}
	deploy := incident.Event{
		Kind: incident.EventDeploy, Time: start.Add(-10 * time.Minute), Source: incident.SourceDeploy,
		DeployID: "deploy-7", CollectorID: "collector-a",
	}
	resolved := incident.Event{
		Kind: incident.EventIncidentResolved, Time: start.Add(8 * time.Minute), Source: incident.SourceGeneric,
		IncidentID: id, CollectorID: "collector-b",
	}
	f := &fixture{id: id, collectors: []collectorSpec{
		{id: "collector-a", encoding: bundle.EncodingJSON, parts: []partSpec{
			{
				traces:  []ptrace.Traces{testgen.Traces(1, 40, 3, start.Add(-5*time.Minute), step), testgen.Traces(2, 12, 2, start.Add(-4*time.Minute), step)},
				logs:    []plog.Logs{testgen.Logs(3, 30, 2, start.Add(-5*time.Minute), step)},
				metrics: []pmetric.Metrics{testgen.Metrics(4, 21, 3, start.Add(-5*time.Minute), step)},
				events:  []incident.Event{deploy, opened},
			},
			{
				traces:  []ptrace.Traces{testgen.Traces(5, 25, 2, start.Add(time.Minute), step)},
				logs:    []plog.Logs{testgen.Logs(6, 10, 1, start.Add(time.Minute), step)},
				metrics: []pmetric.Metrics{testgen.Metrics(7, 15, 2, start.Add(time.Minute), step)},
				events:  []incident.Event{resolved},
			},
		}},
		{id: "collector-b", encoding: bundle.EncodingProto, parts: []partSpec{
			{
				traces:  []ptrace.Traces{testgen.Traces(8, 30, 2, start.Add(-3*time.Minute), step)},
				logs:    []plog.Logs{testgen.Logs(9, 20, 2, start.Add(-3*time.Minute), step), testgen.Logs(10, 7, 1, start, step)},
				metrics: []pmetric.Metrics{testgen.Metrics(11, 12, 2, start.Add(-3*time.Minute), step)},
				events:  []incident.Event{opened},
			},
			{
				traces:  []ptrace.Traces{testgen.Traces(12, 15, 1, start.Add(2*time.Minute), step)},
				logs:    []plog.Logs{testgen.Logs(13, 5, 1, start.Add(2*time.Minute), step)},
				metrics: []pmetric.Metrics{testgen.Metrics(14, 9, 3, start.Add(2*time.Minute), step)},
				events:  []incident.Event{resolved},
			},
		}},
	}}
	for _, c := range f.collectors {
		for _, p := range c.parts {
			for _, td := range p.traces {
				f.spans += int64(td.SpanCount())
			}
			for _, ld := range p.logs {
				f.logRecords += int64(ld.LogRecordCount())
			}
			for _, md := range p.metrics {
				f.dataPoints += int64(md.DataPointCount())
			}
			f.recorded += int64(len(p.events))
		}
	}
	f.events = 3
	return f
}

// write stores the fixture: incident.json, every part and every manifest.
func (f *fixture) write(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	start := testgen.DefaultStart
	inc := incident.Incident{
		ID: f.id, Title: "checkout error budget burning", Severity: "critical", Source: incident.SourceGeneric,
		Status: incident.StatusOpen, StartedAt: start, UpdatedAt: start, OpenedBy: "collector-a",
		Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}},
	}
	if !f.startedAt.IsZero() {
		inc.StartedAt, inc.UpdatedAt = f.startedAt, f.startedAt
	}
	if f.resolvedAt != nil {
		inc.Status, inc.ResolvedAt, inc.UpdatedAt = incident.StatusResolved, f.resolvedAt, *f.resolvedAt
	}
	if f.editIncident != nil {
		f.editIncident(&inc)
	}
	data, err := json.Marshal(inc)
	require.NoError(t, err)
	key, err := bundle.IncidentKey(f.id)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{ContentType: "application/json"}))

	for _, c := range f.collectors {
		m, err := bundle.NewManifest(f.id, c.id, fixtureWindow)
		require.NoError(t, err)
		for i, p := range c.parts {
			ref := writePart(t, st, f.id, c.id, i+1, c.encoding, p, f.signer)
			require.NoError(t, m.AddPart(ref))
		}
		m.Complete = !c.incomplete
		m.AddLosses(c.losses...)
		m.UpdatedAt = start.Add(11 * time.Minute)
		mdata, err := m.MarshalSigned(f.signer)
		require.NoError(t, err)
		mkey, err := bundle.ManifestKey(f.id, c.id)
		require.NoError(t, err)
		require.NoError(t, st.Put(ctx, mkey, bytes.NewReader(mdata), int64(len(mdata)), store.PutOptions{Immutable: true}))
	}
}

// fixtureWindow is the evidence window of every fixture part.
var fixtureWindow = bundle.Window{Start: testgen.DefaultStart.Add(-30 * time.Minute), End: testgen.DefaultStart.Add(10 * time.Minute)}

// writePart writes part seq of collector cid and returns its manifest
// record. As the collector does, it freezes the store's incident.json
// into the part and chains it to the stored part seq-1; signer (nil: none)
// signs part.json.
func writePart(t testing.TB, st store.Store, id, cid string, seq int, encoding string, p partSpec, signer *bundle.Signer) bundle.PartRef {
	t.Helper()
	ctx := context.Background()
	info := bundle.PartInfo{
		IncidentID: id, CollectorID: cid, Seq: seq, Encoding: encoding,
		CreatedAt: testgen.DefaultStart.Add(time.Duration(seq) * time.Minute), Window: fixtureWindow,
	}
	if seq > 1 {
		key, err := bundle.PartKey(id, cid, seq-1)
		require.NoError(t, err)
		if rc, _, err := st.Get(ctx, key); err == nil {
			h := sha256.New()
			_, err := io.Copy(h, rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			info.PrevPartSHA256 = hex.EncodeToString(h.Sum(nil))
		}
	}
	w, err := bundle.NewPartWriter(info)
	require.NoError(t, err)
	w.SetSigner(signer)
	if key, err := bundle.IncidentKey(id); err == nil {
		if rc, _, err := st.Get(ctx, key); err == nil {
			var inc incident.Incident
			require.NoError(t, json.NewDecoder(rc).Decode(&inc))
			require.NoError(t, rc.Close())
			require.NoError(t, w.SetIncident(&inc))
		}
	}
	for _, td := range p.traces {
		require.NoError(t, w.AddTraces(td))
	}
	for _, ld := range p.logs {
		require.NoError(t, w.AddLogs(ld))
	}
	for _, md := range p.metrics {
		require.NoError(t, w.AddMetrics(md))
	}
	for _, ev := range p.events {
		require.NoError(t, w.AddEvent(ev))
	}
	obj, info, err := w.Finish()
	require.NoError(t, err)
	ref, err := bundle.NewPartRef(info, obj)
	require.NoError(t, err)
	key, err := bundle.PartKey(id, cid, seq)
	require.NoError(t, err)
	require.NoError(t, st.Put(context.Background(), key, bytes.NewReader(obj), int64(len(obj)), store.PutOptions{Immutable: true}))
	return ref
}

// writeUnlistedPart writes a part that no manifest lists, as a collector
// does between writing a part and rewriting its manifest.
func writeUnlistedPart(t testing.TB, st store.Store, id, cid string, seq int, p partSpec) {
	t.Helper()
	writePart(t, st, id, cid, seq, bundle.EncodingJSON, p, nil)
}

// newFSStore returns a filesystem store in a temporary directory and its
// --store flag value.
func newFSStore(t testing.TB) (*storage.Filesystem, string) {
	t.Helper()
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	return st, "file://" + st.Dir()
}

// flipByte inverts one byte in the middle of a file.
func flipByte(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, data)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o640))
}

// readLines returns the non-blank lines of a file.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return evidencedir.SplitLines(data)
}

// partPath is the local path of a part in a directory written by get.
func partPath(dir, id, collector string, seq int) string {
	key, _ := bundle.PartKey(id, collector, seq)
	return filepath.Join(dir, evidencedir.RawDir, filepath.FromSlash(key))
}

// storePartPath is the path of a part in a filesystem store.
func storePartPath(st *storage.Filesystem, id, collector string, seq int) string {
	key, _ := bundle.PartKey(id, collector, seq)
	return filepath.Join(st.Dir(), filepath.FromSlash(key))
}

// contains reports whether every part occurs in s.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
