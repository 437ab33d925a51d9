package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

const module = "github.com/otel-evidence/otel-evidence/"

// Packages and benchmark names the report extracts ratios from.
const (
	pkgProcessor = module + "test/peerbench/incidentcontextprocessor"
	pkgExporter  = module + "test/peerbench/evidenceexporter"
	pkgRing      = module + "exporter/evidenceexporter/internal/ring"
	pkgBundle    = module + "pkg/bundle"
	pkgWire      = module + "exporter/evidenceexporter/internal/otlpwire"
	pkgSLO       = module + "connector/sloconnector"
)

var (
	signals = []struct{ name, item string }{{"traces", "span"}, {"logs", "record"}, {"metrics", "point"}}
	levels  = []string{"resource", "record"}
	// keySets of BenchmarkContext: "2" (deployment.id and incident.id, the
	// issue's setting) for every signal, "5" (all keys) for traces.
	keySets = []string{"2", "5"}
	// processorImpls in display order; others found in the output follow.
	processorImpls = []string{"incident_context", "noop", "putstr", "transform", "transform_where"}
	ingestCases    = []string{"marshal_floor", "evidence_ring_s2", "evidence_ring_zstd", "evidence_ring_s2_first_fill", "fileexporter_zstd_proto"}
	// ingestInputs are the batch=<input> of the exporter's ingest
	// benchmarks, with how each is described in figures and in notes, and
	// whether the targets are set on its figures.
	ingestInputs = []ingestInput{
		{"fresh", "fresh batches", "fresh: every run gets its own copy of the batch, decoded from OTLP protobuf right before it (not timed), as the otlp receiver hands it to the pipeline. " +
			"The issue's targets are set on this input: its reference figures (marshal 210 us, fileexporter 1,250 us per 1,000 spans, the floor at 0.17x fileexporter) are for a batch in the CPU's caches.", true},
		{"cycled", "cycled batches", "cycled: 16 prebuilt batches in turn, most of them out of the core's caches when they come round again; " +
			"marshal_floor and fileexporter walk the batch twice (size, then write), and their second walk finds it in cache. " +
			"A stress case without targets: the issue's two targets meet at about one line only where the floor is near its reference 0.17x of fileexporter. " +
			"On cycled batches the bare marshal alone, with no compression, is much nearer fileexporter (marshal_floor's vs fileexporter column), " +
			"so 3x faster than fileexporter would leave the ring little room beyond the marshal, where the issue allows it 2x.", false},
	}
	encodings = []string{"otlp_json", "otlp_proto"}
)

// perItem returns a processor benchmark's CPU time per item (the thread's
// CPU time, cpu-ns/<item>), or its wall time per item when CPU time was
// not reported, and the unit used.
func perItem(r *perf.BenchResult, item string) (float64, string, bool) {
	for _, unit := range []string{"cpu-ns/" + item, "ns/" + item} {
		if v, ok := r.Median(unit); ok {
			return v, unit, true
		}
	}
	return 0, "", false
}

// ingestInput is one input of the exporter's ingest benchmarks.
type ingestInput struct {
	name, desc, note string
	targets          bool
}

// ingestName is the name of case c of BenchmarkIngest on input.
func ingestName(input, c string) string { return "BenchmarkIngest/batch=" + input + "/" + c }

// interleavedName is the name of BenchmarkIngestInterleaved on input.
func interleavedName(input string) string { return "BenchmarkIngestInterleaved/batch=" + input }

func processorName(sig, keys, level, impl string) string {
	return fmt.Sprintf("BenchmarkContext/%s/keys=%s/level=%s/impl=%s", sig, keys, level, impl)
}

// keysLabel describes a key set in figure names.
func keysLabel(keys string) string {
	if keys == "2" {
		return "2 keys"
	}
	return "all " + keys + " keys"
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// microFigures are the headline ratios of the micro-benchmarks.
func microFigures(s *perf.BenchSet) []perf.Figure {
	var out []perf.Figure
	for _, keys := range keySets {
		for _, level := range levels {
			out = append(out, processorFigures(s, keys, level)...)
		}
	}
	out = append(out, ingestFigures(s)...)
	out = append(out, timelineFigures(s)...)
	out = append(out, webuiFigures(s)...)
	return append(out, sloFigures(s)...)
}

// sloCases are the SLI cases of the slo connector's BenchmarkConsumeTraces,
// and whether the 50 ns/span target applies (the common shapes).
var sloCases = []struct {
	name, desc string
	target     bool
}{
	{"slo_status", "status.code == STATUS_CODE_ERROR", true},
	{"slo_http_status", `attributes["http.response.status_code"] >= 500`, true},
	{"slo_latency", "latency_threshold", true},
	{"slo_compound", `attributes["http.request.method"] == "POST" and status.code == STATUS_CODE_ERROR`, true},
	{"slo_ottl", "the same condition in parentheses, evaluated by pkg/ottl", false},
}

// sloFigures are the slo connector's cost per span over a no-op connector
// measured in the same run: ns/span of the case minus ns/span of nop.
func sloFigures(s *perf.BenchSet) []perf.Figure {
	nop := s.Get(pkgSLO, "BenchmarkConsumeTraces/nop")
	if nop == nil {
		return nil
	}
	pv, unit, ok := perItem(nop, "span")
	if !ok {
		return nil
	}
	var out []perf.Figure
	for _, c := range sloCases {
		r := s.Get(pkgSLO, "BenchmarkConsumeTraces/"+c.name)
		if r == nil {
			continue
		}
		v, u, ok := perItem(r, "span")
		if !ok || u != unit {
			continue
		}
		f := perf.Figure{
			Name: "Micro: slo connector, cost per span over a no-op connector, " + c.desc, Value: v - pv, Unit: unit,
			Peer: "a no-op connector (nop), same run", PeerValue: pv,
		}
		if c.target {
			f.Target, f.Met = "<= 50 ns/span", perf.Met(v-pv <= 50)
		}
		out = append(out, f)
	}
	return out
}

// processorFigures are incident_context's ratios to transform_where and
// noop on traces for one key set and level.
func processorFigures(s *perf.BenchSet, keys, level string) []perf.Figure {
	var out []perf.Figure
	ic := s.Get(pkgProcessor, processorName("traces", keys, level, "incident_context"))
	for _, peer := range []string{"transform_where", "noop"} {
		pr := s.Get(pkgProcessor, processorName("traces", keys, level, peer))
		if ic == nil || pr == nil {
			continue
		}
		v, unit, ok1 := perItem(ic, "span")
		pv, _, ok2 := perItem(pr, "span")
		if !ok1 || !ok2 || pv == 0 {
			continue
		}
		desc := map[string]string{
			"transform_where": "transformprocessor setting the same values per resource (transform_where)",
			"noop":            "a no-op processor (noop)",
		}[peer]
		f := perf.Figure{
			Name: fmt.Sprintf("Micro: incident_context, traces, level %s, %s", level, keysLabel(keys)), Value: v, Unit: unit,
			Peer: desc, PeerValue: pv, Ratio: v / pv,
		}
		if peer == "transform_where" && keys == "2" {
			// The target, set on its two-key figures: at least 2x
			// faster than transformprocessor at both levels.
			f.Target, f.Met = "<= 0.5x (2x faster)", perf.Met(v/pv <= 0.5)
		}
		out = append(out, f)
	}
	return out
}

// The targets for ring ingest: at most 2x the marshal floor, at
// least 3x faster than fileexporter, and at most 1.4x the bytes of
// fileexporter's file.
const (
	targetIngestFloor = 2.0
	targetIngestFile  = 1.0 / 3
	targetIngestBytes = 1.4
)

// ingestTarget sets the target of an ingest figure compared with floor
// or fileexporter.
func ingestTarget(f perf.Figure, vsFile bool) perf.Figure {
	if vsFile {
		f.Target, f.Met = "<= 0.333x (3x faster)", perf.Met(f.Ratio <= targetIngestFile)
	} else {
		f.Target, f.Met = "<= 2x", perf.Met(f.Ratio <= targetIngestFloor)
	}
	return f
}

// ingestFigures are the exporter's and the ring's ingest ratios, with the
// issue's targets, and the bundle size.
func ingestFigures(s *perf.BenchSet) []perf.Figure {
	var out []perf.Figure
	const (
		floorDesc = "the bare OTLP protobuf marshal (marshal_floor)"
		fileDesc  = "contrib fileexporter, zstd protobuf to a file"
	)
	// Each peer as a case of BenchmarkIngest and as a metric of
	// BenchmarkIngestInterleaved.
	peers := []struct {
		name, unit, desc string
		vsFile           bool
	}{
		{"marshal_floor", "floor-cpu-ns/span", floorDesc, false},
		{"fileexporter_zstd_proto", "file-cpu-ns/span", fileDesc, true},
	}
	// figures adds, for one input and measurement, the ring against each
	// peer (v, when ok) and, to show the input's conditions, the bare
	// marshal against fileexporter (0.17x in the reference figures).
	figures := func(in ingestInput, measure, unit, ratioOf string, v float64, ok bool, peerValue func(name, unit string) (float64, bool)) {
		got := map[string]float64{}
		for _, peer := range peers {
			pv, okp := peerValue(peer.name, peer.unit)
			if !okp || pv <= 0 {
				continue
			}
			got[peer.name] = pv
			if !ok {
				continue
			}
			f := perf.Figure{
				Name: "Micro: evidence exporter ingest into the s2 ring (" + measure + ", " + in.desc + ")", Value: v, Unit: unit,
				Peer: peer.desc, PeerValue: pv, Ratio: v / pv, RatioOf: ratioOf,
			}
			if in.targets {
				f = ingestTarget(f, peer.vsFile)
			}
			out = append(out, f)
		}
		if floor, file := got["marshal_floor"], got["fileexporter_zstd_proto"]; floor > 0 && file > 0 {
			out = append(out, perf.Figure{
				Name: "Micro: the bare marshal, no compression (" + measure + ", " + in.desc + "; the issue's reference: 0.17x)", Value: floor, Unit: unit,
				Peer: fileDesc, PeerValue: file, Ratio: floor / file, RatioOf: ratioOf,
			})
		}
	}
	for _, in := range ingestInputs {
		v, ok := medianOf(s.Get(pkgExporter, ingestName(in.name, "evidence_ring_s2")), "ns/span")
		figures(in, "separate runs", "ns/span", "wall time", v, ok, func(name, _ string) (float64, bool) {
			return medianOf(s.Get(pkgExporter, ingestName(in.name, name)), "ns/span")
		})
		r := s.Get(pkgExporter, interleavedName(in.name))
		ev, ok := medianOf(r, "evidence-cpu-ns/span")
		figures(in, "interleaved", "cpu-ns/span", "thread CPU time", ev, ok, func(_, unit string) (float64, bool) {
			return medianOf(r, unit)
		})
	}
	// The ring holds the same bytes whichever way its batches arrive.
	held, ok1 := medianOf(s.Get(pkgExporter, ingestName("fresh", "evidence_ring_s2")), "bytes/span")
	file, ok2 := medianOf(s.Get(pkgExporter, ingestName("fresh", "fileexporter_zstd_proto")), "bytes/span")
	if ok1 && ok2 && file > 0 {
		out = append(out, perf.Figure{
			Name: "Micro: bytes the s2 ring holds", Value: held, Unit: "bytes/span",
			Peer: "contrib fileexporter's file (zstd, proto)", PeerValue: file, Ratio: held / file,
			Target: "<= 1.4x", Met: perf.Met(held/file <= targetIngestBytes),
		})
	}
	if r := s.Get(pkgRing, "BenchmarkIngestVsFloor/memory-s2"); r != nil {
		if v, ok := r.Median("x-floor"); ok {
			out = append(out, perf.Figure{
				Name: "Micro: ring ingest (marshal + s2 + append), memory ring", Value: v, Unit: "x",
				Peer: "bare marshal, interleaved in the same iterations", PeerValue: 1, Ratio: v,
				RatioOf: "thread CPU time",
			})
		}
	}
	if r := s.Get(pkgWire, "BenchmarkTracesVsPdata"); r != nil {
		v, ok1 := r.Median("otlpwire-cpu-ns/span")
		pv, ok2 := r.Median("pdata-cpu-ns/span")
		if ok1 && ok2 && pv > 0 {
			out = append(out, perf.Figure{
				Name: "Micro: otlpwire encode into a reused buffer (the ring's marshal)", Value: v, Unit: "cpu-ns/span",
				Peer: "pdata's ptrace.ProtoMarshaler, interleaved", PeerValue: pv, Ratio: v / pv, RatioOf: "thread CPU time",
			})
		}
	}
	if r := s.Get(pkgBundle, "BenchmarkPartWriter/otlp_json"); r != nil {
		v, ok1 := r.Median("bytes/span")
		raw, ok2 := r.Median("raw-bytes/span")
		if ok1 && ok2 && raw > 0 {
			out = append(out, perf.Figure{
				Name: "Micro: bundle part (otlp_json, zstd tar) size", Value: v, Unit: "bytes/span",
				Peer: "the part's uncompressed content", PeerValue: raw, Ratio: v / raw,
			})
		}
	}
	return out
}

func microSection(w *bytes.Buffer, s *perf.BenchSet) {
	p := func(s string) { w.WriteString(s) }
	p("## Go micro-benchmarks\n\n")
	p("From `go test -run '^$' -bench ... -benchmem` on the packages below (raw output in bench.txt); with -count > 1 the median of the runs is shown. " +
		"-benchtime is BENCH_TIME (see the settings above) except where scripts/bench.sh gives an operation too short for it its own: incident_context and its peers at level resource 2000x, the SLO connector 20000x; the timeline and the incident page one run each.\n\n")

	// incident_context against its peers.
	impls := slices.Clone(processorImpls)
	for _, r := range s.Results {
		if r.Pkg != pkgProcessor {
			continue
		}
		if _, impl, ok := strings.Cut(r.Name, "/impl="); ok && !slices.Contains(impls, impl) {
			impls = append(impls, impl)
		}
	}
	var rows [][]string
	unitSeen := ""
	for _, sig := range signals {
		for _, keys := range keySets {
			for _, level := range levels {
				vals := map[string]float64{}
				row := []string{sig.name, keys, level}
				for _, impl := range impls {
					r := s.Get(pkgProcessor, processorName(sig.name, keys, level, impl))
					if r == nil {
						row = append(row, "-")
						continue
					}
					v, unit, ok := perItem(r, sig.item)
					if !ok {
						row = append(row, "-")
						continue
					}
					unitSeen = strings.Split(unit, "/")[0]
					vals[impl] = v
					allocs, _ := r.Median("allocs/" + sig.item)
					row = append(row, fmt.Sprintf("%.1f (%.2f allocs)", v, allocs))
				}
				if len(vals) == 0 {
					continue
				}
				ic := vals["incident_context"]
				row = append(row, ratio(ic, vals["transform_where"]), ratio(ic, vals["transform"]), ratio(ic, vals["putstr"]))
				rows = append(rows, row)
			}
		}
	}
	if len(rows) > 0 {
		header := append([]string{"signal", "keys", "level"}, impls...)
		header = append(header, "incident_context / transform_where", "incident_context / transform", "incident_context / putstr")
		table(w, perf.Table{
			Title:  fmt.Sprintf("incident_context vs transformprocessor (%s per span, record or point)", unitSeen),
			Header: header,
			Rows:   rows,
			Notes: []string{"test/peerbench/incidentcontextprocessor BenchmarkContext: each contender processes fresh copies of the same 1,000-item batch over 10 resources. " +
				"noop returns its input; putstr writes the very values incident_context writes with no lookup; transform is contrib transformprocessor setting constants; " +
				"transform_where is transformprocessor with per-resource conditions writing exactly what incident_context writes. cpu-ns is the benchmark thread's CPU time. " +
				"keys 2 writes deployment.id and incident.id (the issue's setting); keys 5 adds deployment.name, deployment.environment.name and vcs.ref.head.revision."},
		})
	}

	// Evidence exporter ingest against the floor and fileexporter, for
	// each input: separate runs, then interleaved.
	for _, in := range ingestInputs {
		ingestTables(w, s, in)
	}

	// Ring ingest against the interleaved floor.
	rows = nil
	for _, r := range s.Results {
		if r.Pkg != pkgRing || !strings.HasPrefix(r.Name, "BenchmarkIngestVsFloor/") {
			continue
		}
		x, _ := r.Median("x-floor")
		allocs, _ := r.Median("allocs/op")
		rows = append(rows, []string{strings.TrimPrefix(r.Name, "BenchmarkIngestVsFloor/"), fmt.Sprintf("%.2fx", x), fmt.Sprintf("%.0f", allocs)})
	}
	if len(rows) > 0 {
		table(w, perf.Table{
			Title:  "Ring ingest (marshal + compress + append) vs bare marshal, interleaved",
			Header: []string{"ring", "CPU vs floor", "allocs/batch"},
			Rows:   rows,
			Notes:  []string{"exporter/evidenceexporter/internal/ring BenchmarkIngestVsFloor: both are timed by thread CPU time in every iteration, so the ratio holds on a loaded machine."},
		})
	}

	// Bundle parts.
	rows = nil
	for _, enc := range encodings {
		wr := s.Get(pkgBundle, "BenchmarkPartWriter/"+enc)
		if wr == nil {
			continue
		}
		size, _ := wr.Median("bytes/span")
		raw, _ := wr.Median("raw-bytes/span")
		mbs, _ := wr.Median("MB/s")
		readMBs, _ := medianOf(s.Get(pkgBundle, "BenchmarkReadPart/"+enc), "MB/s")
		rows = append(rows, []string{enc, fmt.Sprintf("%.1f", size), fmt.Sprintf("%.1f", raw), ratio(raw, size), fmt.Sprintf("%.1f", mbs), fmt.Sprintf("%.1f", readMBs)})
	}
	if len(rows) > 0 {
		table(w, perf.Table{
			Title:  "Bundle parts (ten 1,000-span batches per part)",
			Header: []string{"encoding", "bytes/span (zstd tar)", "uncompressed bytes/span", "compression", "write MB/s (uncompressed)", "read + verify MB/s"},
			Rows:   rows,
			Notes:  []string{"pkg/bundle BenchmarkPartWriter and BenchmarkReadPart."},
		})
	}

	timelineSection(w, s)

	// Everything, for reference.
	rows = nil
	for _, r := range s.Results {
		units := make([]string, 0, len(r.Values))
		for u := range r.Values {
			units = append(units, u)
		}
		slices.Sort(units)
		var ms []string
		for _, u := range units {
			v, _ := r.Median(u)
			ms = append(ms, fmt.Sprintf("%.4g %s", v, u))
		}
		rows = append(rows, []string{strings.TrimPrefix(r.Pkg, module), strings.TrimPrefix(r.Name, "Benchmark"), fmt.Sprint(r.Runs), strings.Join(ms, ", ")})
	}
	p("<details><summary>Every micro-benchmark (medians)</summary>\n\n")
	table(w, perf.Table{Header: []string{"package", "benchmark", "runs", "metrics"}, Rows: rows})
	p("</details>\n\n")
}

func medianOf(r *perf.BenchResult, unit string) (float64, bool) {
	if r == nil {
		return 0, false
	}
	return r.Median(unit)
}

// crossCheck compares the end-to-end incident_context overhead with what
// the micro-benchmark predicts: the processor's own CPU time per span above
// a no-op processor, relative to the baseline collector's CPU time per
// span.
func crossCheck(w *bytes.Buffer, results []perf.Result, s *perf.BenchSet) {
	var rows [][]string
	for _, r := range results {
		for _, f := range r.Figures {
			c, ok := map[string]struct{ keys, level string }{
				perf.FigureCPUResource:  {"5", "resource"},
				perf.FigureCPURecord:    {"2", "record"},
				perf.FigureCPURecordAll: {"5", "record"},
			}[f.Name]
			if !ok || f.PeerValue <= 0 {
				continue
			}
			ic := s.Get(pkgProcessor, processorName("traces", c.keys, c.level, "incident_context"))
			noop := s.Get(pkgProcessor, processorName("traces", c.keys, c.level, "noop"))
			if ic == nil || noop == nil {
				continue
			}
			icNS, unit, ok1 := perItem(ic, "span")
			noopNS, _, ok2 := perItem(noop, "span")
			if !ok1 || !ok2 {
				continue
			}
			// CPU s per 1M spans = CPU µs per span.
			baseNS := f.PeerValue * 1000
			rows = append(rows, []string{
				c.level, c.keys,
				fmt.Sprintf("%.0f ns", baseNS),
				fmt.Sprintf("%.1f - %.1f = %.1f %s", icNS, noopNS, icNS-noopNS, unit),
				fmt.Sprintf("+%.2f%%", (icNS-noopNS)/baseNS*100),
				fmt.Sprintf("%+.1f%%", (f.Ratio-1)*100),
			})
		}
	}
	if len(rows) == 0 {
		return
	}
	table(w, perf.Table{
		Title:  "Cross-check: incident_context end to end vs micro-benchmark (traces)",
		Header: []string{"level", "keys", "baseline collector CPU per span", "micro: incident_context - noop", "predicted overhead", "measured end to end (median)"},
		Rows:   rows,
		Notes: []string{"The prediction is the micro-benchmark's figure: the processor alone, on batches decoded just before, with the garbage collector off. " +
			"In the collector the same code costs more: its pointer writes pass write barriers while the garbage collector marks, the attribute slices it grows are allocated with the collector running, and the caches are shared with the other processes; the garbage collection itself grows with what it allocates. " +
			"Where a target is missed, the profile table in the CPU section shows these parts. " +
			"The end-to-end figure is a difference of two noisy measurements: compare the per-round ratios of \"plain\" and \"baseline\" in the CPU table (the baseline's are the baseline beside a companion of the same configuration) to see the noise floor of this run."},
	})
}

// ingestTables writes the ingest tables of one input of the exporter's
// benchmarks (batch=<input>): separate runs, then interleaved.
func ingestTables(w *bytes.Buffer, s *perf.BenchSet, in ingestInput) {
	name := func(c string) string { return ingestName(in.name, c) }
	var rows [][]string
	floorNS, _ := medianOf(s.Get(pkgExporter, name("marshal_floor")), "ns/span")
	fileNS, _ := medianOf(s.Get(pkgExporter, name("fileexporter_zstd_proto")), "ns/span")
	for _, c := range ingestCases {
		r := s.Get(pkgExporter, name(c))
		if r == nil {
			continue
		}
		ns, _ := r.Median("ns/span")
		size, ok := r.Median("bytes/span")
		if !ok {
			size, _ = r.Median("raw_bytes/span")
		}
		allocs, _ := r.Median("allocs/op")
		rows = append(rows, []string{c, fmt.Sprintf("%.1f", ns), fmt.Sprintf("%.1f", size), fmt.Sprintf("%.0f", allocs), ratio(ns, floorNS), ratio(ns, fileNS)})
	}
	if len(rows) > 0 {
		table(w, perf.Table{
			Title:  "Evidence exporter ingest vs marshal floor vs fileexporter (1,000-span batches, " + in.desc + ")",
			Header: []string{"case", "ns/span (wall)", "bytes/span kept", "allocs/batch", "vs marshal_floor", "vs fileexporter"},
			Rows:   rows,
			Notes: []string{"test/peerbench/evidenceexporter BenchmarkIngest/batch=" + in.name + ", each case in its own run. bytes/span: what the ring holds (marshal_floor: the raw protobuf size; fileexporter: the file size). " +
				"The evidence rings have wrapped before the timing starts, the steady state of a full ring; evidence_ring_s2_first_fill is a ring that never wraps, whose appends take page faults on arena pages touched for the first time. " + in.note},
		})
	}

	r := s.Get(pkgExporter, interleavedName(in.name))
	if r == nil {
		return
	}
	floor, _ := r.Median("floor-cpu-ns/span")
	file, _ := r.Median("file-cpu-ns/span")
	rows = nil
	for _, c := range []struct{ name, unit string }{
		{"marshal_floor", "floor-cpu-ns/span"}, {"evidence_ring_s2", "evidence-cpu-ns/span"}, {"fileexporter_zstd_proto", "file-cpu-ns/span"},
	} {
		v, ok := r.Median(c.unit)
		if !ok {
			continue
		}
		rows = append(rows, []string{c.name, fmt.Sprintf("%.1f", v), ratio(v, floor), ratio(v, file)})
	}
	if len(rows) > 0 {
		table(w, perf.Table{
			Title:  "Evidence exporter ingest vs marshal floor vs fileexporter, interleaved (thread CPU, " + in.desc + ")",
			Header: []string{"case", "cpu-ns/span", "vs marshal_floor", "vs fileexporter"},
			Rows:   rows,
			Notes: []string{"test/peerbench/evidenceexporter " + interleavedName(in.name) + ": the three run on the same batch in every iteration, in a rotating order, each timed by the thread CPU time it takes, " +
				"so machine load touches all three alike. " + in.note},
		})
	}
}
