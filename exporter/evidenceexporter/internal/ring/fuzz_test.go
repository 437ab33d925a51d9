package ring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// validSegment returns the bytes of a segment holding n small records.
func validSegment(t testing.TB, n int) []byte {
	dir := t.TempDir()
	r, err := Open(Config{Directory: dir, MaxBytes: 1 << 20}, zap.NewNop())
	require.NoError(t, err)
	for i := range n {
		_, err := r.Append(Signal(i%NumSignals), payload(i, 20+i), t0, t0.Add(time.Second), i)
		require.NoError(t, err)
	}
	require.NoError(t, r.Close())
	b, err := os.ReadFile(filepath.Join(dir, "00000000"))
	require.NoError(t, err)
	return b
}

// FuzzReadSegment feeds arbitrary bytes to the segment parser: it must never
// panic, never claim more than it read, and what it accepts must parse again
// to the same result.
func FuzzReadSegment(f *testing.F) {
	seg := validSegment(f, 3)
	f.Add(seg)
	f.Add(seg[:len(seg)-1])
	f.Add(seg[:frameHeaderLen-2])
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Add([]byte{recBlock, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	flipped := bytes.Clone(seg)
	flipped[len(flipped)/2] ^= 0x40
	f.Add(flipped)

	f.Fuzz(func(t *testing.T, data []byte) {
		var visited []int64
		res, err := readSegment(bytes.NewReader(data), int64(len(data)), 0, func(h blockHeader, off, _ int64) {
			visited = append(visited, off)
			if h.rawLen > maxRawSize || !h.signal.valid() || !h.codec.valid() || h.minT > h.maxT {
				t.Fatalf("accepted an invalid header %+v", h)
			}
		})
		require.NoError(t, err)
		require.LessOrEqual(t, res.end, int64(len(data)))
		require.Len(t, visited, res.records)
		require.Equal(t, res.end == int64(len(data)), res.reason == "", "a reason is given exactly when bytes are left over")

		again, err := readSegment(bytes.NewReader(data[:res.end]), res.end, 0, nil)
		require.NoError(t, err)
		require.Equal(t, res.records, again.records)
		require.Empty(t, again.reason)
	})
}

// FuzzOpenSegment writes arbitrary bytes as a segment and opens a ring on
// it: Open must succeed, and appending and reading back must work.
func FuzzOpenSegment(f *testing.F) {
	seg := validSegment(f, 2)
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000"), data, 0o600))
		r, err := Open(Config{Directory: dir, MaxBytes: 1 << 20}, zap.NewNop())
		require.NoError(t, err)
		defer func() { require.NoError(t, r.Close()) }()
		want := r.LastSeq() + 1
		seq, err := r.Append(SignalLogs, []byte("x"), t0, t0, 1)
		require.NoError(t, err)
		require.Equal(t, want, seq)
		require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
			// A record with a forged checksum may hold a payload that does
			// not decompress: that must be an error, not a panic. The new
			// block must read back.
			p, err := b.Payload()
			if b.Seq == seq {
				require.NoError(t, err)
				require.Equal(t, []byte("x"), p)
			}
			return nil
		}))
	})
}
