package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

func noteEvent(text, author string, hh, mm int) incident.Event {
	return incident.Event{Kind: incident.EventNote, Time: at(hh, mm), Source: incident.SourceNote,
		IncidentID: scenarioIncident, Note: &incident.Note{Text: text, Author: author}, CollectorID: "collector-a"}
}

// putNote writes a note object as the incidents extension does.
func putNote(t *testing.T, st store.Store, ev incident.Event) string {
	t.Helper()
	key, err := bundle.NoteKey(ev.IncidentID, incident.NoteID(&ev))
	require.NoError(t, err)
	b, err := json.MarshalIndent(ev, "", "  ")
	require.NoError(t, err)
	require.NoError(t, st.Put(context.Background(), key, bytes.NewReader(b), int64(len(b)), store.PutOptions{}))
	return key
}

// TestNotes: the notes kept in the incident's folder join the timeline,
// however late they were written; one the parts carry too is listed
// once; a note that cannot be read is named and left out.
func TestNotes(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	e := scenario()
	paged := noteEvent("paged the checkout on-call | <b>bold</b>", "alice", 10, 4)
	e.events = append(e.events, paged) // also frozen into the parts
	for key, data := range scenarioParts(t, e) {
		require.NoError(t, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
	}
	putNote(t, st, paged)
	putNote(t, st, noteEvent("rolled back to 1.4.8\nerrors stopped", "", 10, 9)) // written after the bundle
	bad := noteEvent("x", "", 10, 10)
	bad.Kind = incident.EventAlert
	badKey := putNote(t, st, bad)
	other := noteEvent("another incident's", "", 10, 11)
	other.IncidentID = "INC-2"
	otherKey, err := bundle.NoteKey(scenarioIncident, incident.NoteID(&other))
	require.NoError(t, err)
	b, err := json.Marshal(other)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, otherKey, bytes.NewReader(b), int64(len(b)), store.PutOptions{}))
	hugeKey, err := bundle.NoteKey(scenarioIncident, "huge")
	require.NoError(t, err)
	huge := bytes.Repeat([]byte(" "), maxNoteObject+1)
	require.NoError(t, st.Put(ctx, hugeKey, bytes.NewReader(huge), int64(len(huge)), store.PutOptions{}))
	ignored := "incidents/" + scenarioIncident + "/notes/not a note.json"
	require.NoError(t, st.Put(ctx, ignored, strings.NewReader("{"), 1, store.PutOptions{}))

	in, err := FromStore(ctx, st, scenarioIncident)
	require.NoError(t, err)
	tl, err := Build(in)
	require.NoError(t, err)
	var notes []string
	for _, ev := range tl.Events {
		if ev.Kind == string(incident.EventNote) {
			notes = append(notes, ev.Time.Format("15:04")+" "+ev.Source+" "+ev.ID+" "+ev.Summary)
		}
	}
	assert.Equal(t, []string{
		"10:04 note INC-1 note by alice: paged the checkout on-call | <b>bold</b>",
		"10:09 note INC-1 note: rolled back to 1.4.8\nerrors stopped",
	}, notes)
	require.Len(t, tl.UnreadableNotes, 3, "an object named as no note is no note: passed by")
	assert.Contains(t, strings.Join(tl.UnreadableNotes, "\n"), badKey+`: an event of kind "alert", not a note`)
	assert.Contains(t, strings.Join(tl.UnreadableNotes, "\n"), `a note of incident "INC-2", not "INC-1"`)
	assert.Contains(t, strings.Join(tl.UnreadableNotes, "\n"), hugeKey+": larger than its limit")

	var md bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&md))
	assert.Contains(t, md.String(), `| 2026-03-02 10:04:00.000 | note | INC-1 | note | note by alice: paged the checkout on-call \| &lt;b&gt;bold&lt;/b&gt; |`)
	assert.Contains(t, md.String(), `note: rolled back to 1.4.8\nerrors stopped |`)
	assert.Contains(t, md.String(), "- A note could not be read and is left out: "+badKey)

	// The same from a downloaded folder: notes under raw/.
	dir := t.TempDir()
	writeDir(t, dir, e)
	src := filepath.Join(dir, evidencedir.RawDir)
	for _, ev := range []incident.Event{paged, noteEvent("rolled back to 1.4.8\nerrors stopped", "", 10, 9)} {
		key, err := bundle.NoteKey(ev.IncidentID, incident.NoteID(&ev))
		require.NoError(t, err)
		writeJSON(t, filepath.Join(src, filepath.FromSlash(key)), ev)
	}
	require.NoError(t, os.WriteFile(filepath.Join(src, "incidents", scenarioIncident, "notes", "junk.txt"), []byte("x"), 0o644))
	in, err = FromDir(dir)
	require.NoError(t, err)
	fromDir, err := Build(in)
	require.NoError(t, err)
	var dirNotes []string
	for _, ev := range fromDir.Events {
		if ev.Kind == string(incident.EventNote) {
			dirNotes = append(dirNotes, ev.Time.Format("15:04")+" "+ev.Source+" "+ev.ID+" "+ev.Summary)
		}
	}
	assert.Equal(t, notes, dirNotes)
	assert.Empty(t, fromDir.UnreadableNotes)
}
