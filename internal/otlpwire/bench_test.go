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
		m    ptrace.ProtoMarshaler
		buf  []byte
		cpu  [2]time.Duration
		size int
	)
	contenders := [2]func(ptrace.Traces){
		func(td ptrace.Traces) {
			p, err := m.MarshalTraces(td)
			if err != nil {
				b.Fatal(err)
			}
			size = len(p)
		},
		func(td ptrace.Traces) { buf, _ = AppendTraces(buf[:0], td) },
	}
	defer threadcpu.Lock()()
	if _, ok := threadcpu.Now(); !ok {
		b.Skip("thread CPU time is not available on this platform")
	}
	i := 0
	for b.Loop() {
		td := batches[i%len(batches)]
		for k := range contenders {
			c := (i + k) % len(contenders)
			start, _ := threadcpu.Now()
			contenders[c](td)
			end, _ := threadcpu.Now()
			cpu[c] += end - start
		}
		if len(buf) != size {
			b.Fatalf("AppendTraces wrote %d bytes, pdata %d", len(buf), size)
		}
		i++
	}
	spans := float64(i * batches[0].SpanCount())
	b.ReportMetric(float64(cpu[0].Nanoseconds())/spans, "pdata-cpu-ns/span")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/spans, "otlpwire-cpu-ns/span")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "x-pdata")
}
