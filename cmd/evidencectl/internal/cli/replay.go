package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/otel-evidence/otel-evidence/cmd/evidencectl/internal/replay"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
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
}

func newReplayCmd(root *rootOptions) *cobra.Command {
	o := &replayOptions{root: root}
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
	f.StringVar(&o.protocol, "protocol", replay.ProtocolGRPC, "OTLP protocol: grpc or http (protobuf)")
	f.BoolVar(&o.insecure, "insecure", false, "plain text: no TLS")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file with extra certificate authorities for the endpoint")
	f.BoolVar(&o.shiftToNow, "shift-to-now", false, "move every timestamp so that the latest becomes now")
	f.StringArrayVar(&o.headers, "header", nil, "header (gRPC metadata) to send, key=value (repeatable)")
	f.DurationVar(&o.timeout, "timeout", replay.DefaultClientConfig().Timeout, "timeout of each request")
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

func (o *replayOptions) run(ctx context.Context, dir string) error {
	cfg, err := o.clientConfig()
	if err != nil {
		return err
	}
	found := false
	for _, name := range evidencedir.SignalFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = true
		}
	}
	if !found {
		return newError(ErrNotFound, nil, "run `evidencectl get INCIDENT -o "+dir+"` first",
			"%s holds no merged evidence (%s)", dir, strings.Join(evidencedir.SignalFiles, ", "))
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
	client, err := replay.NewClient(ctx, cfg)
	if err != nil {
		return usageError("check --endpoint, --protocol, --insecure and --ca-file", "%v", err)
	}
	// Every batch has been answered by then; closing only releases the connection.
	defer func() { _ = client.Close() }()

	err = eachBatch(dir, bundle.TracesJSONFile, (&ptrace.JSONUnmarshaler{}).UnmarshalTraces, func(td ptrace.Traces) error {
		replay.ShiftTraces(td, shift)
		return o.count(&res.Traces, int64(td.SpanCount()), func() (int64, error) { return client.Traces(ctx, td) })
	})
	if err == nil {
		err = eachBatch(dir, bundle.LogsJSONFile, (&plog.JSONUnmarshaler{}).UnmarshalLogs, func(ld plog.Logs) error {
			replay.ShiftLogs(ld, shift)
			return o.count(&res.Logs, int64(ld.LogRecordCount()), func() (int64, error) { return client.Logs(ctx, ld) })
		})
	}
	if err == nil {
		err = eachBatch(dir, bundle.MetricsJSONFile, (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics, func(md pmetric.Metrics) error {
			replay.ShiftMetrics(md, shift)
			return o.count(&res.Metrics, int64(md.DataPointCount()), func() (int64, error) { return client.Metrics(ctx, md) })
		})
	}
	if err != nil {
		return interrupted(err, "replaying again sends every batch again; the endpoint will see duplicates of what it already received")
	}
	o.checkTotals(dir, &res)
	if err := o.print(dir, shift, res); err != nil {
		return err
	}
	if r := res.Traces.Rejected + res.Logs.Rejected + res.Metrics.Rejected; r > 0 {
		return newError(nil, nil, "the endpoint's logs say why; a backend with retention limits may need --shift-to-now",
			"the endpoint rejected %d items", r)
	}
	return nil
}

// clientConfig checks the flags and turns them into the replay client's
// config.
func (o *replayOptions) clientConfig() (replay.ClientConfig, error) {
	cfg := replay.DefaultClientConfig()
	if o.protocol != replay.ProtocolGRPC && o.protocol != replay.ProtocolHTTP {
		return cfg, usageError("use --protocol grpc or --protocol http", "invalid --protocol %q", o.protocol)
	}
	if o.timeout <= 0 {
		return cfg, usageError("for example --timeout 30s", "--timeout must be positive")
	}
	headers, err := parseKeyValues("header", o.headers)
	if err != nil {
		return cfg, err
	}
	if o.insecure && o.caFile != "" {
		return cfg, usageError("drop one of them", "--insecure and --ca-file contradict each other")
	}
	switch {
	case o.protocol == replay.ProtocolGRPC && strings.Contains(o.endpoint, "://"):
		return cfg, usageError("for example --endpoint localhost:4317", "a gRPC --endpoint is host:port, got %q", o.endpoint)
	case o.protocol == replay.ProtocolHTTP && strings.HasPrefix(o.endpoint, "http://") && !o.insecure:
		return cfg, usageError("add --insecure to send in plain text", "--endpoint %s is plain HTTP", o.endpoint)
	}
	if o.caFile != "" {
		if _, err := os.Stat(o.caFile); err != nil {
			return cfg, usageError("check --ca-file", "cannot read --ca-file: %v", err)
		}
	}
	cfg.Endpoint, cfg.Protocol, cfg.Headers, cfg.Timeout = o.endpoint, o.protocol, headers, o.timeout
	cfg.TLS.Insecure = o.insecure
	cfg.TLS.CAFile = o.caFile
	cfg.TLS.IncludeSystemCACertsPool = true
	cfg.UserAgent = "evidencectl/" + readBuildInfo().Version
	return cfg, nil
}

// count sends one batch of items and counts it in c; an empty batch is not
// sent.
func (o *replayOptions) count(c *replayCounts, items int64, send func() (int64, error)) error {
	if items == 0 {
		return nil
	}
	rejected, err := send()
	var xe *replay.ExportError
	if errors.As(err, &xe) {
		return newError(nil, err, "check --endpoint, --protocol, --insecure and that the endpoint accepts OTLP", "%v", err)
	}
	if err != nil {
		return err
	}
	c.Requests++
	c.Items += items
	c.Rejected += rejected
	return nil
}

// print writes the result: JSON, or a line per signal.
func (o *replayOptions) print(dir string, shift int64, res replayResult) error {
	if o.root.jsonOutput() {
		return o.root.printJSON(res)
	}
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
	return out.err
}

// checkTotals warns when the merged files hold other counts than
// merged-manifest.json says: they were changed after get.
func (o *replayOptions) checkTotals(dir string, res *replayResult) {
	mm, err := evidencedir.ReadManifest(dir)
	if err != nil {
		return
	}
	t := mm.Totals
	if t.Spans != res.Traces.Items || t.LogRecords != res.Logs.Items || t.DataPoints != res.Metrics.Items {
		o.root.warnf("%s holds %d spans, %d log records and %d data points, but %s says %d, %d and %d: run `evidencectl verify %s`",
			dir, res.Traces.Items, res.Logs.Items, res.Metrics.Items, evidencedir.ManifestFile, t.Spans, t.LogRecords, t.DataPoints, dir)
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
	return evidencedir.ReadLines(f, func(n int, line []byte) error {
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

// latestTimestamp scans the merged files for the latest timestamp that
// replay would send.
func latestTimestamp(dir string) (pcommon.Timestamp, error) {
	var latest replay.Latest
	err := eachBatch(dir, bundle.TracesJSONFile, (&ptrace.JSONUnmarshaler{}).UnmarshalTraces,
		func(td ptrace.Traces) error { latest.Traces(td); return nil })
	if err == nil {
		err = eachBatch(dir, bundle.LogsJSONFile, (&plog.JSONUnmarshaler{}).UnmarshalLogs,
			func(ld plog.Logs) error { latest.Logs(ld); return nil })
	}
	if err == nil {
		err = eachBatch(dir, bundle.MetricsJSONFile, (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics,
			func(md pmetric.Metrics) error { latest.Metrics(md); return nil })
	}
	return latest.Timestamp(), err
}

// eachBatch decodes every line of a merged file and calls fn with it.
func eachBatch[T any](dir, name string, decode func([]byte) (T, error), fn func(T) error) error {
	return forEachRecord(dir, name, func(line []byte) error {
		v, err := decode(line)
		if err != nil {
			return err
		}
		return fn(v)
	})
}
