package replay

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// httpSender exports OTLP/HTTP protobuf with net/http.
type httpSender struct {
	base      *url.URL
	headers   map[string]string
	userAgent string
	client    *http.Client
}

// newHTTPSender sends to cfg.Endpoint: a URL, or host:port (https, or
// http when TLS is off).
func newHTTPSender(cfg ClientConfig, tlsCfg *tls.Config) (*httpSender, error) {
	raw := cfg.Endpoint
	if !strings.Contains(raw, "://") {
		if cfg.TLS.Insecure {
			raw = "http://" + raw
		} else {
			raw = "https://" + raw
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: endpoint %q is neither host:port nor an http(s) URL", ErrConfig, cfg.Endpoint)
	}
	if u.Scheme == "http" && !cfg.TLS.Insecure {
		return nil, fmt.Errorf("%w: endpoint %s is plain HTTP but TLS is on", ErrConfig, cfg.Endpoint)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		transport.TLSClientConfig = tlsCfg
		if tlsCfg == nil {
			transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &httpSender{base: u, headers: cfg.Headers, userAgent: cfg.UserAgent, client: &http.Client{Transport: transport}}, nil
}

// post sends one protobuf request to path and returns the response body.
func (h *httpSender) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	target := h.base.String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if h.userAgent != "" {
		req.Header.Set("User-Agent", h.userAgent)
	}
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRetryable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPErrorBody+1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer of %s: %w", errRetryable, target, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(data[:min(len(data), 300)]), "?"))
	err = fmt.Errorf("%s answered %s: %s", target, resp.Status, msg)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return nil, fmt.Errorf("%w: %w", errRetryable, err)
	}
	return nil, err
}

// exportProto posts req's protobuf to path and decodes the answer into
// resp; an answer that is not an export response rejects nothing.
func (h *httpSender) exportProto(ctx context.Context, path string, req interface{ MarshalProto() ([]byte, error) },
	resp interface{ UnmarshalProto([]byte) error },
) (bool, error) {
	body, err := req.MarshalProto()
	if err != nil {
		return false, err
	}
	data, err := h.post(ctx, path, body)
	if err != nil {
		return false, err
	}
	return resp.UnmarshalProto(data) == nil, nil
}

func (h *httpSender) traces(ctx context.Context, td ptrace.Traces) (int64, error) {
	resp := ptraceotlp.NewExportResponse()
	ok, err := h.exportProto(ctx, "/v1/traces", ptraceotlp.NewExportRequestFromTraces(td), &resp)
	if !ok {
		return 0, err
	}
	return resp.PartialSuccess().RejectedSpans(), nil
}

func (h *httpSender) logs(ctx context.Context, ld plog.Logs) (int64, error) {
	resp := plogotlp.NewExportResponse()
	ok, err := h.exportProto(ctx, "/v1/logs", plogotlp.NewExportRequestFromLogs(ld), &resp)
	if !ok {
		return 0, err
	}
	return resp.PartialSuccess().RejectedLogRecords(), nil
}

func (h *httpSender) metrics(ctx context.Context, md pmetric.Metrics) (int64, error) {
	resp := pmetricotlp.NewExportResponse()
	ok, err := h.exportProto(ctx, "/v1/metrics", pmetricotlp.NewExportRequestFromMetrics(md), &resp)
	if !ok {
		return 0, err
	}
	return resp.PartialSuccess().RejectedDataPoints(), nil
}

func (h *httpSender) close() error {
	h.client.CloseIdleConnections()
	return nil
}
