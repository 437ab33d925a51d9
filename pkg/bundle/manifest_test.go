package bundle

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testRef(seq int, c Counts) PartRef {
	name, _ := PartName(seq)
	return PartRef{Name: name, Seq: seq, Size: 100, SHA256: strings.Repeat("ab", 32), Counts: c}
}

func TestManifestBuildAndParse(t *testing.T) {
	m, err := NewManifest("INC-42", "collector-a", testWindow)
	require.NoError(t, err)
	assert.Equal(t, 1, m.NextSeq())

	data, info := newTestData().write(t, EncodingJSON)
	ref, err := NewPartRef(info, data)
	require.NoError(t, err)
	assert.Equal(t, "part-000001.tar.zst", ref.Name)
	assert.Equal(t, int64(len(data)), ref.Size)
	assert.Len(t, ref.SHA256, 64)
	require.NoError(t, m.AddPart(ref))
	require.NoError(t, m.AddPart(testRef(3, Counts{Spans: 5, Events: 1})))
	assert.Equal(t, 4, m.NextSeq())
	assert.Equal(t, info.Counts.Add(Counts{Spans: 5, Events: 1}), m.Totals)
	assert.Equal(t, info.TimeRange, m.TimeRange())

	require.ErrorContains(t, m.AddPart(testRef(3, Counts{})), "greater than the last listed part 3")
	require.ErrorContains(t, m.AddPart(testRef(2, Counts{})), "greater than")
	bad := testRef(4, Counts{})
	bad.Name = "part-4.tar.zst"
	require.ErrorContains(t, m.AddPart(bad), "'name'")

	m.Complete = true
	m.UpdatedAt = testCreated
	require.ErrorContains(t, m.AddPart(testRef(9, Counts{})), "complete")
	b, err := m.Marshal()
	require.NoError(t, err)
	got, err := ParseManifest(b)
	require.NoError(t, err)
	assert.Equal(t, m, got)

	empty, err := NewManifest("INC-42", "collector-a", Window{})
	require.NoError(t, err)
	b, err = empty.Marshal()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"parts": []`)
}

func TestNewManifestRejects(t *testing.T) {
	_, err := NewManifest("../x", "c", testWindow)
	require.ErrorContains(t, err, "'incident_id'")
	_, err = NewManifest("i", "a/b", testWindow)
	require.ErrorContains(t, err, "'collector_id'")
	_, err = NewManifest("i", "c", Window{Start: testStart, End: testStart.Add(-time.Second)})
	require.ErrorContains(t, err, "'window.end'")
}

func TestParseManifestRejects(t *testing.T) {
	good := &Manifest{
		Format: FormatVersion, IncidentID: "INC-42", CollectorID: "c1", Window: testWindow,
		Parts:  []PartRef{testRef(1, Counts{Spans: 2}), testRef(2, Counts{LogRecords: 3})},
		Totals: Counts{Spans: 2, LogRecords: 3},
	}
	b, err := good.Marshal()
	require.NoError(t, err)
	_, err = ParseManifest(b)
	require.NoError(t, err)

	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		f(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return string(out)
	}
	part := func(m map[string]any, i int) map[string]any { return m["parts"].([]any)[i].(map[string]any) }
	tests := []struct {
		name, data, want string
	}{
		{"not json", "{", "not valid JSON"},
		{"trailing data", string(b) + "{}", "data after"},
		{"format", edit(func(m map[string]any) { m["format"] = 7 }), "'format' is 7"},
		{"incident id", edit(func(m map[string]any) { m["incident_id"] = "../../etc" }), "'incident_id'"},
		{"collector id", edit(func(m map[string]any) { m["collector_id"] = "" }), "'collector_id'"},
		{"duplicate seq", edit(func(m map[string]any) { part(m, 1)["seq"] = 1; part(m, 1)["name"] = "part-000001.tar.zst" }), "'parts[1]': seq 1 does not follow 1"},
		{"name mismatch", edit(func(m map[string]any) { part(m, 0)["name"] = "../part-000001.tar.zst" }), "'parts[0]'"},
		{"seq zero", edit(func(m map[string]any) { part(m, 0)["seq"] = 0 }), "'seq'"},
		{"bad hash", edit(func(m map[string]any) { part(m, 0)["sha256"] = strings.Repeat("G", 64) }), "'sha256'"},
		{"zero size", edit(func(m map[string]any) { part(m, 0)["size"] = 0 }), "'size'"},
		{"negative count", edit(func(m map[string]any) { part(m, 0)["counts"].(map[string]any)["events"] = -1 }), "'counts'"},
		{"totals", edit(func(m map[string]any) { m["totals"].(map[string]any)["spans"] = 3 }), "'totals'"},
		{"too large", `{"x":"` + strings.Repeat("a", MaxManifestSize) + `"}`, "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.data))
			require.ErrorContains(t, err, tt.want)
		})
	}
}
