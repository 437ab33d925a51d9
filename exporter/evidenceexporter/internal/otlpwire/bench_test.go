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

// BenchmarkTracesJSON transcodes realistic 1,000-span requests (16 distinct
// ones in turn, as the ring holds them) to OTLP/JSON into a reused buffer,
// every span kept, and times it by thread CPU time per span.
func BenchmarkTracesJSON(b *testing.B) {
	payloads := make([][]byte, 16)
	for i := range payloads {
		td := testgen.Traces(int64(i+1), testgen.DefaultItems, testgen.DefaultResources, t0.Add(time.Duration(i)*time.Second), time.Millisecond)
		payloads[i], _ = AppendTraces(nil, td, AnyTime)
	}
	benchJSON(b, payloads, testgen.DefaultItems, TracesJSON)
}

// BenchmarkLogsJSON is BenchmarkTracesJSON for 1,000-record logs requests.
func BenchmarkLogsJSON(b *testing.B) {
	payloads := make([][]byte, 16)
	for i := range payloads {
		ld := testgen.Logs(int64(i+1), testgen.DefaultItems, testgen.DefaultResources, t0.Add(time.Duration(i)*time.Second), time.Millisecond)
		payloads[i], _ = AppendLogs(nil, ld, AnyTime)
	}
	benchJSON(b, payloads, testgen.DefaultItems, LogsJSON)
}

func benchJSON(b *testing.B, payloads [][]byte, items int, transcode func(dst, payload []byte, keep Range, usable *Range) ([]byte, Batch, error)) {
	b.ReportAllocs()
	var buf []byte
	cpu, i := threadcpu.Interleave(b, func(i int) {
		var err error
		if buf, _, err = transcode(buf[:0], payloads[i%len(payloads)], AnyTime, nil); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(cpu[0].Nanoseconds())/float64(i*items), "cpu-ns/item")
}
