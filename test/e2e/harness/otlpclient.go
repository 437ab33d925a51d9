package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// OTLPClient sends exactly the batches a test builds (for example with
// internal/testgen, with known item times) to a collector's OTLP/gRPC
// receiver, unlike telemetrygen, whose items are timestamped "now".
type OTLPClient struct {
	t       testing.TB
	conn    *grpc.ClientConn
	traces  ptraceotlp.GRPCClient
	logs    plogotlp.GRPCClient
	metrics pmetricotlp.GRPCClient
	// Timeout bounds each Export, including the wait for the collector to
	// be reachable (calls wait for a connection rather than failing while
	// the collector restarts).
	Timeout time.Duration
}

// NewOTLPClient connects (lazily) to a plaintext OTLP/gRPC endpoint such as
// Ports.OTLPGRPC. The connection is closed when the test ends.
func NewOTLPClient(t testing.TB, endpoint string) *OTLPClient {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoErrorf(t, err, "OTLP/gRPC client for %s", endpoint)
	t.Cleanup(func() { _ = conn.Close() })
	return &OTLPClient{
		t:       t,
		conn:    conn,
		traces:  ptraceotlp.NewGRPCClient(conn),
		logs:    plogotlp.NewGRPCClient(conn),
		metrics: pmetricotlp.NewGRPCClient(conn),
		Timeout: 20 * time.Second,
	}
}

func (c *OTLPClient) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.Timeout)
}

// SendTraces exports td and fails the test unless the collector accepts
// every span.
func (c *OTLPClient) SendTraces(td ptrace.Traces) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	resp, err := c.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td), grpc.WaitForReady(true))
	require.NoError(c.t, err, "exporting traces")
	ps := resp.PartialSuccess()
	require.Zerof(c.t, ps.RejectedSpans(), "the collector rejected spans: %s", ps.ErrorMessage())
}

// SendLogs exports ld and fails the test unless the collector accepts every
// log record.
func (c *OTLPClient) SendLogs(ld plog.Logs) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	resp, err := c.logs.Export(ctx, plogotlp.NewExportRequestFromLogs(ld), grpc.WaitForReady(true))
	require.NoError(c.t, err, "exporting logs")
	ps := resp.PartialSuccess()
	require.Zerof(c.t, ps.RejectedLogRecords(), "the collector rejected log records: %s", ps.ErrorMessage())
}

// SendMetrics exports md and fails the test unless the collector accepts
// every data point.
func (c *OTLPClient) SendMetrics(md pmetric.Metrics) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	resp, err := c.metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md), grpc.WaitForReady(true))
	require.NoError(c.t, err, "exporting metrics")
	ps := resp.PartialSuccess()
	require.Zerof(c.t, ps.RejectedDataPoints(), "the collector rejected data points: %s", ps.ErrorMessage())
}
