package ring

import (
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
)

// The benchmarks measure the cost of putting one realistic batch (testgen's
// default: 1,000 spans over 10 resources, ~334 bytes/span as OTLP protobuf)
// into the ring, against the floor of marshalling it at all. Run with
//
//	go test -run '^$' -bench . -benchtime=200x ./internal/ring/
//
// Besides wall time (ns/op) every benchmark reports cpu-ns/op, the CPU time
// of the benchmarking thread, which is what to compare on a busy machine.

var benchTraces = sync.OnceValue(func() ptrace.Traces {
	return testgen.Traces(1, testgen.DefaultItems, testgen.DefaultResources, testgen.DefaultStart, time.Millisecond)
})

func benchPayload(b *testing.B) []byte {
	p, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(benchTraces())
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// loop runs fn b.Loop() times on one locked OS thread and reports its
// thread CPU time per op.
func loop(b *testing.B, fn func()) {
	cpu, n := threadcpu.Interleave(b, func(int) { fn() })
	b.ReportMetric(float64(cpu[0].Nanoseconds())/float64(n), "cpu-ns/op")
}

func reportSize(b *testing.B, raw, stored int) {
	b.ReportMetric(float64(stored)/float64(testgen.DefaultItems), "bytes/span")
	b.ReportMetric(float64(raw)/float64(stored), "ratio")
}

func BenchmarkMarshalFloor(b *testing.B) {
	td := benchTraces()
	m := &ptrace.ProtoMarshaler{}
	raw := benchPayload(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	loop(b, func() {
		if _, err := m.MarshalTraces(td); err != nil {
			b.Fatal(err)
		}
	})
	reportSize(b, len(raw), len(raw))
}

func benchMarshalCompress(b *testing.B, compress func(dst, src []byte) []byte) {
	td := benchTraces()
	m := &ptrace.ProtoMarshaler{}
	raw := benchPayload(b)
	var dst []byte
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	loop(b, func() {
		p, err := m.MarshalTraces(td)
		if err != nil {
			b.Fatal(err)
		}
		dst = compress(dst[:0], p)
	})
	reportSize(b, len(raw), len(dst))
}

func BenchmarkMarshalS2(b *testing.B) {
	benchMarshalCompress(b, func(dst, src []byte) []byte {
		if n := s2.MaxEncodedLen(len(src)); cap(dst) < n {
			dst = make([]byte, n)
		}
		return s2.Encode(dst[:cap(dst)], src)
	})
}

func BenchmarkMarshalS2Better(b *testing.B) {
	benchMarshalCompress(b, func(dst, src []byte) []byte {
		if n := s2.MaxEncodedLen(len(src)); cap(dst) < n {
			dst = make([]byte, n)
		}
		return s2.EncodeBetter(dst[:cap(dst)], src)
	})
}

func benchMarshalZstd(b *testing.B, level zstd.EncoderLevel) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	if err != nil {
		b.Fatal(err)
	}
	benchMarshalCompress(b, func(dst, src []byte) []byte { return enc.EncodeAll(src, dst) })
}

func BenchmarkMarshalZstdFastest(b *testing.B) { benchMarshalZstd(b, zstd.SpeedFastest) }

func BenchmarkMarshalZstdDefault(b *testing.B) { benchMarshalZstd(b, zstd.SpeedDefault) }

func benchRingAppend(b *testing.B, cfg Config) {
	td := benchTraces()
	raw := benchPayload(b)
	r, err := Open(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	loop(b, func() {
		if _, err := r.AppendTraces(td); err != nil {
			b.Fatal(err)
		}
	})
	st := r.Stats().Signals[SignalTraces]
	stored := int(st.Bytes / st.Blocks)
	reportSize(b, len(raw), stored)
}

func BenchmarkRingAppendS2(b *testing.B) {
	benchRingAppend(b, Config{MaxBytes: 256 << 20, Compression: CompressionS2})
}

func BenchmarkRingAppendZstd(b *testing.B) {
	benchRingAppend(b, Config{MaxBytes: 256 << 20, Compression: CompressionZstd})
}

func BenchmarkRingAppendDiskS2(b *testing.B) {
	benchRingAppend(b, Config{MaxBytes: 64 << 20, SegmentSize: 8 << 20, Directory: b.TempDir(), Compression: CompressionS2})
}

func BenchmarkRingAppendDiskZstd(b *testing.B) {
	benchRingAppend(b, Config{MaxBytes: 64 << 20, SegmentSize: 8 << 20, Directory: b.TempDir(), Compression: CompressionZstd})
}

// benchPayloadRead measures reading a block back (as a freeze does).
func benchPayloadRead(b *testing.B, cfg Config) {
	raw := benchPayload(b)
	r, err := Open(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if _, err := r.Append(SignalTraces, raw, testgen.DefaultStart, testgen.DefaultStart, testgen.DefaultItems); err != nil {
		b.Fatal(err)
	}
	var blk Block
	if err := r.Scan(0, time.Time{}, time.Time{}, func(bl Block) error { blk = bl; return nil }); err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	loop(b, func() {
		if buf, err = blk.AppendPayload(buf[:0]); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkPayloadS2(b *testing.B) {
	benchPayloadRead(b, Config{MaxBytes: 1 << 20, Compression: CompressionS2})
}

func BenchmarkPayloadZstd(b *testing.B) {
	benchPayloadRead(b, Config{MaxBytes: 1 << 20, Compression: CompressionZstd})
}

func BenchmarkPayloadDiskS2(b *testing.B) {
	benchPayloadRead(b, Config{MaxBytes: 1 << 20, Directory: b.TempDir(), Compression: CompressionS2})
}

// BenchmarkIngestVsFloor interleaves the floor (a bare marshal) and the ring
// ingest (AppendTraces) in every iteration and reports the ratio
// of their thread CPU times as "x-floor", which stays meaningful on a busy
// machine where separate benchmark runs see different loads.
func BenchmarkIngestVsFloor(b *testing.B) {
	cases := []struct {
		name string
		cfg  func(b *testing.B) Config
	}{
		{"memory-s2", func(*testing.B) Config { return Config{MaxBytes: 256 << 20, Compression: CompressionS2} }},
		{"memory-zstd", func(*testing.B) Config { return Config{MaxBytes: 256 << 20, Compression: CompressionZstd} }},
		// A small ring wraps every ~30 blocks: the steady state of a full
		// ring, where a memory arena takes no more page faults.
		{"memory-s2-wrapping", func(*testing.B) Config { return Config{MaxBytes: 2 << 20, Compression: CompressionS2} }},
		{"disk-s2", func(b *testing.B) Config {
			return Config{MaxBytes: 64 << 20, SegmentSize: 8 << 20, Directory: b.TempDir(), Compression: CompressionS2}
		}},
		{"disk-zstd", func(b *testing.B) Config {
			return Config{MaxBytes: 64 << 20, SegmentSize: 8 << 20, Directory: b.TempDir(), Compression: CompressionZstd}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			td := benchTraces()
			m := &ptrace.ProtoMarshaler{}
			r, err := Open(c.cfg(b), zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = r.Close() }()
			b.ReportAllocs()
			cpu, _ := threadcpu.Interleave(b,
				func(int) {
					if _, err := m.MarshalTraces(td); err != nil {
						b.Fatal(err)
					}
				},
				func(int) {
					if _, err := r.AppendTraces(td); err != nil {
						b.Fatal(err)
					}
				},
			)
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "x-floor")
		})
	}
}
