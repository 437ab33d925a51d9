// Package replay sends evidence back over OTLP, gRPC or HTTP (protobuf),
// one request per stored batch, retrying while the endpoint is unavailable
// or overloaded, and moves telemetry in time. Its client is configured
// with the collector's own client config types (configtls,
// configretry), as the otlp exporters are.
package replay // import "github.com/otel-evidence/otel-evidence/cmd/evidencectl/internal/replay"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otel-evidence/otel-evidence/internal/retry"
)

// Protocols of ClientConfig.Protocol.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// Defaults of DefaultClientConfig.
const (
	defaultTimeout     = 30 * time.Second
	defaultMaxAttempts = 5
	defaultFirstWait   = 250 * time.Millisecond
	defaultMaxWait     = 5 * time.Second
	defaultMultiplier  = 2
	maxHTTPErrorBody   = 64 << 10
)

// ClientConfig is where and how a Client sends.
type ClientConfig struct {
	// Endpoint is host:port for gRPC; host:port or a URL for HTTP.
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP.
	Protocol string
	// TLS: Insecure sends plain text; CAFile adds certificate authorities
	// to the system's.
	TLS configtls.ClientConfig
	// Headers are sent with every request (gRPC metadata for gRPC).
	Headers map[string]string
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Retry spaces the attempts of a request the endpoint could not take.
	Retry configretry.BackOffConfig
	// MaxAttempts bounds the attempts of one request.
	MaxAttempts int
	// UserAgent is sent over HTTP.
	UserAgent string
}

// DefaultClientConfig returns a gRPC client with TLS: 30s per attempt, up
// to 5 attempts, waiting 250ms, 500ms, ... up to 5s between them.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Protocol: ProtocolGRPC,
		Timeout:  defaultTimeout,
		Retry: configretry.BackOffConfig{
			Enabled:         true,
			InitialInterval: defaultFirstWait,
			Multiplier:      defaultMultiplier,
			MaxInterval:     defaultMaxWait,
		},
		MaxAttempts: defaultMaxAttempts,
	}
}

// ErrConfig is wrapped by every error NewClient returns for a bad config.
var ErrConfig = errors.New("invalid replay client config")

// ExportError is a request that failed for good: not retryable, or still
// failing after MaxAttempts.
type ExportError struct {
	Endpoint string
	Attempts int
	Err      error
}

func (e *ExportError) Error() string {
	return fmt.Sprintf("sending to %s failed after %d attempt(s): %v", e.Endpoint, e.Attempts, e.Err)
}

func (e *ExportError) Unwrap() error { return e.Err }

// sender exports one request and returns how many items it rejected.
type sender interface {
	traces(ctx context.Context, td ptrace.Traces) (int64, error)
	logs(ctx context.Context, ld plog.Logs) (int64, error)
	metrics(ctx context.Context, md pmetric.Metrics) (int64, error)
	close() error
}

// Client sends batches to one endpoint. It is not safe for concurrent use.
type Client struct {
	cfg ClientConfig
	s   sender
	// sleep waits between attempts; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// NewClient checks cfg and opens a client (a gRPC connection is made
// lazily, at the first request).
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("%w: the timeout must be positive", ErrConfig)
	}
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = 1
	}
	tlsCfg, err := cfg.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrConfig, err)
	}
	var s sender
	switch cfg.Protocol {
	case ProtocolGRPC:
		s, err = newGRPCSender(cfg, tlsCfg)
	case ProtocolHTTP:
		s, err = newHTTPSender(cfg, tlsCfg)
	default:
		err = fmt.Errorf("%w: protocol %q is neither %q nor %q", ErrConfig, cfg.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, s: s, sleep: retry.Sleep}, nil
}

// Traces sends td and returns the spans the endpoint rejected.
func (c *Client) Traces(ctx context.Context, td ptrace.Traces) (int64, error) {
	return c.send(ctx, func(ctx context.Context) (int64, error) { return c.s.traces(ctx, td) })
}

// Logs sends ld and returns the log records the endpoint rejected.
func (c *Client) Logs(ctx context.Context, ld plog.Logs) (int64, error) {
	return c.send(ctx, func(ctx context.Context) (int64, error) { return c.s.logs(ctx, ld) })
}

// Metrics sends md and returns the data points the endpoint rejected.
func (c *Client) Metrics(ctx context.Context, md pmetric.Metrics) (int64, error) {
	return c.send(ctx, func(ctx context.Context) (int64, error) { return c.s.metrics(ctx, md) })
}

// Close releases the connection.
func (c *Client) Close() error { return c.s.close() }

// send exports one request, retrying while the endpoint is unavailable or
// overloaded. It returns ctx's error when ctx ends, else an *ExportError.
func (c *Client) send(ctx context.Context, export func(context.Context) (int64, error)) (int64, error) {
	bo := retry.New(c.cfg.Retry, time.Now())
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		rejected, err := export(actx)
		cancel()
		if err == nil {
			return rejected, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		wait, more := bo.Next(time.Now())
		if !retryable(err) || attempt >= c.cfg.MaxAttempts || !more {
			return 0, &ExportError{Endpoint: c.cfg.Endpoint, Attempts: attempt, Err: err}
		}
		if err := c.sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
}

// errRetryable marks HTTP answers worth retrying.
var errRetryable = errors.New("retryable")

func retryable(err error) bool {
	if errors.Is(err, errRetryable) {
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.ResourceExhausted:
			return true
		}
	}
	return false
}
