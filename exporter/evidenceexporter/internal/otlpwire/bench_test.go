package otlpwire

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
)

// BenchmarkTracesVsPdata encodes realistic 1,000-span batches (16 distinct
// ones in turn) with pdata's ProtoMarshaler and with AppendTraces into a
// reused buffer, alternating which goes first, and times each by its thread
// CPU time: x-pdata is AppendTraces' time over pdata's.
func BenchmarkTracesVsPdata(b *testing.B) {
	batches := make([]ptrace.Traces, 16)
	for i := range batches {
		batches[i] = testgen.Traces(int64(i+1), testgen.DefaultItems, testgen.DefaultResources, t0.Add(time.Duration(i)*time.Second), time.Millisecond)
	}
	var (
		m   ptrace.ProtoMarshaler
		buf []byte
	)
	cpu, i := threadcpu.Interleave(b,
		func(i int) {
			if _, err := m.MarshalTraces(batches[i%len(batches)]); err != nil {
				b.Fatal(err)
			}
		},
		func(i int) { buf, _ = AppendTraces(buf[:0], batches[i%len(batches)], AnyTime) },
	)
	spans := float64(i * batches[0].SpanCount())
	b.ReportMetric(float64(cpu[0].Nanoseconds())/spans, "pdata-cpu-ns/span")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/spans, "otlpwire-cpu-ns/span")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "x-pdata")
}
