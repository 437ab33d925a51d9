package evidenceexporter

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
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

// TestEvictedBeforeFreezeIsNamed: with a ring too small for the window,
// what it evicted before the incident's flushes read it is named as an
// evicted loss, item for item, with its item-time range, both for the past
// (evicted before the incident opened) and for data that arrived after and
// was evicted before the next flush.
func TestEvictedBeforeFreezeIsNamed(t *testing.T) {
	cfg := testConfig(t)
	cfg.Buffer.MaxBytes = 4 << 10
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	sent := map[string]time.Time{}
	send := func(prefix string, from time.Time, n int) {
		for i := range n {
			name := fmt.Sprintf("%s-%02d", prefix, i)
			at := from.Add(time.Duration(i) * 10 * time.Second)
			sent[name] = at
			h.traces(span(name, at)) // one span per block: whole blocks are exact
		}
	}
	missing := func(got []string, prefix string) (n int64, lo, hi time.Time) {
		have := map[string]bool{}
		for _, s := range got {
			have[s] = true
		}
		var r bundle.TimeRange
		for name, at := range sent {
			if strings.HasPrefix(name, prefix) && !have[name] {
				n++
				r.Extend(at)
			}
		}
		return n, r.Min, r.Max
	}

	send("past", t0.Add(-20*time.Minute), 60)
	h.reg.open(t, "INC-1", t0)
	h.flush()
	m := h.waitParts("INC-1", 1)
	c := h.read("INC-1", m)
	n, lo, hi := missing(c.spans, "past")
	require.Positive(t, n, "the ring must have been too small")
	require.Less(t, n, int64(60), "the ring must hold the newest")
	want := []bundle.Loss{{Signal: "traces", Reason: bundle.LossEvicted, Items: n, From: lo, To: hi}}
	assert.Equal(t, want, m.Losses)

	// After the first part: more than the ring holds before the next flush.
	send("live-a", t0.Add(2*time.Minute), 45) // up to T+9m20s, inside the window
	send("live-b", t0.Add(2*time.Minute+5*time.Second), 45)
	h.at(t0.Add(12 * time.Minute))
	m = h.waitComplete("INC-1")
	c = h.read("INC-1", m)
	n2, lo2, hi2 := missing(c.spans, "live")
	require.Positive(t, n2)
	want = bundle.MergeLosses(want, bundle.Loss{Signal: "traces", Reason: bundle.LossEvicted, Items: n2, From: lo2, To: hi2})
	assert.Equal(t, want, m.Losses)
	assert.Equal(t, map[string]int64{"traces/evicted": n + n2}, lostByReason(t, h))
}

// TestNoEvictionLossWhenTheRingHoldsTheWindow: a ring that evicted only
// data older than the window names no loss, however short its lookback by
// arrival time.
func TestNoEvictionLossWhenTheRingHoldsTheWindow(t *testing.T) {
	cfg := testConfig(t)
	cfg.Buffer.MaxBytes = 4 << 10
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	for i := range 60 {
		h.traces(span(fmt.Sprintf("old-%02d", i), t0.Add(-2*time.Hour)))
	}
	h.traces(span("a", t0.Add(-time.Minute)), span("b", t0))
	require.Positive(t, h.exp.ring.Stats().Signals[0].EvictedItems)
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	assert.True(t, m.Lossless, "%v", m.Losses)
	assert.ElementsMatch(t, []string{"a", "b"}, h.read("INC-1", m).spans)
}

// TestPartObjectsWithinPartMaxBytes: part_max_bytes bounds the part
// objects, also when one batch alone holds several parts' worth of
// incompressible data; nothing is lost or repeated on the way.
func TestPartObjectsWithinPartMaxBytes(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartMaxBytes = 128 << 10
	require.NoError(t, cfg.Validate())
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func() string {
		b := make([]byte, 1024)
		for i := range b {
			b[i] = byte('a' + rnd.IntN(26))
		}
		return string(b)
	}
	var want []string
	for batch := range 3 {
		var spans []spanAt
		for i := range 300 { // ~300 KiB of JSON per batch, more than two parts
			name := fmt.Sprintf("s-%d-%03d-%s", batch, i, noise())
			spans = append(spans, span(name, t0.Add(-time.Duration(batch)*time.Minute)))
			want = append(want, name)
		}
		h.traces(spans...)
	}
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	require.Greater(t, len(m.Parts), 6)
	for _, p := range m.Parts {
		assert.LessOrEqual(t, p.Size, cfg.PartMaxBytes, "part %d", p.Seq)
	}
	assert.ElementsMatch(t, want, h.read("INC-1", m).spans)
}

// TestRestartLossOfAMemoryRing: what a memory ring held dies with its
// process; an incident opened after the restart whose window reaches back
// into it names a restart loss: the items of the blocks it held, with
// their item-time range.
func TestRestartLossOfAMemoryRing(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0.Add(-time.Minute)), nil)
	h.traces(span("gone-1", t0.Add(-5*time.Minute)), span("gone-2", t0.Add(-2*time.Minute)))
	h.flush() // records what the ring holds
	h.stop()
	h.start()
	m := h.openAfterRestart("kept")
	assert.Equal(t, []bundle.Loss{{Signal: "traces", Reason: bundle.LossRestart, Items: 2, From: t0.Add(-5 * time.Minute), To: t0.Add(-2 * time.Minute)}}, m.Losses)
}

// TestLateParts: items of the window that arrive after the bundle is
// complete are frozen into late parts for late_data.period, listed (and
// marked late) by the complete manifest; after that period the manifest is
// final and later items are not added.
func TestLateParts(t *testing.T) {
	cfg := testConfig(t)
	cfg.LateData.Period = 5 * time.Minute
	h := newHarness(t, cfg, newFakeClock(t0.Add(time.Minute)), nil)
	h.traces(span("on-time", t0))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(12 * time.Minute)) // window end + grace: complete
	m := h.waitComplete("INC-1")
	require.Len(t, m.Parts, 1)
	assert.False(t, m.Parts[0].Late)
	assert.False(t, h.exp.uploader.spool.isDone("INC-1"), "the late-data period is not over")

	h.clock.Set(t0.Add(13 * time.Minute))
	h.traces(span("late", t0.Add(5*time.Minute)), span("outside", t0.Add(20*time.Minute)))
	h.flush()
	m = h.waitParts("INC-1", 2)
	assert.True(t, m.Complete)
	assert.True(t, m.Parts[1].Late)
	assert.True(t, m.Lossless)
	c := h.read("INC-1", m)
	assert.Equal(t, []string{"on-time", "late"}, c.spans)
	assert.True(t, c.parts[1].Info.Late)
	assertSumAttrs(t, h.tel, "otelcol_exporter_evidence_items_late", map[string]int64{"traces": 1})

	h.at(t0.Add(18 * time.Minute)) // the period is over: final
	require.Eventually(t, func() bool {
		_, err := os.Stat(h.exp.uploader.spool.incidentDir("INC-1"))
		return h.exp.uploader.spool.isDone("INC-1") || os.IsNotExist(err)
	}, 5*time.Second, time.Millisecond, "the final manifest is stored")
	h.clock.Set(t0.Add(19 * time.Minute))
	h.traces(span("too-late", t0.Add(6*time.Minute)))
	h.flush()
	assert.Len(t, h.manifest("INC-1").Parts, 2)
}
