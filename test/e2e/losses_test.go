package e2e

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The loss tests: whatever a bundle lacks is named in it, item for item.
// Each test makes the recorder miss items in one way and checks that the
// bundle holds every other in-window item exactly once and that its
// losses count exactly the items the test finds missing.

// poisonTimes are item times no window can hold: zero, 2^63 ns, the
// largest uint64, year 1900 (negative, so at or beyond 2^63 as an
// unsigned time) and year 2200 (beyond item_time.max_future).
var poisonTimes = []pcommon.Timestamp{
	0, 1 << 63, math.MaxUint64,
	pcommon.NewTimestampFromTime(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)),
	pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)),
}

// sendPoisoned sends one request per signal that holds, beside in-window
// items with IDs the test expects in the bundle, one item per poison time
// (tagged too, so that the test can tell it never reached the bundle).
func (r *freezeRig) sendPoisoned(good ...time.Time) {
	r.t.Helper()
	r.batch++
	b := r.batch
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "poisoned-client")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "poisoned-client")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "poisoned-client")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("poisoned.gauge")
	points := m.SetEmptyGauge().DataPoints()
	add := func(id string, ts pcommon.Timestamp) {
		s := spans.AppendEmpty()
		s.SetName("op")
		s.SetTraceID(pcommon.TraceID{byte(b), byte(spans.Len()), 1})
		s.SetSpanID(pcommon.SpanID{byte(b), byte(spans.Len()), 2})
		s.SetStartTimestamp(ts)
		s.SetEndTimestamp(ts)
		s.Attributes().PutStr(itemAttr, id+"-span")
		lr := recs.AppendEmpty()
		lr.SetTimestamp(ts)
		lr.Body().SetStr("poisoned client")
		lr.Attributes().PutStr(itemAttr, id+"-log")
		dp := points.AppendEmpty()
		dp.SetTimestamp(ts)
		dp.SetIntValue(int64(points.Len()))
		dp.Attributes().PutStr(itemAttr, id+"-point")
	}
	for i, at := range good {
		id := fmt.Sprintf("b%d-good-%d", b, i)
		add(id, pcommon.NewTimestampFromTime(at))
		r.sent.traces[id+"-span"] = at
		r.sent.logs[id+"-log"] = at
		r.sent.metrics[id+"-point"] = at
	}
	for i, ts := range poisonTimes {
		add(fmt.Sprintf("b%d-poison-%d", b, i), ts) // not in sent: must not be in the bundle
	}
	r.otlp.SendTraces(td)
	r.otlp.SendLogs(ld)
	r.otlp.SendMetrics(md)
}

// TestLossPoisonTimes mixes items with unusable times (2^63 ns and beyond,
// 0, year 1900, year 2200) into batches with other clients' items:
// telemetrygen's spans and the test's own tagged items, merged by the batch
// processor. The poison items lose nothing but themselves: every other
// in-window item is in the bundle once, and the bundle names exactly the
// poison items that arrived inside its window as an unusable_time loss.
func TestLossPoisonTimes(t *testing.T) {
	r := startRig(t, "INC-LOSS-POISON", rigOptions{after: 30 * time.Second})
	T := r.T
	r.send(every(T.Add(-90*time.Second), T.Add(-time.Second), time.Second)...)
	r.open()
	r.waitObject(r.partKey(1), 20*time.Second)

	// telemetrygen and the poisoned client at the same time, so that the
	// batch processor merges them.
	var wg sync.WaitGroup
	wg.Go(func() {
		// 1,000 traces of a root and a child span each.
		harness.Telemetrygen(t, "traces", r.ports.OTLPGRPC, "--traces", "1000")
	})
	for i := range 10 {
		now := time.Now()
		require.True(t, now.Before(T.Add(r.after-5*time.Second)), "the test ran too slowly to stay inside the window")
		r.sendPoisoned(now.Add(-time.Duration(i)*time.Millisecond), T.Add(-time.Duration(i+1)*time.Second))
	}
	wg.Wait()
	require.True(t, time.Now().Before(T.Add(r.after)), "telemetrygen ran past the window's end; its spans would be outside it")
	// telemetrygen's spans are those the receiver accepted beside the
	// test's own; the bundle must hold every one.
	tagged := float64(len(r.sent.traces) + 10*len(poisonTimes))
	accepted := waitMetricAtLeast(t, r.ports.Metrics, "otelcol_receiver_accepted_spans", map[string]string{"receiver": "otlp"}, tagged+2000, 10*time.Second)
	require.Zero(t, metricValue(t, r.ports.Metrics, "otelcol_receiver_refused_spans", map[string]string{"receiver": "otlp"}))
	r.untaggedSpans = int64(accepted - tagged)
	r.logf("telemetrygen sent %d spans", r.untaggedSpans)
	n := int64(10 * len(poisonTimes))
	r.logf("telemetrygen and the poisoned client are done")
	r.wantLosses = []bundle.Loss{
		{Signal: bundle.SignalLogs, Reason: bundle.LossUnusableTime, Items: n},
		{Signal: bundle.SignalMetrics, Reason: bundle.LossUnusableTime, Items: n},
		{Signal: bundle.SignalTraces, Reason: bundle.LossUnusableTime, Items: n},
	}
	// A poisoned batch after the window's end: counted by the collector,
	// but no loss of this bundle, since it arrived outside the window.
	require.Eventually(t, func() bool { return time.Now().After(T.Add(r.after)) }, time.Minute, 10*time.Millisecond)
	r.sendPoisoned()
	rep := harness.WaitBundleComplete(t, r.st, r.id, 90*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
	for _, sig := range []string{"traces", "logs", "metrics"} {
		unusable := map[string]string{"signal": sig}
		waitMetricAtLeast(t, r.ports.Metrics, "otelcol_exporter_evidence_items_unusable_time", unusable, float64(n+5), 10*time.Second)
		require.Equal(t, float64(n+5), metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_items_unusable_time", unusable), sig)
		lost := map[string]string{"signal": sig, "reason": "unusable_time"}
		require.Equal(t, float64(n), metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_items_lost", lost), sig)
	}
}
