package evidenceexporter_test

// Benchmarks of the evidence exporter against its peers, outside the
// exporter's module so that contrib's fileexporter is no requirement of it.

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/storage"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
)

// benchBatches are realistic 1,000-span batches (testgen), consumed in turn.
func benchBatches(b *testing.B) []ptrace.Traces {
	b.Helper()
	const n = 16
	out := make([]ptrace.Traces, n)
	for i := range out {
		start := testgen.DefaultStart.Add(time.Duration(i) * time.Second)
		out[i] = testgen.Traces(int64(i+1), testgen.DefaultItems, testgen.DefaultResources, start, time.Millisecond)
		out[i].MarkReadOnly()
	}
	return out
}

// benchInput is how the ingest benchmarks hand batches to their contenders.
type benchInput struct {
	name string
	// fresh inputs decode a new copy for every turn; it is not timed.
	fresh bool
	next  func(i int) ptrace.Traces
}

// benchGCEvery is how often, in iterations, fresh input's garbage is
// collected.
const benchGCEvery = 16

// pauseGC, for fresh input, turns the garbage collector off and returns the
// function that turns it back on. The decoded copies' garbage would
// otherwise be collected while the contenders are timed; instead the caller
// collects it with collect, outside the timing. Nobody's collections are
// measured then (only marshal_floor and fileexporter make garbage of their
// own, so this flatters them if anyone).
func (in benchInput) pauseGC() func() {
	if !in.fresh {
		return func() {}
	}
	old := debug.SetGCPercent(-1)
	return func() { debug.SetGCPercent(old) }
}

// collect collects the heap every benchGCEvery iterations of fresh input.
func (in benchInput) collect(i int) {
	if in.fresh && i%benchGCEvery == 0 {
		runtime.GC()
	}
}

// benchInputs are the two ways a batch can reach an exporter:
//
//	fresh   a copy decoded from OTLP protobuf right before each turn, as the
//	        otlp receiver hands it to the pipeline, still in the CPU's
//	        caches (the premise of incident_context's benchmark too)
//	cycled  16 prebuilt batches in turn, most of them out of the core's
//	        caches by the time they come round again
//
// Both hold the same 16 batches. The ingest targets are set on
// fresh input, the condition of its reference figures; cycled input is a
// stress case that BENCHMARKS.md reports without targets.
func benchInputs(b *testing.B) []benchInput {
	batches := benchBatches(b)
	raws := make([][]byte, len(batches))
	for i, td := range batches {
		var err error
		raws[i], err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		require.NoError(b, err)
	}
	var u ptrace.ProtoUnmarshaler
	return []benchInput{
		{name: "fresh", fresh: true, next: func(i int) ptrace.Traces {
			td, err := u.UnmarshalTraces(raws[i%len(raws)])
			if err != nil {
				b.Fatal(err)
			}
			td.MarkReadOnly()
			return td
		}},
		{name: "cycled", next: func(i int) ptrace.Traces { return batches[i%len(batches)] }},
	}
}

func reportPerSpan(b *testing.B, spans int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans), "ns/span")
}

// BenchmarkIngest compares, on the same batches: the bare OTLP protobuf
// marshal (the floor any ring must pay), the evidence exporter's Consume
// path into its memory ring (through exporterhelper, as in a pipeline), and
// contrib's fileexporter writing zstd-compressed protobuf to a file, each in
// its own run, for both inputs of benchInputs. bytes/span is what each
// keeps per span: the ring's held bytes, the file's size.
func BenchmarkIngest(b *testing.B) {
	for _, in := range benchInputs(b) {
		b.Run("batch="+in.name, func(b *testing.B) { benchIngest(b, in) })
	}
}

func benchIngest(b *testing.B, in benchInput) {
	spansPer := in.next(0).SpanCount()
	// run times consume on the input's batches, leaving fresh copies'
	// decoding and garbage out of the timing.
	run := func(b *testing.B, consume func(ptrace.Traces) error) int {
		defer in.pauseGC()()
		spans := 0
		for i := 0; b.Loop(); i++ {
			if in.fresh {
				b.StopTimer()
				in.collect(i)
			}
			td := in.next(i)
			if in.fresh {
				b.StartTimer()
			}
			if err := consume(td); err != nil {
				b.Fatal(err)
			}
			spans += spansPer
		}
		reportPerSpan(b, spans)
		return spans
	}

	b.Run("marshal_floor", func(b *testing.B) {
		var m ptrace.ProtoMarshaler
		size := 0
		b.ReportAllocs()
		spans := run(b, func(td ptrace.Traces) error {
			data, err := m.MarshalTraces(td)
			size += len(data)
			return err
		})
		b.ReportMetric(float64(size)/float64(spans), "raw_bytes/span")
	})

	for _, c := range []struct {
		name, compression string
		wrapped           bool
	}{
		{"evidence_ring_s2", compressionS2, true},
		{"evidence_ring_zstd", compressionZstd, true},
		{"evidence_ring_s2_first_fill", compressionS2, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			exp, held := newBenchEvidence(b, c.compression, c.wrapped, in)
			ctx := context.Background()
			b.ReportAllocs()
			run(b, func(td ptrace.Traces) error { return exp.ConsumeTraces(ctx, td) })
			b.ReportMetric(held(), "bytes/span")
		})
	}

	b.Run("fileexporter_zstd_proto", func(b *testing.B) {
		exp, size := newBenchFileExporter(b)
		ctx := context.Background()
		b.ReportAllocs()
		spans := run(b, func(td ptrace.Traces) error { return exp.ConsumeTraces(ctx, td) })
		b.ReportMetric(float64(size())/float64(spans), "bytes/span")
	})
}

// The ring's block compressions (the exporter's buffer.compression values).
const (
	compressionS2   = "s2"
	compressionZstd = "zstd"
)

// benchRingBytes is the ring size of the ingest benchmarks: small enough to
// wrap during set-up, so that they measure the steady state of a full ring.
const benchRingBytes = 64 << 20

// newBenchEvidence starts an evidence exporter with a memory ring of the
// given block compression; held reports the bytes the ring holds per span.
//
// With wrapped set, the ring is first filled until it evicts: a collector's
// ring is full for all but its first minutes, and from then on appends reuse
// arena pages. Without it, the ring is large enough never to wrap, and every
// append takes page faults on arena pages it touches for the first time
// (the cost of the first fill, once per process).
func newBenchEvidence(b *testing.B, compression string, wrapped bool, in benchInput) (exporter.Traces, func() float64) {
	b.Helper()
	f := evidenceexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*evidenceexporter.Config)
	cfg.Spool.Directory = b.TempDir()
	cfg.Buffer.MaxBytes = benchRingBytes
	if !wrapped {
		cfg.Buffer.MaxBytes = 2 << 30
	}
	cfg.Buffer.MaxAge = 24 * time.Hour
	cfg.Buffer.Compression = compression
	set := exportertest.NewNopSettings(f.Type())
	ring := newRingGauges(b)
	set.MeterProvider = ring.provider
	exp, err := f.CreateTraces(context.Background(), set, cfg)
	require.NoError(b, err)
	fs, err := storage.NewFilesystem(b.TempDir())
	require.NoError(b, err)
	host := incidentsapitest.NewHost(incidentsapitest.NewRegistry("bench", fs), nil)
	require.NoError(b, exp.Start(context.Background(), host))
	b.Cleanup(func() { require.NoError(b, exp.Shutdown(context.Background())) })
	for i := 0; wrapped && ring.read(b).evicted == 0; i++ {
		require.NoError(b, exp.ConsumeTraces(context.Background(), in.next(i)))
	}
	held := func() float64 {
		st := ring.read(b)
		if !wrapped {
			require.Equal(b, int64(0), st.evicted, "the first-fill ring must not wrap")
		}
		return float64(st.bytes) / float64(st.items)
	}
	return exp, held
}

// ringGauges reads the exporter's own ring gauges (bytes, items and evicted
// items of the traces ring) through a meter provider that keeps only those
// three: they are observed when read, so the timed path records nothing
// more than it does with a no-op provider.
type ringGauges struct {
	provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
}

type ringStats struct{ bytes, items, evicted int64 }

var ringGaugeNames = map[string]bool{
	"otelcol_exporter_evidence_buffer_bytes":         true,
	"otelcol_exporter_evidence_buffer_items":         true,
	"otelcol_exporter_evidence_buffer_evicted_items": true,
}

func newRingGauges(b *testing.B) *ringGauges {
	reader := sdkmetric.NewManualReader()
	keep := func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		if ringGaugeNames[i.Name] {
			return sdkmetric.Stream{Name: i.Name}, true
		}
		return sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}, true
	}
	p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(keep))
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	return &ringGauges{provider: p, reader: reader}
}

func (g *ringGauges) read(b *testing.B) ringStats {
	var rm metricdata.ResourceMetrics
	require.NoError(b, g.reader.Collect(context.Background(), &rm))
	var st ringStats
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			case metricdata.Sum[int64]:
				points = d.DataPoints
			}
			for _, dp := range points {
				if sig, _ := dp.Attributes.Value("signal"); sig.AsString() != "traces" {
					continue
				}
				switch m.Name {
				case "otelcol_exporter_evidence_buffer_bytes":
					st.bytes = dp.Value
				case "otelcol_exporter_evidence_buffer_items":
					st.items = dp.Value
				case "otelcol_exporter_evidence_buffer_evicted_items":
					st.evicted = dp.Value
				}
			}
		}
	}
	return st
}

// newBenchFileExporter starts contrib's fileexporter writing zstd-compressed
// protobuf to a file; size reports the file's size once it is shut down.
func newBenchFileExporter(b *testing.B) (exporter.Traces, func() int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "traces.binpb.zst")
	f := fileexporter.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(b, confmap.NewFromStringMap(map[string]any{
		"path":        path,
		"format":      "proto",
		"compression": "zstd",
	}).Unmarshal(cfg))
	exp, err := f.CreateTraces(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
	require.NoError(b, err)
	require.NoError(b, exp.Start(context.Background(), componenttest.NewNopHost()))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			require.NoError(b, exp.Shutdown(context.Background()))
		}
	}
	b.Cleanup(stop)
	return exp, func() int64 {
		stop()
		fi, err := os.Stat(path)
		require.NoError(b, err)
		return fi.Size()
	}
}

// BenchmarkIngestInterleaved runs the three contenders of BenchmarkIngest on
// the same batch in every iteration, in an order that rotates from one
// iteration to the next, and times each by the thread CPU time it takes:
// the bare marshal (marshal_floor), the evidence exporter into its s2 memory
// ring, and contrib's fileexporter (zstd, proto). A change in the machine's
// load, or a contender running on caches the one before it has cooled,
// touches all three alike, so the ratios x-floor (evidence / floor) and
// x-fileexporter (evidence / fileexporter) hold on a shared machine. With
// batch=fresh every contender gets its own freshly decoded copy, and the
// copies' garbage is collected between turns (see pauseGC).
func BenchmarkIngestInterleaved(b *testing.B) {
	for _, in := range benchInputs(b) {
		b.Run("batch="+in.name, func(b *testing.B) {
			spansPer := in.next(0).SpanCount()
			evidence, _ := newBenchEvidence(b, compressionS2, true, in)
			file, _ := newBenchFileExporter(b)
			var m ptrace.ProtoMarshaler
			ctx := context.Background()
			var td ptrace.Traces
			consume := func(fn func(ptrace.Traces) error) func(int) {
				return func(int) {
					if err := fn(td); err != nil {
						b.Fatal(err)
					}
				}
			}
			defer in.pauseGC()()
			collected := -1
			cpu, i := threadcpu.InterleavePrepared(b, func(i int) {
				if collected != i {
					in.collect(i)
					collected = i
				}
				td = in.next(i)
			},
				consume(func(td ptrace.Traces) error { _, err := m.MarshalTraces(td); return err }),
				consume(func(td ptrace.Traces) error { return evidence.ConsumeTraces(ctx, td) }),
				consume(func(td ptrace.Traces) error { return file.ConsumeTraces(ctx, td) }),
			)
			spans := float64(i * spansPer)
			b.ReportMetric(float64(cpu[0].Nanoseconds())/spans, "floor-cpu-ns/span")
			b.ReportMetric(float64(cpu[1].Nanoseconds())/spans, "evidence-cpu-ns/span")
			b.ReportMetric(float64(cpu[2].Nanoseconds())/spans, "file-cpu-ns/span")
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "x-floor")
			b.ReportMetric(float64(cpu[1])/float64(cpu[2]), "x-fileexporter")
		})
	}
}
