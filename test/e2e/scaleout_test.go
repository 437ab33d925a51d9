package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The scale-out test checks that evidence survives horizontal scaling:
// several replicas behind a load balancer each see only part of the
// telemetry, one of them hears of the incident, and the incident owner
// still gets one bundle with every item exactly once, which can be replayed
// into another collector.

const (
	scaleOutSyncInterval = time.Second
	scaleOutBefore       = 2 * time.Minute
	scaleOutAfter        = 10 * time.Second
	// scaleOutSyncSlack is added to two sync intervals for process
	// scheduling on a loaded machine.
	scaleOutSyncSlack = 3 * time.Second
)

// TestScaleOutThreeReplicas runs three collector replicas (distinct
// collector_id) on one versitygw bucket and splits the telemetry among
// them, each item carrying a unique ID and a time inside the window. The
// incident is posted to replica A only; B and C learn of it through the
// bucket within two sync intervals, and each freezes its third, sent both
// before the incident opened and while its window is open. `evidencectl
// get` then merges one bundle holding every item exactly once (and the
// incident_webhook's own log record), all three collectors complete;
// `verify` passes; and `replay` into a second, real collector delivers
// exactly the merged spans, log records and data points to the OTLP sink
// behind it.
func TestScaleOutThreeReplicas(t *testing.T) {
	const (
		id     = "INC-E2E-SCALEOUT-1"
		prefix = "e2e-scaleout"
	)
	begin := time.Now()
	logf := func(format string, args ...any) {
		t.Helper()
		t.Logf("%s: %s", time.Since(begin).Round(time.Millisecond), fmt.Sprintf(format, args...))
	}
	ctl := evidencectl(t)
	harness.Binary(t)
	logf("evidencectl and the collector are built")

	srv := s3server.Start(t)
	storeCfg, st := harness.S3Store(t, srv, prefix)
	replicas := []*scaleOutReplica{{id: "replica-a"}, {id: "replica-b"}, {id: "replica-c"}}
	for _, r := range replicas {
		r.ports = harness.NewPorts(t)
		cfg := harness.Config(t, r.ports, harness.Options{
			CollectorID: r.id,
			Store:       storeCfg,
			Override: map[string]any{
				"extensions": map[string]any{"incidents": map[string]any{"sync_interval": scaleOutSyncInterval.String()}},
				"exporters": map[string]any{"evidence": map[string]any{
					"window": map[string]any{
						"before":                scaleOutBefore.String(),
						"after":                 scaleOutAfter.String(),
						"extend_until_resolved": false,
					},
					"flush_interval":   "1s",
					"retry_on_failure": map[string]any{"initial_interval": "100ms", "max_interval": "500ms"},
				}},
			},
		})
		r.c = harness.StartCollector(t, "", cfg, r.ports.Health)
		r.otlp = harness.NewOTLPClient(t, r.ports.OTLPGRPC)
		r.sent = newItemSet()
	}
	logf("versitygw and three replicas are up")

	// The past: each replica gets its own third, timed in [T-50s, T-1s].
	T := time.Now().UTC().Truncate(time.Millisecond)
	for i, r := range replicas {
		r.send(t, int64(10*i+1), "past", every(T.Add(-50*time.Second), T.Add(-time.Second), time.Second))
	}

	// ONE trigger, on replica A only.
	posted := time.Now()
	body := fmt.Sprintf(`{"id":%q,"title":"scale-out e2e","severity":"critical","started_at":%q}`, id, T.Format(time.RFC3339Nano))
	code, resp := harness.PostJSON(t, replicas[0].ports.WebhookURL("/v1/incidents"), harness.Token, body)
	require.Less(t, code, 300, "webhook answered %d: %s", code, resp)
	waitForLogLine(t, replicas[0].c.Process, 5*time.Second, "Incident opened", `"incident.id": "`+id+`"`)
	require.Contains(t, logLine(replicas[0].c.Output(), "Incident opened", `"incident.id": "`+id+`"`), `"origin": "local"`)
	for _, r := range replicas[1:] {
		seen := waitForLogLine(t, r.c.Process, 2*scaleOutSyncInterval+scaleOutSyncSlack, "Incident opened", `"incident.id": "`+id+`"`)
		require.Contains(t, logLine(r.c.Output(), "Incident opened", `"incident.id": "`+id+`"`), `"origin": "replica"`,
			"%s learned of the incident from the bucket", r.id)
		logf("%s learned of the incident %s after replica-a accepted it (sync_interval %s)",
			r.id, seen.Sub(posted).Round(time.Millisecond), scaleOutSyncInterval)
	}

	// While the window is open: another third each, timed in [T, T+8s].
	for i, r := range replicas {
		r.send(t, int64(10*i+2), "open", every(T, T.Add(scaleOutAfter-2*time.Second), 500*time.Millisecond))
	}
	logf("every batch is sent")

	// A replica's log line says its registry knows the incident; its first
	// part reaches the bucket later, from the exporter's own goroutines:
	// wait for every replica's bundle, not for the first ones complete.
	rep := harness.WaitBundleCompleteFrom(t, st, id, len(replicas), 60*time.Second)
	logf("the bundle is complete")
	require.True(t, rep.OK(), "problems: %v", rep.AllProblems())
	require.Len(t, rep.Collectors, len(replicas), "every replica froze the incident")

	// Each replica froze exactly its own third.
	all := newItemSet()
	for _, r := range replicas {
		all.merge(t, r.sent)
		got := newItemSet()
		b := harness.ReadBundle(t, st, id, r.id)
		for _, p := range b.Parts {
			require.NoError(t, p.Traces(func(td ptrace.Traces) error { got.addTraces(td); return nil }))
			require.NoError(t, p.Logs(func(ld plog.Logs) error { got.addLogs(ld); return nil }))
			require.NoError(t, p.Metrics(func(md pmetric.Metrics) error { got.addMetrics(md); return nil }))
		}
		got.requireExactly(t, r.id+"'s bundle", r.sent)
	}

	// get merges the three bundles.
	storeEnv := []string{
		"EVIDENCECTL_STORE=s3://" + srv.Bucket + "/" + prefix,
		"AWS_ENDPOINT_URL_S3=" + srv.URL(),
		"AWS_REGION=" + s3server.Region,
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
	}
	dir := filepath.Join(t.TempDir(), id)
	res := ctl(storeEnv, "--s3-path-style", "get", id, "-o", dir)
	require.Equalf(t, 0, res.code, "get: %s%s", res.stdout, res.stderr)
	logf("evidencectl get merged the bundle into %s", dir)

	merged := readMergedItems(t, dir)
	merged.requireExactly(t, "the merged bundle", all)
	mm := readMergedManifest(t, dir)
	assert.Equal(t, id, mm.IncidentID)
	assert.True(t, mm.Complete, "the merged manifest says the bundle is complete")
	require.Len(t, mm.Collectors, len(replicas))
	for i, c := range mm.Collectors {
		assert.Equal(t, replicas[i].id, c.CollectorID)
		assert.Truef(t, c.Complete, "%s is complete", c.CollectorID)
		assert.Equal(t, rep.Collectors[i].Totals, c.Counts, "merged counts of %s equal its manifest", c.CollectorID)
	}
	assert.EqualValues(t, len(all.spans), mm.Totals.Spans)
	assert.Equal(t, int64(len(all.logs))+merged.untagged.LogRecords, mm.Totals.LogRecords)
	assert.EqualValues(t, len(all.points), mm.Totals.DataPoints)
	logf("merged: %+v", mm.Totals)

	res = ctl(nil, "verify", dir, "--require-complete")
	require.Equalf(t, 0, res.code, "verify: %s%s", res.stdout, res.stderr)

	// replay into a second, real collector that forwards to a sink.
	sink := otlpsink.Start(t)
	p2 := harness.NewPorts(t)
	harness.StartCollector(t, "", harness.Config(t, p2, harness.Options{
		CollectorID:  "replay-target",
		SinkEndpoint: sink.Endpoint,
	}), p2.Health)
	logf("the replay target collector is up")
	res = ctl(nil, "replay", dir, "--endpoint", p2.OTLPGRPC, "--insecure")
	require.Equalf(t, 0, res.code, "replay: %s%s", res.stdout, res.stderr)
	require.Eventuallyf(t, func() bool {
		return int64(sink.SpanCount()) >= mm.Totals.Spans && int64(sink.LogRecordCount()) >= mm.Totals.LogRecords &&
			int64(sink.DataPointCount()) >= mm.Totals.DataPoints
	}, 30*time.Second, 50*time.Millisecond, "the sink never received the merged %+v: %d spans, %d log records, %d data points",
		mm.Totals, sink.SpanCount(), sink.LogRecordCount(), sink.DataPointCount())
	received := newItemSet()
	for _, td := range sink.Traces() {
		received.addTraces(td)
	}
	for _, ld := range sink.Logs() {
		received.addLogs(ld)
	}
	for _, md := range sink.Metrics() {
		received.addMetrics(md)
	}
	received.requireExactly(t, "the replayed telemetry", all)
	assert.Equal(t, merged.untagged, received.untagged, "the incident_webhook's log records are replayed once each")
	assert.Equal(t, merged.webhookLogs, received.webhookLogs)
	logf("the sink received %d spans, %d log records, %d data points",
		sink.SpanCount(), sink.LogRecordCount(), sink.DataPointCount())
}

// scaleOutReplica is one replica and what the test sent it.
type scaleOutReplica struct {
	id    string
	ports harness.Ports
	c     *harness.Collector
	otlp  *harness.OTLPClient
	sent  *itemSet
}

// send sends the replica one batch of each signal with one item per time,
// each tagged with an ID unique to the replica and phase, and records them.
func (r *scaleOutReplica) send(t *testing.T, seed int64, phase string, times []time.Time) {
	t.Helper()
	n := len(times)
	at := testgen.WithTimeFunc(func(i int) time.Time { return times[i] })
	tag := func(kind string, k int) string { return fmt.Sprintf("%s-%s-%s-%d", r.id, phase, kind, k) }

	td := testgen.Traces(seed, n, 3, time.Time{}, 0, at)
	k := 0
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				s.Attributes().PutStr(itemAttr, tag("span", k))
				k++
			}
		}
	}
	ld := testgen.Logs(seed, n, 3, time.Time{}, 0, at)
	k = 0
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				lr.Attributes().PutStr(itemAttr, tag("log", k))
				k++
			}
		}
	}
	md := testgen.Metrics(seed, n, 3, time.Time{}, 0, at)
	k = 0
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				harness.EachDataPoint(m, func(attrs pcommon.Map, _ pcommon.Timestamp) {
					attrs.PutStr(itemAttr, tag("point", k))
					k++
				})
			}
		}
	}
	require.Equal(t, n, k, "one data point per time")
	r.sent.addTraces(td)
	r.sent.addLogs(ld)
	r.sent.addMetrics(md)
	r.otlp.SendTraces(td)
	r.otlp.SendLogs(ld)
	r.otlp.SendMetrics(md)
}

// itemSet counts items by their itemAttr ID, per signal. Items without the
// attribute are counted apart: log records of the incident_webhook
// receiver by event name and observed time, anything else as a stranger.
type itemSet struct {
	spans, logs, points map[string]int
	untagged            bundle.Counts
	webhookLogs         map[string]int
	strangers           []string
}

func newItemSet() *itemSet {
	return &itemSet{spans: map[string]int{}, logs: map[string]int{}, points: map[string]int{}, webhookLogs: map[string]int{}}
}

func (s *itemSet) addTraces(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if v, ok := sp.Attributes().Get(itemAttr); ok {
					s.spans[v.Str()]++
					continue
				}
				s.untagged.Spans++
				s.strangers = append(s.strangers, fmt.Sprintf("span %q %v", sp.Name(), sp.Attributes().AsRaw()))
			}
		}
	}
}

func (s *itemSet) addLogs(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		svc, _ := rl.Resource().Attributes().Get("service.name")
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if v, ok := lr.Attributes().Get(itemAttr); ok {
					s.logs[v.Str()]++
					continue
				}
				s.untagged.LogRecords++
				if svc.AsString() == webhookService {
					s.webhookLogs[fmt.Sprintf("%s@%d", lr.EventName(), lr.ObservedTimestamp())]++
					continue
				}
				s.strangers = append(s.strangers, fmt.Sprintf("log record of %q %v", svc.AsString(), lr.Attributes().AsRaw()))
			}
		}
	}
}

func (s *itemSet) addMetrics(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				harness.EachDataPoint(m, func(attrs pcommon.Map, _ pcommon.Timestamp) {
					if v, ok := attrs.Get(itemAttr); ok {
						s.points[v.Str()]++
						return
					}
					s.untagged.DataPoints++
					s.strangers = append(s.strangers, fmt.Sprintf("data point of %q %v", m.Name(), attrs.AsRaw()))
				})
			}
		}
	}
}

// merge adds the tagged items of o, which must not overlap s's.
func (s *itemSet) merge(t *testing.T, o *itemSet) {
	t.Helper()
	for _, p := range []struct{ dst, src map[string]int }{{s.spans, o.spans}, {s.logs, o.logs}, {s.points, o.points}} {
		for id, n := range p.src {
			require.NotContainsf(t, p.dst, id, "item %s was sent twice", id)
			p.dst[id] = n
		}
	}
}

// requireExactly checks that s holds every tagged item of want exactly
// once and nothing else but the incident_webhook's log records, each once.
func (s *itemSet) requireExactly(t *testing.T, what string, want *itemSet) {
	t.Helper()
	ok := assert.Emptyf(t, s.strangers, "%s holds items the test did not send", what)
	for id, n := range s.webhookLogs {
		ok = assert.Equalf(t, 1, n, "%s holds the webhook log record %s %d times", what, id, n) && ok
	}
	for _, sig := range []struct {
		name      string
		got, want map[string]int
	}{
		{"span", s.spans, want.spans},
		{"log record", s.logs, want.logs},
		{"data point", s.points, want.points},
	} {
		var missing, dup, extra []string
		for id := range sig.want {
			switch n := sig.got[id]; {
			case n == 0:
				missing = append(missing, id)
			case n > 1:
				dup = append(dup, fmt.Sprintf("%s x%d", id, n))
			}
		}
		for id := range sig.got {
			if _, ok := sig.want[id]; !ok {
				extra = append(extra, id)
			}
		}
		slices.Sort(missing)
		slices.Sort(dup)
		slices.Sort(extra)
		ok = assert.Emptyf(t, missing, "%ss missing from %s", sig.name, what) && ok
		ok = assert.Emptyf(t, dup, "%ss duplicated in %s", sig.name, what) && ok
		ok = assert.Emptyf(t, extra, "%ss in %s that were not sent there", sig.name, what) && ok
		t.Logf("%s: %d %ss of %d sent", what, len(sig.got), sig.name, len(sig.want))
	}
	if !ok {
		t.FailNow()
	}
}

// readMergedItems reads the merged traces.jsonl, logs.jsonl and
// metrics.jsonl of a directory written by `evidencectl get`.
func readMergedItems(t *testing.T, dir string) *itemSet {
	t.Helper()
	s := newItemSet()
	eachJSONLine(t, filepath.Join(dir, bundle.TracesJSONFile), func(line []byte) error {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		s.addTraces(td)
		return err
	})
	eachJSONLine(t, filepath.Join(dir, bundle.LogsJSONFile), func(line []byte) error {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
		s.addLogs(ld)
		return err
	})
	eachJSONLine(t, filepath.Join(dir, bundle.MetricsJSONFile), func(line []byte) error {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
		s.addMetrics(md)
		return err
	})
	return s
}

// eachJSONLine calls fn with every non-empty line of the file at path.
func eachJSONLine(t *testing.T, path string, fn func(line []byte) error) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	n := 0
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		n++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		require.NoErrorf(t, fn(line), "%s line %d", path, n)
	}
}

// mergedManifest is the part of merged-manifest.json (written by
// `evidencectl get`) that the test reads.
type mergedManifest struct {
	IncidentID string `json:"incident_id"`
	Complete   bool   `json:"complete"`
	Collectors []struct {
		CollectorID string        `json:"collector_id"`
		Complete    bool          `json:"complete"`
		Counts      bundle.Counts `json:"counts"`
	} `json:"collectors"`
	Totals bundle.Counts              `json:"totals"`
	Files  map[string]json.RawMessage `json:"files"`
}

func readMergedManifest(t *testing.T, dir string) mergedManifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "merged-manifest.json"))
	require.NoError(t, err)
	var m mergedManifest
	require.NoError(t, json.Unmarshal(data, &m), "merged-manifest.json")
	for _, f := range []string{bundle.TracesJSONFile, bundle.LogsJSONFile, bundle.MetricsJSONFile} {
		assert.Containsf(t, slices.Collect(maps.Keys(m.Files)), f, "merged-manifest.json lists %s", f)
	}
	return m
}
