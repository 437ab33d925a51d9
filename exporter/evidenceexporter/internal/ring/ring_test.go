package ring

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/fakeclock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func newClock() *fakeclock.Clock { return fakeclock.New(t0) }

// payload returns n deterministic, poorly compressible bytes for block i.
func payload(i, n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(rng.UintN(256))
	}
	return b
}

func openRing(t testing.TB, cfg Config) *Ring {
	t.Helper()
	r, err := Open(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// modes runs fn for a memory ring and a disk ring built from cfg.
func modes(t *testing.T, cfg Config, fn func(t *testing.T, cfg Config)) {
	for _, mode := range []string{"memory", "disk"} {
		for _, comp := range []string{CompressionS2, CompressionZstd} {
			t.Run(mode+"/"+comp, func(t *testing.T) {
				c := cfg
				c.Compression = comp
				if mode == "disk" {
					c.Directory = t.TempDir()
				}
				fn(t, c)
			})
		}
	}
}

// collect scans and returns the visited blocks with their payloads.
func collect(t testing.TB, r *Ring, after uint64, from, to time.Time) ([]Block, [][]byte) {
	t.Helper()
	var (
		blocks   []Block
		payloads [][]byte
	)
	require.NoError(t, r.Scan(after, from, to, func(b Block) error {
		p, err := b.Payload()
		if err != nil {
			return err
		}
		blocks = append(blocks, b)
		payloads = append(payloads, p)
		return nil
	}))
	return blocks, payloads
}

func seqs(blocks []Block) []uint64 {
	out := make([]uint64, len(blocks))
	for i, b := range blocks {
		out[i] = b.Seq
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		wantSeg int64
	}{
		{name: "zero MaxBytes", cfg: Config{}, wantErr: "MaxBytes must be positive"},
		{name: "negative MaxAge", cfg: Config{MaxBytes: 1, MaxAge: -time.Second}, wantErr: "MaxAge must not be negative"},
		{name: "bad compression", cfg: Config{MaxBytes: 1, Compression: "gzip"}, wantErr: `Compression "gzip" is not supported`},
		{name: "negative SegmentSize", cfg: Config{MaxBytes: 1, SegmentSize: -1}, wantErr: "SegmentSize must not be negative"},
		{name: "SegmentSize above MaxBytes", cfg: Config{MaxBytes: 10, SegmentSize: 11}, wantErr: "SegmentSize (11) must not exceed MaxBytes (10)"},
		{name: "default segment small ring", cfg: Config{MaxBytes: 100 << 10}, wantSeg: 100 << 10},
		{name: "default segment medium ring", cfg: Config{MaxBytes: 160 << 20}, wantSeg: 10 << 20},
		{name: "default segment large ring", cfg: Config{MaxBytes: 8 << 30}, wantSeg: 64 << 20},
		{name: "explicit segment", cfg: Config{MaxBytes: 1000, SegmentSize: 1000}, wantSeg: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			_, err := cfg.validate()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantSeg, cfg.SegmentSize)
			assert.NotNil(t, cfg.Now)
		})
	}
}

func TestSignalString(t *testing.T) {
	assert.Equal(t, "traces", SignalTraces.String())
	assert.Equal(t, "logs", SignalLogs.String())
	assert.Equal(t, "metrics", SignalMetrics.String())
	assert.Equal(t, "signal(7)", Signal(7).String())
}

func TestAppendInvalid(t *testing.T) {
	r := openRing(t, Config{MaxBytes: 1 << 20})
	tests := []struct {
		name    string
		sig     Signal
		minT    time.Time
		maxT    time.Time
		items   int
		wantErr string
	}{
		{"unknown signal", Signal(3), t0, t0, 1, "unknown signal 3"},
		{"negative items", SignalLogs, t0, t0, -1, "items must be in"},
		{"inverted range", SignalLogs, t0.Add(time.Second), t0, 1, "is after maxT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Append(tt.sig, []byte("x"), tt.minT, tt.maxT, tt.items)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	assert.Zero(t, r.LastSeq(), "failed appends must not use sequence numbers")
}

func TestAppendScanRoundTrip(t *testing.T) {
	modes(t, Config{MaxBytes: 1 << 20, SegmentSize: 4 << 10}, func(t *testing.T, cfg Config) {
		clock := newClock()
		cfg.Now = clock.Now
		r := openRing(t, cfg)
		const n = 30
		for i := range n {
			sig := Signal(i % NumSignals)
			seq, err := r.Append(sig, payload(i, 500+i), t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i+1)*time.Minute), i+1)
			require.NoError(t, err)
			require.Equal(t, uint64(i+1), seq)
			clock.Advance(time.Second)
		}
		require.Equal(t, uint64(n), r.LastSeq())
		blocks, payloads := collect(t, r, 0, time.Time{}, time.Time{})
		require.Len(t, blocks, n)
		for i, b := range blocks {
			assert.Equal(t, uint64(i+1), b.Seq)
			assert.Equal(t, Signal(i%NumSignals), b.Signal)
			assert.Equal(t, i+1, b.Items)
			assert.True(t, t0.Add(time.Duration(i)*time.Minute).Equal(b.MinTime))
			assert.True(t, t0.Add(time.Duration(i+1)*time.Minute).Equal(b.MaxTime))
			assert.True(t, t0.Add(time.Duration(i)*time.Second).Equal(b.Arrival))
			assert.Positive(t, b.StoredBytes)
			assert.Equal(t, payload(i, 500+i), payloads[i])
			// AppendPayload appends.
			p, err := b.AppendPayload([]byte("prefix"))
			require.NoError(t, err)
			assert.Equal(t, append([]byte("prefix"), payloads[i]...), p)
		}
		if cfg.Directory != "" {
			assert.Greater(t, r.Stats().Segments, 2, "SegmentSize must cut segments")
		}
	})
}

func TestAppendTimeFallback(t *testing.T) {
	clock := newClock()
	r := openRing(t, Config{MaxBytes: 1 << 20, Now: clock.Now})
	later := t0.Add(time.Hour)
	tests := []struct {
		name       string
		minT, maxT time.Time
		wantMin    time.Time
		wantMax    time.Time
	}{
		{"no times uses arrival", time.Time{}, time.Time{}, t0, t0},
		{"only min", later, time.Time{}, later, later},
		{"only max", time.Time{}, later, later, later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, err := r.Append(SignalLogs, []byte("x"), tt.minT, tt.maxT, 1)
			require.NoError(t, err)
			blocks, _ := collect(t, r, seq-1, time.Time{}, time.Time{})
			require.Len(t, blocks, 1)
			assert.True(t, tt.wantMin.Equal(blocks[0].MinTime), "min %s", blocks[0].MinTime)
			assert.True(t, tt.wantMax.Equal(blocks[0].MaxTime), "max %s", blocks[0].MaxTime)
		})
	}
}

func TestArrivalNeverGoesBack(t *testing.T) {
	clock := newClock()
	r := openRing(t, Config{MaxBytes: 1 << 20, Now: clock.Now})
	_, err := r.Append(SignalTraces, []byte("a"), t0, t0, 1)
	require.NoError(t, err)
	clock.Advance(-time.Hour)
	_, err = r.Append(SignalTraces, []byte("b"), t0, t0, 1)
	require.NoError(t, err)
	blocks, _ := collect(t, r, 0, time.Time{}, time.Time{})
	require.Len(t, blocks, 2)
	assert.True(t, blocks[1].Arrival.Equal(blocks[0].Arrival))
}

func TestScanFilter(t *testing.T) {
	modes(t, Config{MaxBytes: 1 << 20, SegmentSize: 2 << 10}, func(t *testing.T, cfg Config) {
		r := openRing(t, cfg)
		// Block i (seq i+1) covers [t0+10i min, t0+10i+5 min].
		for i := range 10 {
			lo := t0.Add(time.Duration(10*i) * time.Minute)
			_, err := r.Append(SignalMetrics, payload(i, 300), lo, lo.Add(5*time.Minute), 1)
			require.NoError(t, err)
		}
		m := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
		tests := []struct {
			name     string
			after    uint64
			from, to time.Time
			want     []uint64
		}{
			{"everything", 0, time.Time{}, time.Time{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
			{"after seq", 7, time.Time{}, time.Time{}, []uint64{8, 9, 10}},
			{"after last", 10, time.Time{}, time.Time{}, nil},
			{"window inside one block", 0, m(21), m(22), []uint64{3}},
			{"window in a gap", 0, m(6), m(9), nil},
			{"touching edges are inclusive", 0, m(15), m(20), []uint64{2, 3}},
			{"open start", 0, time.Time{}, m(12), []uint64{1, 2}},
			{"open end", 0, m(85), time.Time{}, []uint64{9, 10}},
			{"window and after seq", 3, m(0), m(50), []uint64{4, 5, 6}},
			{"before everything", 0, m(-60), m(-1), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				blocks, _ := collect(t, r, tt.after, tt.from, tt.to)
				assert.Equal(t, tt.want, nilIfEmpty(seqs(blocks)))
			})
		}
	})
}

func nilIfEmpty(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestScanRangeAndStop(t *testing.T) {
	r := openRing(t, Config{MaxBytes: 1 << 20})
	for i := range 600 { // more than one scan chunk
		_, err := r.Append(SignalTraces, []byte{byte(i)}, t0, t0, 1)
		require.NoError(t, err)
	}
	var got []uint64
	require.NoError(t, r.ScanRange(250, 520, time.Time{}, time.Time{}, func(b Block) error {
		got = append(got, b.Seq)
		return nil
	}))
	require.Len(t, got, 270)
	assert.Equal(t, uint64(251), got[0])
	assert.Equal(t, uint64(520), got[len(got)-1])
	assert.True(t, slices.IsSorted(got))

	stop := errors.New("stop")
	count := 0
	err := r.Scan(0, time.Time{}, time.Time{}, func(Block) error {
		count++
		if count == 300 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 300, count)
}

func TestScanDoesNotVisitBlocksAppendedDuringScan(t *testing.T) {
	r := openRing(t, Config{MaxBytes: 1 << 20})
	for range 3 {
		_, err := r.Append(SignalTraces, []byte("x"), t0, t0, 1)
		require.NoError(t, err)
	}
	var got []uint64
	require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
		got = append(got, b.Seq)
		_, err := r.Append(SignalTraces, []byte("y"), t0, t0, 1)
		return err
	}))
	assert.Equal(t, []uint64{1, 2, 3}, got)
	assert.Equal(t, uint64(6), r.LastSeq())
}

func TestEvictByBytesMemory(t *testing.T) {
	r := openRing(t, Config{MaxBytes: 10_000})
	const n, size = 50, 1000
	for i := range n {
		_, err := r.Append(Signal(i%NumSignals), payload(i, size), t0, t0, 10)
		require.NoError(t, err)
		st := r.Stats().Total()
		require.LessOrEqual(t, st.Bytes, int64(10_000))
	}
	st := r.Stats()
	tot := st.Total()
	blocks, payloads := collect(t, r, 0, time.Time{}, time.Time{})
	require.Len(t, blocks, int(tot.Blocks))
	// Oldest first: the held blocks are the newest ones, contiguous.
	assert.Equal(t, uint64(n), blocks[len(blocks)-1].Seq)
	assert.Equal(t, uint64(n)-uint64(len(blocks))+1, blocks[0].Seq)
	assert.Equal(t, payload(n-1, size), payloads[len(payloads)-1])
	// One more block would not fit: eviction takes no more than needed.
	assert.Greater(t, tot.Bytes+blocks[0].StoredBytes, int64(10_000))
	assert.Equal(t, int64(n), tot.Blocks+tot.EvictedBlocks)
	assert.Equal(t, int64(10*n), tot.Items+tot.EvictedItems)
	for sig := range NumSignals {
		s := st.Signals[sig]
		assert.Equal(t, n/NumSignals+boolInt(sig < n%NumSignals), s.Blocks+s.EvictedBlocks, "signal %d", sig)
		assert.Positive(t, s.EvictedBytes)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestOversizedBlockIsKept(t *testing.T) {
	r := openRing(t, Config{MaxBytes: 100})
	_, err := r.Append(SignalLogs, payload(1, 50), t0, t0, 1)
	require.NoError(t, err)
	_, err = r.Append(SignalLogs, payload(2, 500), t0, t0, 1)
	require.NoError(t, err)
	st := r.Stats().Signals[SignalLogs]
	assert.Equal(t, int64(1), st.Blocks, "only the newest block stays")
	assert.Equal(t, int64(1), st.EvictedBlocks)
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestEvictByBytesDisk(t *testing.T) {
	dir := t.TempDir()
	const size = 1000
	recLen := int64(recordPrefix + 1000 + 40) // s2 stores random bytes almost as is
	r := openRing(t, Config{Directory: dir, MaxBytes: 12 * recLen, SegmentSize: 4 * recLen})
	const n = 60
	for i := range n {
		_, err := r.Append(SignalTraces, payload(i, size), t0, t0, 1)
		require.NoError(t, err)
		st := r.Stats()
		require.LessOrEqual(t, st.DiskBytes, 12*recLen)
		require.Len(t, segmentFiles(t, dir), st.Segments, "evicted segments must be deleted")
	}
	st := r.Stats()
	assert.Equal(t, 3, st.Segments)
	blocks, _ := collect(t, r, 0, time.Time{}, time.Time{})
	require.Len(t, blocks, int(st.Total().Blocks))
	// Whole segments go: the oldest held block starts a segment.
	first := blocks[0]
	assert.Zero(t, first.m.off)
	assert.Equal(t, uint64(n), blocks[len(blocks)-1].Seq)
	assert.Equal(t, int64(n), st.Total().Blocks+st.Total().EvictedBlocks)

	var sum int64
	for _, b := range blocks {
		sum += b.StoredBytes
	}
	assert.Equal(t, st.DiskBytes, sum)
}

func TestEvictByAge(t *testing.T) {
	modes(t, Config{MaxBytes: 1 << 20, MaxAge: 10 * time.Minute, SegmentSize: 1 << 10}, func(t *testing.T, cfg Config) {
		clock := newClock()
		cfg.Now = clock.Now
		r := openRing(t, cfg)
		for i := range 30 {
			_, err := r.Append(SignalLogs, payload(i, 100), t0, t0, 2)
			require.NoError(t, err)
			clock.Advance(time.Minute)
		}
		// The last append ran at t0+29m: arrivals before t0+19m are gone.
		st := r.Stats()
		assert.Equal(t, int64(11), st.Signals[SignalLogs].Blocks)
		assert.Equal(t, int64(19), st.Signals[SignalLogs].EvictedBlocks)
		assert.Equal(t, int64(38), st.Signals[SignalLogs].EvictedItems)
		assert.True(t, t0.Add(19*time.Minute).Equal(st.Oldest), "oldest %s", st.Oldest)
		if cfg.Directory != "" {
			assert.Len(t, segmentFiles(t, cfg.Directory), st.Segments)
		}

		// Scan applies the age limit too, even without appends.
		clock.Advance(time.Hour)
		blocks, _ := collect(t, r, 0, time.Time{}, time.Time{})
		assert.Empty(t, blocks)
		st = r.Stats()
		assert.Zero(t, st.Signals[SignalLogs].Blocks)
		assert.Zero(t, st.Signals[SignalLogs].Bytes)
		assert.True(t, st.Oldest.IsZero())
		if cfg.Directory != "" {
			assert.Equal(t, 1, st.Segments, "only the active segment stays")
		}
	})
}

func TestLookbackAndOldest(t *testing.T) {
	clock := newClock()
	r := openRing(t, Config{MaxBytes: 1 << 20, MaxAge: time.Hour, Now: clock.Now})
	assert.Zero(t, r.Lookback(t0))
	assert.True(t, r.Stats().OldestItemTime.IsZero())

	_, err := r.Append(SignalTraces, []byte("a"), t0.Add(-2*time.Minute), t0, 1)
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, err = r.Append(SignalTraces, []byte("b"), t0.Add(-5*time.Minute), t0, 1)
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, err = r.Append(SignalTraces, []byte("c"), t0.Add(time.Minute), t0.Add(time.Minute), 1)
	require.NoError(t, err)

	tests := []struct {
		name string
		now  time.Time
		want time.Duration
	}{
		{"now minus oldest arrival", t0.Add(10 * time.Minute), 10 * time.Minute},
		{"capped at MaxAge", t0.Add(3 * time.Hour), time.Hour},
		{"clock behind oldest arrival", t0.Add(-time.Minute), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, r.Lookback(tt.now))
		})
	}
	st := r.Stats()
	assert.True(t, t0.Equal(st.Oldest))
	assert.True(t, t0.Add(-5*time.Minute).Equal(st.OldestItemTime), "oldest item %s", st.OldestItemTime)

	// Evicting the block with the oldest item moves OldestItemTime forward.
	clock.Advance(time.Hour)
	_, err = r.Append(SignalTraces, []byte("d"), t0.Add(time.Hour), t0.Add(time.Hour), 1)
	require.NoError(t, err)
	st = r.Stats()
	assert.Equal(t, int64(2), st.Total().Blocks) // c and d
	assert.True(t, t0.Add(time.Minute).Equal(st.OldestItemTime), "oldest item %s", st.OldestItemTime)
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	cfg := Config{Directory: dir, MaxBytes: 1 << 20, SegmentSize: 8 << 10, Now: clock.Now}
	r, err := Open(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	const n = 40
	for i := range n {
		_, err := r.Append(Signal(i%NumSignals), payload(i, 700), t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i)*time.Second), i)
		require.NoError(t, err)
		clock.Advance(time.Second)
	}
	before := r.Stats()
	wantBlocks, wantPayloads := collect(t, r, 0, time.Time{}, time.Time{})
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")
	_, err = r.Append(SignalTraces, []byte("x"), t0, t0, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, r.Scan(0, time.Time{}, time.Time{}, func(Block) error { return nil }), ErrClosed)

	// Reopen with the other compression: old blocks stay readable.
	cfg.Compression = CompressionZstd
	r2 := openRing(t, cfg)
	after := r2.Stats()
	assert.Equal(t, before.Signals, after.Signals)
	assert.Equal(t, uint64(n), after.LastSeq)
	assert.Zero(t, after.CorruptRecords)
	gotBlocks, gotPayloads := collect(t, r2, 0, time.Time{}, time.Time{})
	require.Len(t, gotBlocks, n)
	assert.Equal(t, wantPayloads, gotPayloads)
	for i := range gotBlocks {
		w, g := wantBlocks[i], gotBlocks[i]
		assert.Equal(t, []any{w.Seq, w.Signal, w.Items, w.StoredBytes}, []any{g.Seq, g.Signal, g.Items, g.StoredBytes})
		assert.True(t, w.Arrival.Equal(g.Arrival) && w.MinTime.Equal(g.MinTime) && w.MaxTime.Equal(g.MaxTime))
	}
	seq, err := r2.Append(SignalLogs, []byte("after restart"), t0, t0, 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(n+1), seq)
	_, p := collect(t, r2, n, time.Time{}, time.Time{})
	assert.Equal(t, [][]byte{[]byte("after restart")}, p)
}

func TestCloseLeavesNoEmptySegment(t *testing.T) {
	dir := t.TempDir()
	for range 3 {
		r, err := Open(Config{Directory: dir, MaxBytes: 1 << 20}, zaptest.NewLogger(t))
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}
	assert.Empty(t, segmentFiles(t, dir))

	r, err := Open(Config{Directory: dir, MaxBytes: 1 << 20}, zaptest.NewLogger(t))
	require.NoError(t, err)
	_, err = r.Append(SignalTraces, []byte("x"), t0, t0, 1)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"00000000"}, segmentFiles(t, dir))
	// Other files in the directory are left alone.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("hi"), 0o600))
	r = openRing(t, Config{Directory: dir, MaxBytes: 1 << 20})
	assert.Equal(t, int64(1), r.Stats().Total().Blocks)
}

func TestPayloadAfterEviction(t *testing.T) {
	dir := t.TempDir()
	const size = 1000
	recLen := int64(recordPrefix + size + 40)
	r := openRing(t, Config{Directory: dir, MaxBytes: 4 * recLen, SegmentSize: 2 * recLen})
	appendN := func(n int) {
		for i := range n {
			_, err := r.Append(SignalTraces, payload(i, size), t0, t0, 1)
			require.NoError(t, err)
		}
	}
	appendN(2)

	var kept Block
	var visited []uint64
	require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
		visited = append(visited, b.Seq)
		if b.Seq == 1 {
			kept = b
			// Evict the block's segment while the callback runs.
			appendN(10)
			require.Len(t, segmentFiles(t, dir), r.Stats().Segments, "evicted segment files are unlinked at once")
		}
		// The scan pins the segments of the blocks it hands out, so their
		// payloads stay readable in the callback.
		p, err := b.Payload()
		require.NoError(t, err)
		assert.Equal(t, payload(int(b.Seq-1), size), p)
		return nil
	}))
	assert.Equal(t, []uint64{1, 2}, visited, "blocks appended during the scan are not visited")
	// Once the scan and the background sync let go of the segment, its
	// blocks are gone.
	require.Eventually(t, func() bool {
		_, err := kept.Payload()
		return errors.Is(err, ErrEvicted)
	}, 10*time.Second, time.Millisecond)

	var zero Block
	_, err := zero.Payload()
	require.Error(t, err)
}

func TestPayloadDetectsDiskCorruption(t *testing.T) {
	dir := t.TempDir()
	r := openRing(t, Config{Directory: dir, MaxBytes: 1 << 20})
	_, err := r.Append(SignalTraces, payload(1, 100), t0, t0, 1)
	require.NoError(t, err)
	f, err := os.OpenFile(filepath.Join(dir, "00000000"), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0xff}, recordPrefix+10)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	err = r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
		_, err := b.Payload()
		return err
	})
	require.ErrorContains(t, err, "checksum mismatch")
}

func TestConcurrentAppendScan(t *testing.T) {
	modes(t, Config{MaxBytes: 64 << 10, SegmentSize: 8 << 10, MaxAge: time.Hour}, func(t *testing.T, cfg Config) {
		r := openRing(t, cfg)
		const writers, perWriter, scanners = 4, 150, 2
		var wg sync.WaitGroup
		done := make(chan struct{})
		errs := make(chan error, writers+scanners)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					p := payload(w*perWriter+i, 200+i)
					if _, err := r.Append(Signal(w%NumSignals), p, t0, t0.Add(time.Second), 1); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var scanWG sync.WaitGroup
		for range scanners {
			scanWG.Go(func() {
				var after uint64
				for {
					select {
					case <-done:
						return
					default:
					}
					last := after
					err := r.Scan(after, time.Time{}, time.Time{}, func(b Block) error {
						if b.Seq <= last {
							return fmt.Errorf("block %d visited after %d", b.Seq, last)
						}
						last = b.Seq
						p, err := b.Payload()
						if err != nil {
							return err
						}
						if len(p) < 200 {
							return fmt.Errorf("block %d: short payload %d", b.Seq, len(p))
						}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
					after = last / 2 // rescan part of the ring, evicted or not
				}
			})
		}
		wg.Wait()
		close(done)
		scanWG.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		st := r.Stats()
		assert.Equal(t, uint64(writers*perWriter), st.LastSeq)
		assert.Equal(t, int64(writers*perWriter), st.Total().Blocks+st.Total().EvictedBlocks)
		assert.Positive(t, st.Total().EvictedBlocks)
		if cfg.Directory != "" {
			assert.Len(t, segmentFiles(t, cfg.Directory), st.Segments)
		}
	})
}

func TestOpenAppliesNewLimits(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	cfg := Config{Directory: dir, MaxBytes: 1 << 20, SegmentSize: 2 << 10, Now: clock.Now}
	r, err := Open(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	for i := range 20 {
		_, err := r.Append(SignalTraces, payload(i, 500), t0, t0, 1)
		require.NoError(t, err)
		clock.Advance(time.Minute)
	}
	require.NoError(t, r.Close())

	tests := []struct {
		name      string
		change    func(c *Config)
		wantFirst uint64
	}{
		// Records are ~556 bytes, 3 per segment: 4 KiB keeps the newest
		// whole segments, blocks 16-20, plus the new active segment.
		{"smaller MaxBytes", func(c *Config) { c.MaxBytes = 4 << 10 }, 16},
		// The clock stands at t0+20m: arrivals before t0+15m are too old.
		{"shorter MaxAge", func(c *Config) { c.MaxAge = 5 * time.Minute }, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := t.TempDir()
			for _, name := range segmentFiles(t, dir) {
				b, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(sub, name), b, 0o600))
			}
			c := cfg
			c.Directory = sub
			tt.change(&c)
			r := openRing(t, c)
			blocks, _ := collect(t, r, 0, time.Time{}, time.Time{})
			require.NotEmpty(t, blocks)
			assert.Equal(t, tt.wantFirst, blocks[0].Seq)
			assert.Equal(t, uint64(20), blocks[len(blocks)-1].Seq)
			assert.Len(t, segmentFiles(t, sub), r.Stats().Segments)
			assert.Equal(t, int64(tt.wantFirst-1), r.Stats().Total().EvictedBlocks)
		})
	}
}

func TestAppendWriteFailureRecovers(t *testing.T) {
	dir := t.TempDir()
	r := openRing(t, Config{Directory: dir, MaxBytes: 1 << 20})
	_, err := r.Append(SignalLogs, []byte("one"), t0, t0, 1)
	require.NoError(t, err)

	// Break the active segment's file behind the ring's back.
	r.mu.Lock()
	require.NoError(t, r.active.f.Close())
	r.mu.Unlock()
	_, err = r.Append(SignalLogs, []byte("two"), t0, t0, 1)
	require.ErrorContains(t, err, "ring: write segment")
	assert.Equal(t, uint64(1), r.LastSeq(), "a failed append uses no sequence number")

	// The next append moves on to a fresh segment.
	seq, err := r.Append(SignalLogs, []byte("three"), t0, t0, 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), seq)
	_, payloads := collect(t, r, 1, time.Time{}, time.Time{})
	assert.Equal(t, [][]byte{[]byte("three")}, payloads)
}
