package evidenceexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/otlpwire"
	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
)

// BenchmarkSelectCountingUnusable measures what counting the items with an
// unusable time costs a freeze, on a decoded 1,000-span block that arrived
// inside the window: a separate pass over the items before the selection
// (two-pass) against the count folded into the selection (folded), each
// on its own freshly decoded copy (decoding untimed), in an order that
// rotates every iteration, timed by thread CPU time.
func BenchmarkSelectCountingUnusable(b *testing.B) {
	start := time.Now().Add(-time.Minute)
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(testgen.Traces(1, testgen.DefaultItems, testgen.DefaultResources, start, time.Millisecond))
	require.NoError(b, err)
	r := timeRange{lo: ts(start.Add(100 * time.Millisecond)), hi: ts(start.Add(900 * time.Millisecond))}
	usable := otlpwire.AnyTime
	var u ptrace.ProtoUnmarshaler
	var copies [2]ptrace.Traces
	var unusable [2]int64
	cpu, iters := threadcpu.InterleavePrepared(b, func(int) {
		for i := range copies {
			if copies[i], err = u.UnmarshalTraces(raw); err != nil {
				b.Fatal(err)
			}
		}
	}, func(int) {
		otlptime.TraceTimes(copies[0], func(t pcommon.Timestamp) {
			if !usable.Contains(t) {
				unusable[0]++
			}
		})
		selectTraces(copies[0], r)
	}, func(int) {
		sel := &selection{r: r, usable: &usable}
		selectTracesBy(copies[1], sel)
		unusable[1] += sel.unusable
	})
	require.Equal(b, unusable[0], unusable[1])
	b.ReportMetric(float64(cpu[0].Nanoseconds())/float64(iters), "two-pass-cpu-ns/block")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/float64(iters), "folded-cpu-ns/block")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "x-two-pass")
}
