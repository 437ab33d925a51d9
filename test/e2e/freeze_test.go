package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The freeze tests check the evidence exporter's central promise against
// the real binary and a real S3 server: the bundle of an incident started
// at T holds exactly the items whose own time is in [T - before, T + after],
// each once, also across a kill -9 and an S3 outage. Every item the test
// sends carries a unique ID attribute and a time the test chose, so the
// bundle can be compared with what was sent item by item.

const (
	// itemAttr carries each sent item's unique ID (on the span, log record
	// or data point).
	itemAttr        = "e2e.item"
	freezeCollector = "e2e-freeze"
	freezeBefore    = 2 * time.Minute
	freezeAfter     = 10 * time.Second
	// webhookService is the service.name of the incident_webhook
	// receiver's own log records (the incident events).
	webhookService = "otel-evidence"
)

// TestFreezeExactWindow sends traces, logs and metrics timestamped from
// T-4m to T+20s (with items on and 1 ns beyond both window edges, and items
// 10 minutes in the past and the future) before and while the incident is
// open, and checks that the bundle holds exactly the items of
// [T-2m, T+10s].
func TestFreezeExactWindow(t *testing.T) {
	r := startFreezeRig(t, "INC-FREEZE-EXACT", nil)
	T := r.T

	// The past, sent before the incident opens.
	r.send(append(every(T.Add(-4*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore+time.Nanosecond),
		T.Add(-10*time.Minute), T.Add(10*time.Minute))...)
	r.open()
	r.waitObject(r.partKey(1), 20*time.Second)
	r.logf("part 1 is in the bucket")

	// While the incident is open: each batch is frozen into a later part
	// before the next one is sent.
	r.send(append(every(T, T.Add(5*time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-10*time.Minute))...)
	r.waitFrozen(20 * time.Second)
	r.send(append(every(T.Add(6*time.Second), T.Add(20*time.Second), time.Second),
		T.Add(freezeAfter-time.Nanosecond), T.Add(freezeAfter+time.Nanosecond), T.Add(10*time.Minute))...)
	r.waitFrozen(20 * time.Second)
	// Only items outside the window: they must not appear.
	r.send(T.Add(freezeAfter+time.Nanosecond), T.Add(freezeAfter+time.Millisecond), T.Add(-freezeBefore-time.Millisecond))
	r.logf("every batch is sent")

	rep := harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
}

// TestFreezeKill9 kills the collector with SIGKILL after the first part is
// in the bucket, when the spool has committed some of the window and the
// (on-disk) ring holds more that no committed part has yet, and restarts it
// on the same ring and spool: the bundle still completes with every item
// sent before the kill, each once, and keeps every part committed before.
func TestFreezeKill9(t *testing.T) {
	r := startFreezeRig(t, "INC-FREEZE-KILL", map[string]any{"buffer": map[string]any{"directory": "./var/ring"}})
	T := r.T

	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))...)
	r.open()
	r.waitObject(r.partKey(1), 20*time.Second)
	r.logf("part 1 is in the bucket")

	r.send(every(T, T.Add(3*time.Second), time.Second)...)
	r.waitSpooled(20 * time.Second)
	r.send(append(every(T.Add(4*time.Second), T.Add(20*time.Second), time.Second),
		T.Add(freezeAfter-time.Nanosecond), T.Add(freezeAfter+time.Nanosecond), T.Add(10*time.Minute))...)
	// Everything sent is in the ring (past the batch processor) ...
	r.waitInRing(20 * time.Second)
	// ... and the collector dies, most likely before its next flush.
	r.c.Kill()
	r.logf("killed the collector")
	before := r.spoolState()
	require.NotNil(t, before, "the spool has a committed state")
	frozen, want := before.frozen(), r.inWindow()
	r.logf("at the kill, %d committed parts held %d spans, %d log records, %d data points of the %d, %d, %d in the window",
		len(before.Parts), frozen.Spans, frozen.LogRecords, frozen.DataPoints, len(want.traces), len(want.logs), len(want.metrics))

	r.c.RestartAfterKill()
	r.logf("the collector is up again")
	rep := harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
	m := harness.ReadBundle(t, r.st, r.id, freezeCollector).Manifest
	require.GreaterOrEqual(t, len(m.Parts), len(before.Parts))
	for i, p := range before.Parts {
		assert.Equal(t, p, m.Parts[i], "part %d committed before the kill", p.Seq)
	}
}

// TestFreezeS3Outage stops versitygw right after the incident opens, so
// the whole window is frozen into the spool while the store is down, then
// starts it again: the parts go up and the bundle completes with nothing
// lost and nothing duplicated.
func TestFreezeS3Outage(t *testing.T) {
	r := startFreezeRig(t, "INC-FREEZE-S3-DOWN", nil)
	T := r.T

	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))...)
	r.open()
	r.srv.Stop()
	r.logf("stopped versitygw")

	// The part covering the past is committed to the spool although the
	// store cannot be asked whether an earlier bundle exists.
	require.Eventually(t, func() bool { return r.spoolState() != nil }, 10*time.Second, 50*time.Millisecond,
		"the part covering the past was not committed to the spool")
	r.logf("the past is committed to the spool")
	// More data while the store is down, each batch frozen into the spool
	// before the next one is sent.
	r.send(every(T, T.Add(5*time.Second), time.Second)...)
	r.waitSpooled(10 * time.Second)
	r.send(append(every(T.Add(6*time.Second), T.Add(20*time.Second), time.Second),
		T.Add(freezeAfter), T.Add(freezeAfter+time.Nanosecond))...)
	r.waitSpooled(10 * time.Second)
	// The window ends while the store is down: the last part is frozen
	// and waits in the spool with the others.
	var (
		st    *spoolState
		parts []string
	)
	require.Eventually(t, func() bool {
		st, parts = r.spoolState(), r.spooledParts()
		return st != nil && st.Complete && len(parts) > 0
	}, 20*time.Second, 100*time.Millisecond, "the complete window never waited in the spool")
	r.logf("with versitygw down the spool holds %v, of %d committed parts", parts, len(st.Parts))

	r.srv.Restart()
	r.logf("versitygw is up again")
	rep := harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
	require.Eventually(t, func() bool { return len(r.spooledParts()) == 0 }, 10*time.Second, 100*time.Millisecond,
		"uploaded parts must leave the spool: %v", r.spooledParts())
}
