package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/cmd/evidencectl/internal/replay"

	"github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// cloneTraces and friends copy batches so that a test can change them.
func cloneTraces(in []ptrace.Traces) []ptrace.Traces {
	out := make([]ptrace.Traces, len(in))
	for i, td := range in {
		out[i] = ptrace.NewTraces()
		td.CopyTo(out[i])
	}
	return out
}

func cloneLogs(in []plog.Logs) []plog.Logs {
	out := make([]plog.Logs, len(in))
	for i, ld := range in {
		out[i] = plog.NewLogs()
		ld.CopyTo(out[i])
	}
	return out
}

func cloneMetrics(in []pmetric.Metrics) []pmetric.Metrics {
	out := make([]pmetric.Metrics, len(in))
	for i, md := range in {
		out[i] = pmetric.NewMetrics()
		md.CopyTo(out[i])
	}
	return out
}

// maxSpanEnd, written independently of replay's own walkers, finds the
// latest span end time: with testgen data it is the latest timestamp of
// the bundle (spans end after they start; logs and points lie inside).
func maxSpanEnd(tds []ptrace.Traces) pcommon.Timestamp {
	var m pcommon.Timestamp
	for _, td := range tds {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					m = max(m, s.EndTimestamp(), s.StartTimestamp())
				}
			}
		}
	}
	return m
}

// requireSameBatches compares batches by their protobuf encoding.
func requireSameBatches[T any](t *testing.T, want, got []T) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, testgen.ProtoBytes(t, want[i]), testgen.ProtoBytes(t, got[i]), "batch %d", i)
	}
}

func TestReplayGRPC(t *testing.T) {
	f := twoCollectorFixture("INC-42")
	_, dir := downloaded(t, "INC-42")
	sink := otlpsink.Start(t)

	var res replayResult
	run(t, "--output", "json", "replay", dir, "--endpoint", sink.Endpoint, "--insecure").requireCode(t, ExitOK).jsonOut(t, &res)
	assert.Equal(t, replayCounts{Requests: int64(len(f.traces())), Items: f.spans}, res.Traces)
	assert.Equal(t, replayCounts{Requests: int64(len(f.logs())), Items: f.logRecords}, res.Logs)
	assert.Equal(t, replayCounts{Requests: int64(len(f.metrics())), Items: f.dataPoints}, res.Metrics)
	assert.Zero(t, res.ShiftSeconds)

	// Exactly the bundle's items, batch by batch, in stored order.
	requireSameBatches(t, f.traces(), sink.Traces())
	requireSameBatches(t, f.logs(), sink.Logs())
	requireSameBatches(t, f.metrics(), sink.Metrics())
	assert.Equal(t, int(f.spans), sink.SpanCount())
	assert.Equal(t, int(f.logRecords), sink.LogRecordCount())
	assert.Equal(t, int(f.dataPoints), sink.DataPointCount())
}

func TestReplayShiftToNow(t *testing.T) {
	f := twoCollectorFixture("INC-42")
	_, dir := downloaded(t, "INC-42")
	sink := otlpsink.Start(t)
	now := time.Date(2026, time.July, 1, 8, 0, 0, 0, time.UTC)

	r := runWith(t, runOpts{now: now}, "replay", dir, "--endpoint", sink.Endpoint, "--insecure", "--shift-to-now").requireCode(t, ExitOK)
	latest := maxSpanEnd(f.traces())
	shift := int64(pcommon.NewTimestampFromTime(now)) - int64(latest)
	require.Positive(t, shift)
	assert.Contains(t, r.stdout, "Timestamps moved forward by "+time.Duration(shift).Round(time.Millisecond).String())

	// The latest timestamp becomes now; every other one moves by as much.
	got := sink.Traces()
	assert.Equal(t, pcommon.NewTimestampFromTime(now), maxSpanEnd(got))
	wantTraces := cloneTraces(f.traces())
	for _, td := range wantTraces {
		replay.ShiftTraces(td, shift)
	}
	requireSameBatches(t, wantTraces, got)
	first := f.traces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	gotFirst := got[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, int64(first.StartTimestamp())+shift, int64(gotFirst.StartTimestamp()))
	assert.Equal(t, first.SpanID(), gotFirst.SpanID())

	wantLogs := cloneLogs(f.logs())
	for _, ld := range wantLogs {
		replay.ShiftLogs(ld, shift)
	}
	requireSameBatches(t, wantLogs, sink.Logs())
	firstLog := f.logs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	gotLog := sink.Logs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, int64(firstLog.ObservedTimestamp())+shift, int64(gotLog.ObservedTimestamp()))

	wantMetrics := cloneMetrics(f.metrics())
	for _, md := range wantMetrics {
		replay.ShiftMetrics(md, shift)
	}
	requireSameBatches(t, wantMetrics, sink.Metrics())
	assert.Equal(t, int(f.dataPoints), sink.DataPointCount())
}

// httpSink is an OTLP/HTTP protobuf receiver that fails the first
// failFirst requests with 503.
type httpSink struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	traces    []ptrace.Traces
	logs      []plog.Logs
	metrics   []pmetric.Metrics
	bad       []string
}

func (s *httpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		http.Error(w, "warming up", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" || r.Header.Get("X-Api-Key") != "k1" {
		s.bad = append(s.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var resp interface{ MarshalProto() ([]byte, error) }
	switch r.URL.Path {
	case "/v1/traces":
		req := ptraceotlp.NewExportRequest()
		if req.UnmarshalProto(body) != nil {
			http.Error(w, "bad proto", http.StatusBadRequest)
			return
		}
		s.traces = append(s.traces, req.Traces())
		resp = ptraceotlp.NewExportResponse()
	case "/v1/logs":
		req := plogotlp.NewExportRequest()
		if req.UnmarshalProto(body) != nil {
			http.Error(w, "bad proto", http.StatusBadRequest)
			return
		}
		s.logs = append(s.logs, req.Logs())
		out := plogotlp.NewExportResponse()
		out.PartialSuccess().SetRejectedLogRecords(1)
		resp = out
	case "/v1/metrics":
		req := pmetricotlp.NewExportRequest()
		if req.UnmarshalProto(body) != nil {
			http.Error(w, "bad proto", http.StatusBadRequest)
			return
		}
		s.metrics = append(s.metrics, req.Metrics())
		resp = pmetricotlp.NewExportResponse()
	default:
		s.bad = append(s.bad, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	b, _ := resp.MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func TestReplayHTTP(t *testing.T) {
	f := twoCollectorFixture("INC-42")
	_, dir := downloaded(t, "INC-42")
	sink := &httpSink{failFirst: 1}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)

	var res replayResult
	r := run(t, "--output", "json", "replay", dir, "--endpoint", srv.Listener.Addr().String(), "--protocol", "http",
		"--insecure", "--header", "X-Api-Key=k1")
	// The sink rejects one log record per logs request: exit 1, but
	// everything was sent, after one retry of the 503.
	r.requireCode(t, ExitFailure).jsonOut(t, &res)
	assert.Contains(t, r.stderr, "the endpoint rejected")
	assert.Equal(t, int64(len(f.logs())), res.Logs.Rejected)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	assert.Empty(t, sink.bad)
	requireSameBatches(t, f.traces(), sink.traces)
	requireSameBatches(t, f.logs(), sink.logs)
	requireSameBatches(t, f.metrics(), sink.metrics)
}

func TestReplayErrors(t *testing.T) {
	_, dir := downloaded(t, "INC-42")
	sink := otlpsink.Start(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no endpoint", []string{"replay", dir}, ExitUsage, "--endpoint is required"},
		{"bad protocol", []string{"replay", dir, "--endpoint", sink.Endpoint, "--protocol", "udp"}, ExitUsage, "invalid --protocol"},
		{"not merged", []string{"replay", t.TempDir(), "--endpoint", sink.Endpoint}, ExitNotFound, "holds no merged evidence"},
		{"grpc URL", []string{"replay", dir, "--endpoint", "http://" + sink.Endpoint, "--insecure"}, ExitUsage, "host:port"},
		{"bad header", []string{"replay", dir, "--endpoint", sink.Endpoint, "--header", "novalue"}, ExitUsage, "key=value"},
		{"plain http without --insecure", []string{"replay", dir, "--endpoint", "http://" + sink.Endpoint, "--protocol", "http"}, ExitUsage, "--insecure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...).requireCode(t, tt.code)
			assert.Contains(t, r.stderr, tt.stderr)
		})
	}
	assert.Zero(t, sink.SpanCount())

	// A damaged merged file is named, with the line.
	logs := filepath.Join(dir, "logs.jsonl")
	n := len(readLines(t, logs))
	fh, err := os.OpenFile(logs, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fh.WriteString("{\"resourceLogs\": [\n")
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	r := run(t, "replay", dir, "--endpoint", sink.Endpoint, "--insecure").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stderr, fmt.Sprintf("%s line %d: ", logs, n+1))
	assert.Contains(t, r.stderr, "evidencectl verify "+dir)
}
