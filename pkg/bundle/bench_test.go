package bundle

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

const (
	benchSpans   = 1000 // spans per batch
	benchBatches = 10   // batches per part
)

func benchBatchesOf(b *testing.B) []ptrace.Traces {
	b.Helper()
	out := make([]ptrace.Traces, benchBatches)
	for i := range out {
		start := testStart.Add(time.Duration(i*benchSpans) * time.Millisecond)
		out[i] = testgen.Traces(int64(i+1), benchSpans, testgen.DefaultResources, start, time.Millisecond)
	}
	return out
}

// BenchmarkPartWriter writes parts of ten 1,000-span batches and reports
// the compressed and uncompressed bytes per span for each encoding.
func BenchmarkPartWriter(b *testing.B) {
	batches := benchBatchesOf(b)
	for _, enc := range encodings {
		b.Run(enc, func(b *testing.B) {
			b.ReportAllocs()
			var size, raw int64
			for b.Loop() {
				w, err := NewPartWriter(testInfo(enc, 1))
				require.NoError(b, err)
				for _, td := range batches {
					require.NoError(b, w.AddTraces(td))
				}
				raw = w.Size()
				data, _, err := w.Finish()
				require.NoError(b, err)
				size = int64(len(data))
			}
			spans := float64(benchSpans * benchBatches)
			b.ReportMetric(float64(size)/spans, "bytes/span")
			b.ReportMetric(float64(raw)/spans, "raw-bytes/span")
			b.SetBytes(raw)
		})
	}
}

// BenchmarkReadPart reads back and decodes the parts BenchmarkPartWriter
// writes.
func BenchmarkReadPart(b *testing.B) {
	batches := benchBatchesOf(b)
	for _, enc := range encodings {
		b.Run(enc, func(b *testing.B) {
			w, err := NewPartWriter(testInfo(enc, 1))
			require.NoError(b, err)
			for _, td := range batches {
				require.NoError(b, w.AddTraces(td))
			}
			data, _, err := w.Finish()
			require.NoError(b, err)
			b.ReportAllocs()
			b.SetBytes(w.Size())
			for b.Loop() {
				p, err := ReadPart(bytes.NewReader(data))
				require.NoError(b, err)
				require.NoError(b, p.Verify())
				n := 0
				require.NoError(b, p.Traces(func(td ptrace.Traces) error { n += td.SpanCount(); return nil }))
				require.Equal(b, benchSpans*benchBatches, n)
			}
		})
	}
}
