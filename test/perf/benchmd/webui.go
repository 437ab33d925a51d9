package main

import (
	"fmt"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

// pkgWebUI holds BenchmarkIncidentPage1M: the summary page of a 1M-span
// incident, opened cold, and `evidencectl timeline` on the same bundle.
const pkgWebUI = module + "internal/webui"

// targetPage1M is the target for opening the summary page of a
// 1M-span incident, in seconds.
const targetPage1M = 2.0

// webuiFigures is the time to open the summary page of a 1M-span
// incident cold: until the browser shows its first view (the record and
// the manifests), and until the page is whole, against the timeline of
// the same bundle.
func webuiFigures(s *perf.BenchSet) []perf.Figure {
	var out []perf.Figure
	if v, ok := medianOf(s.Get(pkgWebUI, "BenchmarkIncidentPage1M/page"), "s/first_view"); ok {
		out = append(out, perf.Figure{
			Name: "Micro: the web page of a 1M-span incident, opened cold: first view (the record and the manifests' figures, before the analysis)", Value: v, Unit: "s",
			Target: fmt.Sprintf("< %g s", targetPage1M), Met: perf.Met(v < targetPage1M),
		})
	}
	v, ok := medianOf(s.Get(pkgWebUI, "BenchmarkIncidentPage1M/page"), "s/page")
	if !ok {
		return out
	}
	f := perf.Figure{
		Name: "Micro: the web page of a 1M-span incident, opened cold, whole (read, verify, analyse, render the summary, charts and draft)", Value: v, Unit: "s",
		Target: fmt.Sprintf("< %g s", targetPage1M), Met: perf.Met(v < targetPage1M),
	}
	if peer, ok := medianOf(s.Get(pkgWebUI, "BenchmarkIncidentPage1M/timeline_peer"), "s/page"); ok && peer > 0 {
		f.Peer, f.PeerValue, f.Ratio, f.RatioOf = "evidencectl timeline of the same bundle (timeline_peer)", peer, v/peer, "wall time"
	}
	out = append(out, f)
	if pv, ok := medianOf(s.Get(pkgWebUI, "BenchmarkIncidentPage1M/page_proto"), "s/page"); ok {
		out = append(out, perf.Figure{
			Name: "Micro: the web page of a 1M-span incident of otlp_proto parts (the exporter's default), opened cold, whole", Value: pv, Unit: "s",
			Peer: "the same incident as otlp_json parts (page)", PeerValue: v, Ratio: pv / v, RatioOf: "wall time",
			Target: fmt.Sprintf("< %g s", targetPage1M), Met: perf.Met(pv < targetPage1M),
		})
	}
	return out
}
