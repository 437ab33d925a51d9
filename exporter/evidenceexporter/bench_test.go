package evidenceexporter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/ring"
	"github.com/otel-evidence/otel-evidence/internal/store"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// benchBatches are realistic 1,000-span batches (testgen), consumed in turn.
func benchBatches(b *testing.B) []ptrace.Traces {
	b.Helper()
	const n = 16
	out := make([]ptrace.Traces, n)
	for i := range out {
		start := testgen.DefaultStart.Add(time.Duration(i) * time.Second)
		out[i] = testgen.Traces(int64(i+1), testgen.DefaultItems, testgen.DefaultResources, start, time.Millisecond)
		out[i].MarkReadOnly()
	}
	return out
}

func reportPerSpan(b *testing.B, spans int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans), "ns/span")
}

// BenchmarkIngest compares, on the same batches: the bare OTLP protobuf
// marshal (the floor any ring must pay), the evidence exporter's Consume
// path into its memory ring (through exporterhelper, as in a pipeline), and
// contrib's fileexporter writing zstd-compressed protobuf to a file.
// bytes/span is what each keeps per span: the ring's held bytes, the
// file's size.
func BenchmarkIngest(b *testing.B) {
	batches := benchBatches(b)
	spansPer := batches[0].SpanCount()

	b.Run("marshal_floor", func(b *testing.B) {
		var m ptrace.ProtoMarshaler
		b.ReportAllocs()
		spans, size := 0, 0
		for b.Loop() {
			data, err := m.MarshalTraces(batches[spans/spansPer%len(batches)])
			if err != nil {
				b.Fatal(err)
			}
			size += len(data)
			spans += spansPer
		}
		reportPerSpan(b, spans)
		b.ReportMetric(float64(size)/float64(spans), "raw_bytes/span")
	})

	for _, compression := range []string{ring.CompressionS2, ring.CompressionZstd} {
		b.Run("evidence_ring_"+compression, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Spool.Directory = b.TempDir()
			cfg.Buffer.MaxBytes = 2 << 30
			cfg.Buffer.MaxAge = 24 * time.Hour
			cfg.Buffer.Compression = compression
			set := exportertest.NewNopSettings(metadata.Type)
			exp, err := NewFactory().CreateTraces(context.Background(), set, cfg)
			require.NoError(b, err)
			fs, err := store.NewFilesystem(b.TempDir())
			require.NoError(b, err)
			require.NoError(b, exp.Start(context.Background(), hostWith(newFakeRegistry(fs))))
			defer func() { require.NoError(b, exp.Shutdown(context.Background())) }()

			ctx := context.Background()
			b.ReportAllocs()
			spans := 0
			for b.Loop() {
				if err := exp.ConsumeTraces(ctx, batches[spans/spansPer%len(batches)]); err != nil {
					b.Fatal(err)
				}
				spans += spansPer
			}
			reportPerSpan(b, spans)
			exporters.mu.Lock()
			st := exporters.m[set.ID].ring.Stats().Total()
			exporters.mu.Unlock()
			require.Equal(b, int64(0), st.EvictedItems, "the ring must hold everything for a fair size comparison")
			b.ReportMetric(float64(st.Bytes)/float64(st.Items), "bytes/span")
		})
	}

	b.Run("fileexporter_zstd_proto", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "traces.binpb.zst")
		f := fileexporter.NewFactory()
		cfg := f.CreateDefaultConfig()
		require.NoError(b, confmap.NewFromStringMap(map[string]any{
			"path":        path,
			"format":      "proto",
			"compression": "zstd",
		}).Unmarshal(cfg))
		exp, err := f.CreateTraces(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
		require.NoError(b, err)
		require.NoError(b, exp.Start(context.Background(), componenttest.NewNopHost()))

		ctx := context.Background()
		b.ReportAllocs()
		spans := 0
		for b.Loop() {
			if err := exp.ConsumeTraces(ctx, batches[spans/spansPer%len(batches)]); err != nil {
				b.Fatal(err)
			}
			spans += spansPer
		}
		reportPerSpan(b, spans)
		require.NoError(b, exp.Shutdown(context.Background()))
		fi, err := os.Stat(path)
		require.NoError(b, err)
		b.ReportMetric(float64(fi.Size())/float64(spans), "bytes/span")
	})
}
