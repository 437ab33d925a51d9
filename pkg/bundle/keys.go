package bundle

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// IncidentsPrefix is the key prefix under which all incidents live.
const IncidentsPrefix = "incidents/"

// Fixed object names inside an incident's directory.
const (
	IncidentFile  = "incident.json"
	ManifestFile  = "manifest.json"
	collectorsDir = "collectors/"
	partPrefix    = "part-"
	partSuffix    = ".tar.zst"
	partDigits    = 6
)

// MaxSeq is the largest part number: part names have six digits, so key
// order is part order.
const MaxSeq = 999999

// ErrUnknownKey is returned (wrapped) by ParseKey for a key that is not part
// of the bundle layout.
var ErrUnknownKey = errors.New("key is not part of the bundle layout")

// KeyKind says which object of the layout a key names.
type KeyKind string

// Kinds of key.
const (
	KindIncident KeyKind = "incident"
	KindPart     KeyKind = "part"
	KindManifest KeyKind = "manifest"
)

// Key is a parsed object key.
type Key struct {
	Kind       KeyKind
	IncidentID string
	// CollectorID is empty for KindIncident.
	CollectorID string
	// Part is the part number for KindPart, else 0.
	Part int
}

func checkIncident(id string) error {
	if err := incident.ValidateID(id); err != nil {
		return fmt.Errorf("incident id: %w", err)
	}
	return nil
}

func checkCollector(id string) error {
	if err := incident.ValidateID(id); err != nil {
		return fmt.Errorf("collector id: %w", err)
	}
	return nil
}

func checkSeq(n int) error {
	if n < 1 || n > MaxSeq {
		return fmt.Errorf("part number %d out of range [1, %d]", n, MaxSeq)
	}
	return nil
}

// IncidentPrefix returns "incidents/<id>/", the prefix of every object of
// the incident.
func IncidentPrefix(id string) (string, error) {
	if err := checkIncident(id); err != nil {
		return "", err
	}
	return IncidentsPrefix + id + "/", nil
}

// IncidentKey returns the key of the incident's incident.json.
func IncidentKey(id string) (string, error) {
	p, err := IncidentPrefix(id)
	if err != nil {
		return "", err
	}
	return p + IncidentFile, nil
}

// CollectorsPrefix returns "incidents/<id>/collectors/", the prefix of every
// collector's parts and manifest.
func CollectorsPrefix(id string) (string, error) {
	p, err := IncidentPrefix(id)
	if err != nil {
		return "", err
	}
	return p + collectorsDir, nil
}

// CollectorPrefix returns "incidents/<id>/collectors/<collector>/".
func CollectorPrefix(id, collector string) (string, error) {
	p, err := CollectorsPrefix(id)
	if err != nil {
		return "", err
	}
	if err := checkCollector(collector); err != nil {
		return "", err
	}
	return p + collector + "/", nil
}

// PartName returns the object name of part n, e.g. "part-000001.tar.zst".
func PartName(n int) (string, error) {
	if err := checkSeq(n); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%0*d%s", partPrefix, partDigits, n, partSuffix), nil
}

// PartKey returns the key of part n written by collector for incident id.
func PartKey(id, collector string, n int) (string, error) {
	p, err := CollectorPrefix(id, collector)
	if err != nil {
		return "", err
	}
	name, err := PartName(n)
	if err != nil {
		return "", err
	}
	return p + name, nil
}

// ManifestKey returns the key of collector's manifest for incident id.
func ManifestKey(id, collector string) (string, error) {
	p, err := CollectorPrefix(id, collector)
	if err != nil {
		return "", err
	}
	return p + ManifestFile, nil
}

// parsePartName returns the number of a part object name, or false.
func parsePartName(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, partPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, partSuffix)
	if !ok || len(digits) != partDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || checkSeq(n) != nil {
		return 0, false
	}
	return n, true
}

// ParseKey parses a key of the bundle layout. IDs are validated with
// incident.ValidateID (errors wrap incident.ErrInvalidID); well-formed keys
// that name no object of the layout give an error wrapping ErrUnknownKey.
func ParseKey(key string) (Key, error) {
	rest, ok := strings.CutPrefix(key, IncidentsPrefix)
	if !ok {
		return Key{}, fmt.Errorf("key %q: %w: does not start with %q", key, ErrUnknownKey, IncidentsPrefix)
	}
	parts := strings.Split(rest, "/")
	if err := checkIncident(parts[0]); err != nil {
		return Key{}, fmt.Errorf("key %q: %w", key, err)
	}
	k := Key{IncidentID: parts[0]}
	switch {
	case len(parts) == 2 && parts[1] == IncidentFile:
		k.Kind = KindIncident
		return k, nil
	case len(parts) == 4 && parts[1]+"/" == collectorsDir:
		if err := checkCollector(parts[2]); err != nil {
			return Key{}, fmt.Errorf("key %q: %w", key, err)
		}
		k.CollectorID = parts[2]
		if parts[3] == ManifestFile {
			k.Kind = KindManifest
			return k, nil
		}
		if n, ok := parsePartName(parts[3]); ok {
			k.Kind = KindPart
			k.Part = n
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("key %q: %w", key, ErrUnknownKey)
}

// Notes live beside the collectors' evidence, one immutable object per
// note: incidents/<id>/notes/<note-id>.json, holding the incident.Event
// that recorded it. They are not the collectors' evidence, so ParseKey
// does not name them (listings and verification pass them by); notes are
// read with NotesPrefix and ParseNoteKey.
const (
	notesDir   = "notes/"
	noteSuffix = ".json"
	// MaxNoteSize bounds a note object.
	MaxNoteSize = 64 << 10
)

// NotesPrefix returns "incidents/<id>/notes/", the prefix of the
// incident's notes.
func NotesPrefix(id string) (string, error) {
	p, err := IncidentPrefix(id)
	if err != nil {
		return "", err
	}
	return p + notesDir, nil
}

// NoteKey returns the key of note (an incident.NoteID) of incident id.
func NoteKey(id, note string) (string, error) {
	p, err := NotesPrefix(id)
	if err != nil {
		return "", err
	}
	if err := incident.ValidateID(note); err != nil {
		return "", fmt.Errorf("note id: %w", err)
	}
	return p + note + noteSuffix, nil
}

// ParseNoteKey returns the incident and note of a note key, or an error
// wrapping ErrUnknownKey for any other key.
func ParseNoteKey(key string) (id, note string, err error) {
	rest, ok := strings.CutPrefix(key, IncidentsPrefix)
	if !ok {
		return "", "", fmt.Errorf("key %q: %w", key, ErrUnknownKey)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1]+"/" != notesDir {
		return "", "", fmt.Errorf("key %q: %w", key, ErrUnknownKey)
	}
	note, ok = strings.CutSuffix(parts[2], noteSuffix)
	if !ok || checkIncident(parts[0]) != nil || incident.ValidateID(note) != nil {
		return "", "", fmt.Errorf("key %q: %w", key, ErrUnknownKey)
	}
	return parts[0], note, nil
}
