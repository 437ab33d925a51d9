package evidenceexporter

import (
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
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
		logs := func(seed int64, n int, from time.Time, step time.Duration) {
			require.NoError(t, h.exp.consumeLogs(ctx, testgen.Logs(seed, n, 3, from, step)))
		}
		logs(6, 50, t0.Add(-40*time.Minute), time.Minute)
		logs(7, 700, t0.Add(-25*time.Minute), time.Second)
		require.NoError(t, h.exp.consumeLogs(ctx, makeLogs("observed only", t0.Add(-3*time.Minute), true)))
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
