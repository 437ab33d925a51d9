package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func payload(i int) []byte { return fmt.Appendf(nil, `{"record":%d,"pad":"%0*d"}`, i, 20+i%50, i) }

// fill writes n records into a fresh journal with small segments and
// returns where each record went.
func fill(t *testing.T, dir string, n int, segmentSize int64) []Record {
	t.Helper()
	j, err := Open(dir, segmentSize, func(Record) error { return nil })
	require.NoError(t, err)
	var recs []Record
	for i := range n {
		p := payload(i)
		seg, off, err := j.Append(1, p)
		require.NoError(t, err)
		recs = append(recs, Record{Segment: seg, Offset: off, Type: 1, Payload: p})
	}
	require.NoError(t, j.Close())
	return recs
}

func readAll(t *testing.T, dir string) ([]Record, *Journal, error) {
	t.Helper()
	var got []Record
	j, err := Open(dir, 256, func(r Record) error { got = append(got, r); return nil })
	if j != nil {
		t.Cleanup(func() { _ = j.Close() })
	}
	return got, j, err
}

func TestAppendAndReopen(t *testing.T) {
	dir := t.TempDir()
	recs := fill(t, dir, 40, 256)
	require.Greater(t, recs[len(recs)-1].Segment, 3, "records span several segments")
	got, j, err := readAll(t, dir)
	require.NoError(t, err)
	require.Len(t, got, 40)
	for i := range got {
		assert.Equal(t, recs[i].Payload, got[i].Payload)
		assert.Equal(t, recs[i].Segment, got[i].Segment)
	}
	// Appends go on after a reopen, and survive the next one.
	_, _, err = j.Append(2, []byte("after"))
	require.NoError(t, err)
	require.NoError(t, j.Close())
	got, _, err = readAll(t, dir)
	require.NoError(t, err)
	require.Len(t, got, 41)
	assert.Equal(t, byte(2), got[40].Type)
}

// TestCorruption damages the journal as disks and crashes do and checks the
// exact number of intact records Open keeps, that it reports the damage
// as a *CorruptionError, and that the repaired journal reads clean.
func TestCorruption(t *testing.T) {
	const n = 40
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, recs []Record)
		want   func(recs []Record) int // intact records Open keeps
		reason error
	}{
		{
			name: "flipped payload byte in record 17",
			damage: func(t *testing.T, dir string, recs []Record) {
				flip(t, dir, recs[17].Segment, recs[17].Offset+headerSize+3)
			},
			want: func([]Record) int { return 17 }, reason: ErrChecksum,
		},
		{
			name: "flipped length byte in record 5",
			damage: func(t *testing.T, dir string, recs []Record) {
				flip(t, dir, recs[5].Segment, recs[5].Offset+2)
			},
			want: func([]Record) int { return 5 }, reason: nil, // a torn or checksum error, depending on the new length
		},
		{
			name: "torn last record",
			damage: func(t *testing.T, dir string, recs []Record) {
				last := recs[n-1]
				truncate(t, dir, last.Segment, last.Offset+headerSize+int64(len(last.Payload))/2)
			},
			want: func([]Record) int { return n - 1 }, reason: ErrTorn,
		},
		{
			name: "short write of a header after the last record",
			damage: func(t *testing.T, dir string, recs []Record) {
				last := recs[n-1]
				f, err := os.OpenFile(segPath(dir, last.Segment), os.O_WRONLY|os.O_APPEND, 0)
				require.NoError(t, err)
				_, err = f.Write([]byte{1, 200, 0})
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
			want: func([]Record) int { return n }, reason: ErrTorn,
		},
		{
			name: "zeroed tail of a middle segment (a lost page)",
			damage: func(t *testing.T, dir string, recs []Record) {
				r := recs[22]
				f, err := os.OpenFile(segPath(dir, r.Segment), os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.WriteAt(make([]byte, 30), r.Offset)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
			want: func([]Record) int { return 22 }, reason: ErrType,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := fill(t, dir, n, 256)
			tt.damage(t, dir, recs)

			got, j, err := readAll(t, dir)
			want := tt.want(recs)
			require.NotNil(t, j, "a damaged journal still opens")
			require.Len(t, got, want)
			for i := range got {
				require.Equal(t, recs[i].Payload, got[i].Payload, "record %d", i)
			}
			var ce *CorruptionError
			require.ErrorAs(t, err, &ce)
			if tt.reason != nil {
				require.ErrorIs(t, err, tt.reason)
			}
			assert.Positive(t, ce.DroppedBytes)
			require.NoError(t, j.Close())

			// Repaired: the next open is clean and holds the same records.
			again, _, err := readAll(t, dir)
			require.NoError(t, err)
			assert.Len(t, again, want)
		})
	}
}

func TestRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	recs := fill(t, dir, 40, 256)
	j, err := Open(dir, 256, func(Record) error { return nil })
	require.NoError(t, err)
	defer func() { _ = j.Close() }()
	before := j.Size()
	cut := recs[20].Segment
	require.NoError(t, j.RemoveBefore(cut))
	assert.Less(t, j.Size(), before)
	assert.Equal(t, cut, j.Segments()[0])
	require.NoError(t, j.Close())
	got, _, err := readAll(t, dir)
	require.NoError(t, err)
	assert.Equal(t, recs[len(recs)-len(got)].Payload, got[0].Payload)
	assert.Equal(t, cut, got[0].Segment)
}

func TestAppendRefusesBadRecords(t *testing.T) {
	j, err := Open(t.TempDir(), 0, func(Record) error { return nil })
	require.NoError(t, err)
	defer func() { _ = j.Close() }()
	_, _, err = j.Append(0, nil)
	require.Error(t, err)
	require.NoError(t, j.Close())
	_, _, err = j.Append(1, nil)
	require.Error(t, err)
}

func TestOpenFailsOnUnusableDirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	_, err := Open(filepath.Join(f, "journal"), 0, func(Record) error { return nil })
	require.Error(t, err)
	var ce *CorruptionError
	require.NotErrorAs(t, err, &ce)
}

func segPath(dir string, seg int) string { return filepath.Join(dir, fmt.Sprintf("%08d", seg)) }

func flip(t *testing.T, dir string, seg int, off int64) {
	t.Helper()
	f, err := os.OpenFile(segPath(dir, seg), os.O_RDWR, 0)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

func truncate(t *testing.T, dir string, seg int, size int64) {
	t.Helper()
	require.NoError(t, os.Truncate(segPath(dir, seg), size))
}
