package triggers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestParseNote(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   incident.Event // Kind, Time, IncidentID and Note
		status int
		reason string
		field  string
	}{
		{
			name: "full",
			body: `{"incident_id":"INC-42","at":"2026-03-10T11:05:00.125+01:00","text":"paged the DB on-call\ntried a failover","author":"alice"}`,
			want: incident.Event{Kind: incident.EventNote, Time: ts("2026-03-10T10:05:00.125Z"), IncidentID: "INC-42",
				Note: &incident.Note{Text: "paged the DB on-call\ntried a failover", Author: "alice"}},
		},
		{
			name: "now by default, no author",
			body: `{"incident_id":"INC-42","text":"rolled back"}`,
			want: incident.Event{Kind: incident.EventNote, Time: testNow, IncidentID: "INC-42", Note: &incident.Note{Text: "rolled back"}},
		},
		{
			name: "a little ahead of the clock",
			body: `{"incident_id":"INC-42","text":"x","at":"2026-03-10T12:00:30Z"}`,
			want: incident.Event{Kind: incident.EventNote, Time: ts("2026-03-10T12:00:30Z"), IncidentID: "INC-42", Note: &incident.Note{Text: "x"}},
		},
		{name: "missing incident", body: `{"text":"x"}`, status: http.StatusBadRequest, reason: ReasonMissingField, field: "incident_id"},
		{name: "invalid incident", body: `{"incident_id":"../etc","text":"x"}`, status: http.StatusBadRequest, reason: ReasonInvalidID, field: "incident_id"},
		{name: "missing text", body: `{"incident_id":"INC-42","text":"  "}`, status: http.StatusBadRequest, reason: ReasonMissingField, field: "text"},
		{name: "text too long", body: `{"incident_id":"INC-42","text":"` + strings.Repeat("x", incident.MaxNoteText+1) + `"}`,
			status: http.StatusBadRequest, reason: ReasonLimitExceeded, field: "text"},
		{name: "author too long", body: `{"incident_id":"INC-42","text":"x","author":"` + strings.Repeat("a", incident.MaxNoteAuthor+1) + `"}`,
			status: http.StatusBadRequest, reason: ReasonLimitExceeded, field: "author"},
		{name: "escape sequence", body: `{"incident_id":"INC-42","text":"\u001b[2J"}`, status: http.StatusBadRequest, reason: ReasonInvalidField, field: "text"},
		{name: "in the future", body: `{"incident_id":"INC-42","text":"x","at":"2026-03-10T12:05:00Z"}`,
			status: http.StatusBadRequest, reason: ReasonInvalidField, field: "at"},
		{name: "bad time", body: `{"incident_id":"INC-42","text":"x","at":"yesterday"}`, status: http.StatusBadRequest, reason: ReasonInvalidField, field: "at"},
		{name: "text not a string", body: `{"incident_id":"INC-42","text":7}`, status: http.StatusBadRequest, field: "text"},
		{name: "not JSON", body: `incident`, status: http.StatusBadRequest, reason: ReasonMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseNote([]byte(tt.body), testNow)
			if tt.status != 0 {
				e, ok := AsError(err)
				require.True(t, ok, "%v", err)
				assert.Equal(t, tt.status, e.Status)
				if tt.reason != "" {
					assert.Equal(t, tt.reason, e.Reason)
				}
				assert.Equal(t, tt.field, e.Field)
				return
			}
			require.NoError(t, err)
			require.NoError(t, checkResult(res))
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			assert.Equal(t, tt.want.Kind, ev.Kind)
			assert.True(t, tt.want.Time.Equal(ev.Time), "%s, want %s", ev.Time, tt.want.Time)
			assert.Equal(t, time.UTC, ev.Time.Location())
			assert.Equal(t, tt.want.IncidentID, ev.IncidentID)
			assert.Equal(t, tt.want.Note, ev.Note)
			assert.Equal(t, incident.SourceNote, ev.Source)
			assert.JSONEq(t, tt.body, string(ev.Payload))
		})
	}
}
