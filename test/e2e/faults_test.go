package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The fault tests break the evidence exporter's surroundings while it
// freezes an incident and check that the bundle still completes with every
// item of the window exactly once: kill -9 in each phase of a freeze, a
// slow, flaky and then failing store (a fault-injecting proxy in front of
// versitygw), a full disk under the spool and under the ring, and items
// stamped far from their arrival. The rig, the sending and the
// item-by-item check are the freeze tests' (rig_test.go).

// kill9Rig starts a rig for the kill -9 tests: the ring on disk (so that a
// kill loses nothing), the store behind a proxy, and a short batch timeout
// so that the webhook's own log record reaches the ring quickly.
func kill9Rig(t *testing.T, id string, after time.Duration) *freezeRig {
	t.Helper()
	return startRig(t, id, rigOptions{
		proxy:    true,
		after:    after,
		evidence: map[string]any{"buffer": map[string]any{"directory": "./var/ring"}},
		override: map[string]any{"processors": map[string]any{"batch": map[string]any{"timeout": "20ms"}}},
	})
}

// sendWindow sends items across the whole window and beyond it: the past
// (before the incident opens), the window edges and 1 ns beyond them, and
// items 10 minutes in the past and the future.
func (r *freezeRig) sendWindow() {
	r.t.Helper()
	T := r.T
	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore), T.Add(-10*time.Minute))...)
	r.send(append(every(T, T.Add(r.after), time.Second),
		T.Add(r.after-time.Nanosecond), T.Add(r.after+time.Nanosecond), T.Add(10*time.Minute))...)
}

// manifestKey returns the key of the incident's manifest, for proxy
// predicates (request paths end with "/<key>").
func (r *freezeRig) manifestKey() string {
	key, err := bundle.ManifestKey(r.id, freezeCollector)
	require.NoError(r.t, err)
	return key
}

// isRead matches a GET or HEAD of key (the store's Get may start with
// either).
func isRead(key string) func(harness.ProxyRequest) bool {
	return func(p harness.ProxyRequest) bool {
		return (p.Method == http.MethodGet || p.Method == http.MethodHead) && strings.HasSuffix(p.Path, "/"+key)
	}
}

func isPut(key string) func(harness.ProxyRequest) bool {
	return func(p harness.ProxyRequest) bool {
		return p.Method == http.MethodPut && strings.HasSuffix(p.Path, "/"+key)
	}
}

var completeManifest = regexp.MustCompile(`"complete":\s*true`)

// storedManifest reads the manifest in the bucket, nil if there is none.
func (r *freezeRig) storedManifest() *bundle.Manifest {
	r.t.Helper()
	rc, _, err := r.st.Get(r.t.Context(), r.manifestKey())
	if err != nil {
		return nil
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	require.NoError(r.t, err)
	m, err := bundle.ParseManifest(data)
	require.NoError(r.t, err)
	return m
}

// restartAndCheck restarts the killed collector with the proxy out of the
// way and checks the bundle item by item. Parts committed before the kill
// must be kept as they were.
func (r *freezeRig) restartAndCheck(before *spoolState) {
	r.t.Helper()
	r.proxy.Drop() // whatever the dead collector left held is never forwarded
	r.c.RestartAfterKill()
	r.logf("the collector is up again")
	rep := harness.WaitBundleComplete(r.t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
	if before == nil {
		return
	}
	m := harness.ReadBundle(r.t, r.st, r.id, freezeCollector).Manifest
	require.GreaterOrEqual(r.t, len(m.Parts), len(before.Parts))
	for i, p := range before.Parts {
		assert.Equal(r.t, p, m.Parts[i], "part %d committed before the kill", p.Seq)
	}
}

// TestFaultKill9BeforeStoreCheck kills the collector after the incident
// opened while the exporter is asking the store (held by the proxy)
// whether it wrote a bundle of this incident before: the part covering the
// past is already committed to the spool, marked unchecked, and nothing is
// in the store. After the restart the exporter checks the store again and
// uploads the spooled parts as they were.
func TestFaultKill9BeforeStoreCheck(t *testing.T) {
	r := kill9Rig(t, "INC-FAULT-KILL-A", 0)
	r.sendWindow()
	r.waitInRing(20 * time.Second)

	r.proxy.Hold(isRead(r.manifestKey()))
	r.open()
	held := r.proxy.WaitHeld(10 * time.Second)
	r.logf("the store check is held: %s", held)
	// The incident_webhook's own log record was sent before the kill too.
	r.waitInRingPlus(1, time.Second)
	// The store check runs beside the first flush, so the held check says
	// nothing of whether the past is committed yet: wait for the commit.
	r.waitSpooled(time.Second)
	r.c.Kill()
	r.logf("killed the collector")

	before := r.spoolState()
	require.NotNil(t, before, "the part covering the past is committed while the store check is held")
	require.True(t, before.Unchecked, "the kill came too late: the store check had answered (it gives up after 2s)")
	assert.Contains(t, r.spooledParts(), "part-000001.tar.zst")
	assert.False(t, harness.HasObject(r.st, r.partKey(1)), "an unchecked part was uploaded")
	r.restartAndCheck(before)
}

// TestFaultKill9FirstPartNotStored kills the collector when the part
// covering the past is committed to the spool but its upload is held on
// the way to the store, and later parts have followed it into the spool.
func TestFaultKill9FirstPartNotStored(t *testing.T) {
	r := kill9Rig(t, "INC-FAULT-KILL-A2", 20*time.Second)
	T := r.T
	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))...)
	r.waitInRing(20 * time.Second)

	r.proxy.Hold(isPut(r.partKey(1)))
	r.open()
	r.logf("part 1 upload held: %s", r.proxy.WaitHeld(10*time.Second))
	r.send(every(T, T.Add(3*time.Second), time.Second)...)
	r.waitSpooled(20 * time.Second)
	r.send(append(every(T.Add(4*time.Second), T.Add(r.after), time.Second), T.Add(r.after+time.Nanosecond))...)
	r.waitInRingPlus(1, 20*time.Second)
	r.c.Kill()
	r.logf("killed the collector")

	before := r.spoolState()
	require.NotNil(t, before, "the spool has a committed state")
	require.False(t, before.Complete, "the kill came too late: the window was already complete")
	assert.False(t, harness.HasObject(r.st, r.partKey(1)), "part 1 reached the store")
	assert.Contains(t, r.spooledParts(), "part-000001.tar.zst")
	r.logf("at the kill the spool held %v of %d committed parts", r.spooledParts(), len(before.Parts))
	r.restartAndCheck(before)
}

// TestFaultKill9MidWindow kills the collector mid-window: part 1 is in the
// store, no manifest is (every manifest upload is held), later parts wait
// in the spool and the ring holds data no part has yet.
func TestFaultKill9MidWindow(t *testing.T) {
	r := kill9Rig(t, "INC-FAULT-KILL-B", 20*time.Second)
	T := r.T
	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))...)
	r.waitInRing(20 * time.Second)

	r.proxy.Hold(isPut(r.manifestKey()))
	r.open()
	r.waitObject(r.partKey(1), 20*time.Second)
	r.logf("part 1 is in the bucket; manifest upload held: %s", r.proxy.WaitHeld(10*time.Second))
	r.send(every(T, T.Add(3*time.Second), time.Second)...)
	r.waitSpooled(20 * time.Second)
	r.send(append(every(T.Add(4*time.Second), T.Add(r.after), time.Second),
		T.Add(r.after-time.Nanosecond), T.Add(r.after+time.Nanosecond))...)
	r.waitInRingPlus(1, 20*time.Second)
	r.c.Kill()
	r.logf("killed the collector")

	before := r.spoolState()
	require.NotNil(t, before)
	require.False(t, before.Complete, "the kill came too late: the window was already complete")
	require.Greater(t, len(before.Parts), 1, "parts after the first are committed")
	assert.Nil(t, r.storedManifest(), "no manifest reached the store")
	assert.NotEmpty(t, r.spooledParts(), "parts wait in the spool")
	r.logf("at the kill the spool held %v of %d committed parts", r.spooledParts(), len(before.Parts))
	r.restartAndCheck(before)
}

// TestFaultKill9WritingManifest kills the collector while the upload of
// the complete manifest is on its way (held by the proxy): every part is in
// the store, the store's manifest still says incomplete.
func TestFaultKill9WritingManifest(t *testing.T) {
	r := kill9Rig(t, "INC-FAULT-KILL-C", 0)
	r.sendWindow()
	r.waitInRing(20 * time.Second)

	put := isPut(r.manifestKey())
	r.proxy.Hold(func(p harness.ProxyRequest) bool { return put(p) && completeManifest.Match(p.Body) })
	r.open()
	r.waitInRingPlus(1, 10*time.Second)
	// The window ends at T+10s, the grace period 1s later.
	r.logf("complete manifest upload held: %s", r.proxy.WaitHeld(40*time.Second))
	r.c.Kill()
	r.logf("killed the collector")

	before := r.spoolState()
	require.NotNil(t, before)
	require.True(t, before.Complete, "the final part is committed")
	assert.Empty(t, r.spooledParts(), "every part is in the store")
	for _, p := range before.Parts {
		assert.True(t, harness.HasObject(r.st, r.partKey(p.Seq)), "part %d in the store", p.Seq)
	}
	if m := r.storedManifest(); m != nil {
		assert.False(t, m.Complete, "the complete manifest never reached the store")
	}
	r.restartAndCheck(before)
}

// TestFaultFlakyStore puts a slow and flaky network in front of the store
// (latency, every 4th connection reset, every 3rd request answered 503)
// for the whole freeze, and a store that answers 503 to everything while
// the window ends. Once the store recovers, the bundle completes with
// nothing lost or duplicated. It also checks the clock-skew counter: the
// items sent 10 minutes in the past and the future are counted.
func TestFaultFlakyStore(t *testing.T) {
	r := startRig(t, "INC-FAULT-FLAKY", rigOptions{proxy: true})
	T := r.T
	flaky := harness.Faults{Latency: 20 * time.Millisecond, ResetEvery: 4, FailEvery: 3, CloseConnections: true}
	r.proxy.SetFaults(flaky)

	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore), T.Add(-10*time.Minute), T.Add(10*time.Minute))...)
	r.open()
	r.waitObject(r.partKey(1), 30*time.Second)
	r.logf("part 1 is in the bucket through the flaky proxy")
	r.send(append(every(T, T.Add(4*time.Second), time.Second), T.Add(-10*time.Minute))...)
	r.waitFrozen(30 * time.Second)
	failedBefore := metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_parts_failed", nil)

	// The store refuses everything while the window ends.
	r.proxy.SetFaults(harness.Faults{FailEvery: 1})
	r.logf("the store answers 503 to everything")
	r.send(append(every(T.Add(5*time.Second), T.Add(20*time.Second), time.Second),
		T.Add(freezeAfter), T.Add(freezeAfter+time.Nanosecond), T.Add(10*time.Minute))...)
	// The uploader counts a failed upload before it logs it: the log line
	// is part of the condition, not checked once the counter has moved.
	var st *spoolState
	require.Eventually(t, func() bool {
		st = r.spoolState()
		failed, err := scrapeMetric(r.ports.Metrics, "otelcol_exporter_evidence_parts_failed", nil)
		return st != nil && st.Complete && len(r.spooledParts()) > 0 && err == nil && failed > failedBefore &&
			strings.Contains(r.c.Output(), "Uploading evidence to the store failed")
	}, 30*time.Second, 100*time.Millisecond, "the complete window never waited in the spool with failed uploads counted and logged")
	r.logf("the spool holds %v; uploads failed %v times", r.spooledParts(),
		metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_parts_failed", nil))

	r.proxy.SetFaults(flaky)
	r.logf("the store is back (still flaky)")
	rep := harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete; proxy %+v", r.proxy.Stats())
	r.checkExactlyTheWindow(rep)
	require.Eventually(t, func() bool { return len(r.spooledParts()) == 0 }, 10*time.Second, 100*time.Millisecond,
		"uploaded parts must leave the spool: %v", r.spooledParts())
	ps := r.proxy.Stats()
	assert.Positive(t, ps.Resets, "connections reset")
	assert.Positive(t, ps.Failed, "requests answered 503")

	// Clock skew: every item more than 5 minutes from its arrival is
	// counted, per signal and direction.
	for _, sig := range []struct {
		name string
		sent map[string]time.Time
	}{{"traces", r.sent.traces}, {"logs", r.sent.logs}, {"metrics", r.sent.metrics}} {
		var past, future int
		for _, at := range sig.sent {
			switch {
			case at.Before(T.Add(-5 * time.Minute)):
				past++
			case at.After(T.Add(5 * time.Minute)):
				future++
			}
		}
		require.Positive(t, past)
		require.Positive(t, future)
		for dir, want := range map[string]int{"past": past, "future": future} {
			got := metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_items_skewed",
				map[string]string{"signal": sig.name, "direction": dir})
			assert.Equalf(t, float64(want), got, "%s items skewed to the %s", sig.name, dir)
		}
	}
}

// TestFaultSpoolDiskFull fills the disk under the spool before the
// incident opens: no part can be written (the error is logged and
// counted, the flush retried), then space returns and the bundle
// completes with the whole window.
func TestFaultSpoolDiskFull(t *testing.T) {
	var spool string
	r := startRig(t, "INC-FAULT-SPOOL-FULL", rigOptions{beforeStart: func(dir string) {
		spool = mountTmpfs(t, filepath.Join(dir, "var", "spool"), "2m")
	}})
	T := r.T
	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))...)
	r.waitInRing(20 * time.Second)

	filler := fillDisk(t, spool)
	r.logf("the spool's disk is full")
	r.open()
	r.c.WaitForOutput("Freezing the incident's window failed", 20*time.Second)
	require.Regexp(t, `Freezing the incident's window failed.*no space left on device`, r.c.Output())
	// The 2 MiB spool never had room for the 3 MiB arrival ledger: the
	// collector started and recorded without it, and said so.
	require.Contains(t, r.c.Output(), "Cannot create the arrival ledger")
	failed := waitMetricAtLeast(t, r.ports.Metrics, "otelcol_exporter_evidence_parts_failed", nil, 1, 20*time.Second)
	r.logf("part 1 failed %v times", failed)
	// More of the window arrives while the disk is full; the flushes
	// keep failing and are retried.
	r.send(every(T, T.Add(4*time.Second), time.Second)...)
	waitMetricAtLeast(t, r.ports.Metrics, "otelcol_exporter_evidence_parts_failed", nil, failed+2, 20*time.Second)
	assert.Nil(t, r.spoolState(), "nothing can be committed on a full disk")
	assert.False(t, harness.HasObject(r.st, r.partKey(1)))

	require.NoError(t, os.Remove(filler))
	r.logf("space is back")
	r.send(append(every(T.Add(5*time.Second), T.Add(20*time.Second), time.Second),
		T.Add(freezeAfter), T.Add(freezeAfter+time.Nanosecond))...)
	rep := harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
}

// TestFaultRingDiskFull fills the disk under the on-disk ring while the
// incident is open: the batches that arrive then cannot be kept (each is
// logged and counted as dropped, the pipeline never blocks), and once
// space returns the ring takes data again and the bundle completes with
// everything else.
func TestFaultRingDiskFull(t *testing.T) {
	var ringDir string
	r := startRig(t, "INC-FAULT-RING-FULL", rigOptions{
		evidence: map[string]any{"buffer": map[string]any{"directory": "./var/ring"}},
		beforeStart: func(dir string) {
			ringDir = mountTmpfs(t, filepath.Join(dir, "var", "ring"), "2m")
		},
	})
	T := r.T
	r.send(append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))...)
	r.waitInRing(20 * time.Second)
	r.open()
	r.waitObject(r.partKey(1), 20*time.Second)
	r.waitInRingPlus(1, 10*time.Second)

	filler := fillDisk(t, ringDir)
	r.logf("the ring's disk is full")
	// One batch per signal, each far larger than the free end of the ring
	// segment's last page (small records still fit there on a full
	// tmpfs), so that each needs new space and none can be kept.
	lost := len(r.sent.traces)
	r.send(every(T, T.Add(4*time.Second), 10*time.Millisecond)...)
	lost = len(r.sent.traces) - lost
	for _, sig := range []string{"traces", "logs", "metrics"} {
		waitMetricAtLeast(t, r.ports.Metrics, "otelcol_exporter_evidence_buffer_dropped_items",
			map[string]string{"signal": sig}, float64(lost), 20*time.Second)
	}
	out := r.c.Output()
	require.Contains(t, out, "Dropping a batch the ring buffer cannot hold")
	require.Contains(t, out, "no space left on device")
	// Those items are gone, counted: the bundle names them, item for item.
	r.missingReason = bundle.LossRefusedBatch

	require.NoError(t, os.Remove(filler))
	r.logf("space is back")
	r.send(append(every(T.Add(5*time.Second), T.Add(20*time.Second), time.Second),
		T.Add(freezeAfter), T.Add(freezeAfter+time.Nanosecond))...)
	require.Eventually(t, func() bool {
		got := ringItems(r.ports.Metrics)
		return got["traces"] >= int64(len(r.sent.traces)-lost) && got["metrics"] >= int64(len(r.sent.metrics)-lost)
	}, 20*time.Second, 20*time.Millisecond, "the ring never took the batches sent after space came back")
	rep := harness.WaitBundleComplete(t, r.st, r.id, 40*time.Second)
	r.logf("the bundle is complete")
	r.checkExactlyTheWindow(rep)
	for _, sig := range []string{"traces", "logs", "metrics"} {
		assert.Equal(t, float64(lost), metricValue(t, r.ports.Metrics, "otelcol_exporter_evidence_buffer_dropped_items",
			map[string]string{"signal": sig}), "%s items dropped", sig)
	}
}

// forgetBatch removes the items of batch b from what the test expects in
// the bundle (they were dropped, and counted, by the collector).
func (r *freezeRig) forgetBatch(b int) {
	prefix := fmt.Sprintf("b%d-", b)
	for _, m := range []map[string]time.Time{r.sent.traces, r.sent.logs, r.sent.metrics} {
		for id := range m {
			if strings.HasPrefix(id, prefix) {
				delete(m, id)
			}
		}
	}
}

// mountTmpfs mounts a tmpfs of the given size (such as "2m") on dir,
// creating it, and unmounts it when the test ends. It skips the test when
// mounting is not permitted (not root, or no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, dir, size string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o750))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0750", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs on %s to simulate a full disk (needs root or CAP_SYS_ADMIN): %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// The collector may still be exiting; lazily detach.
			if out2, err2 := exec.Command("umount", "-l", dir).CombinedOutput(); err2 != nil {
				t.Errorf("umount %s: %v: %s; umount -l: %v: %s", dir, err, out, err2, out2)
			}
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full and returns
// its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	chunk := make([]byte, 64<<10)
	for range 1 << 12 { // at most 256 MiB
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	require.ErrorIsf(t, err, syscall.ENOSPC, "filling %s ended with %v, want ENOSPC", dir, err)
	// Fill the last partial page too.
	for range 1 << 12 {
		if _, err = f.Write(chunk[:1]); err != nil {
			break
		}
	}
	return path
}

var promLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$`)
var promLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// metricValue scrapes the collector's Prometheus endpoint and sums the
// series of the metric (also named with the _total suffix of counters)
// whose labels include labels. A metric without any series is 0.
func metricValue(t *testing.T, addr, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := scrapeMetric(addr, name, labels)
	require.NoError(t, err)
	return v
}

func scrapeMetric(addr, name string, labels map[string]string) (float64, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		m := promLine.FindStringSubmatch(sc.Text())
		if m == nil || (m[1] != name && m[1] != name+"_total") {
			continue
		}
		got := map[string]string{}
		for _, l := range promLabel.FindAllStringSubmatch(m[2], -1) {
			got[l[1]] = l[2]
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", sc.Text(), err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// waitMetricAtLeast waits until the metric reaches want and returns its
// value.
func waitMetricAtLeast(t *testing.T, addr, name string, labels map[string]string, want float64, timeout time.Duration) float64 {
	t.Helper()
	var (
		got float64
		err error
	)
	require.Eventuallyf(t, func() bool {
		got, err = scrapeMetric(addr, name, labels)
		return err == nil && got >= want
	}, timeout, 50*time.Millisecond, "%s%v never reached %v within %s: %v (%v)", name, labels, want, timeout, got, err)
	return got
}
