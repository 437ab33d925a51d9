package otlpwire

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// BenchmarkTraces compares AppendTraces into a reused buffer with pdata's
// ProtoMarshaler on the same realistic 1,000-span batches.
func BenchmarkTraces(b *testing.B) {
	batches := make([]ptrace.Traces, 16)
	for i := range batches {
		batches[i] = testgen.Traces(int64(i+1), testgen.DefaultItems, testgen.DefaultResources, t0.Add(time.Duration(i)*time.Second), time.Millisecond)
	}
	spans := batches[0].SpanCount()
	perSpan := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	}
	b.Run("impl=pdata", func(b *testing.B) {
		var m ptrace.ProtoMarshaler
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.MarshalTraces(batches[i%len(batches)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		perSpan(b)
	})
	b.Run("impl=otlpwire", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			buf, _ = AppendTraces(buf[:0], batches[i%len(batches)])
			i++
		}
		perSpan(b)
	})
}
