package incidentwebhookreceiver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// notesEnv is a receiver whose registry knows INC-42 (open) and whose
// store holds the record of INC-7 (resolved long ago).
func notesEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	env := newTestEnv(t, mutate)
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	key, err := bundle.IncidentKey("INC-7")
	require.NoError(t, err)
	rec := []byte(`{"id":"INC-7","source":"generic","status":"resolved","started_at":"2026-03-01T10:00:00Z"}`)
	require.NoError(t, st.Put(context.Background(), key, bytes.NewReader(rec), int64(len(rec)), store.PutOptions{}))
	env.reg = incidentsapitest.NewRegistry("collector-a", st)
	env.r.registry = env.reg
	decodeOK(t, env.post("/v1/incidents", []byte(`{"id":"INC-42","title":"checkout errors"}`)))
	return env
}

func TestNotes(t *testing.T) {
	env := notesEnv(t, nil)
	body := []byte(`{"incident_id":"INC-42","at":"2026-03-10T12:05:00Z","text":"paged the DB on-call","author":"alice"}`)
	resp := decodeOK(t, env.post("/v1/notes", body))
	want := incident.Event{Kind: incident.EventNote, Time: time.Date(2026, 3, 10, 12, 5, 0, 0, time.UTC), IncidentID: "INC-42",
		Note: &incident.Note{Text: "paged the DB on-call", Author: "alice"}}
	assert.Equal(t, []string{incident.NoteID(&want)}, resp.Notes)
	assert.Equal(t, 1, resp.Events)
	assert.Equal(t, []string{"open:INC-42", "event:note"}, env.reg.Calls())
	evs := env.reg.Events(want.Time, want.Time)
	require.Len(t, evs, 1)
	assert.Equal(t, incident.SourceNote, evs[0].Source)
	assert.Equal(t, "collector-a", evs[0].CollectorID)
	assert.Equal(t, want.Note, evs[0].Note)

	// The note is emitted as a log record, with its text and author.
	recs := records(env.sink)
	require.NotEmpty(t, recs)
	last := recs[len(recs)-1]
	assert.Equal(t, string(incident.EventNote), last.EventName())
	text, _ := last.Attributes().Get(incident.AttrNoteText)
	author, _ := last.Attributes().Get(incident.AttrNoteAuthor)
	assert.Equal(t, "paged the DB on-call", text.Str())
	assert.Equal(t, "alice", author.Str())

	// An incident the registry forgot, whose record is in the store.
	decodeOK(t, env.post("/v1/notes", []byte(`{"incident_id":"INC-7","text":"postmortem written"}`)))
}

func TestNotesRefused(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		reason string
		field  string
	}{
		{"unknown incident", `{"incident_id":"INC-404","text":"x"}`, http.StatusNotFound, "unknown_incident", "incident_id"},
		{"invalid incident", `{"incident_id":"../../etc","text":"x"}`, http.StatusBadRequest, "invalid_id", "incident_id"},
		{"no text", `{"incident_id":"INC-42"}`, http.StatusBadRequest, "missing_field", "text"},
		{"text too long", `{"incident_id":"INC-42","text":"` + strings.Repeat("x", incident.MaxNoteText+1) + `"}`,
			http.StatusBadRequest, "limit_exceeded", "text"},
		{"escape sequence", `{"incident_id":"INC-42","text":"\u001b]8;;http://evil\u0007"}`, http.StatusBadRequest, "invalid_field", "text"},
		{"in the future", `{"incident_id":"INC-42","text":"x","at":"2026-03-10T14:00:00Z"}`, http.StatusBadRequest, "invalid_field", "at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := notesEnv(t, nil)
			e := decodeError(t, env.post("/v1/notes", []byte(tt.body)), tt.status)
			if tt.reason != "" {
				assert.Equal(t, tt.reason, e.Error)
				assert.Equal(t, tt.field, e.Field)
			}
			assert.Equal(t, []string{"open:INC-42"}, env.reg.Calls(), "nothing recorded")
		})
	}
	t.Run("body too large", func(t *testing.T) {
		env := notesEnv(t, func(c *Config) { c.MaxRequestBodySize = 1024 })
		body := `{"incident_id":"INC-42","text":"` + strings.Repeat("x", 2000) + `"}`
		e := decodeError(t, env.post("/v1/notes", []byte(body)), http.StatusRequestEntityTooLarge)
		assert.Equal(t, "body_too_large", e.Error)
	})
	t.Run("store fails", func(t *testing.T) {
		env := notesEnv(t, nil)
		env.reg = incidentsapitest.NewRegistry("collector-a", failingStore{})
		env.r.registry = env.reg
		e := decodeError(t, env.post("/v1/notes", []byte(`{"incident_id":"INC-42","text":"x"}`)), http.StatusServiceUnavailable)
		assert.Contains(t, e.Message, "retrying is safe")
	})
	t.Run("registry fails", func(t *testing.T) {
		env := notesEnv(t, nil)
		env.reg.FailWrites(0, errors.New("store unreachable"))
		e := decodeError(t, env.post("/v1/notes", []byte(`{"incident_id":"INC-42","text":"x"}`)), http.StatusInternalServerError)
		assert.Equal(t, "registry_failed", e.Error)
	})
	t.Run("disabled", func(t *testing.T) {
		env := notesEnv(t, func(c *Config) { c.Paths.Notes = "" })
		e := decodeError(t, env.post("/v1/notes", []byte(`{"incident_id":"INC-42","text":"x"}`)), http.StatusNotFound)
		assert.Equal(t, "not_found", e.Error)
	})
}

// failingStore fails every call.
type failingStore struct{ store.Store }

func (failingStore) Stat(context.Context, string) (store.ObjectInfo, error) {
	return store.ObjectInfo{}, errors.New("connection refused")
}
