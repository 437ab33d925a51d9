package replay

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// grpcSender exports over OTLP/gRPC with the pdata clients.
type grpcSender struct {
	conn *grpc.ClientConn
	md   metadata.MD
	tc   ptraceotlp.GRPCClient
	lc   plogotlp.GRPCClient
	mc   pmetricotlp.GRPCClient
}

// newGRPCSender connects to cfg.Endpoint (host:port); tlsCfg nil is plain
// text.
func newGRPCSender(cfg ClientConfig, tlsCfg *tls.Config) (*grpcSender, error) {
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("%w: a gRPC endpoint is host:port, got %q", ErrConfig, cfg.Endpoint)
	}
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q: %w", ErrConfig, cfg.Endpoint, err)
	}
	var md metadata.MD
	if len(cfg.Headers) > 0 {
		md = metadata.New(cfg.Headers)
	}
	return &grpcSender{
		conn: conn, md: md,
		tc: ptraceotlp.NewGRPCClient(conn), lc: plogotlp.NewGRPCClient(conn), mc: pmetricotlp.NewGRPCClient(conn),
	}, nil
}

func (g *grpcSender) ctx(ctx context.Context) context.Context {
	if g.md != nil {
		return metadata.NewOutgoingContext(ctx, g.md)
	}
	return ctx
}

func (g *grpcSender) traces(ctx context.Context, td ptrace.Traces) (int64, error) {
	resp, err := g.tc.Export(g.ctx(ctx), ptraceotlp.NewExportRequestFromTraces(td))
	if err != nil {
		return 0, err
	}
	return resp.PartialSuccess().RejectedSpans(), nil
}

func (g *grpcSender) logs(ctx context.Context, ld plog.Logs) (int64, error) {
	resp, err := g.lc.Export(g.ctx(ctx), plogotlp.NewExportRequestFromLogs(ld))
	if err != nil {
		return 0, err
	}
	return resp.PartialSuccess().RejectedLogRecords(), nil
}

func (g *grpcSender) metrics(ctx context.Context, md pmetric.Metrics) (int64, error) {
	resp, err := g.mc.Export(g.ctx(ctx), pmetricotlp.NewExportRequestFromMetrics(md))
	if err != nil {
		return 0, err
	}
	return resp.PartialSuccess().RejectedDataPoints(), nil
}

func (g *grpcSender) close() error { return g.conn.Close() }
