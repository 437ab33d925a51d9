package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// ctlResult is one run of the evidencectl binary.
type ctlResult struct {
	code           int
	stdout, stderr string
}

var (
	ctlOnce, ctlBuild sync.Once
	ctlBin            string
	ctlErr            error
)

// evidencectlBinary builds the CLI once per test process, into a
// temporary directory, and returns its path.
func evidencectlBinary(t *testing.T) string {
	t.Helper()
	ctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-evidencectl-")
		if err != nil {
			ctlErr = err
			return
		}
		ctlBin = filepath.Join(dir, "evidencectl")
	})
	require.NoError(t, ctlErr)
	ctlBuild.Do(func() { harness.BuildCommand(t, "cmd/evidencectl", ctlBin) })
	return ctlBin
}

// runEvidencectl runs the CLI binary with args and extra environment
// variables, within a minute.
func runEvidencectl(t *testing.T, bin string, env []string, args ...string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := ctlResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running evidencectl %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("evidencectl %s: exit %d", strings.Join(args, " "), res.code)
	return res
}

// evidencectl returns a function that runs the CLI with args and extra
// environment variables.
func evidencectl(t *testing.T) func(env []string, args ...string) ctlResult {
	t.Helper()
	bin := evidencectlBinary(t)
	return func(env []string, args ...string) ctlResult {
		t.Helper()
		return runEvidencectl(t, bin, env, args...)
	}
}

// spanIDs collects the span IDs of merged or received batches.
func spanIDs(tds ...ptrace.Traces) map[pcommon.SpanID]int {
	ids := make(map[pcommon.SpanID]int)
	for _, td := range tds {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					ids[s.SpanID()]++
				}
			}
		}
	}
	return ids
}

func readMergedTraces(t *testing.T, path string) []ptrace.Traces {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []ptrace.Traces
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		require.NoError(t, err)
		out = append(out, td)
	}
	return out
}

// TestEvidencectlTwoReplicas runs two collector replicas sharing one
// versitygw bucket, sends each its own telemetry, opens an incident with
// `evidencectl trigger`, and once both replicas have frozen their bundles:
// `evidencectl get` fetches and merges both, `verify` passes, one flipped
// byte makes `verify` fail with exit code 4 and name the file, and
// `replay` delivers exactly the merged spans, log records and data points
// to an OTLP sink.
func TestEvidencectlTwoReplicas(t *testing.T) {
	const (
		id     = "INC-E2E-CTL-1"
		prefix = "e2e-ctl"
	)
	ctl := evidencectl(t)
	harness.Binary(t)
	srv := s3server.Start(t)
	storeCfg, st := harness.S3Store(t, srv, prefix)
	start := func(collectorID string) harness.Ports {
		p := harness.NewPorts(t)
		cfg := harness.Config(t, p, harness.Options{
			CollectorID: collectorID,
			Store:       storeCfg,
			Override: map[string]any{"exporters": map[string]any{"evidence": map[string]any{
				"window":         map[string]any{"before": "1m", "after": "3s", "extend_until_resolved": false},
				"flush_interval": "1s",
			}}},
		})
		harness.StartCollector(t, "", cfg, p.Health)
		return p
	}
	pa, pb := start("replica-a"), start("replica-b")

	// Each replica gets its own telemetry, timed in the last minute.
	T := time.Now().UTC().Truncate(time.Millisecond)
	sent := map[string]struct {
		td ptrace.Traces
		ld plog.Logs
		md pmetric.Metrics
	}{}
	for i, p := range []harness.Ports{pa, pb} {
		seed := int64(100 * (i + 1))
		from := T.Add(-40 * time.Second)
		batch := sent[p.OTLPGRPC]
		batch.td = testgen.Traces(seed, 60+10*i, 3, from, 100*time.Millisecond)
		batch.ld = testgen.Logs(seed+1, 40+10*i, 2, from, 100*time.Millisecond)
		batch.md = testgen.Metrics(seed+2, 30+10*i, 2, from, 100*time.Millisecond)
		sent[p.OTLPGRPC] = batch
		c := harness.NewOTLPClient(t, p.OTLPGRPC)
		c.SendTraces(batch.td)
		c.SendLogs(batch.ld)
		c.SendMetrics(batch.md)
	}
	wantSpans := spanIDs(sent[pa.OTLPGRPC].td, sent[pb.OTLPGRPC].td)

	// Open the incident through replica A's webhook with the CLI; replica
	// B learns of it through the bucket.
	tokenEnv := []string{"EVIDENCECTL_TOKEN=" + harness.Token}
	r := ctl(tokenEnv, "trigger", "--receiver", "http://"+pa.Webhook, "--id", id, "--title", "e2e: evidencectl",
		"--severity", "critical", "--started-at", T.Format(time.RFC3339Nano), "--link", "https://runbooks.example.com/e2e")
	require.Equalf(t, 0, r.code, "trigger: %s%s", r.stdout, r.stderr)
	require.Contains(t, r.stdout, "Opened: "+id)

	// Replica B stores its first part only after it has read the incident
	// from the bucket: wait for both bundles, not for the first complete.
	rep := harness.WaitBundleCompleteFrom(t, st, id, 2, 40*time.Second)
	require.Len(t, rep.Collectors, 2, "both replicas froze the incident")

	storeEnv := []string{
		"EVIDENCECTL_STORE=s3://" + srv.Bucket + "/" + prefix,
		"AWS_ENDPOINT_URL_S3=" + srv.URL(),
		"AWS_REGION=" + s3server.Region,
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
	}
	r = ctl(storeEnv, "--s3-path-style", "list", "--status", "open")
	require.Equalf(t, 0, r.code, "list: %s%s", r.stdout, r.stderr)
	require.Contains(t, r.stdout, id)
	require.Contains(t, r.stdout, "2/2 done")

	// get: both collectors, merged.
	dir := filepath.Join(t.TempDir(), id)
	r = ctl(storeEnv, "--s3-path-style", "--output", "json", "get", id, "-o", dir)
	require.Equalf(t, 0, r.code, "get: %s%s", r.stdout, r.stderr)
	var got struct {
		Download struct {
			Downloaded int `json:"downloaded"`
		} `json:"download"`
		Merged struct {
			Complete   bool          `json:"complete"`
			Totals     bundle.Counts `json:"totals"`
			Recorded   int64         `json:"events_recorded"`
			Collectors []struct {
				CollectorID string        `json:"collector_id"`
				Complete    bool          `json:"complete"`
				Counts      bundle.Counts `json:"counts"`
			} `json:"collectors"`
		} `json:"merged"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	m := got.Merged
	assert.True(t, m.Complete)
	require.Len(t, m.Collectors, 2)
	var sum bundle.Counts
	for i, c := range m.Collectors {
		assert.Equal(t, []string{"replica-a", "replica-b"}[i], c.CollectorID)
		assert.True(t, c.Complete)
		assert.Equal(t, rep.Collectors[i].Totals, c.Counts, "merged counts of %s equal its manifest", c.CollectorID)
		sum = sum.Add(c.Counts)
	}
	assert.Equal(t, sum.Spans, m.Totals.Spans)
	assert.Equal(t, sum.LogRecords, m.Totals.LogRecords)
	assert.Equal(t, sum.DataPoints, m.Totals.DataPoints)
	assert.Equal(t, sum.Events, m.Recorded)
	// Exactly the spans sent to the two replicas, each once.
	merged := readMergedTraces(t, filepath.Join(dir, bundle.TracesJSONFile))
	assert.Equal(t, wantSpans, spanIDs(merged...))
	assert.EqualValues(t, len(wantSpans), m.Totals.Spans)
	assert.GreaterOrEqual(t, m.Totals.LogRecords, int64(sent[pa.OTLPGRPC].ld.LogRecordCount()+sent[pb.OTLPGRPC].ld.LogRecordCount()))
	assert.EqualValues(t, sent[pa.OTLPGRPC].md.DataPointCount()+sent[pb.OTLPGRPC].md.DataPointCount(), m.Totals.DataPoints)
	// Events recorded by both replicas appear once.
	events, err := os.ReadFile(filepath.Join(dir, bundle.EventsFile))
	require.NoError(t, err)
	keys := map[string]bool{}
	opened := 0
	for line := range bytes.SplitSeq(bytes.TrimSpace(events), []byte{'\n'}) {
		var ev incident.Event
		require.NoError(t, json.Unmarshal(line, &ev))
		k := fmt.Sprint(ev.Kind, ev.IncidentID, ev.DeployID, ev.Time.UnixNano(), ev.Source)
		assert.False(t, keys[k], "duplicate event %s", line)
		keys[k] = true
		if ev.Kind == incident.EventIncidentOpened && ev.IncidentID == id {
			opened++
		}
	}
	assert.Equal(t, 1, opened, "the opening appears once")
	t.Logf("merged: %+v, %d events recorded by the replicas", m.Totals, m.Recorded)
	assert.EqualValues(t, len(keys), m.Totals.Events)

	// verify passes; a flipped byte fails it with exit code 4, named.
	r = ctl(nil, "verify", dir, "--require-complete")
	require.Equalf(t, 0, r.code, "verify: %s%s", r.stdout, r.stderr)
	key, err := bundle.PartKey(id, "replica-b", 1)
	require.NoError(t, err)
	part := filepath.Join(dir, "raw", filepath.FromSlash(key))
	data, err := os.ReadFile(part)
	require.NoError(t, err)
	data[len(data)/2] ^= 0x01
	require.NoError(t, os.WriteFile(part, data, 0o640))
	r = ctl(nil, "verify", dir)
	require.Equalf(t, 4, r.code, "verify of a flipped byte: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "BAD  "+part)
	assert.Contains(t, r.stderr, part)
	// get repairs the copy.
	r = ctl(storeEnv, "--s3-path-style", "get", id, "-o", dir)
	require.Equalf(t, 0, r.code, "get again: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Downloaded 1 part ")
	require.Equal(t, 0, ctl(nil, "verify", dir).code)

	// replay delivers exactly the merged items.
	sink := otlpsink.Start(t)
	r = ctl(nil, "replay", dir, "--endpoint", sink.Endpoint, "--insecure", "--shift-to-now")
	require.Equalf(t, 0, r.code, "replay: %s%s", r.stdout, r.stderr)
	assert.EqualValues(t, m.Totals.Spans, sink.SpanCount())
	assert.EqualValues(t, m.Totals.LogRecords, sink.LogRecordCount())
	assert.EqualValues(t, m.Totals.DataPoints, sink.DataPointCount())
	assert.Equal(t, wantSpans, spanIDs(sink.Traces()...))
	var latest pcommon.Timestamp
	for _, td := range sink.Traces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					latest = max(latest, s.EndTimestamp())
				}
			}
		}
	}
	assert.WithinDuration(t, time.Now(), latest.AsTime(), time.Minute, "shifted to now")

	// resolve through replica B.
	r = ctl([]string{"OTEL_EVIDENCE_WEBHOOK_TOKEN=" + harness.Token, "EVIDENCECTL_RECEIVER=http://" + pb.Webhook}, "resolve", "--id", id)
	require.Equalf(t, 0, r.code, "resolve: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Resolved: "+id)
}
