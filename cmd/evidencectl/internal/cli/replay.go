package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// Protocols accepted by replay --protocol.
const (
	protocolGRPC = "grpc"
	protocolHTTP = "http"

	defaultReplayTimeout = 30 * time.Second
	replayAttempts       = 5
	replayFirstBackoff   = 250 * time.Millisecond
	replayMaxBackoff     = 5 * time.Second
	maxHTTPErrorBody     = 64 << 10
)

// replayOptions are the flags of `evidencectl replay`.
type replayOptions struct {
	root       *rootOptions
	endpoint   string
	protocol   string
	insecure   bool
	caFile     string
	shiftToNow bool
	headers    []string
	timeout    time.Duration

	// sleep waits between retries; tests replace it.
	sleep func(context.Context, time.Duration) error
}

func newReplayCmd(root *rootOptions) *cobra.Command {
	o := &replayOptions{root: root, sleep: sleepCtx}
	cmd := &cobra.Command{
		Use:   "replay DIR --endpoint HOST:PORT [--protocol grpc|http] [--insecure] [--shift-to-now]",
		Short: "Send merged evidence back over OTLP to a collector or backend",
		Long: `Send the traces, logs and metrics merged by 'evidencectl get' into DIR to an
OTLP endpoint, one request per stored batch, in the order they were stored.

--shift-to-now moves every timestamp by the same amount, so that the latest
one becomes now: backends with a short retention or a lookback limit accept
the data, and the time between items is kept. events.jsonl is not sent: the
receiver's events are already log records in logs.jsonl.`,
		Example: `  evidencectl replay ./INC-42 --endpoint localhost:4317 --insecure
  evidencectl replay ./INC-42 --endpoint otlp.example.com:443 --shift-to-now --header "x-api-key=..."
  evidencectl replay ./INC-42 --endpoint localhost:4318 --protocol http --insecure`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "endpoint"); err != nil {
				return err
			}
			return o.run(cmd.Context(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.endpoint, "endpoint", "", "OTLP endpoint, host:port (or a URL for http)")
	f.StringVar(&o.protocol, "protocol", protocolGRPC, "OTLP protocol: grpc or http (protobuf)")
	f.BoolVar(&o.insecure, "insecure", false, "plain text: no TLS")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file with extra certificate authorities for the endpoint")
	f.BoolVar(&o.shiftToNow, "shift-to-now", false, "move every timestamp so that the latest becomes now")
	f.StringArrayVar(&o.headers, "header", nil, "header (gRPC metadata) to send, key=value (repeatable)")
	f.DurationVar(&o.timeout, "timeout", defaultReplayTimeout, "timeout of each request")
	return cmd
}

// replayCounts are the items and requests of one signal.
type replayCounts struct {
	Requests int64 `json:"requests"`
	Items    int64 `json:"items"`
	Rejected int64 `json:"rejected"`
}

// replayResult is the JSON output of replay.
type replayResult struct {
	Endpoint string `json:"endpoint"`
	Protocol string `json:"protocol"`
	// ShiftSeconds is how far timestamps were moved (0 without
	// --shift-to-now).
	ShiftSeconds float64      `json:"shift_seconds"`
	Traces       replayCounts `json:"traces"`
	Logs         replayCounts `json:"logs"`
	Metrics      replayCounts `json:"metrics"`
}

// sender exports one request and returns how many items it rejected.
type sender interface {
	traces(ctx context.Context, td ptrace.Traces) (int64, error)
	logs(ctx context.Context, ld plog.Logs) (int64, error)
	metrics(ctx context.Context, md pmetric.Metrics) (int64, error)
	close() error
}

func (o *replayOptions) run(ctx context.Context, dir string) error {
	if o.protocol != protocolGRPC && o.protocol != protocolHTTP {
		return usageError("use --protocol grpc or --protocol http", "invalid --protocol %q", o.protocol)
	}
	if o.timeout <= 0 {
		return usageError("for example --timeout 30s", "--timeout must be positive")
	}
	headers, err := parseKeyValues("header", o.headers)
	if err != nil {
		return err
	}
	found := false
	for _, name := range mergedFiles[:3] {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = true
		}
	}
	if !found {
		return newError(ErrNotFound, nil, "run `evidencectl get INCIDENT -o "+dir+"` first",
			"%s holds no merged evidence (%s)", dir, strings.Join(mergedFiles[:3], ", "))
	}
	res := replayResult{Endpoint: o.endpoint, Protocol: o.protocol}
	var shift int64
	if o.shiftToNow {
		latest, err := latestTimestamp(dir)
		if err != nil {
			return err
		}
		if latest != 0 {
			shift = o.root.now().UnixNano() - int64(latest)
			res.ShiftSeconds = time.Duration(shift).Seconds()
		}
	}
	s, err := o.newSender(headers)
	if err != nil {
		return err
	}
	// Every batch has been answered by then; closing only releases the connection.
	defer func() { _ = s.close() }()

	err = forEachRecord(dir, bundle.TracesJSONFile, func(line []byte) error {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if err != nil {
			return err
		}
		shiftTraces(td, shift)
		return o.send(ctx, &res.Traces, int64(td.SpanCount()), func(ctx context.Context) (int64, error) { return s.traces(ctx, td) })
	})
	if err == nil {
		err = forEachRecord(dir, bundle.LogsJSONFile, func(line []byte) error {
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			if err != nil {
				return err
			}
			shiftLogs(ld, shift)
			return o.send(ctx, &res.Logs, int64(ld.LogRecordCount()), func(ctx context.Context) (int64, error) { return s.logs(ctx, ld) })
		})
	}
	if err == nil {
		err = forEachRecord(dir, bundle.MetricsJSONFile, func(line []byte) error {
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
			if err != nil {
				return err
			}
			shiftMetrics(md, shift)
			return o.send(ctx, &res.Metrics, int64(md.DataPointCount()), func(ctx context.Context) (int64, error) { return s.metrics(ctx, md) })
		})
	}
	if err != nil {
		return interrupted(err, "replaying again sends every batch again; the endpoint will see duplicates of what it already received")
	}
	o.checkTotals(dir, &res)
	if o.root.jsonOutput() {
		err = o.root.printJSON(res)
	} else {
		out := &textWriter{w: o.root.stdout()}
		out.printf("Replayed %s to %s over OTLP/%s:\n", dir, o.endpoint, o.protocol)
		for _, c := range []struct {
			name string
			c    replayCounts
		}{{"spans", res.Traces}, {"log records", res.Logs}, {"data points", res.Metrics}} {
			out.printf("  %d %s in %d requests", c.c.Items, c.name, c.c.Requests)
			if c.c.Rejected > 0 {
				out.printf(", %d rejected", c.c.Rejected)
			}
			out.println()
		}
		if o.shiftToNow {
			out.printf("Timestamps moved forward by %s.\n", time.Duration(shift).Round(time.Millisecond))
		}
		err = out.err
	}
	if err != nil {
		return err
	}
	if r := res.Traces.Rejected + res.Logs.Rejected + res.Metrics.Rejected; r > 0 {
		return newError(nil, nil, "the endpoint's logs say why; a backend with retention limits may need --shift-to-now",
			"the endpoint rejected %d items", r)
	}
	return nil
}

// checkTotals warns when the merged files hold other counts than
// merged-manifest.json says: they were changed after get.
func (o *replayOptions) checkTotals(dir string, res *replayResult) {
	data, err := os.ReadFile(filepath.Join(dir, mergedManifestFile))
	if err != nil {
		return
	}
	var mm mergedManifest
	if json.Unmarshal(data, &mm) != nil {
		return
	}
	t := mm.Totals
	if t.Spans != res.Traces.Items || t.LogRecords != res.Logs.Items || t.DataPoints != res.Metrics.Items {
		o.root.warnf("%s holds %d spans, %d log records and %d data points, but %s says %d, %d and %d: run `evidencectl verify %s`",
			dir, res.Traces.Items, res.Logs.Items, res.Metrics.Items, mergedManifestFile, t.Spans, t.LogRecords, t.DataPoints, dir)
	}
}

// send exports one request, retrying while the endpoint is unavailable or
// overloaded.
func (o *replayOptions) send(ctx context.Context, c *replayCounts, items int64, export func(context.Context) (int64, error)) error {
	if items == 0 {
		return nil
	}
	backoff := replayFirstBackoff
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, o.timeout)
		rejected, err := export(rctx)
		cancel()
		if err == nil {
			c.Requests++
			c.Items += items
			c.Rejected += rejected
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) || attempt == replayAttempts {
			return newError(nil, err, "check --endpoint, --protocol, --insecure and that the endpoint accepts OTLP",
				"sending to %s failed after %d attempt(s): %v", o.endpoint, attempt, err)
		}
		if err := o.sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, replayMaxBackoff)
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// forEachRecord calls fn with every line of a merged file; a missing file
// has no lines.
func forEachRecord(dir, name string, fn func(line []byte) error) error {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	return readJSONLines(f, func(n int, line []byte) error {
		if err := fn(line); err != nil {
			var ce *cliError
			if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
				return err
			}
			return newError(ErrVerifyFailed, err, "run `evidencectl verify "+dir+"`", "%s line %d: %v", path, n, err)
		}
		return nil
	})
}

func (o *replayOptions) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, usageError("check --ca-file", "cannot read --ca-file: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError("give a PEM certificate file", "--ca-file %s holds no PEM certificate", o.caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func (o *replayOptions) newSender(headers map[string]string) (sender, error) {
	if o.insecure && o.caFile != "" {
		return nil, usageError("drop one of them", "--insecure and --ca-file contradict each other")
	}
	if o.protocol == protocolHTTP {
		return o.newHTTPSender(headers)
	}
	if strings.Contains(o.endpoint, "://") {
		return nil, usageError("for example --endpoint localhost:4317", "a gRPC --endpoint is host:port, got %q", o.endpoint)
	}
	creds := insecure.NewCredentials()
	if !o.insecure {
		cfg, err := o.tlsConfig()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(o.endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, usageError("for example --endpoint localhost:4317", "invalid --endpoint %q: %v", o.endpoint, err)
	}
	var md metadata.MD
	if len(headers) > 0 {
		md = metadata.New(headers)
	}
	return &grpcSender{
		conn: conn, md: md,
		tc: ptraceotlp.NewGRPCClient(conn), lc: plogotlp.NewGRPCClient(conn), mc: pmetricotlp.NewGRPCClient(conn),
	}, nil
}

// grpcSender exports over OTLP/gRPC with the pdata clients.
type grpcSender struct {
	conn *grpc.ClientConn
	md   metadata.MD
	tc   ptraceotlp.GRPCClient
	lc   plogotlp.GRPCClient
	mc   pmetricotlp.GRPCClient
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

// httpSender exports OTLP/HTTP protobuf with net/http.
type httpSender struct {
	base    *url.URL
	headers map[string]string
	client  *http.Client
}

func (o *replayOptions) newHTTPSender(headers map[string]string) (sender, error) {
	raw := o.endpoint
	if !strings.Contains(raw, "://") {
		if o.insecure {
			raw = "http://" + raw
		} else {
			raw = "https://" + raw
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("for example --endpoint localhost:4318 or --endpoint https://otlp.example.com", "invalid --endpoint %q", o.endpoint)
	}
	if u.Scheme == "http" && !o.insecure && strings.Contains(o.endpoint, "://") {
		return nil, usageError("add --insecure to send in plain text", "--endpoint %s is plain HTTP", o.endpoint)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		cfg, err := o.tlsConfig()
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = cfg
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &httpSender{base: u, headers: headers, client: &http.Client{Transport: transport}}, nil
}

// post sends one protobuf request to path and returns the response body.
func (h *httpSender) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	target := h.base.String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "evidencectl/"+readBuildInfo().Version)
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

func (h *httpSender) traces(ctx context.Context, td ptrace.Traces) (int64, error) {
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return 0, err
	}
	data, err := h.post(ctx, "/v1/traces", body)
	if err != nil {
		return 0, err
	}
	resp := ptraceotlp.NewExportResponse()
	if resp.UnmarshalProto(data) != nil {
		return 0, nil
	}
	return resp.PartialSuccess().RejectedSpans(), nil
}

func (h *httpSender) logs(ctx context.Context, ld plog.Logs) (int64, error) {
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		return 0, err
	}
	data, err := h.post(ctx, "/v1/logs", body)
	if err != nil {
		return 0, err
	}
	resp := plogotlp.NewExportResponse()
	if resp.UnmarshalProto(data) != nil {
		return 0, nil
	}
	return resp.PartialSuccess().RejectedLogRecords(), nil
}

func (h *httpSender) metrics(ctx context.Context, md pmetric.Metrics) (int64, error) {
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		return 0, err
	}
	data, err := h.post(ctx, "/v1/metrics", body)
	if err != nil {
		return 0, err
	}
	resp := pmetricotlp.NewExportResponse()
	if resp.UnmarshalProto(data) != nil {
		return 0, nil
	}
	return resp.PartialSuccess().RejectedDataPoints(), nil
}

func (h *httpSender) close() error {
	h.client.CloseIdleConnections()
	return nil
}

// latestTimestamp scans the merged files for the latest timestamp that
// replay would send.
func latestTimestamp(dir string) (pcommon.Timestamp, error) {
	var latest pcommon.Timestamp
	see := func(ts pcommon.Timestamp) pcommon.Timestamp {
		latest = max(latest, ts)
		return ts
	}
	err := forEachRecord(dir, bundle.TracesJSONFile, func(line []byte) error {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if err == nil {
			mapTraceTimes(td, see)
		}
		return err
	})
	if err == nil {
		err = forEachRecord(dir, bundle.LogsJSONFile, func(line []byte) error {
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			if err == nil {
				mapLogTimes(ld, see)
			}
			return err
		})
	}
	if err == nil {
		err = forEachRecord(dir, bundle.MetricsJSONFile, func(line []byte) error {
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
			if err == nil {
				mapMetricTimes(md, see)
			}
			return err
		})
	}
	return latest, err
}

// shiftBy returns a function moving non-zero timestamps by shift
// nanoseconds, clamped to the valid range.
func shiftBy(shift int64) func(pcommon.Timestamp) pcommon.Timestamp {
	return func(ts pcommon.Timestamp) pcommon.Timestamp {
		if ts == 0 {
			return 0
		}
		v := int64(ts)
		switch {
		case shift > 0 && v > math.MaxInt64-shift:
			return pcommon.Timestamp(math.MaxInt64)
		case v+shift < 1:
			return 1
		}
		return pcommon.Timestamp(v + shift)
	}
}

func shiftTraces(td ptrace.Traces, shift int64) {
	if shift != 0 {
		mapTraceTimes(td, shiftBy(shift))
	}
}

func shiftLogs(ld plog.Logs, shift int64) {
	if shift != 0 {
		mapLogTimes(ld, shiftBy(shift))
	}
}

func shiftMetrics(md pmetric.Metrics, shift int64) {
	if shift != 0 {
		mapMetricTimes(md, shiftBy(shift))
	}
}

// mapTraceTimes replaces every span's start and end time and every span
// event's time with f of it.
func mapTraceTimes(td ptrace.Traces, f func(pcommon.Timestamp) pcommon.Timestamp) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				s := spans.At(k)
				s.SetStartTimestamp(f(s.StartTimestamp()))
				s.SetEndTimestamp(f(s.EndTimestamp()))
				evs := s.Events()
				for e := range evs.Len() {
					evs.At(e).SetTimestamp(f(evs.At(e).Timestamp()))
				}
			}
		}
	}
}

// mapLogTimes replaces every log record's time and observed time.
func mapLogTimes(ld plog.Logs, f func(pcommon.Timestamp) pcommon.Timestamp) {
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			recs := sls.At(j).LogRecords()
			for k := range recs.Len() {
				r := recs.At(k)
				r.SetTimestamp(f(r.Timestamp()))
				r.SetObservedTimestamp(f(r.ObservedTimestamp()))
			}
		}
	}
}

// timedPoint is what every data point type offers.
type timedPoint interface {
	Timestamp() pcommon.Timestamp
	SetTimestamp(pcommon.Timestamp)
	StartTimestamp() pcommon.Timestamp
	SetStartTimestamp(pcommon.Timestamp)
	Exemplars() pmetric.ExemplarSlice
}

func mapPoint(p timedPoint, f func(pcommon.Timestamp) pcommon.Timestamp) {
	p.SetStartTimestamp(f(p.StartTimestamp()))
	p.SetTimestamp(f(p.Timestamp()))
	ex := p.Exemplars()
	for i := range ex.Len() {
		ex.At(i).SetTimestamp(f(ex.At(i).Timestamp()))
	}
}

// mapMetricTimes replaces every data point's time, start time and
// exemplar times.
func mapMetricTimes(md pmetric.Metrics, f func(pcommon.Timestamp) pcommon.Timestamp) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for _, p := range m.Gauge().DataPoints().All() {
						mapPoint(p, f)
					}
				case pmetric.MetricTypeSum:
					for _, p := range m.Sum().DataPoints().All() {
						mapPoint(p, f)
					}
				case pmetric.MetricTypeHistogram:
					for _, p := range m.Histogram().DataPoints().All() {
						mapPoint(p, f)
					}
				case pmetric.MetricTypeExponentialHistogram:
					for _, p := range m.ExponentialHistogram().DataPoints().All() {
						mapPoint(p, f)
					}
				case pmetric.MetricTypeSummary:
					pts := m.Summary().DataPoints()
					for x := range pts.Len() {
						p := pts.At(x)
						p.SetStartTimestamp(f(p.StartTimestamp()))
						p.SetTimestamp(f(p.Timestamp()))
					}
				}
			}
		}
	}
}
