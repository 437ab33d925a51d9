package evidenceexporter

import (
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/otlpwire"
	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// TestTranscodedPartsAreThePdataParts freezes the same telemetry twice,
// once with traces and logs transcoded from the ring's protobuf to JSON (or,
// for otlp_proto parts, filtered in their protobuf) and once through pdata
// (decode, filter, marshal), and requires the same objects in
// the store byte for byte: the same parts, cut at the same places (small
// parts, batches split because they fit no part), the same counts, time
// ranges, losses (unusable times) and manifest.
func TestTranscodedPartsAreThePdataParts(t *testing.T) {
	for _, enc := range []string{bundle.EncodingJSON, bundle.EncodingProto} {
		t.Run(enc, func(t *testing.T) { testTranscodedParts(t, enc) })
	}
}

func testTranscodedParts(t *testing.T, enc string) {
	run := func(pdata bool) map[string][]byte {
		cfg := testConfig(t)
		cfg.Encoding = enc
		cfg.PartMaxBytes = minPartMaxBytes * 3
		h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
		h.exp.freezer.viaPdata = pdata
		ctx := context.Background()
		feed := func(seed int64, n int, from time.Time, step time.Duration) {
			require.NoError(t, h.exp.consumeTraces(ctx, testgen.Traces(seed, n, 3, from, step)))
		}
		// Before, across the start of and inside the window; a batch too
		// large for any part; spans with unusable times.
		feed(1, 40, t0.Add(-45*time.Minute), time.Minute)
		feed(2, 7, t0.Add(-31*time.Minute), 20*time.Second)
		feed(3, 600, t0.Add(-20*time.Minute), time.Second)
		for i := range 20 {
			feed(int64(10+i), 5+i, t0.Add(time.Duration(-i)*time.Minute), 3*time.Second)
		}
		require.NoError(t, h.exp.consumeTraces(ctx, poisonTraces(span("p", t0.Add(-time.Minute)))))
		// Inside the window, with groups that hold no item (which the
		// parts leave out).
		td := testgen.Traces(30, 12, 2, t0.Add(-10*time.Minute), time.Second)
		td.ResourceSpans().AppendEmpty()
		td.ResourceSpans().At(0).ScopeSpans().AppendEmpty()
		require.NoError(t, h.exp.consumeTraces(ctx, td))
		logs := func(seed int64, n int, from time.Time, step time.Duration) {
			require.NoError(t, h.exp.consumeLogs(ctx, testgen.Logs(seed, n, 3, from, step)))
		}
		logs(6, 50, t0.Add(-40*time.Minute), time.Minute)
		logs(7, 700, t0.Add(-25*time.Minute), time.Second)
		require.NoError(t, h.exp.consumeLogs(ctx, makeLogs("observed only", t0.Add(-3*time.Minute), true)))
		ld := testgen.Logs(31, 12, 2, t0.Add(-9*time.Minute), time.Second)
		ld.ResourceLogs().At(1).ScopeLogs().AppendEmpty()
		require.NoError(t, h.exp.consumeLogs(ctx, ld))
		h.reg.open(t, "INC-1", t0)
		h.flush()
		// Later blocks, and items of old blocks that the next bound reaches.
		h.clock.Set(t0.Add(5 * time.Minute))
		feed(4, 300, t0.Add(-2*time.Minute), 2*time.Second)
		feed(5, 30, t0.Add(9*time.Minute), time.Minute)
		logs(8, 40, t0.Add(-time.Minute), 20*time.Second)
		h.at(t0.Add(12 * time.Minute))
		h.waitComplete("INC-1")

		objs, err := h.fs.List(ctx, "", "")
		require.NoError(t, err)
		out := make(map[string][]byte, len(objs))
		for _, o := range objs {
			rc, _, err := h.fs.Get(ctx, o.Key)
			require.NoError(t, err)
			out[o.Key], err = io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
		}
		return out
	}
	want := run(true)
	got := run(false)
	require.Equal(t, keysOf(want), keysOf(got))
	parts := 0
	for k, v := range want {
		require.Equal(t, v, got[k], "%s differs", k)
		if p, err := bundle.ReadPart(bytes.NewReader(v)); err == nil {
			parts++
			require.NoError(t, p.Verify())
			require.Equal(t, enc, p.Info.Encoding)
		}
	}
	require.Greater(t, parts, 3, "the window must take several parts")
}

func keysOf(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

// TestExactBlockIsTakenUnread: a block the ring knows all about (see
// ring.Block.Exact) whose items all lie in the range goes into an
// otlp_proto part as it is, unread: bytes no reader would accept stand in
// for its payload here, and are added. Any other block is read.
func TestExactBlockIsTakenUnread(t *testing.T) {
	r := timeRange{lo: ts(t0), hi: ts(t0.Add(time.Minute))}
	exact := ring.Block{Exact: true, MinTime: t0, MaxTime: t0.Add(time.Second), Items: 3}
	whole := wholeIn(exact, r)
	require.Equal(t, &otlpwire.Batch{Items: 3, MinT: ts(t0), MaxT: ts(t0.Add(time.Second))}, whole)
	for name, blk := range map[string]ring.Block{
		"not exact":             {MinTime: t0, MaxTime: t0.Add(time.Second), Items: 3},
		"from before the range": {Exact: true, MinTime: t0.Add(-time.Nanosecond), MaxTime: t0, Items: 3},
		"until after the range": {Exact: true, MinTime: t0, MaxTime: t0.Add(time.Minute + 1), Items: 3},
	} {
		assert.Nil(t, wholeIn(blk, r), name)
	}

	unreadable := []byte{0xff, 0xff, 0xff}
	for _, enc := range []string{bundle.EncodingProto, bundle.EncodingJSON} {
		sp, err := openSpool(t.TempDir())
		require.NoError(t, err)
		f := &freezer{
			logger: zap.NewNop(), spool: sp, encoding: enc,
			dataLimit: 64<<20 - bundle.PartOverhead, collectorID: testCollector,
		}
		inc := incident.Incident{ID: "INC-1", Title: "t", Source: incident.SourceGeneric, StartedAt: t0, UpdatedAt: t0}
		pb := &partBuilder{
			f: f, ctx: context.Background(), now: t0, window: bundle.Window{Start: t0, End: t0.Add(time.Minute)},
			state: &incidentState{Incident: inc, StartedAt: t0, NextPart: 1},
		}
		n, err := pb.add(ring.SignalTraces, unreadable, r, nil, whole)
		if enc == bundle.EncodingJSON {
			require.ErrorIs(t, err, errCorruptBlock, "JSON parts read every block")
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		assert.Equal(t, int64(len(unreadable)+4), pb.w.Size(), "the payload, after its length")
		if len(pb.rec) > 0 {
			assert.NotSame(t, &unreadable[0], &pb.rec[0],
				"the record buffer must not become the payload, which the next block's read overwrites")
		}
		_, err = pb.add(ring.SignalTraces, unreadable, r, nil, nil)
		require.ErrorIs(t, err, errCorruptBlock, "without whole, the block is read")
		pb.w.Discard()
	}
}
