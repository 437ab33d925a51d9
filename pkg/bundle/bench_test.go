package bundle

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
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

// BenchmarkPartWriterCustody is BenchmarkPartWriter with what custody adds
// to the freeze path: the frozen incident record, the hash chain and an
// Ed25519 signature of part.json. Compare it with BenchmarkPartWriter in the
// same run.
func BenchmarkPartWriterCustody(b *testing.B) {
	batches := benchBatchesOf(b)
	priv, _, _, err := GenerateKey()
	require.NoError(b, err)
	signer, err := NewSigner(priv)
	require.NoError(b, err)
	inc := &incident.Incident{ID: "INC-42", Title: "checkout error budget burning", Source: incident.SourceGeneric,
		Status: incident.StatusOpen, StartedAt: testStart, UpdatedAt: testStart}
	for _, enc := range encodings {
		b.Run(enc, func(b *testing.B) {
			b.ReportAllocs()
			var raw int64
			for b.Loop() {
				info := testInfo(enc, 2)
				info.PrevPartSHA256 = "8a617c307b6604b3e4780b691219665c9cfaed702756a0250193fb4d62696487"
				w, err := NewPartWriter(info)
				require.NoError(b, err)
				w.SetSigner(signer)
				require.NoError(b, w.SetIncident(inc))
				for _, td := range batches {
					require.NoError(b, w.AddTraces(td))
				}
				raw = w.Size()
				_, _, err = w.Finish()
				require.NoError(b, err)
			}
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
