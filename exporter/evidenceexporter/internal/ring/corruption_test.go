package ring

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// recordPos is where a record sits on disk.
type recordPos struct {
	seg      int
	off, len int64
}

// writeRing writes n blocks (block i has payload(i, 300)) to a disk ring in
// dir with the given segment size, closes it and returns the record
// positions.
func writeRing(t *testing.T, dir string, n int, segmentSize int64) []recordPos {
	t.Helper()
	r, err := Open(Config{Directory: dir, MaxBytes: 1 << 30, SegmentSize: segmentSize}, zap.NewNop())
	require.NoError(t, err)
	for i := range n {
		_, err := r.Append(Signal(i%NumSignals), payload(i, 300), t0, t0, 1)
		require.NoError(t, err)
	}
	pos := make([]recordPos, n)
	r.mu.Lock()
	for i := range n {
		m := r.blocks.at(i)
		pos[i] = recordPos{seg: m.seg.n, off: m.off, len: m.stored}
	}
	r.mu.Unlock()
	require.NoError(t, r.Close())
	return pos
}

func segPath(dir string, n int) string { return filepath.Join(dir, segmentName(n)) }

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

const garbage = "this is not a ring segment, just some text that got here"

func TestCorruptionRepair(t *testing.T) {
	const n = 10
	tests := []struct {
		name string
		// segmentSize 0 puts every record in segment 0.
		segmentSize int64
		damage      func(t *testing.T, dir string, pos []recordPos)
		wantBlocks  int
		wantRecords int64 // Stats.CorruptRecords
		wantBytes   func(pos []recordPos) int64
		wantSegment func(pos []recordPos) int
		wantOffset  func(pos []recordPos) int64
		wantReason  string
	}{
		{
			name: "torn last record",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				require.NoError(t, os.Truncate(segPath(dir, 0), pos[n-1].off+pos[n-1].len-7))
			},
			wantBlocks:  n - 1,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[n-1].len - 7 },
			wantOffset:  func(pos []recordPos) int64 { return pos[n-1].off },
			wantReason:  "torn record (length",
		},
		{
			name: "flipped payload byte fails the checksum",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				patch(t, segPath(dir, 0), pos[4].off+recordPrefix+17, []byte{0x5a})
			},
			wantBlocks:  4,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len - pos[4].off },
			wantOffset:  func(pos []recordPos) int64 { return pos[4].off },
			wantReason:  "checksum mismatch",
		},
		{
			name: "oversized length field",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				patch(t, segPath(dir, 0), pos[6].off+1, []byte{0xff, 0xff, 0xff, 0xff})
			},
			wantBlocks:  6,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len - pos[6].off },
			wantOffset:  func(pos []recordPos) int64 { return pos[6].off },
			wantReason:  "bad record length 4294967295",
		},
		{
			name: "length field too small",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				patch(t, segPath(dir, 0), pos[0].off+1, []byte{0, 0, 0, 3})
			},
			wantBlocks:  0,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len },
			wantOffset:  func(_ []recordPos) int64 { return 0 },
			wantReason:  "bad record length 3",
		},
		{
			name: "length field off by one",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(pos[2].len-frameHeaderLen+1))
				patch(t, segPath(dir, 0), pos[2].off+1, b[:])
			},
			wantBlocks:  2,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len - pos[2].off },
			wantOffset:  func(pos []recordPos) int64 { return pos[2].off },
			wantReason:  "checksum mismatch",
		},
		{
			name: "length field past the end of the file",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				patch(t, segPath(dir, 0), pos[8].off+1, []byte{0, 1, 0, 0})
			},
			wantBlocks:  8,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len - pos[8].off },
			wantOffset:  func(pos []recordPos) int64 { return pos[8].off },
			wantReason:  "torn record (length 65536",
		},
		{
			name: "short write of a header",
			damage: func(t *testing.T, dir string, _ []recordPos) {
				appendFile(t, segPath(dir, 0), []byte{recBlock, 0, 0, 1, 0x20})
			},
			wantBlocks:  n,
			wantRecords: 1,
			wantBytes:   func([]recordPos) int64 { return 5 },
			wantOffset:  func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len },
			wantReason:  "torn record header (5 of 9 bytes)",
		},
		{
			name: "zero-filled tail",
			damage: func(t *testing.T, dir string, _ []recordPos) {
				appendFile(t, segPath(dir, 0), make([]byte, 4096))
			},
			wantBlocks:  n,
			wantRecords: 1,
			wantBytes:   func([]recordPos) int64 { return 4096 },
			wantOffset:  func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len },
			wantReason:  "unknown record type 0",
		},
		{
			name: "garbage segment after a good one",
			damage: func(t *testing.T, dir string, _ []recordPos) {
				appendFile(t, segPath(dir, 1), []byte(garbage))
			},
			wantBlocks:  n,
			wantRecords: 1,
			wantBytes:   func([]recordPos) int64 { return int64(len(garbage)) },
			wantSegment: func([]recordPos) int { return 1 },
			wantOffset:  func([]recordPos) int64 { return 0 },
			wantReason:  "unknown record type 116",
		},
		{
			name:        "bad record in a middle segment drops later segments",
			segmentSize: 1200, // three records per segment
			damage: func(t *testing.T, dir string, pos []recordPos) {
				require.Equal(t, 1, pos[4].seg)
				patch(t, segPath(dir, 1), pos[4].off+recordPrefix, []byte{0, 0, 0})
			},
			wantBlocks: 4,
			// The bad record and the intact records 7-10 of segments 2 and
			// 3; record 6 follows the bad one in segment 1 and cannot be
			// framed any more, so it is not counted.
			wantRecords: 1 + 4,
			wantBytes: func(pos []recordPos) int64 {
				var b int64
				for _, p := range pos[4:] {
					b += p.len
				}
				return b
			},
			wantSegment: func([]recordPos) int { return 1 },
			wantOffset:  func(pos []recordPos) int64 { return pos[4].off },
			wantReason:  "checksum mismatch",
		},
		{
			name: "sequence number going back",
			damage: func(t *testing.T, dir string, pos []recordPos) {
				// Re-append record 3 (intact, with its old seq) at the end.
				b, err := os.ReadFile(segPath(dir, 0))
				require.NoError(t, err)
				appendFile(t, segPath(dir, 0), b[pos[2].off:pos[2].off+pos[2].len])
			},
			wantBlocks:  n,
			wantRecords: 1,
			wantBytes:   func(pos []recordPos) int64 { return pos[2].len },
			wantOffset:  func(pos []recordPos) int64 { return pos[n-1].off + pos[n-1].len },
			wantReason:  "sequence number 3 does not follow 10",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			segSize := tt.segmentSize
			if segSize == 0 {
				segSize = 1 << 20
			}
			pos := writeRing(t, dir, n, segSize)
			tt.damage(t, dir, pos)

			core, logs := observer.New(zapcore.WarnLevel)
			r, err := Open(Config{Directory: dir, MaxBytes: 1 << 30, SegmentSize: segSize}, zap.New(core))
			require.NoError(t, err, "corruption must never fail Open")
			t.Cleanup(func() { _ = r.Close() })

			st := r.Stats()
			assert.Equal(t, int64(tt.wantBlocks), st.Total().Blocks)
			assert.Equal(t, uint64(tt.wantBlocks), st.LastSeq)
			assert.Equal(t, tt.wantRecords, st.CorruptRecords)
			assert.Equal(t, tt.wantBytes(pos), st.CorruptBytes)

			corruptions := r.Corruptions()
			require.Len(t, corruptions, 1)
			c := corruptions[0]
			wantSeg := 0
			if tt.wantSegment != nil {
				wantSeg = tt.wantSegment(pos)
			}
			assert.Equal(t, wantSeg, c.Segment)
			assert.Equal(t, tt.wantOffset(pos), c.Offset)
			assert.Contains(t, c.Reason, tt.wantReason)
			require.Equal(t, 1, logs.Len(), "one warning per repair")
			assert.Contains(t, logs.All()[0].ContextMap()["error"], tt.wantReason)

			// Every intact record before the damage is readable.
			blocks, payloads := collect(t, r, 0, time.Time{}, time.Time{})
			require.Len(t, blocks, tt.wantBlocks)
			for i := range blocks {
				assert.Equal(t, uint64(i+1), blocks[i].Seq)
				assert.Equal(t, payload(i, 300), payloads[i])
			}

			// Appending works and the sequence continues.
			seq, err := r.Append(SignalLogs, []byte("after repair"), t0, t0, 1)
			require.NoError(t, err)
			assert.Equal(t, uint64(tt.wantBlocks+1), seq)
			require.NoError(t, r.Close())

			// The repair is durable: a second Open finds nothing wrong.
			r2, err := Open(Config{Directory: dir, MaxBytes: 1 << 30, SegmentSize: segSize}, zap.NewNop())
			require.NoError(t, err)
			defer func() { require.NoError(t, r2.Close()) }()
			st2 := r2.Stats()
			assert.Zero(t, st2.CorruptRecords)
			assert.Empty(t, r2.Corruptions())
			assert.Equal(t, int64(tt.wantBlocks+1), st2.Total().Blocks)
			_, p := collect(t, r2, uint64(tt.wantBlocks), time.Time{}, time.Time{})
			assert.Equal(t, [][]byte{[]byte("after repair")}, p)
		})
	}
}

func TestCorruptionErrorMessage(t *testing.T) {
	err := &CorruptionError{Segment: 12, Offset: 345, Reason: "checksum mismatch"}
	assert.Equal(t, "ring: corrupt record in segment 00000012 at offset 345: checksum mismatch", err.Error())
}

func TestOpenFailsOnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := Open(Config{Directory: file, MaxBytes: 1 << 20}, zap.NewNop())
	require.ErrorContains(t, err, "ring: create Directory")
}
