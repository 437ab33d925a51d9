package cli

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// benchFixture is a bundle of two collectors (otlp_json and otlp_proto)
// with four parts each; every part holds 2,000 spans, 2,000 log records
// and 2,000 data points of realistic testgen data.
func benchFixture() *fixture {
	f := &fixture{id: "INC-BENCH"}
	seed := int64(1)
	for _, c := range []struct{ id, enc string }{{"collector-a", bundle.EncodingJSON}, {"collector-b", bundle.EncodingProto}} {
		cs := collectorSpec{id: c.id, encoding: c.enc}
		for p := range 4 {
			start := testgen.DefaultStart.Add(time.Duration(p) * time.Minute)
			cs.parts = append(cs.parts, partSpec{
				traces:  []ptrace.Traces{testgen.Traces(seed, 1000, 10, start, time.Millisecond), testgen.Traces(seed+1, 1000, 10, start, time.Millisecond)},
				logs:    []plog.Logs{testgen.Logs(seed+2, 2000, 10, start, time.Millisecond)},
				metrics: []pmetric.Metrics{testgen.Metrics(seed+3, 2000, 10, start, time.Millisecond)},
			})
			seed += 4
			f.spans += 2000
		}
		f.collectors = append(f.collectors, cs)
	}
	return f
}

// BenchmarkGet measures a full get (download, verify, merge, re-encode
// the proto parts) from a filesystem store, and a resumed get that finds
// every part present and only re-merges. spans/s counts merged spans.
func BenchmarkGet(b *testing.B) {
	st, url := newFSStore(b)
	f := benchFixture()
	f.write(b, st)
	for _, resume := range []bool{false, true} {
		b.Run(fmt.Sprintf("resume=%v", resume), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "out")
			if resume {
				run(b, "--store", url, "get", f.id, "-o", dir).requireCode(b, ExitOK)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d := dir
				if !resume {
					d = filepath.Join(dir, fmt.Sprint(i))
					i++
				}
				run(b, "--store", url, "get", f.id, "-o", d, "--parallel", "4").requireCode(b, ExitOK)
			}
			b.ReportMetric(float64(f.spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
