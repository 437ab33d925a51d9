package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otel-evidence/otel-evidence/test/perf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const microText = `pkg: github.com/otel-evidence/otel-evidence/test/peerbench/incidentcontextprocessor
BenchmarkContext/traces/keys=2/level=resource/impl=incident_context-2 	 100	 50000 ns/op	 50.0 ns/span	 40.0 cpu-ns/span	 0.01 allocs/span
BenchmarkContext/traces/keys=2/level=resource/impl=noop-2             	 100	 10000 ns/op	 10.0 ns/span	 8.0 cpu-ns/span	 0 allocs/span
BenchmarkContext/traces/keys=2/level=resource/impl=transform_where-2  	 100	 900000 ns/op	 900.0 ns/span	 800.0 cpu-ns/span	 9 allocs/span
BenchmarkContext/traces/keys=5/level=resource/impl=incident_context-2 	 100	 60000 ns/op	 60.0 ns/span	 48.0 cpu-ns/span	 0.01 allocs/span
BenchmarkContext/traces/keys=5/level=resource/impl=noop-2             	 100	 10000 ns/op	 10.0 ns/span	 8.0 cpu-ns/span	 0 allocs/span
BenchmarkContext/traces/keys=5/level=resource/impl=transform_where-2  	 100	 90000 ns/op	 90.0 ns/span	 80.0 cpu-ns/span	 9 allocs/span
pkg: github.com/otel-evidence/otel-evidence/test/peerbench/evidenceexporter
BenchmarkIngest/batch=fresh/marshal_floor-2            	 10	 100 ns/op	 200.0 ns/span	 334.0 raw_bytes/span
BenchmarkIngest/batch=fresh/evidence_ring_s2-2         	 10	 100 ns/op	 500.0 ns/span	 120.0 bytes/span
BenchmarkIngest/batch=fresh/fileexporter_zstd_proto-2  	 10	 100 ns/op	 1000.0 ns/span	 90.0 bytes/span
BenchmarkIngest/batch=cycled/marshal_floor-2           	 10	 100 ns/op	 400.0 ns/span	 334.0 raw_bytes/span
BenchmarkIngest/batch=cycled/evidence_ring_s2-2        	 10	 100 ns/op	 600.0 ns/span	 120.0 bytes/span
BenchmarkIngest/batch=cycled/evidence_ring_s2_first_fill-2 	 10	 100 ns/op	 700.0 ns/span	 120.0 bytes/span
BenchmarkIngest/batch=cycled/fileexporter_zstd_proto-2 	 10	 100 ns/op	 1500.0 ns/span	 90.0 bytes/span
BenchmarkIngestInterleaved/batch=fresh-2               	 10	 100 ns/op	 300.0 evidence-cpu-ns/span	 1000.0 file-cpu-ns/span	 200.0 floor-cpu-ns/span	 0.3 x-fileexporter	 1.5 x-floor
BenchmarkIngestInterleaved/batch=cycled-2              	 10	 100 ns/op	 450.0 evidence-cpu-ns/span	 1200.0 file-cpu-ns/span	 300.0 floor-cpu-ns/span	 0.375 x-fileexporter	 1.5 x-floor
pkg: github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring
BenchmarkIngestVsFloor/memory-s2-2 	 200	 1 ns/op	 1.50 x-floor
pkg: github.com/otel-evidence/otel-evidence/pkg/bundle
BenchmarkPartWriter/otlp_json-2 	 10	 1 ns/op	 60.0 MB/s	 50.0 bytes/span	 1000.0 raw-bytes/span
pkg: github.com/otel-evidence/otel-evidence/internal/timeline
BenchmarkTimeline1M/timeline-2       	 1	 3200000000 ns/op	 3.0 cpu-s/bundle	 3200 ns/span	 3.2 s/bundle	 1100000000 B/op	 446000 allocs/op
BenchmarkTimeline1M/timeline_pdata-2 	 1	 6400000000 ns/op	 5.6 cpu-s/bundle	 6400 ns/span	 6.4 s/bundle	 2900000000 B/op	 66000000 allocs/op
BenchmarkTimeline1M/read_floor-2     	 1	 2500000000 ns/op	 1.8 cpu-s/bundle	 2500 ns/span	 2.5 s/bundle	 890000000 B/op	 3000 allocs/op
`

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.Mkdir(results, 0o755))
	r := perf.Result{
		Section: "1-cpu", Title: "End-to-end CPU per million spans",
		Params: map[string]string{"offered load": "20000 spans/s"},
		Figures: []perf.Figure{
			{Name: "CPU, full", Value: 1.4, Unit: "CPU s / 1M spans", Peer: "baseline", PeerValue: 1, Ratio: 1.4, Target: "<= 1.3x", Met: perf.Met(false)},
			{Name: "Freeze", Value: 1.505, Unit: "s", Peer: "raw", PeerValue: 0.01, Ratio: 150.5},
			{Name: perf.FigureCPUResource, Value: 1.005, Unit: "CPU s / 1M spans", Peer: "baseline", PeerValue: 1, Ratio: 1.005, Target: "< 1.01x", Met: perf.Met(true)},
		},
		Tables: []perf.Table{{Title: "CPU | detail", Header: []string{"config", "median"}, Rows: [][]string{{"full", "1.40"}}}},
		Failed: []string{"record/round2", "full/round3"},
	}
	require.NoError(t, r.Write(results))
	micro := filepath.Join(dir, "bench.txt")
	require.NoError(t, os.WriteFile(micro, []byte(microText), 0o644))
	out := filepath.Join(dir, "BENCHMARKS.md")

	require.NoError(t, run(options{results: results, micro: micro, out: out, command: "make bench",
		settings: "PERF_SUSTAINED=2m\nPERF_RATE=20000", loadStart: "3.00 2.00 1.00", loadEnd: "4.00 3.00 2.00", seconds: 90}))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	md := string(data)
	for _, want := range []string{
		"| CPUs (nproc) |",
		"- `PERF_SUSTAINED=2m`",
		"3.00 2.00 1.00 at the start, 4.00 3.00 2.00 at the end",
		"| CPU, full | 1.4 CPU s / 1M spans | baseline | 1 CPU s / 1M spans | 1.400x | <= 1.3x | **NO (missed)** |",
		"| CPU, incident_context level resource (all 5 keys) | 1.005 CPU s / 1M spans | baseline | 1 CPU s / 1M spans | 1.005x | < 1.01x | yes |",
		"### CPU | detail",
		"**Missing results** (the run failed or was skipped): 2-freeze, 3-memory",
		"**Failed cases** (left out of their section's tables and figures): 1-cpu: record/round2, full/round3. See the run's output.",
		"**Failed cases, left out below:** record/round2, full/round3. See the run's output.",
		"| Micro: incident_context, traces, level resource, 2 keys | 40 cpu-ns/span | transformprocessor setting the same values per resource (transform_where) | 800 cpu-ns/span | 0.050x | <= 0.5x (2x faster) | yes |",
		"| traces | 2 | resource | 40.0 (0.01 allocs) | 8.0 (0.00 allocs) | - | - | 800.0 (9.00 allocs) | 0.05x | - | - |",
		"| evidence_ring_s2 | 500.0 | 120.0 | 0 | 2.50x | 0.50x |",
		"| memory-s2 | 1.50x |",
		// Ingest targets: separate runs (wall) and interleaved (thread CPU).
		"| Micro: evidence exporter ingest into the s2 ring (separate runs, fresh batches) | 500 ns/span | the bare OTLP protobuf marshal (marshal_floor) | 200 ns/span | 2.500x (wall time) | <= 2x | **NO (missed)** |",
		"| Micro: evidence exporter ingest into the s2 ring (separate runs, fresh batches) | 500 ns/span | contrib fileexporter, zstd protobuf to a file | 1000 ns/span | 0.500x (wall time) | <= 0.333x (3x faster) | **NO (missed)** |",
		"| Micro: bytes the s2 ring holds | 120 bytes/span | contrib fileexporter's file (zstd, proto) | 90 bytes/span | 1.333x | <= 1.4x | yes |",
		"| Micro: evidence exporter ingest into the s2 ring (interleaved, fresh batches) | 300 cpu-ns/span | contrib fileexporter, zstd protobuf to a file | 1000 cpu-ns/span | 0.300x (thread CPU time) | <= 0.333x (3x faster) | yes |",
		"| evidence_ring_s2 | 300.0 | 1.50x | 0.30x |",
		// Each input has its figures and tables; the targets are set on
		// the fresh input only, and each input shows the floor's ratio to
		// fileexporter.
		"| Micro: evidence exporter ingest into the s2 ring (separate runs, cycled batches) | 600 ns/span | the bare OTLP protobuf marshal (marshal_floor) | 400 ns/span | 1.500x (wall time) | - | - |",
		"| Micro: evidence exporter ingest into the s2 ring (interleaved, cycled batches) | 450 cpu-ns/span | contrib fileexporter, zstd protobuf to a file | 1200 cpu-ns/span | 0.375x (thread CPU time) | - | - |",
		"| Micro: the bare marshal, no compression (separate runs, fresh batches; the issue's reference: 0.17x) | 200 ns/span | contrib fileexporter, zstd protobuf to a file | 1000 ns/span | 0.200x (wall time) | - | - |",
		"| Micro: the bare marshal, no compression (interleaved, cycled batches; the issue's reference: 0.17x) | 300 cpu-ns/span | contrib fileexporter, zstd protobuf to a file | 1200 cpu-ns/span | 0.250x (thread CPU time) | - | - |",
		"### Evidence exporter ingest vs marshal floor vs fileexporter (1,000-span batches, cycled batches)",
		"| evidence_ring_s2_first_fill | 700.0 | 120.0 | 0 | 1.75x | 0.47x |",
		"### Evidence exporter ingest vs marshal floor vs fileexporter, interleaved (thread CPU, cycled batches)",
		"| evidence_ring_s2 | 450.0 | 1.50x | 0.38x |",
		"| otlp_json | 50.0 | 1000.0 | 20.00x | 60.0 |",
		"| Freeze | 1.505 s | raw | 0.01 s | 150.5x | - | - |",
		"| Micro: evidencectl timeline of a 1M-span bundle (read, verify, decode, analyse, render) | 3.2 s | reading and verifying the same parts, decoding nothing (read_floor) | 2.5 s | 1.280x (wall time) | < 5 s | yes |",
		"| Micro: evidencectl timeline of a 1M-span bundle, OTLP JSON scanned | 3.2 s | the same with every record decoded by pdata (timeline_pdata) | 6.4 s | 0.500x (wall time) | - | - |",
		"### Timeline of a 1M-span bundle",
		"| timeline | 3.20 | 3.00 | 3200 | 1049 | 446000 |",
		"<details>",
		"| resource | 5 | 1000 ns | 48.0 - 8.0 = 40.0 cpu-ns/span | +4.00% | +0.5% |",
		// The target is set on the two-key figures only.
		"| Micro: incident_context, traces, level resource, all 5 keys | 48 cpu-ns/span | transformprocessor setting the same values per resource (transform_where) | 80 cpu-ns/span | 0.600x | - | - |",
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "Problem reading results", md)
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	err := run(options{micro: filepath.Join(dir, "missing.txt"), out: filepath.Join(dir, "out.md")})
	require.ErrorContains(t, err, "-micro")

	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("BenchmarkX-2 1 zz ns/op\n"), 0o644))
	err = run(options{micro: bad, out: filepath.Join(dir, "out.md")})
	require.ErrorContains(t, err, "BenchmarkX")
}
