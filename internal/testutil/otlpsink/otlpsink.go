// Package otlpsink is an OTLP/gRPC server for tests that keeps everything
// it receives.
package otlpsink // import "github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp exporter compresses with gzip by default
)

// Sink is an OTLP/gRPC server in the test process that keeps everything it
// receives, so a test can see exactly what a collector exported.
type Sink struct {
	// Endpoint is the loopback host:port to export to.
	Endpoint string

	mu      sync.Mutex
	traces  []ptrace.Traces
	logs    []plog.Logs
	metrics []pmetric.Metrics
}

// Start starts an OTLP/gRPC sink on a free loopback port; it stops with
// the test.
func Start(t testing.TB) *Sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &Sink{Endpoint: l.Addr().String()}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, &traceServer{s: s})
	plogotlp.RegisterGRPCServer(srv, &logServer{s: s})
	pmetricotlp.RegisterGRPCServer(srv, &metricServer{s: s})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s
}

// Traces returns copies of the trace batches received so far.
func (s *Sink) Traces() []ptrace.Traces {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Traces(nil), s.traces...)
}

// Logs returns the log batches received so far.
func (s *Sink) Logs() []plog.Logs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]plog.Logs(nil), s.logs...)
}

// Metrics returns the metric batches received so far.
func (s *Sink) Metrics() []pmetric.Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pmetric.Metrics(nil), s.metrics...)
}

// SpanCount, LogRecordCount and DataPointCount total what was received.
func (s *Sink) SpanCount() (n int) {
	for _, td := range s.Traces() {
		n += td.SpanCount()
	}
	return n
}

// LogRecordCount totals the log records received.
func (s *Sink) LogRecordCount() (n int) {
	for _, ld := range s.Logs() {
		n += ld.LogRecordCount()
	}
	return n
}

// DataPointCount totals the metric data points received.
func (s *Sink) DataPointCount() (n int) {
	for _, md := range s.Metrics() {
		n += md.DataPointCount()
	}
	return n
}

type traceServer struct {
	ptraceotlp.UnimplementedGRPCServer
	s *Sink
}

func (ts *traceServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := ptrace.NewTraces()
	req.Traces().CopyTo(td)
	ts.s.mu.Lock()
	ts.s.traces = append(ts.s.traces, td)
	ts.s.mu.Unlock()
	return ptraceotlp.NewExportResponse(), nil
}

type logServer struct {
	plogotlp.UnimplementedGRPCServer
	s *Sink
}

func (ls *logServer) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	ld := plog.NewLogs()
	req.Logs().CopyTo(ld)
	ls.s.mu.Lock()
	ls.s.logs = append(ls.s.logs, ld)
	ls.s.mu.Unlock()
	return plogotlp.NewExportResponse(), nil
}

type metricServer struct {
	pmetricotlp.UnimplementedGRPCServer
	s *Sink
}

func (ms *metricServer) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := pmetric.NewMetrics()
	req.Metrics().CopyTo(md)
	ms.s.mu.Lock()
	ms.s.metrics = append(ms.s.metrics, md)
	ms.s.mu.Unlock()
	return pmetricotlp.NewExportResponse(), nil
}
