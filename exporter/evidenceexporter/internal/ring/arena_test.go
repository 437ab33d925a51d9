package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedSize returns the compressed size of payload(i, n) in a memory ring.
func storedSize(t *testing.T, i, n int) int64 {
	t.Helper()
	r := openRing(t, Config{MaxBytes: 1 << 20})
	_, err := r.Append(SignalTraces, payload(i, n), t0, t0, 1)
	require.NoError(t, err)
	return r.Stats().Total().Bytes
}

// arenaLayout returns the held blocks' sequence numbers and arena offsets.
func arenaLayout(r *Ring) (seqs []uint64, offs []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.blocks.len() {
		m := r.blocks.at(i)
		seqs = append(seqs, m.seq)
		offs = append(offs, m.off)
	}
	return seqs, offs
}

func TestArenaWrapAround(t *testing.T) {
	const smallLen, bigLen = 1000, 1400
	s := storedSize(t, 0, smallLen)
	for i := 1; i < 9; i++ {
		require.Equal(t, s, storedSize(t, i, smallLen), "small payloads must compress to the same size")
	}
	big := storedSize(t, 100, bigLen)
	// Four small blocks fill the arena but for half a block: the big one
	// does not fit at the end, wraps to offset 0 and overwrites two blocks
	// (a plain byte count would have evicted one).
	arena := 4*s + s/2
	require.True(t, big > s && big <= s+s/2, "sizes small %d, big %d", s, big)

	clock := newClock()
	r := openRing(t, Config{MaxBytes: arena, Now: clock.Now})
	steps := []struct {
		name      string
		big       bool
		wantOff   int64
		wantSeqs  []uint64
		wantEvict int64
	}{
		{"first block at 0", false, 0, []uint64{1}, 0},
		{"second", false, s, []uint64{1, 2}, 0},
		{"third", false, 2 * s, []uint64{1, 2, 3}, 0},
		{"fourth leaves half a block free", false, 3 * s, []uint64{1, 2, 3, 4}, 0},
		{"big block straddling the end wraps and evicts two", true, 0, []uint64{3, 4, 5}, 2},
		{"next overwrites the third", false, big, []uint64{4, 5, 6}, 3},
		{"next overwrites the fourth", false, big + s, []uint64{5, 6, 7}, 4},
		{"next fits in the freed tail", false, big + 2*s, []uint64{5, 6, 7, 8}, 4},
		{"next wraps again and evicts the big block", false, 0, []uint64{6, 7, 8, 9}, 5},
	}
	want := map[uint64][]byte{}
	for i, st := range steps {
		n, idx := smallLen, i
		if st.big {
			n, idx = bigLen, 100
		}
		p := payload(idx, n)
		seq, err := r.Append(SignalLogs, p, t0, t0, 2)
		require.NoError(t, err, st.name)
		want[seq] = p
		clock.Advance(time.Second)

		held, offs := arenaLayout(r)
		require.Equal(t, st.wantSeqs, held, st.name)
		assert.Equal(t, st.wantOff, offs[len(offs)-1], st.name)
		stats := r.Stats().Signals[SignalLogs]
		assert.Equal(t, st.wantEvict, stats.EvictedBlocks, st.name)
		assert.Equal(t, 2*st.wantEvict, stats.EvictedItems, st.name)
		assert.Equal(t, int64(len(held)), stats.Blocks, st.name)
		assert.LessOrEqual(t, stats.Bytes, arena, st.name)

		blocks, payloads := collect(t, r, 0, time.Time{}, time.Time{})
		require.Equal(t, st.wantSeqs, seqs(blocks), st.name)
		for j, b := range blocks {
			assert.Equal(t, want[b.Seq], payloads[j], "%s: block %d", st.name, b.Seq)
		}
	}
}

func TestArenaOversizedBlockThenNormal(t *testing.T) {
	r := openRing(t, Config{MaxBytes: 2000})
	for i, n := range []int{500, 5000, 500, 500} {
		_, err := r.Append(SignalTraces, payload(i, n), t0, t0, 1)
		require.NoError(t, err)
	}
	st := r.Stats().Total()
	assert.Equal(t, int64(2), st.Blocks)
	assert.Equal(t, int64(2), st.EvictedBlocks)
	blocks, payloads := collect(t, r, 0, time.Time{}, time.Time{})
	assert.Equal(t, []uint64{3, 4}, seqs(blocks))
	assert.Equal(t, [][]byte{payload(2, 500), payload(3, 500)}, payloads)
}

func TestArenaPayloadEvicted(t *testing.T) {
	clock := newClock()
	r := openRing(t, Config{MaxBytes: 4000, MaxAge: time.Hour, Now: clock.Now})
	add := func(i int) {
		t.Helper()
		_, err := r.Append(SignalTraces, payload(i, 1000), t0, t0, 1)
		require.NoError(t, err)
	}
	add(0)
	add(1)
	var kept []Block
	require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
		kept = append(kept, b)
		return nil
	}))
	require.Len(t, kept, 2)

	// Still held: readable after the callback, straight from the arena.
	p, err := kept[0].Payload()
	require.NoError(t, err)
	assert.Equal(t, payload(0, 1000), p)

	tests := []struct {
		name  string
		block Block
		evict func()
	}{
		{"overwritten by newer blocks", kept[0], func() { add(2); add(3) }},
		{"evicted by age", kept[1], func() { clock.Advance(2 * time.Hour); add(4) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.evict()
			_, err := tt.block.Payload()
			require.ErrorIs(t, err, ErrEvicted)
			_, err = tt.block.AppendPayload([]byte("x"))
			require.ErrorIs(t, err, ErrEvicted)
		})
	}
}

func TestArenaPayloadRescuedInCallback(t *testing.T) {
	for _, comp := range []string{CompressionS2, CompressionZstd} {
		t.Run(comp, func(t *testing.T) {
			r := openRing(t, Config{MaxBytes: 4000, Compression: comp})
			appendN := func(first, n int) {
				for i := range n {
					_, err := r.Append(SignalTraces, payload(first+i, 1000), t0, t0, 1)
					require.NoError(t, err)
				}
			}
			appendN(0, 3)
			var kept Block
			var visited []uint64
			require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
				visited = append(visited, b.Seq)
				if b.Seq == 1 {
					kept = b
					appendN(100, 8) // overwrites the whole arena twice
					assert.Equal(t, int64(8), r.Stats().Total().EvictedBlocks)
				}
				// The scan's chunk is pinned: overwritten blocks were
				// copied out first.
				p, err := b.Payload()
				require.NoError(t, err)
				assert.Equal(t, payload(int(b.Seq-1), 1000), p)
				return nil
			}))
			assert.Equal(t, []uint64{1, 2, 3}, visited)
			_, err := kept.Payload()
			require.ErrorIs(t, err, ErrEvicted, "the copy goes with the scan")
			r.mu.Lock()
			assert.Empty(t, r.pins)
			r.mu.Unlock()
		})
	}
}

func TestArenaClose(t *testing.T) {
	orig := newArena
	t.Cleanup(func() { newArena = orig })
	var maps, frees atomic.Int32
	newArena = func(size int) ([]byte, func() error, error) {
		b, free, err := orig(size)
		maps.Add(1)
		return b, func() error { frees.Add(1); return free() }, err
	}
	r := openRing(t, Config{MaxBytes: 1 << 16})
	_, err := r.Append(SignalLogs, payload(1, 100), t0, t0, 1)
	require.NoError(t, err)
	var kept Block
	require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
		kept = b
		return nil
	}))
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	assert.Equal(t, int32(1), maps.Load())
	assert.Equal(t, int32(1), frees.Load(), "Close unmaps the arena once")

	_, err = kept.Payload()
	require.ErrorIs(t, err, ErrClosed)
	_, err = r.Append(SignalLogs, payload(2, 100), t0, t0, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, r.Scan(0, time.Time{}, time.Time{}, func(Block) error { return nil }), ErrClosed)
}

func TestArenaOpenFails(t *testing.T) {
	orig := newArena
	t.Cleanup(func() { newArena = orig })
	newArena = func(int) ([]byte, func() error, error) { return nil, nil, errors.New("no memory") }
	_, err := Open(Config{MaxBytes: 1 << 20}, nil)
	require.ErrorContains(t, err, "no memory")
}

// checkedPayload returns a payload of 100..611 bytes that names its writer
// and index, so a reader can tell whether it got the right bytes back.
func checkedPayload(w, i int) []byte {
	p := payload(w<<20|i, 100+(w*31+i*17)%512)
	binary.BigEndian.PutUint32(p, uint32(w))
	binary.BigEndian.PutUint32(p[4:], uint32(i))
	return p
}

func verifyPayload(seq uint64, p []byte) error {
	if len(p) < 8 {
		return fmt.Errorf("block %d: short payload %d", seq, len(p))
	}
	w, i := int(binary.BigEndian.Uint32(p)), int(binary.BigEndian.Uint32(p[4:]))
	if want := checkedPayload(w, i); string(want) != string(p) {
		return fmt.Errorf("block %d: payload of writer %d index %d is corrupt", seq, w, i)
	}
	return nil
}

// TestArenaConcurrentWraps runs appends, scans and late payload reads
// together over an arena that wraps many times. The heap arena lets the
// race detector check the locking (it does not see mapped memory).
func TestArenaConcurrentWraps(t *testing.T) {
	for _, kind := range []string{"mapped", "heap"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "heap" {
				orig := newArena
				t.Cleanup(func() { newArena = orig })
				newArena = heapArena
			}
			const maxBytes = 16 << 10
			r := openRing(t, Config{MaxBytes: maxBytes})
			const writers, perWriter, scanners = 3, 400, 2
			var wg, scanWG sync.WaitGroup
			done := make(chan struct{})
			errs := make(chan error, writers+2*scanners)
			late := make(chan Block, 64)
			var lateOK, lateEvicted atomic.Int64
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						if _, err := r.Append(Signal(w%NumSignals), checkedPayload(w, i), t0, t0, 1); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			for range scanners {
				scanWG.Go(func() {
					var after uint64
					for {
						select {
						case <-done:
							return
						default:
						}
						err := r.Scan(after, time.Time{}, time.Time{}, func(b Block) error {
							after = b.Seq
							p, err := b.Payload()
							if err != nil {
								return err
							}
							select {
							case late <- b:
							default:
							}
							return verifyPayload(b.Seq, p)
						})
						if err != nil {
							errs <- err
							return
						}
						after /= 2
					}
				})
			}
			scanWG.Go(func() {
				var buf []byte
				for {
					select {
					case <-done:
						return
					case b := <-late:
						var err error
						buf, err = b.AppendPayload(buf[:0])
						switch {
						case errors.Is(err, ErrEvicted):
							lateEvicted.Add(1)
						case err != nil:
							errs <- err
							return
						default:
							if err := verifyPayload(b.Seq, buf); err != nil {
								errs <- err
								return
							}
							lateOK.Add(1)
						}
					}
				}
			})
			wg.Wait()
			close(done)
			scanWG.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			st := r.Stats().Total()
			assert.Equal(t, int64(writers*perWriter), st.Blocks+st.EvictedBlocks)
			assert.LessOrEqual(t, st.Bytes, int64(maxBytes))
			assert.Greater(t, st.EvictedBytes, int64(10*maxBytes), "the arena must wrap many times")
			t.Logf("late reads: %d ok, %d evicted", lateOK.Load(), lateEvicted.Load())
		})
	}
}
