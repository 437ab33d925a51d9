package evidenceexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/otlpwire"
	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// BenchmarkFreezeTraces freezes 100 ring blocks of 1,000 testgen spans
// (100k spans) into 64 MiB parts written to a spool, as a flush does
// after reading the blocks: JSON parts through the transcoder (transcode)
// and otlp_proto parts through the protobuf filter (proto) or, for blocks
// the ring knows lie inside the window (ring.Block.Exact), taken whole
// (proto_exact), and, as their peers in the same run, each through pdata
// (decode, filter, marshal: pdata, proto_pdata). Run it with -count to
// interleave them.
func BenchmarkFreezeTraces(b *testing.B) {
	const blocks, spans = 100, 1000
	payloads := make([][]byte, blocks)
	exact := make([]ring.Block, blocks)
	for i := range payloads {
		td := testgen.Traces(int64(i+1), spans, testgen.DefaultResources, t0.Add(time.Duration(i)*time.Second), time.Millisecond)
		p, bt := otlpwire.AppendTraces(nil, td, otlpwire.AnyTime)
		require.False(b, bt.Empty)
		require.Zero(b, bt.Unusable)
		payloads[i] = p
		exact[i] = ring.Block{Exact: true, MinTime: bt.MinT.AsTime(), MaxTime: bt.MaxT.AsTime(), Items: bt.Items}
	}
	window := bundle.Window{Start: t0.Add(-30 * time.Minute), End: t0.Add(10 * time.Minute)}
	r := timeRange{lo: ts(window.Start), hi: ts(window.End)}
	for _, peer := range []struct {
		name  string
		enc   string
		pdata bool
		exact bool
	}{
		{"pdata", bundle.EncodingJSON, true, false}, {"transcode", bundle.EncodingJSON, false, false},
		{"proto_pdata", bundle.EncodingProto, true, false}, {"proto", bundle.EncodingProto, false, false},
		{"proto_exact", bundle.EncodingProto, false, true},
	} {
		b.Run(peer.name, func(b *testing.B) {
			sp, err := openSpool(b.TempDir())
			require.NoError(b, err)
			f := &freezer{
				logger: zap.NewNop(), spool: sp, encoding: peer.enc, viaPdata: peer.pdata,
				dataLimit: 64<<20 - bundle.PartOverhead, collectorID: testCollector,
			}
			inc := incident.Incident{ID: "INC-1", Title: "bench", Source: incident.SourceGeneric, StartedAt: t0, UpdatedAt: t0}
			b.ReportAllocs()
			var stored int64
			for b.Loop() {
				pb := &partBuilder{
					f: f, ctx: context.Background(), now: t0, window: window,
					state: &incidentState{Incident: inc, StartedAt: t0, NextPart: 1},
				}
				for i, p := range payloads {
					var whole *otlpwire.Batch
					if peer.exact {
						whole = wholeIn(exact[i], r)
					}
					n, err := pb.add(ring.SignalTraces, p, r, nil, whole)
					require.NoError(b, err)
					require.Equal(b, spans, n)
				}
				require.NoError(b, pb.finish())
				stored = 0
				for _, p := range pb.state.Parts {
					stored += p.Size
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(blocks*spans), "ns/span")
			b.ReportMetric(float64(stored)/(blocks*spans), "bytes/span")
		})
	}
}
