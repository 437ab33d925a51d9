package timeline

import (
	"io"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// benchInput is a 40-minute window (the default 30m before and 10m after)
// of realistic telemetry: 100,000 spans and 50,000 log records over 10
// resources, 12,000 data points, in batches of 1,000 items, and a few
// deploys.
func benchInput() Input {
	const window = 40 * time.Minute
	start := testgen.DefaultStart
	var (
		tds []ptrace.Traces
		lds []plog.Logs
		mds []pmetric.Metrics
		evs []incident.Event
	)
	const batch = 1000
	for i := range 100 {
		step := window / (100 * batch)
		tds = append(tds, testgen.Traces(int64(i), batch, testgen.DefaultResources, start.Add(time.Duration(i*batch)*step), step))
	}
	for i := range 50 {
		step := window / (50 * batch)
		lds = append(lds, testgen.Logs(int64(i), batch, testgen.DefaultResources, start.Add(time.Duration(i*batch)*step), step))
	}
	for i := range 12 {
		step := window / (12 * batch)
		mds = append(mds, testgen.Metrics(int64(i), batch, testgen.DefaultResources, start.Add(time.Duration(i*batch)*step), step))
	}
	for i, svc := range testgen.DefaultServices {
		evs = append(evs, deployEvent("D"+svc, svc, "1.0."+string(rune('0'+i)), start.Add(time.Duration(i)*5*time.Minute)))
	}
	return Input{Traces: seq(tds...), Logs: seq(lds...), Metrics: seq(mds...), Events: seq(evs...)}
}

func BenchmarkBuild(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/162_000, "ns/item")
}

func BenchmarkWriteMarkdown(b *testing.B) {
	tl, err := Build(benchInput())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := tl.WriteMarkdown(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	tl, err := Build(benchInput())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := tl.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
