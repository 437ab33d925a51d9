package evidenceexporter

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// crashCopy holds recorder.json and the arrival ledger as a killed
// process leaves them: a clean stop rewrites recorder.json, so the test
// copies both at the moment of the "kill" and puts them back after the
// stop.
type crashCopy map[string][]byte

func takeCrashCopy(t *testing.T, dir string) crashCopy {
	t.Helper()
	c := crashCopy{}
	for _, name := range []string{recorderFile, ledgerFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		c[name] = data
	}
	return c
}

func (c crashCopy) restore(t *testing.T, dir string) {
	t.Helper()
	for name, data := range c {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
}

// kill stops the exporter the way a kill would leave its spool:
// recorder.json and the arrival ledger as they are now (as edit changes
// them, when not nil) are what the next start finds.
func (h *harness) kill(edit func(crashCopy)) {
	h.t.Helper()
	crash := takeCrashCopy(h.t, h.cfg.Spool.Directory)
	if edit != nil {
		edit(crash)
	}
	h.stop()
	crash.restore(h.t, h.cfg.Spool.Directory)
}

// openAfterRestart is the incident of the restart-loss tests: a minute
// after t0, spans of the given names arrive with the time t0, INC-1 opens
// at t0 and the clock runs past its window and grace. It returns the
// complete manifest, once it checked that the bundle holds those spans
// when there are any.
func (h *harness) openAfterRestart(spans ...string) *bundle.Manifest {
	h.t.Helper()
	h.clock.Set(t0.Add(time.Minute))
	if len(spans) > 0 {
		at := make([]spanAt, len(spans))
		for i, name := range spans {
			at[i] = span(name, t0)
		}
		h.traces(at...)
	}
	h.reg.open(h.t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(12 * time.Minute))
	m := h.waitComplete("INC-1")
	if len(spans) > 0 {
		assert.Equal(h.t, spans, h.read("INC-1", m).spans)
	}
	return m
}

// setBootTime makes the machine's boot time at for the test.
func setBootTime(t *testing.T, at time.Time) {
	old := bootTime
	bootTime = func() time.Time { return at }
	t.Cleanup(func() { bootTime = old })
}

// TestRestartLossAfterACrashIsCounted: after a kill, the blocks the memory
// ring took after recorder.json last listed its blocks are named from the
// arrival ledger, item for item, with their item-time range.
func TestRestartLossAfterACrashIsCounted(t *testing.T) {
	setBootTime(t, t0.Add(-time.Hour)) // before the fake clock's records
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(-time.Minute)), nil)
	h.traces(span("recorded-1", t0.Add(-5*time.Minute)), span("recorded-2", t0.Add(-4*time.Minute)))
	h.flush() // recorder.json lists the first block
	h.traces(span("after-1", t0.Add(-3*time.Minute)), span("after-2", t0.Add(-2*time.Minute)), span("after-3", t0.Add(-90*time.Second)))
	require.NoError(t, h.exp.consumeLogs(t.Context(), makeLogs("after-log", t0.Add(-time.Minute), false)))
	h.kill(nil)

	h.start()
	m := h.openAfterRestart("kept")
	assert.Equal(t, []bundle.Loss{
		{Signal: "logs", Reason: bundle.LossRestart, Items: 1, From: t0.Add(-time.Minute), To: t0.Add(-time.Minute)},
		{Signal: "traces", Reason: bundle.LossRestart, Items: 5, From: t0.Add(-5 * time.Minute), To: t0.Add(-90 * time.Second)},
	}, m.Losses)
}

// TestRestartLossWithoutLedgerIsUncounted: without the arrival ledger (a
// power loss, say), what arrived after the last record is named by time
// range up to the restart, and only the recorded blocks are counted.
func TestRestartLossWithoutLedgerIsUncounted(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0.Add(-time.Minute)), nil)
	h.traces(span("recorded-1", t0.Add(-5*time.Minute)), span("recorded-2", t0.Add(-4*time.Minute)))
	h.flush()
	h.traces(span("after-1", t0.Add(-3*time.Minute)))
	h.kill(func(c crashCopy) { delete(c, ledgerFile) })
	require.NoError(t, os.Remove(ledgerPath(cfg.Spool.Directory)))

	h.start()
	restart := h.clock.Now()
	m := h.openAfterRestart()
	assertUncountedTail(t, m.Losses, 2, restart)
	for _, l := range m.Losses {
		if l.Signal == "traces" {
			assert.Equal(t, t0.Add(-5*time.Minute), l.From)
		}
	}
}

// TestReadLedger: records are taken by epoch, checksum and sequence
// number; a missing sequence number, or no ledger at all, makes the tail
// incomplete.
func TestReadLedger(t *testing.T) {
	dir := t.TempDir()
	const epoch = 42
	l, err := openLedger(dir, epoch)
	require.NoError(t, err)
	block := func(seq uint64) ring.BlockInfo {
		return ring.BlockInfo{Seq: seq, Signal: ring.SignalLogs, MinTime: t0, MaxTime: t0.Add(time.Duration(seq)), Items: int64(seq) * 10}
	}
	for seq := uint64(1); seq <= 5; seq++ {
		l.add(block(seq))
	}
	require.NoError(t, l.close())

	tail, err := readLedger(dir, epoch, 2)
	require.NoError(t, err)
	assert.True(t, tail.complete)
	require.Len(t, tail.blocks, 3)
	assert.Equal(t, [5]int64{3, int64(ring.SignalLogs), t0.UnixNano(), t0.UnixNano() + 3, 30}, tail.blocks[0])
	assert.Equal(t, int64(5), tail.blocks[2][0])

	tail, err = readLedger(dir, epoch, 5)
	require.NoError(t, err)
	assert.Empty(t, tail.blocks)
	assert.True(t, tail.complete, "recorder.json listed every block: nothing after it is missing")

	tail, err = readLedger(dir, epoch+1, 0)
	require.NoError(t, err)
	assert.Empty(t, tail.blocks, "another process's records")
	assert.True(t, tail.complete, "that process recorded nothing")

	// A torn record: block 4 does not count, and the tail says so.
	data, err := os.ReadFile(ledgerPath(dir))
	require.NoError(t, err)
	data[4*ledgerRecord+20] ^= 0xff
	require.NoError(t, os.WriteFile(ledgerPath(dir), data, 0o600))
	tail, err = readLedger(dir, epoch, 2)
	require.NoError(t, err)
	assert.False(t, tail.complete)
	assert.Len(t, tail.blocks, 2)

	require.NoError(t, os.Remove(ledgerPath(dir)))
	tail, err = readLedger(dir, epoch, 0)
	require.NoError(t, err)
	assert.False(t, tail.complete, "no ledger")
}

// TestRestartLossAfterARebootIsUncounted: the ledger is never fsynced, so
// after a reboot (a power loss may have cost it its latest records) it is
// not trusted: what arrived after the last record is named by time range,
// without a count.
func TestRestartLossAfterARebootIsUncounted(t *testing.T) {
	for _, c := range []struct {
		name string
		boot time.Time // of the restarted process; the first booted at t0-1h
	}{
		{"booted later", t0.Add(-30 * time.Second)},
		{"boot time unknown", time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			boot := t0.Add(-time.Hour)
			old := bootTime
			bootTime = func() time.Time { return boot }
			t.Cleanup(func() { bootTime = old })

			cfg := testConfig(t)
			h := newHarness(t, cfg, newFakeClock(t0.Add(-time.Minute)), nil)
			h.traces(span("recorded-1", t0.Add(-5*time.Minute)))
			h.flush()
			h.traces(span("after-1", t0.Add(-3*time.Minute)))
			h.kill(nil)

			boot = c.boot
			h.start()
			restart := h.clock.Now()
			m := h.openAfterRestart()
			assertUncountedTail(t, m.Losses, 2, restart) // the recorded block and the ledger's
		})
	}
}

// TestSameBoot: the boot time read by two processes of one boot may differ
// by the wall clock's adjustments; a boot that started after the previous
// process's last record is another boot.
func TestSameBoot(t *testing.T) {
	prev := &recorderState{BootTime: t0, UpdatedAt: t0.Add(time.Hour)}
	assert.True(t, sameBoot(prev, t0.Add(2*time.Second)))
	assert.False(t, sameBoot(prev, t0.Add(time.Minute)))
	assert.False(t, sameBoot(prev, time.Time{}))
	assert.False(t, sameBoot(&recorderState{UpdatedAt: t0}, t0))
	early := &recorderState{BootTime: t0, UpdatedAt: t0.Add(time.Second)}
	assert.False(t, sameBoot(early, t0.Add(3*time.Second)), "booted after the last record")
	assert.False(t, bootTime().IsZero(), "Linux knows its boot time")
}

// TestNoLedgerStillRecords: when the arrival ledger cannot be created (a
// full spool disk; here a directory in its place) the collector still
// starts and records, recorder.json says the ledger failed, and after a
// crash what arrived since the last record is named without a count.
func TestNoLedgerStillRecords(t *testing.T) {
	setBootTime(t, t0.Add(-time.Hour))
	cfg := testConfig(t)
	require.NoError(t, os.MkdirAll(filepath.Join(ledgerPath(cfg.Spool.Directory), "in-the-way"), 0o750))
	h := newHarness(t, cfg, newFakeClock(t0.Add(-time.Minute)), nil)
	h.traces(span("recorded-1", t0.Add(-5*time.Minute)))
	h.flush()
	h.traces(span("after-1", t0.Add(-3*time.Minute)))
	rec, err := os.ReadFile(filepath.Join(cfg.Spool.Directory, recorderFile))
	require.NoError(t, err)
	assert.Contains(t, string(rec), `"ledger_failed":true`)
	h.stop()
	require.NoError(t, os.WriteFile(filepath.Join(cfg.Spool.Directory, recorderFile), rec, 0o600)) // as a kill leaves it

	h.start()
	restart := h.clock.Now()
	m := h.openAfterRestart("kept")
	assertUncountedTail(t, m.Losses, 1, restart) // only the recorded block
}

// assertUncountedTail checks the losses of a restart whose ledger could
// not be trusted: one restart loss per signal, the traces' counting
// traceItems (the blocks known), the others an unknown count, each up to
// the restart.
func assertUncountedTail(t *testing.T, losses []bundle.Loss, traceItems int64, restart time.Time) {
	t.Helper()
	require.Len(t, losses, 3, "%v", losses)
	for _, l := range losses {
		assert.Equal(t, bundle.LossRestart, l.Reason)
		if l.Signal == "traces" {
			assert.Equal(t, traceItems, l.Items, "the blocks known")
		} else {
			assert.Zerof(t, l.Items, "%s: unknown count", l.Signal)
		}
		assert.Equalf(t, restart, l.To, "%s: up to the restart", l.Signal)
	}
}
