package evidenceexporter

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func testState(id string, nextPart int) *incidentState {
	st := &incidentState{
		Incident:  incident.Incident{ID: id, Source: "generic", Status: incident.StatusOpen, StartedAt: t0},
		StartedAt: t0,
		NextPart:  nextPart,
		Cursor:    7,
		Bound:     t0.Add(10 * 60e9),
		Version:   2,
	}
	for seq := 1; seq < nextPart; seq++ {
		name, _ := bundle.PartName(seq)
		st.Parts = append(st.Parts, bundle.PartRef{Name: name, Seq: seq, Size: 10, SHA256: string(make([]byte, 0))})
	}
	return st
}

// writePart spools a part whose bytes are data, as the freezer's
// writePartWith does.
func (s *spool) writePart(id string, seq int, data []byte) error {
	return s.writePartWith(id, seq, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// readPart returns a spooled part's bytes.
func (s *spool) readPart(id string, seq int) ([]byte, error) {
	return os.ReadFile(s.partPath(id, seq))
}

func TestSpoolLoad(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir)
	require.NoError(t, err)

	// A committed incident with one uploaded part, one waiting, and the
	// leftovers of a flush that never committed.
	st := testState("INC-1", 3)
	require.NoError(t, sp.writePart("INC-1", 2, []byte("part 2")))
	require.NoError(t, sp.saveState(st))
	require.NoError(t, sp.writePart("INC-1", 3, []byte("uncommitted")))
	require.NoError(t, os.WriteFile(filepath.Join(sp.incidentDir("INC-1"), ".tmp-part-000004.tar.zst-x"), nil, 0o600))
	// A first flush that never committed.
	require.NoError(t, sp.writePart("INC-2", 1, []byte("uncommitted")))
	// A finished incident.
	require.NoError(t, sp.saveState(testState("INC-3", 2)))
	require.NoError(t, sp.markDone("INC-3"))
	// A corrupt state is reported and left alone.
	require.NoError(t, os.MkdirAll(sp.incidentDir("INC-4"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(sp.incidentDir("INC-4"), stateFile), []byte("{not json"), 0o600))
	// Names that are not incident IDs are ignored.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "incidents", "bad name"), 0o750))

	found, problems, err := sp.load()
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.ErrorContains(t, problems[0], "INC-4")
	require.Len(t, found, 2)
	assert.Equal(t, "INC-1", found[0].state.Incident.ID)
	assert.False(t, found[0].done)
	assert.Equal(t, uint64(7), found[0].state.Cursor)
	assert.Equal(t, st.Bound, found[0].state.Bound)
	assert.Equal(t, "INC-3", found[1].state.Incident.ID)
	assert.True(t, found[1].done)

	assert.True(t, sp.hasPart("INC-1", 2))
	assert.False(t, sp.hasPart("INC-1", 3), "uncommitted part removed")
	assert.NoFileExists(t, filepath.Join(sp.incidentDir("INC-1"), ".tmp-part-000004.tar.zst-x"))
	assert.NoDirExists(t, sp.incidentDir("INC-2"))
	assert.DirExists(t, sp.incidentDir("INC-4"))

	data, err := sp.readPart("INC-1", 2)
	require.NoError(t, err)
	assert.Equal(t, "part 2", string(data))
	require.NoError(t, sp.removePart("INC-1", 2))
	require.NoError(t, sp.removePart("INC-1", 2), "removing twice is fine")
	require.NoError(t, sp.removeIncident("INC-3"))
	assert.NoDirExists(t, sp.incidentDir("INC-3"))
}

func TestParseState(t *testing.T) {
	tests := []struct {
		name   string
		modify func(st *incidentState)
		data   string // used instead of the state when set
		errMsg string // empty: valid
	}{
		{name: "valid", modify: func(*incidentState) {}},
		{name: "not json", data: "{not json", errMsg: "invalid character"},
		{name: "format", modify: func(st *incidentState) { st.Format = stateFormat + 1 }, errMsg: "'format' is 2, want 1"},
		{name: "incident id", modify: func(st *incidentState) { st.Incident.ID = "INC-9" }, errMsg: `'incident.id' is "INC-9"`},
		{name: "next part", modify: func(st *incidentState) { st.NextPart = 0 }, errMsg: "'next_part' is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.data == "" {
				st := testState("INC-1", 2)
				st.Format = stateFormat
				tt.modify(st)
				var err error
				data, err = json.Marshal(st)
				require.NoError(t, err)
			}
			st, err := parseState(data, "INC-1")
			if tt.errMsg != "" {
				require.ErrorContains(t, err, tt.errMsg)
				assert.Nil(t, st)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 2, st.NextPart)
		})
	}
}

func TestPartSeq(t *testing.T) {
	tests := []struct {
		name string
		want int
		ok   bool
	}{
		{"part-000001.tar.zst", 1, true},
		{"part-999999.tar.zst", 999999, true},
		{"part-000000.tar.zst", 0, false},
		{"part-+00001.tar.zst", 0, false},
		{"part-0000001.tar.zst", 0, false},
		{"part-000001.tar", 0, false},
		{"state.json", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := partSeq(tt.name)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// FuzzSpoolState feeds arbitrary state.json content to the spool loader: it
// must never panic, and it adopts only states of the right incident.
func FuzzSpoolState(f *testing.F) {
	sp, err := openSpool(f.TempDir())
	require.NoError(f, err)
	require.NoError(f, sp.saveState(testState("INC-1", 2)))
	good, err := os.ReadFile(filepath.Join(sp.incidentDir("INC-1"), stateFile))
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"format":1,"incident":{"id":"OTHER"},"next_part":1}`))
	f.Add([]byte(`{"format":1,"incident":{"id":"INC-1"},"next_part":0}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		sp, err := openSpool(dir)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(sp.incidentDir("INC-1"), 0o750))
		require.NoError(t, os.WriteFile(filepath.Join(sp.incidentDir("INC-1"), stateFile), data, 0o600))
		found, problems, err := sp.load()
		require.NoError(t, err)
		require.Len(t, append(found, make([]spooledIncident, len(problems))...), 1)
		for _, f := range found {
			assert.Equal(t, "INC-1", f.state.Incident.ID)
			assert.Positive(t, f.state.NextPart)
		}
	})
}

// TestIncidentStateSize: every open incident keeps one committed state, so
// its size is part of issue #16's memory per open incident; 512 bytes is a
// Go allocation size class (the next is 576).
func TestIncidentStateSize(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(incidentState{}), uintptr(512))
}

// TestSpoolScratchFile: a part's scratch file is in no directory (a crash
// leaves nothing), and reads back what was written at an offset.
func TestSpoolScratchFile(t *testing.T) {
	sp, err := openSpool(t.TempDir())
	require.NoError(t, err)
	f, err := sp.scratchFile("INC-1")
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	entries, err := os.ReadDir(sp.incidentDir("INC-1"))
	require.NoError(t, err)
	assert.Empty(t, entries, "the scratch file is still linked")
	_, err = f.WriteAt([]byte("frame two"), 9)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("frame one"), 0)
	require.NoError(t, err)
	got := make([]byte, 18)
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	assert.Equal(t, "frame oneframe two", string(got))
}
