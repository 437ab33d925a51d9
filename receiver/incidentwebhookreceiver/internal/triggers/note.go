package triggers

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// MaxNoteClockSkew is how far in the future a note's time may be: notes
// record what already happened, but clocks differ.
const MaxNoteClockSkew = time.Minute

type noteBody struct {
	IncidentID string `json:"incident_id"`
	At         string `json:"at"`
	Text       string `json:"text"`
	Author     string `json:"author"`
}

// ParseNote interprets a timeline note, the human context of an incident
// (who paged whom, what was tried):
//
//	{"incident_id": "INC-42", "at": "2026-03-02T10:05:00Z",
//	 "text": "paged the database on-call", "author": "alice"}
//
// incident_id (a valid ID, never rewritten) and text are required; at, the
// time of what the note tells, defaults to now and must not be more than
// MaxNoteClockSkew ahead of it. text (up to incident.MaxNoteText bytes, new
// lines and tabs allowed) and author (up to incident.MaxNoteAuthor) must be
// UTF-8 without control characters.
func ParseNote(body []byte, now time.Time) (Result, error) {
	now = clock(now)
	body = bytes.Clone(body)
	var b noteBody
	if err := decode(body, &b); err != nil {
		return Result{}, err
	}
	if err := validateGivenID("incident_id", b.IncidentID); err != nil {
		return Result{}, err
	}
	note := incident.Note{Text: b.Text, Author: b.Author}
	if err := note.Validate(); err != nil {
		return Result{}, noteError(err)
	}
	at, terr := parseTime("at", b.At)
	if terr != nil {
		return Result{}, terr
	}
	at = orNow(at, now)
	if at.After(now.Add(MaxNoteClockSkew)) {
		return Result{}, invalid("at", "is in the future: a note tells what happened")
	}
	return Result{
		Events: []incident.Event{{
			Kind: incident.EventNote, Time: at, Source: incident.SourceNote, IncidentID: b.IncidentID,
			Note: &note, Payload: json.RawMessage(body),
		}},
	}, nil
}

// noteError turns a note's validation error into the payload error
// naming its member.
func noteError(err error) *Error {
	var ne *incident.NoteError
	if !errors.As(err, &ne) {
		return invalid("text", err.Error())
	}
	switch {
	case ne.Missing:
		return missing(ne.Field)
	case ne.TooLong:
		return tooMany(ne.Field, ne.Msg)
	}
	return invalid(ne.Field, ne.Msg)
}
