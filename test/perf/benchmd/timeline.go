package main

import (
	"bytes"
	"fmt"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

// pkgTimeline holds BenchmarkTimeline1M: `evidencectl timeline` on a
// 1M-span bundle, and the floor of reading the same bundle.
const pkgTimeline = module + "internal/timeline"

// targetTimeline1M is the target for the timeline of a 1M-span
// bundle, in seconds.
const targetTimeline1M = 5.0

// timelineFigures is the time of the timeline of a 1M-span bundle, against
// the floor of reading, verifying and decoding the same parts.
func timelineFigures(s *perf.BenchSet) []perf.Figure {
	v, ok := medianOf(s.Get(pkgTimeline, "BenchmarkTimeline1M/timeline"), "s/bundle")
	if !ok {
		return nil
	}
	f := perf.Figure{
		Name: "Micro: evidencectl timeline of a 1M-span bundle (read, verify, decode, analyse, render)", Value: v, Unit: "s",
		Target: fmt.Sprintf("< %g s", targetTimeline1M), Met: perf.Met(v < targetTimeline1M),
	}
	if floor, ok := medianOf(s.Get(pkgTimeline, "BenchmarkTimeline1M/read_floor"), "s/bundle"); ok && floor > 0 {
		f.Peer, f.PeerValue, f.Ratio, f.RatioOf = "reading and verifying the same parts, decoding nothing (read_floor)", floor, v/floor, "wall time"
	}
	out := []perf.Figure{f}
	if pd, ok := medianOf(s.Get(pkgTimeline, "BenchmarkTimeline1M/timeline_pdata"), "s/bundle"); ok && pd > 0 {
		out = append(out, perf.Figure{
			Name: "Micro: evidencectl timeline of a 1M-span bundle, OTLP JSON scanned", Value: v, Unit: "s",
			Peer: "the same with every record decoded by pdata (timeline_pdata)", PeerValue: pd, Ratio: v / pd, RatioOf: "wall time",
		})
	}
	if pv, ok := medianOf(s.Get(pkgTimeline, "BenchmarkTimeline1M/timeline_proto"), "s/bundle"); ok {
		out = append(out, perf.Figure{
			Name: "Micro: evidencectl timeline of a 1M-span bundle of otlp_proto parts (the exporter's default)", Value: pv, Unit: "s",
			Peer: "the same bundle as otlp_json parts (timeline)", PeerValue: v, Ratio: pv / v, RatioOf: "wall time",
			Target: fmt.Sprintf("< %g s", targetTimeline1M), Met: perf.Met(pv < targetTimeline1M),
		})
	}
	return out
}

// timelineSection writes the timeline benchmark's table.
func timelineSection(w *bytes.Buffer, s *perf.BenchSet) {
	var rows [][]string
	for _, c := range []string{"timeline", "timeline_pdata", "timeline_proto", "read_floor"} {
		r := s.Get(pkgTimeline, "BenchmarkTimeline1M/"+c)
		if r == nil {
			continue
		}
		sec, _ := r.Median("s/bundle")
		cpu, _ := r.Median("cpu-s/bundle")
		ns, _ := r.Median("ns/span")
		mb, _ := r.Median("B/op")
		allocs, _ := r.Median("allocs/op")
		rows = append(rows, []string{c, fmt.Sprintf("%.2f", sec), fmt.Sprintf("%.2f", cpu), fmt.Sprintf("%.0f", ns),
			fmt.Sprintf("%.0f", mb/(1<<20)), fmt.Sprintf("%.0f", allocs)})
	}
	if len(rows) == 0 {
		return
	}
	table(w, perf.Table{
		Title:  "Timeline of a 1M-span bundle",
		Header: []string{"case", "s/bundle (wall)", "CPU s/bundle (process)", "ns/span (wall)", "MiB allocated/bundle", "allocs/bundle"},
		Rows:   rows,
		Notes: []string{"internal/timeline BenchmarkTimeline1M: FromStore on a filesystem store holding 1,000,000 spans, 100,000 log records and 20,000 data points " +
			"(10 resources, 6 services in 4 versions, a 40-minute window, the exporter's default otlp_json parts of 64 MiB), then Build and WriteMarkdown; " +
			"timeline_pdata is the same with every record decoded by pdata instead of scanned; read_floor reads and verifies the same parts " +
			"(zstd, SHA-256) with the same concurrency and decodes nothing. Wall time uses every core; the process CPU time is far less disturbed by other work on a shared machine."},
	})
}
