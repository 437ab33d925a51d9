// Package incident holds the incident and deploy model shared by every
// otel-evidence component, and the rules that keep their IDs safe to use as
// object keys and file names.
package incident // import "github.com/otel-evidence/otel-evidence/pkg/incident"

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Status of an incident.
type Status string

const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
)

// Source names the system an incident or deploy came from.
const (
	SourceAlertmanager = "alertmanager"
	SourceGrafana      = "grafana"
	SourcePagerDuty    = "pagerduty"
	SourceGeneric      = "generic"
	SourceDeploy       = "deploy"
	// SourceSLO: opened by the slo connector's own burn-rate evaluation.
	SourceSLO = "slo"
	// SourceNote is the source of the notes people add to an incident's
	// timeline (evidencectl annotate, the notes endpoint).
	SourceNote = "note"
)

// LabelSLO is the incident label that names the SLO an incident is about.
// The slo connector sets it on the incidents it opens; an alert for the
// same SLO (Sloth's sloth_slo or Pyrra's slo label) joins such an incident
// instead of opening another.
const LabelSLO = "slo"

// MaxIDLength bounds incident and deploy IDs; they become object keys.
const MaxIDLength = 128

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ErrInvalidID is returned (wrapped) by ValidateID.
var ErrInvalidID = errors.New("invalid id")

// ValidateID checks that id is usable as an object key and file name:
// 1..MaxIDLength characters of [A-Za-z0-9._-], and not "." or "..".
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: must not be empty", ErrInvalidID)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidID, MaxIDLength)
	case id == "." || id == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidID, id)
	case !idPattern.MatchString(id):
		return fmt.Errorf("%w: %q may only contain A-Z, a-z, 0-9, '.', '_' and '-'", ErrInvalidID, id)
	}
	return nil
}

// SanitizeID maps an arbitrary string onto the ID alphabet, replacing every
// other character with '-' and truncating to MaxIDLength. It returns "" for
// input that has no usable character.
func SanitizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= MaxIDLength {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if ValidateID(out) != nil {
		return ""
	}
	return out
}

// Matcher is one scope rule: the resource attribute Key must equal Value.
type Matcher struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// String renders the matcher as key=value.
func (m Matcher) String() string { return m.Key + "=" + m.Value }

// ParseMatcher parses "key=value".
func ParseMatcher(s string) (Matcher, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Matcher{}, fmt.Errorf("scope matcher %q must have the form key=value", s)
	}
	return Matcher{Key: k, Value: strings.TrimSpace(v)}, nil
}

// Link is a reference attached to an incident (runbook, dashboard, alert).
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Incident is the registry's record of one incident.
type Incident struct {
	ID       string `json:"id"`
	Title    string `json:"title,omitempty"`
	Severity string `json:"severity,omitempty"`
	Source   string `json:"source"`
	Status   Status `json:"status"`
	// Scope restricts the incident to resources whose attributes match every
	// matcher. Empty means every resource.
	Scope      []Matcher         `json:"scope,omitempty"`
	StartedAt  time.Time         `json:"started_at"`
	ResolvedAt *time.Time        `json:"resolved_at,omitempty"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Labels     map[string]string `json:"labels,omitempty"`
	Links      []Link            `json:"links,omitempty"`
	// OpenedBy is the collector_id of the replica that first recorded it.
	OpenedBy string `json:"opened_by,omitempty"`
}

// Validate checks the fields a stored or received incident must have.
func (i *Incident) Validate() error {
	if err := ValidateID(i.ID); err != nil {
		return fmt.Errorf("'id': %w", err)
	}
	if i.Status != StatusOpen && i.Status != StatusResolved {
		return fmt.Errorf("'status' must be %q or %q, got %q", StatusOpen, StatusResolved, i.Status)
	}
	if i.StartedAt.IsZero() {
		return errors.New("'started_at' is required")
	}
	return nil
}

// IsOpen reports whether the incident is open at time t: started at or
// before t and not resolved at or before t.
func (i *Incident) IsOpen() bool { return i.Status == StatusOpen }

// Matches reports whether a resource with the given attribute lookup falls in
// the incident's scope. get returns the attribute's string value and whether
// it exists.
func (i *Incident) Matches(get func(key string) (string, bool)) bool {
	for _, m := range i.Scope {
		v, ok := get(m.Key)
		if !ok || v != m.Value {
			return false
		}
	}
	return true
}

// Deploy is the registry's record of one deploy.
type Deploy struct {
	ID          string     `json:"id"`
	Service     string     `json:"service"`
	Version     string     `json:"version,omitempty"`
	Environment string     `json:"environment,omitempty"`
	Commit      string     `json:"commit,omitempty"`
	Name        string     `json:"name,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Status      string     `json:"status,omitempty"`
}

// Deploy statuses as sent by CI/CD; free-form values are kept as given.
const (
	DeployStarted   = "started"
	DeploySucceeded = "succeeded"
	DeployFailed    = "failed"
)

// Validate checks the fields a deploy must have.
func (d *Deploy) Validate() error {
	if err := ValidateID(d.ID); err != nil {
		return fmt.Errorf("'id': %w", err)
	}
	if d.Service == "" {
		return errors.New("'service' is required")
	}
	if d.StartedAt.IsZero() {
		return errors.New("'started_at' is required")
	}
	return nil
}

// EventKind names what an Event records.
type EventKind string

const (
	EventIncidentOpened   EventKind = "incident.opened"
	EventIncidentExtended EventKind = "incident.extended"
	EventIncidentResolved EventKind = "incident.resolved"
	EventIncidentExpired  EventKind = "incident.expired"
	EventAlert            EventKind = "alert" // recorded only; opened nothing
	EventDeploy           EventKind = "deploy"
	// EventNote is a note people add to an incident's timeline: who paged
	// whom, what was tried. Its time is when the noted thing happened.
	EventNote EventKind = "note"
)

// Event is one entry in the evidence's events.jsonl and in the replica sync
// log: what happened, when, from where, with the raw payload.
type Event struct {
	Kind       EventKind `json:"kind"`
	Time       time.Time `json:"time"`
	Source     string    `json:"source"`
	IncidentID string    `json:"incident_id,omitempty"`
	DeployID   string    `json:"deploy_id,omitempty"`
	Incident   *Incident `json:"incident,omitempty"`
	Deploy     *Deploy   `json:"deploy,omitempty"`
	// Note is the note of an EventNote.
	Note *Note `json:"note,omitempty"`
	// CollectorID is the replica that recorded the event.
	CollectorID string `json:"collector_id,omitempty"`
	// Payload is the received body (JSON), kept as evidence.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Limits of a note.
const (
	// MaxNoteText bounds a note's text, in bytes.
	MaxNoteText = 8 << 10
	// MaxNoteAuthor bounds a note's author, in bytes.
	MaxNoteAuthor = 256
)

// Note is the human context of an incident's timeline.
type Note struct {
	Text string `json:"text"`
	// Author is who wrote it, when given.
	Author string `json:"author,omitempty"`
}

// NoteError says what is wrong with a member of a note.
type NoteError struct {
	// Field is "text" or "author".
	Field string
	// Missing or TooLong say what is wrong; else the member holds
	// something it must not (Msg says what).
	Missing, TooLong bool
	Msg              string
}

func (e *NoteError) Error() string { return "'" + e.Field + "' " + e.Msg }

// Validate checks a note: text required, both members within their limits,
// valid UTF-8 without control characters (a new line and a tab are allowed
// in the text). Errors are *NoteError.
func (n *Note) Validate() error {
	if strings.TrimSpace(n.Text) == "" {
		return &NoteError{Field: "text", Missing: true, Msg: "is required"}
	}
	if err := checkNoteText("text", n.Text, MaxNoteText, true); err != nil {
		return err
	}
	return checkNoteText("author", n.Author, MaxNoteAuthor, false)
}

func checkNoteText(field, s string, limit int, multiline bool) error {
	if len(s) > limit {
		return &NoteError{Field: field, TooLong: true,
			Msg: fmt.Sprintf("is %d bytes long, more than the %d allowed", len(s), limit)}
	}
	if !utf8.ValidString(s) {
		return &NoteError{Field: field, Msg: "is not valid UTF-8"}
	}
	for _, r := range s {
		if (r < 0x20 && (!multiline || (r != '\n' && r != '\t'))) || r == 0x7f {
			return &NoteError{Field: field, Msg: fmt.Sprintf("holds the control character %U", r)}
		}
	}
	return nil
}

// NoteID returns the ID of the note an EventNote records: its time and a
// digest of its incident, author and text, so that the same note sent
// twice, to any replica, has one ID. IDs sort by the note's time.
func NoteID(ev *Event) string {
	var author, text string
	if ev.Note != nil {
		author, text = ev.Note.Author, ev.Note.Text
	}
	sum := sha256.Sum256([]byte(ev.IncidentID + "\x00" + author + "\x00" + text))
	return fmt.Sprintf("%020d-%x", ev.Time.UnixNano(), sum[:8])
}
