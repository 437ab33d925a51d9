package evidenceexporter

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// poisonTraces is one batch of good spans and spans with unusable times:
// zero, 2^63 ns, the largest uint64, year 1900 (negative, so beyond 2^63
// as an unsigned time), year 2200 and eight days before arrival.
func poisonTraces(good ...spanAt) ptrace.Traces {
	td := makeTraces(good...)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i, ts := range []pcommon.Timestamp{
		0, 1 << 63, math.MaxUint64,
		pcommon.NewTimestampFromTime(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)),
		pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)),
		pcommon.NewTimestampFromTime(t0.Add(-8 * 24 * time.Hour)),
	} {
		sp := spans.AppendEmpty()
		sp.SetName("poison-" + string(rune('a'+i)))
		sp.SetStartTimestamp(ts)
	}
	return td
}

// TestUnusableTimesCostNothingElse: spans with unusable times in a batch
// never cost the other spans their place; they are counted, and named as a
// loss by the bundle whose window holds their arrival.
func TestUnusableTimesCostNothingElse(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0.Add(-31*time.Minute)), nil)
	ctx := context.Background()
	// Arrives before the window: counted, but not this bundle's loss.
	require.NoError(t, h.exp.consumeTraces(ctx, poisonTraces(span("early", t0.Add(-31*time.Minute)))))
	h.clock.Set(t0.Add(time.Minute))
	require.NoError(t, h.exp.consumeTraces(ctx, poisonTraces(span("a", t0.Add(-10*time.Minute)), span("b", t0), span("c", t0.Add(time.Minute)))))
	h.reg.open(t, "INC-1", t0)
	h.flush()

	m := h.waitParts("INC-1", 1)
	assert.ElementsMatch(t, []string{"a", "b", "c"}, h.read("INC-1", m).spans)
	want := []bundle.Loss{{Signal: "traces", Reason: bundle.LossUnusableTime, Items: 6}}
	assert.Equal(t, want, m.Losses)
	assert.False(t, m.Lossless)
	assert.Equal(t, want, h.read("INC-1", m).parts[0].Info.Losses)
	assertSumAttrs(t, h.tel, "otelcol_exporter_evidence_items_unusable_time", map[string]int64{"traces": 12})
	_, err := h.tel.GetMetric("otelcol_exporter_evidence_buffer_dropped_items")
	require.Error(t, err, "no batch was dropped")
	assert.Equal(t, map[string]int64{"traces/unusable_time": 6}, lostByReason(t, h))

	// The rest of the window holds nothing new: the bundle completes with
	// the loss named once.
	h.at(t0.Add(12 * time.Minute))
	m = h.waitComplete("INC-1")
	assert.Equal(t, want, m.Losses)
}

// TestLosslessWhenNothingIsMissing: a window the ring fully holds gives a
// lossless bundle.
func TestLosslessWhenNothingIsMissing(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0.Add(time.Minute)), nil)
	h.traces(span("a", t0.Add(-10*time.Minute)), span("b", t0))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.True(t, m.Lossless)
	assert.Empty(t, m.Losses)
	for _, p := range h.read("INC-1", m).parts {
		assert.True(t, p.Info.Lossless)
	}
}

// lostByReason sums otelcol_exporter_evidence_items_lost by "signal/reason".
func lostByReason(t *testing.T, h *harness) map[string]int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_exporter_evidence_items_lost")
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%T", m.Data)
	out := make(map[string]int64)
	for _, dp := range sum.DataPoints {
		sig, _ := dp.Attributes.Value("signal")
		reason, _ := dp.Attributes.Value("reason")
		out[sig.AsString()+"/"+reason.AsString()] += dp.Value
	}
	return out
}
