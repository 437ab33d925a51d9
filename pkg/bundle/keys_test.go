package bundle

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestKeyHelpers(t *testing.T) {
	tests := []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"incident prefix", func() (string, error) { return IncidentPrefix("INC-1") }, "incidents/INC-1/"},
		{"incident", func() (string, error) { return IncidentKey("INC-1") }, "incidents/INC-1/incident.json"},
		{"collectors", func() (string, error) { return CollectorsPrefix("INC-1") }, "incidents/INC-1/collectors/"},
		{"collector", func() (string, error) { return CollectorPrefix("INC-1", "c1") }, "incidents/INC-1/collectors/c1/"},
		{"part 1", func() (string, error) { return PartKey("INC-1", "c1", 1) }, "incidents/INC-1/collectors/c1/part-000001.tar.zst"},
		{"part max", func() (string, error) { return PartKey("a.b_c", "x-y", MaxSeq) }, "incidents/a.b_c/collectors/x-y/part-999999.tar.zst"},
		{"manifest", func() (string, error) { return ManifestKey("INC-1", "c1") }, "incidents/INC-1/collectors/c1/manifest.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, "incidents/", IncidentsPrefix)
}

func TestKeyHelpersReject(t *testing.T) {
	long := strings.Repeat("a", incident.MaxIDLength+1)
	tests := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"incident traversal", func() (string, error) { return IncidentKey("../x") }, "incident id"},
		{"incident dotdot", func() (string, error) { return IncidentKey("..") }, "incident id"},
		{"incident slash", func() (string, error) { return IncidentPrefix("a/b") }, "incident id"},
		{"incident empty", func() (string, error) { return CollectorsPrefix("") }, "incident id"},
		{"incident too long", func() (string, error) { return IncidentKey(long) }, "incident id"},
		{"collector traversal", func() (string, error) { return ManifestKey("INC-1", "../x") }, "collector id"},
		{"collector slash", func() (string, error) { return PartKey("INC-1", "a/b", 1) }, "collector id"},
		{"collector dot", func() (string, error) { return CollectorPrefix("INC-1", ".") }, "collector id"},
		{"collector backslash", func() (string, error) { return ManifestKey("INC-1", `a\b`) }, "collector id"},
		{"part zero", func() (string, error) { return PartKey("INC-1", "c1", 0) }, "part number 0"},
		{"part negative", func() (string, error) { return PartName(-1) }, "part number -1"},
		{"part too large", func() (string, error) { return PartKey("INC-1", "c1", MaxSeq+1) }, "part number 1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			require.ErrorContains(t, err, tt.want)
			assert.Empty(t, got)
		})
	}
	_, err := IncidentKey("../x")
	require.ErrorIs(t, err, incident.ErrInvalidID)
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		key  string
		want Key
	}{
		{"incidents/INC-1/incident.json", Key{Kind: KindIncident, IncidentID: "INC-1"}},
		{"incidents/INC-1/collectors/c1/manifest.json", Key{Kind: KindManifest, IncidentID: "INC-1", CollectorID: "c1"}},
		{"incidents/INC-1/collectors/c1/part-000001.tar.zst", Key{Kind: KindPart, IncidentID: "INC-1", CollectorID: "c1", Part: 1}},
		{"incidents/x/collectors/y/part-999999.tar.zst", Key{Kind: KindPart, IncidentID: "x", CollectorID: "y", Part: MaxSeq}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := ParseKey(tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseKeyRejects(t *testing.T) {
	tests := []struct {
		key     string
		invalid bool // else unknown
	}{
		{"incidents/../x/incident.json", true},
		{"incidents/../incident.json", true},
		{"incidents//incident.json", true},
		{"incidents/a/collectors/../manifest.json", true},
		{"incidents/a/collectors/../../b/manifest.json", false},
		{"incidents/a/collectors/a b/manifest.json", true},
		{"", false},
		{"incidents/", true},
		{"control/x", false},
		{"/incidents/a/incident.json", false},
		{"incidents/a", false},
		{"incidents/a/b", false},
		{"incidents/a/incident.json/x", false},
		{"incidents/a/collectors/b", false},
		{"incidents/a/collectors/b/", false},
		{"incidents/a/collectors/b/c/manifest.json", false},
		{"incidents/a/collectors/b/part-1.tar.zst", false},
		{"incidents/a/collectors/b/part-000000.tar.zst", false},
		{"incidents/a/collectors/b/part-0000001.tar.zst", false},
		{"incidents/a/collectors/b/part-+00001.tar.zst", false},
		{"incidents/a/collectors/b/part-000001.tar", false},
		{"incidents/a/collectors/b/.tmp-part-000001.tar.zst-x", false},
		{"incidents/a/other/b/manifest.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := ParseKey(tt.key)
			require.Error(t, err)
			if tt.invalid {
				require.ErrorIs(t, err, incident.ErrInvalidID)
			} else {
				require.ErrorIs(t, err, ErrUnknownKey)
			}
			assert.Contains(t, err.Error(), "key ")
		})
	}
}

func TestNoteKeys(t *testing.T) {
	key, err := NoteKey("INC-42", "01772445900000000000-0011223344556677")
	require.NoError(t, err)
	assert.Equal(t, "incidents/INC-42/notes/01772445900000000000-0011223344556677.json", key)
	id, note, err := ParseNoteKey(key)
	require.NoError(t, err)
	assert.Equal(t, "INC-42", id)
	assert.Equal(t, "01772445900000000000-0011223344556677", note)
	p, err := NotesPrefix("INC-42")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(key, p))

	// Notes are not the collectors' evidence: ParseKey does not name them.
	_, err = ParseKey(key)
	require.ErrorIs(t, err, ErrUnknownKey)

	_, err = NoteKey("../x", "n")
	require.ErrorIs(t, err, incident.ErrInvalidID)
	_, err = NoteKey("INC-42", "a/b")
	require.ErrorIs(t, err, incident.ErrInvalidID)
	for _, bad := range []string{
		"incidents/INC-42/notes/n.txt", "incidents/INC-42/notes/a/b.json", "incidents/INC-42/note/n.json",
		"incidents/../notes/n.json", "incidents/INC-42/notes/..json", "other/INC-42/notes/n.json",
		"incidents/INC-42/incident.json",
	} {
		_, _, err := ParseNoteKey(bad)
		assert.ErrorIs(t, err, ErrUnknownKey, bad)
	}
}
