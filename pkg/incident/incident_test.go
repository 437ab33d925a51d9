package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoteValidate(t *testing.T) {
	tests := []struct {
		note Note
		want string
	}{
		{Note{Text: "paged the DB on-call\n\ttried a failover", Author: "alice"}, ""},
		{Note{Text: "  "}, "'text' is required"},
		{Note{Text: strings.Repeat("x", MaxNoteText+1)}, "'text' is 8193 bytes long, more than the 8192 allowed"},
		{Note{Text: "ok", Author: strings.Repeat("a", MaxNoteAuthor+1)}, "'author' is 257 bytes long"},
		{Note{Text: "bell \a"}, "'text' holds the control character U+0007"},
		{Note{Text: "escape \x1b[31m"}, "'text' holds the control character U+001B"},
		{Note{Text: "ok", Author: "a\nb"}, "'author' holds the control character U+000A"},
		{Note{Text: "bad \xff"}, "'text' is not valid UTF-8"},
	}
	for _, tt := range tests {
		err := tt.note.Validate()
		if tt.want == "" {
			assert.NoError(t, err, "%q", tt.note.Text)
			continue
		}
		assert.ErrorContains(t, err, tt.want)
	}
}

func TestNoteID(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	ev := Event{Kind: EventNote, Time: at, IncidentID: "INC-42", Note: &Note{Text: "paged", Author: "alice"}}
	id := NoteID(&ev)
	require.NoError(t, ValidateID(id), "a note ID is a valid object name")
	assert.True(t, strings.HasPrefix(id, "01772445900000000000-"), id)

	// The same note recorded by another replica has the same ID.
	other := ev
	other.CollectorID, other.Source = "replica-b", SourceNote
	assert.Equal(t, id, NoteID(&other))
	// A different text, author, incident or time is another note.
	for _, change := range []func(e *Event){
		func(e *Event) { e.Note = &Note{Text: "paged!", Author: "alice"} },
		func(e *Event) { e.Note = &Note{Text: "paged", Author: "bob"} },
		func(e *Event) { e.IncidentID = "INC-43" },
		func(e *Event) { e.Time = at.Add(time.Nanosecond) },
	} {
		e := ev
		change(&e)
		assert.NotEqual(t, id, NoteID(&e))
	}
	// IDs sort by time.
	later := ev
	later.Time = at.Add(time.Second)
	assert.Less(t, id, NoteID(&later))
}
