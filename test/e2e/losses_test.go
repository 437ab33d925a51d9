package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// waitSeen waits until the ring has taken every item sent so far: those it
// holds plus those it evicted (log records also include the webhook's
// extraLogs).
func (r *freezeRig) waitSeen(extraLogs int, timeout time.Duration) {
	r.t.Helper()
	for _, s := range []struct {
		sig  string
		sent int
	}{{"traces", len(r.sent.traces)}, {"logs", len(r.sent.logs) + extraLogs}, {"metrics", len(r.sent.metrics)}} {
		labels := map[string]string{"signal": s.sig}
		require.Eventuallyf(r.t, func() bool {
			held, err1 := scrapeMetric(r.ports.Metrics, "otelcol_exporter_evidence_buffer_items", labels)
			evicted, err2 := scrapeMetric(r.ports.Metrics, "otelcol_exporter_evidence_buffer_evicted_items", labels)
			return err1 == nil && err2 == nil && held+evicted >= float64(s.sent)
		}, timeout, 20*time.Millisecond, "the ring never took the %d %s sent", s.sent, s.sig)
	}
}

// TestLossRingTooSmall runs a memory ring far too small for the window:
// it evicts in-window items both before the incident opens and after,
// before a flush reads them. The bundle holds every other in-window item
// once, and its losses name exactly the missing items per signal (count
// and item-time range) as evicted. Each batch holds items of one side of
// the window start only (evicted batches are counted whole).
func TestLossRingTooSmall(t *testing.T) {
	r := startRig(t, "INC-LOSS-EVICTED", rigOptions{
		after:    time.Minute,
		evidence: map[string]any{"buffer": map[string]any{"max_bytes": 12 << 10}},
	})
	T := r.T
	r.missingReason = bundle.LossEvicted
	// Before the window, then the window's past, ten seconds a batch.
	r.send(every(T.Add(-3*time.Minute), T.Add(-freezeBefore-time.Second), time.Second)...)
	r.waitSeen(0, 20*time.Second)
	for at := T.Add(-freezeBefore); at.Before(T); at = at.Add(10 * time.Second) {
		r.send(every(at, at.Add(9*time.Second), time.Second)...)
		r.waitSeen(0, 20*time.Second)
	}
	evicted := metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_buffer_evicted_items", map[string]string{"signal": "traces"})
	require.Greater(t, evicted, float64(60), "the ring must have evicted in-window items before the incident opened")
	r.open()
	r.waitObject(r.partKey(1), 20*time.Second)
	r.logf("part 1 is in the bucket")
	// After it opened: bursts larger than the ring between flushes.
	for i := range 12 {
		at := T.Add(time.Duration(i) * 4 * time.Second)
		r.send(every(at, at.Add(3*time.Second), 100*time.Millisecond)...)
	}
	rep := harness.WaitBundleComplete(t, r.st, r.id, 2*time.Minute)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
}

// TestPartMaxBytesBound sets part_max_bytes to its minimum, 64 KiB, and
// freezes a window of a few megabytes, sent in batches far larger than
// one part: every part object in the bucket is within the bound, and the
// bundle holds the window exactly.
func TestPartMaxBytesBound(t *testing.T) {
	const maxPart = 64 << 10
	r := startRig(t, "INC-PART-MAX", rigOptions{evidence: map[string]any{"part_max_bytes": maxPart}})
	T := r.T
	for at := T.Add(-100 * time.Second); at.Before(T); at = at.Add(20 * time.Second) {
		r.send(every(at, at.Add(20*time.Second-time.Millisecond), 10*time.Millisecond)...) // 2,000 items a batch
	}
	r.open()
	rep := harness.WaitBundleComplete(t, r.st, r.id, time.Minute)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
	m := harness.ReadBundle(t, r.st, r.id, freezeCollector).Manifest
	require.Greater(t, len(m.Parts), 10, "the window must fill many parts")
	var largest int64
	for _, p := range m.Parts {
		require.LessOrEqualf(t, p.Size, int64(maxPart), "part %d", p.Seq)
		largest = max(largest, p.Size)
	}
	r.logf("%d parts, the largest %d bytes", len(m.Parts), largest)
}

// waitRecorded waits until the exporter's recorder.json lists blocks
// holding every item sent so far: what its memory ring holds is on disk.
func (r *freezeRig) waitRecorded(timeout time.Duration) {
	r.t.Helper()
	path := filepath.Join(r.dir, "var", "spool", "recorder.json")
	var got [3]int64
	require.Eventuallyf(r.t, func() bool {
		data, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		var rec struct {
			Blocks [][5]int64 `json:"blocks"`
		}
		if json.Unmarshal(data, &rec) != nil {
			return false
		}
		got = [3]int64{}
		for _, b := range rec.Blocks {
			if b[1] >= 0 && b[1] < 3 {
				got[b[1]] += b[4]
			}
		}
		return got[0] >= int64(len(r.sent.traces)) && got[1] >= int64(len(r.sent.logs)) && got[2] >= int64(len(r.sent.metrics))
	}, timeout, 20*time.Millisecond, "recorder.json never listed the items sent: %v", got)
}

// waitLedgered waits until the exporter's arrival ledger lists blocks
// holding every item sent so far, and extraLogs more log records (the
// incident_webhook's): what its memory ring took is recorded on disk. It
// reads the ledger's records (48 bytes: seq, epoch, min and max item time,
// items at 32, signal at 36) of the process recorder.json describes.
func (r *freezeRig) waitLedgered(extraLogs int64, timeout time.Duration) {
	r.t.Helper()
	spool := filepath.Join(r.dir, "var", "spool")
	var got [3]int64
	require.Eventuallyf(r.t, func() bool {
		rec, err := os.ReadFile(filepath.Join(spool, "recorder.json"))
		if err != nil {
			return false
		}
		var st struct {
			StartedAt time.Time `json:"started_at"`
		}
		data, err := os.ReadFile(filepath.Join(spool, "arrivals"))
		if err != nil || json.Unmarshal(rec, &st) != nil {
			return false
		}
		got = [3]int64{}
		for off := 0; off+48 <= len(data); off += 48 {
			b := data[off : off+48]
			if binary.LittleEndian.Uint64(b[0:]) == 0 || int64(binary.LittleEndian.Uint64(b[8:])) != st.StartedAt.UnixNano() || b[36] > 2 {
				continue
			}
			got[b[36]] += int64(binary.LittleEndian.Uint32(b[32:]))
		}
		return got[0] == int64(len(r.sent.traces)) && got[1] == int64(len(r.sent.logs))+extraLogs && got[2] == int64(len(r.sent.metrics))
	}, timeout, 20*time.Millisecond, "the arrival ledger never listed exactly the items sent: %v", got)
}

// TestLossKill9MemoryRing kills a collector with an in-memory ring shortly
// after a trigger. The part covering the past is already in the spool,
// frozen before the store check, which is held (the part is marked
// unchecked and not uploaded). More items of the window arrived after that
// part, listed only in the arrival ledger, and the webhook's own record of
// the opening. The restarted collector checks the store and uploads the
// spooled past: every item of the window sent before the trigger is in the
// bundle, and what died with the ring is named as a restart loss, item for
// item.
func TestLossKill9MemoryRing(t *testing.T) {
	r := startRig(t, "INC-LOSS-RESTART", rigOptions{
		proxy:    true,
		after:    30 * time.Second,
		override: map[string]any{"processors": map[string]any{"batch": map[string]any{"timeout": "20ms"}}},
	})
	T := r.T
	r.missingReason = bundle.LossRestart
	// Before the window, then inside it, in blocks of their own (a block
	// that straddles the window's start would be counted whole).
	r.send(every(T.Add(-3*time.Minute), T.Add(-freezeBefore-time.Second), time.Second)...)
	r.waitInRing(20 * time.Second)
	r.send(every(T.Add(-freezeBefore), T.Add(-time.Minute), time.Second)...)
	r.waitInRing(20 * time.Second)
	r.waitRecorded(20 * time.Second)
	r.kept = r.inWindow() // the past at the trigger: none of it may be lost

	r.proxy.Hold(isRead(r.manifestKey()))
	r.open()
	opened := time.Now()
	require.Eventually(t, func() bool { return r.spoolState() != nil }, 10*time.Second, time.Millisecond,
		"the part covering the past never reached the spool")
	r.logf("the past is in the spool %s after the webhook answered", time.Since(opened).Round(time.Millisecond))
	held := r.proxy.WaitHeld(10 * time.Second)
	r.logf("the store check is held: %s", held)
	// The freeze loop waits for the store: recorder.json is not rewritten,
	// and what arrives now is only in the ledger.
	r.send(every(T.Add(-59*time.Second), T.Add(-time.Second), time.Second)...)
	r.waitLedgered(1, 20*time.Second)
	r.c.Kill()
	r.logf("killed the collector")
	st := r.spoolState()
	require.NotNil(t, st)
	require.True(t, st.Unchecked, "the kill came too late: the store check had answered")
	require.NotEmpty(t, st.Parts)
	assert.False(t, harness.HasObject(r.st, r.partKey(1)), "an unchecked part was uploaded")

	r.proxy.Drop()
	r.c.RestartAfterKill()
	r.logf("the collector is up again")
	// While it is down nothing was sent; after the restart, the rest of
	// the window arrives and is frozen.
	r.send(every(T.Add(5*time.Second), T.Add(20*time.Second), time.Second)...)
	rep := harness.WaitBundleComplete(t, r.st, r.id, time.Minute)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
}

// TestLossKill9BeforeThePastIsSpooled kills a collector with an in-memory
// ring after a trigger whose part covering the past never reached the
// spool (a file in the place of the incident's spool directory makes its
// write fail): the past dies with the ring, and the bundle written after
// the restart names it as a restart loss, item for item, from
// recorder.json and the arrival ledger.
func TestLossKill9BeforeThePastIsSpooled(t *testing.T) {
	r := startRig(t, "INC-LOSS-UNSPOOLED", rigOptions{
		after:    30 * time.Second,
		override: map[string]any{"processors": map[string]any{"batch": map[string]any{"timeout": "20ms"}}},
	})
	T := r.T
	r.missingReason = bundle.LossRestart
	r.send(every(T.Add(-3*time.Minute), T.Add(-freezeBefore-time.Second), time.Second)...)
	r.waitInRing(20 * time.Second)
	r.send(every(T.Add(-freezeBefore), T.Add(-time.Minute), time.Second)...)
	r.waitInRing(20 * time.Second)
	r.waitRecorded(20 * time.Second)
	// More of the past, listed only in the ledger until the next flush.
	r.send(every(T.Add(-59*time.Second), T.Add(-time.Second), time.Second)...)

	blocker := r.spoolIncidentDir()
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	r.open()
	r.waitLedgered(1, 20*time.Second)
	require.Eventually(t, func() bool { return strings.Contains(r.c.Output(), "Freezing the incident's window failed") },
		10*time.Second, 10*time.Millisecond, "the first freeze did not fail")
	r.c.Kill()
	r.logf("killed the collector")
	require.NoError(t, os.Remove(blocker))
	r.c.RestartAfterKill()
	r.logf("the collector is up again")
	r.send(every(T.Add(5*time.Second), T.Add(20*time.Second), time.Second)...)
	rep := harness.WaitBundleComplete(t, r.st, r.id, time.Minute)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
}

// TestLateItemsAfterCompletion sends items of the window after its bundle
// is complete: within late_data.period they are frozen into late parts,
// marked late in part.json and in the manifest, which stays complete and
// lossless; after the period the manifest is final (the spool marks the
// incident done) and items sent then are not added.
func TestLateItemsAfterCompletion(t *testing.T) {
	const period = 15 * time.Second
	r := startRig(t, "INC-LOSS-LATE", rigOptions{evidence: map[string]any{"late_data": map[string]any{"period": period.String()}}})
	T := r.T
	r.send(every(T.Add(-time.Minute), T.Add(5*time.Second), time.Second)...)
	r.open()
	harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	completed := time.Now()
	before := len(harness.ReadBundle(t, r.st, r.id, freezeCollector).Manifest.Parts)
	r.logf("the bundle is complete with %d parts", before)

	// Late: times inside the window, sent after completion.
	r.send(every(T.Add(6*time.Second), T.Add(freezeAfter), time.Second)...)
	r.send(T.Add(-30 * time.Second))
	r.waitFrozen(20 * time.Second)
	require.True(t, time.Now().Before(completed.Add(period)), "the late items must arrive within the late-data period")
	r.logf("the late items are frozen")

	// After the period: the manifest is final, nothing more is added.
	done := filepath.Join(r.spoolIncidentDir(), "done")
	require.Eventually(t, func() bool {
		_, err := os.Stat(done)
		return err == nil || r.spoolState() == nil
	}, period+20*time.Second, 100*time.Millisecond, "the final manifest never reached the store")
	r.send(every(T.Add(7*time.Second), T.Add(9*time.Second), time.Second)...)
	r.forgetBatch(r.batch) // too late: must not be in the bundle
	r.waitInRingPlus(1, 10*time.Second)
	// One more flush interval for a flush that would take them, wrongly.
	require.Eventually(t, func() bool { return time.Since(completed) > period+3*time.Second }, time.Minute, 50*time.Millisecond)

	rep := harness.WaitBundleComplete(t, r.st, r.id, 10*time.Second)
	r.checkExactlyTheWindow(rep)
	m := harness.ReadBundle(t, r.st, r.id, freezeCollector)
	require.Greater(t, len(m.Manifest.Parts), before)
	for i, p := range m.Manifest.Parts {
		assert.Equalf(t, i >= before, p.Late, "part %d late", p.Seq)
		assert.Equalf(t, p.Late, m.Parts[i].Info.Late, "part.json of part %d", p.Seq)
	}
	waitMetricAtLeast(t, r.ports.Metrics, "otelcol_exporter_evidence_items_late", map[string]string{"signal": "traces"}, 6, 5*time.Second)
}
