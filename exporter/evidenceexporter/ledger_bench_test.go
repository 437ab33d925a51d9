package evidenceexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
)

// BenchmarkIngestLedger measures what the arrival ledger costs the ingest
// path: two exporters with memory rings take the same batches in turn, in
// an order that rotates every iteration, one recording each block in its
// ledger and one without a ledger, each timed by the thread CPU time it
// takes (the ledger's pwrite is system time of the same thread). The ratio
// x-without is robust to the machine's load; the per-batch difference is
// the ledger's cost.
func BenchmarkIngestLedger(b *testing.B) {
	for _, spans := range []int{10, testgen.DefaultItems} {
		b.Run(fmt.Sprintf("spans=%d", spans), func(b *testing.B) {
			const n = 16
			batches := make([]ptrace.Traces, n)
			for i := range batches {
				batches[i] = testgen.Traces(int64(i+1), spans, min(spans, testgen.DefaultResources), time.Now(), time.Millisecond)
				batches[i].MarkReadOnly()
			}
			with, without := newBenchExporter(b), newBenchExporter(b)
			without.mu.Lock()
			require.NoError(b, without.ledger.close())
			without.ledger = nil
			without.mu.Unlock()
			ctx := context.Background()
			consume := func(e *evidenceExporter) func(int) {
				return func(i int) {
					if err := e.consumeTraces(ctx, batches[i%n]); err != nil {
						b.Fatal(err)
					}
				}
			}
			cpu, iters := threadcpu.Interleave(b, consume(with), consume(without))
			b.ReportMetric(float64(cpu[0].Nanoseconds())/float64(iters), "ledger-cpu-ns/batch")
			b.ReportMetric(float64(cpu[1].Nanoseconds())/float64(iters), "no-ledger-cpu-ns/batch")
			b.ReportMetric(float64(cpu[0]-cpu[1])/float64(iters), "ledger-cost-ns/batch")
			b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "x-without")
		})
	}
}

// newBenchExporter starts an exporter with a memory ring of 64 MiB whose
// flushes never run (no ticks).
func newBenchExporter(b *testing.B) *evidenceExporter {
	b.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Spool.Directory = b.TempDir()
	cfg.Buffer.MaxBytes = 64 << 20
	fs := lifecycleStore(b)
	tel := componenttest.NewTelemetry()
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	e, err := newEvidenceExporter(cfg, metadatatest.NewSettings(tel), options{now: time.Now, tick: make(chan time.Time)})
	require.NoError(b, err)
	require.NoError(b, e.start(context.Background(), hostWith(newFakeRegistry(fs))))
	b.Cleanup(func() { _ = e.shutdown(context.Background()) })
	require.NotNil(b, e.ledger, "a memory ring has a ledger")
	return e
}
