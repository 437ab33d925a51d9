package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// resolvedIncident is the scenario's incident.json.
func resolvedIncident(e *evidence) *incident.Incident {
	for _, ev := range e.events {
		if ev.Kind == incident.EventIncidentResolved {
			return ev.Incident
		}
	}
	panic("scenario has no resolved event")
}

func writeJSONL[T any](t *testing.T, path string, items []T, marshal func(T) ([]byte, error)) {
	t.Helper()
	var buf bytes.Buffer
	for i, it := range items {
		b, err := marshal(it)
		require.NoError(t, err)
		buf.Write(b)
		buf.WriteByte('\n')
		if i == 0 {
			buf.WriteString("\n  \n") // blank lines are skipped
		}
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// writeDir writes the scenario as `evidencectl get` does.
func writeDir(t *testing.T, dir string, e *evidence) {
	t.Helper()
	writeJSONL(t, filepath.Join(dir, bundle.TracesJSONFile), e.traces, (&ptrace.JSONMarshaler{}).MarshalTraces)
	writeJSONL(t, filepath.Join(dir, bundle.LogsJSONFile), e.logs, (&plog.JSONMarshaler{}).MarshalLogs)
	writeJSONL(t, filepath.Join(dir, bundle.MetricsJSONFile), e.metrics, (&pmetric.JSONMarshaler{}).MarshalMetrics)
	writeJSONL(t, filepath.Join(dir, bundle.EventsFile), e.events, func(ev incident.Event) ([]byte, error) { return json.Marshal(ev) })
	writeJSON(t, filepath.Join(dir, bundle.IncidentFile), resolvedIncident(e))
}

// scenarioParts splits the scenario over two collectors with two parts
// each, in both encodings; both collectors carry every event.
func scenarioParts(t *testing.T, e *evidence) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for c, enc := range map[string]string{"collector-a": bundle.EncodingJSON, "collector-b": bundle.EncodingProto} {
		for seq := 1; seq <= 2; seq++ {
			// Batch i goes to collector i%2, part 1 + i/2%2.
			key, data, _ := scenarioPart(t, e, c, enc, seq, func(i int) bool { return (i%2 == 0) == (c == "collector-a") && 1+i/2%2 == seq })
			out[key] = data
		}
	}
	return out
}

// scenarioPart writes part seq of collector in encoding enc, holding the
// scenario's batches i for which mine(i) holds and, in part 1, every
// event. It returns the part's key, its bytes and the spans it holds.
func scenarioPart(t *testing.T, e *evidence, collector, enc string, seq int, mine func(i int) bool) (key string, data []byte, spans int64) {
	t.Helper()
	w, err := bundle.NewPartWriter(bundle.PartInfo{
		IncidentID: scenarioIncident, CollectorID: collector, Seq: seq, Encoding: enc,
		CreatedAt: at(10, 20), Window: bundle.Window{Start: at(9, 35), End: at(10, 22)},
	})
	require.NoError(t, err)
	for i, td := range e.traces {
		if mine(i) {
			require.NoError(t, w.AddTraces(td))
			spans += int64(td.SpanCount())
		}
	}
	for i, ld := range e.logs {
		if mine(i) {
			require.NoError(t, w.AddLogs(ld))
		}
	}
	for i, md := range e.metrics {
		if mine(i) {
			require.NoError(t, w.AddMetrics(md))
		}
	}
	if seq == 1 {
		for _, ev := range e.events {
			require.NoError(t, w.AddEvent(ev))
		}
	}
	data, _, err = w.Finish()
	require.NoError(t, err)
	key, err = bundle.PartKey(scenarioIncident, collector, seq)
	require.NoError(t, err)
	return key, data, spans
}

func want(t *testing.T) *Timeline {
	t.Helper()
	e := scenario()
	in := e.input()
	in.Incident = resolvedIncident(e)
	tl, err := Build(in)
	require.NoError(t, err)
	return tl
}

func TestFromDirJSONL(t *testing.T) {
	dir := t.TempDir()
	writeDir(t, dir, scenario())
	in, err := FromDir(dir)
	require.NoError(t, err)
	assert.Equal(t, scenarioIncident, in.IncidentID)
	got, err := Build(in)
	require.NoError(t, err)
	assert.Equal(t, want(t), got)
	require.NotEmpty(t, got.Suspects)
	assert.Equal(t, "D2", got.Suspects[0].Deploy.ID)

	// The sources can be run again.
	again, err := Build(in)
	require.NoError(t, err)
	assert.Equal(t, got, again)
}

// TestReadLinesSlices reads a JSON Lines file in slices of every size:
// every line is read once, by the slice it starts in, whatever the slice
// boundaries cut.
func TestReadLinesSlices(t *testing.T) {
	p := filepath.Join(t.TempDir(), bundle.EventsFile)
	var lines []string
	var data []byte
	for i := range 12 {
		l := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i*3))
		lines = append(lines, l)
		data = append(data, l...)
		data = append(data, '\n')
		if i%4 == 1 {
			data = append(data, "  \n\n"...) // blank lines are skipped
		}
	}
	data = append(data, `{"last":"no newline"}`...)
	lines = append(lines, `{"last":"no newline"}`)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	for size := int64(1); size <= int64(len(data))+1; size++ {
		var got []string
		for from := int64(0); from < int64(len(data)); from += size {
			require.NoError(t, readLines(p, from, from+size, func(b []byte) error {
				got = append(got, string(b))
				return nil
			}))
		}
		require.Equal(t, lines, got, "slices of %d bytes", size)
	}
	// A decoding error names the file and the line.
	err := readLines(p, 0, math.MaxInt64, func(b []byte) error {
		if strings.Contains(string(b), `"n":5`) {
			return bundle.RecordError{Err: errors.New("bad")}
		}
		return nil
	})
	assert.EqualError(t, err, "events.jsonl line 8: bad")
}

// TestFromDirSlices builds the same timeline from a traces.jsonl read in
// many slices.
func TestFromDirSlices(t *testing.T) {
	dir := t.TempDir()
	writeDir(t, dir, scenario())
	p := filepath.Join(dir, bundle.TracesJSONFile)
	st, err := os.Stat(p)
	require.NoError(t, err)
	in, err := FromDir(dir)
	require.NoError(t, err)
	// events, logs, metrics: one slice each
	sources := append([]Source{}, in.Sources[:3]...)
	const slice = 4096
	for from := int64(0); from < st.Size(); from += slice {
		sources = append(sources, func(s Sink) error {
			return readLines(p, from, from+slice, func(b []byte) error { return tracesLines.feed(s, b) })
		})
	}
	require.Greater(t, len(sources), 10)
	in.Sources = sources
	got, err := Build(in)
	require.NoError(t, err)
	assert.Equal(t, want(t), got)
}

// TestFromDirIncident finds the incident record where `evidencectl get`
// may have put it.
func TestFromDirIncident(t *testing.T) {
	e := scenario()
	inc := resolvedIncident(e)
	rawIncident := filepath.Join(evidencedir.RawDir, "incidents", scenarioIncident, bundle.IncidentFile)
	tests := []struct {
		name    string
		files   map[string]any // relative path: JSON content
		wantID  string
		wantInc bool
		wantErr string
	}{
		{name: "none", files: map[string]any{}},
		{name: "merged manifest", wantID: scenarioIncident, wantInc: true, files: map[string]any{
			evidencedir.ManifestFile: map[string]any{"format": 1, "incident_id": scenarioIncident, "incident": inc},
		}},
		{name: "merged manifest id and raw incident.json", wantID: scenarioIncident, wantInc: true, files: map[string]any{
			evidencedir.ManifestFile: map[string]any{"format": 1, "incident_id": scenarioIncident},
			rawIncident:              inc,
			filepath.Join(evidencedir.RawDir, "incidents", "INC-2", bundle.IncidentFile): map[string]any{"id": "INC-2"},
		}},
		{name: "the only raw incident.json", wantID: scenarioIncident, wantInc: true, files: map[string]any{
			rawIncident: inc,
		}},
		{name: "merged manifest id only", wantID: scenarioIncident, files: map[string]any{
			evidencedir.ManifestFile: map[string]any{"incident_id": scenarioIncident},
		}},
		{name: "invalid merged manifest", wantErr: "merged-manifest.json: invalid JSON", files: map[string]any{
			evidencedir.ManifestFile: []int{1},
		}},
		{name: "invalid incident in merged manifest", wantErr: "'incident': 'status'", files: map[string]any{
			evidencedir.ManifestFile: map[string]any{"incident": map[string]any{"id": "INC-1"}},
		}},
		{name: "invalid raw incident.json", wantErr: "incident.json: invalid incident", files: map[string]any{
			rawIncident: map[string]any{"id": scenarioIncident},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJSONL(t, filepath.Join(dir, bundle.EventsFile), e.events[:1], func(ev incident.Event) ([]byte, error) { return json.Marshal(ev) })
			for name, v := range tt.files {
				writeJSON(t, filepath.Join(dir, name), v)
			}
			in, err := FromDir(dir)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, bundle.ErrCorrupt)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantID, in.IncidentID)
			if tt.wantInc {
				assert.Equal(t, inc, in.Incident)
			} else {
				assert.Nil(t, in.Incident)
			}
		})
	}
}

func TestFromDirPartial(t *testing.T) {
	dir := t.TempDir()
	e := scenario()
	writeJSONL(t, filepath.Join(dir, bundle.EventsFile), e.events, func(ev incident.Event) ([]byte, error) { return json.Marshal(ev) })
	in, err := FromDir(dir)
	require.NoError(t, err)
	assert.Len(t, in.Sources, 1)
	assert.Nil(t, in.Incident)
	tl, err := Build(in)
	require.NoError(t, err)
	assert.Len(t, tl.Events, 6)
	assert.Nil(t, tl.Range)
	require.NotNil(t, tl.Incident, "the only incident in the events")
	assert.Equal(t, scenarioIncident, tl.Incident.ID)
}

func TestFromDirRawParts(t *testing.T) {
	dir := t.TempDir()
	e := scenario()
	for key, data := range scenarioParts(t, e) {
		p := filepath.Join(dir, evidencedir.RawDir, filepath.FromSlash(key))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	ik, err := bundle.IncidentKey(scenarioIncident)
	require.NoError(t, err)
	writeJSON(t, filepath.Join(dir, evidencedir.RawDir, filepath.FromSlash(ik)), resolvedIncident(e))
	// Another incident's record without parts is not taken.
	writeJSON(t, filepath.Join(dir, evidencedir.RawDir, "incidents", "INC-0", bundle.IncidentFile), map[string]any{"id": "INC-0"})

	in, err := FromDir(dir)
	require.NoError(t, err)
	got, err := Build(in)
	require.NoError(t, err)
	assert.Equal(t, want(t), got)
}

func TestFromParts(t *testing.T) {
	var parts []*bundle.Part
	for _, data := range scenarioParts(t, scenario()) {
		p, err := bundle.ReadPart(bytes.NewReader(data))
		require.NoError(t, err)
		parts = append(parts, p)
	}
	in := FromParts(parts...)
	assert.Equal(t, scenarioIncident, in.IncidentID)
	got, err := Build(in)
	require.NoError(t, err)
	w := want(t)
	// Without incident.json the incident is the newest snapshot in the
	// events: the same here.
	assert.Equal(t, w, got)

	empty, err := Build(FromParts())
	require.NoError(t, err)
	assert.Empty(t, empty.Events)
}

func TestFromStore(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	e := scenario()
	put := func(key string, data []byte) {
		require.NoError(t, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
	}
	for key, data := range scenarioParts(t, e) {
		put(key, data)
	}
	ik, err := bundle.IncidentKey(scenarioIncident)
	require.NoError(t, err)
	b, err := json.Marshal(resolvedIncident(e))
	require.NoError(t, err)
	put(ik, b)
	mk, err := bundle.ManifestKey(scenarioIncident, "collector-a")
	require.NoError(t, err)
	put(mk, []byte(`{"not": "read"}`))
	// Another incident's evidence is not read.
	other, err := bundle.PartKey("INC-2", "collector-a", 1)
	require.NoError(t, err)
	put(other, []byte("garbage"))

	in, err := FromStore(ctx, st, scenarioIncident)
	require.NoError(t, err)
	got, err := Build(in)
	require.NoError(t, err)
	assert.Equal(t, want(t), got)

	t.Run("missing incident", func(t *testing.T) {
		_, err := FromStore(ctx, st, "INC-404")
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorContains(t, err, `incident "INC-404" has no evidence`)
	})
	t.Run("incident.json only", func(t *testing.T) {
		k, err := bundle.IncidentKey("INC-3")
		require.NoError(t, err)
		put(k, []byte(`{"id":"INC-3","status":"open","source":"generic","started_at":"2026-03-02T10:00:00Z"}`))
		in, err := FromStore(ctx, st, "INC-3")
		require.NoError(t, err)
		tl, err := Build(in)
		require.NoError(t, err)
		require.NotNil(t, tl.Incident)
		assert.Len(t, tl.Events, 1, "the opening, from incident.json")
	})
	t.Run("invalid id", func(t *testing.T) {
		_, err := FromStore(ctx, st, "../etc")
		require.ErrorIs(t, err, incident.ErrInvalidID)
	})
	t.Run("corrupt part", func(t *testing.T) {
		k, err := bundle.PartKey("INC-4", "c1", 1)
		require.NoError(t, err)
		put(k, []byte("not zstd"))
		in, err := FromStore(ctx, st, "INC-4")
		require.NoError(t, err, "parts are read by Build")
		_, err = Build(in)
		require.ErrorIs(t, err, bundle.ErrCorrupt)
		assert.ErrorContains(t, err, "evidencectl verify")
	})
	t.Run("invalid incident.json", func(t *testing.T) {
		k, err := bundle.IncidentKey("INC-5")
		require.NoError(t, err)
		put(k, []byte(`{"id":"INC-5"}`))
		_, err = FromStore(ctx, st, "INC-5")
		require.ErrorIs(t, err, bundle.ErrCorrupt)
		assert.ErrorContains(t, err, "'status'")
	})
}

func TestFromDirErrors(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		_, err := FromDir(filepath.Join(t.TempDir(), "nope"))
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		_, err := FromDir(p)
		assert.ErrorContains(t, err, "is not a directory")
	})
	t.Run("empty", func(t *testing.T) {
		_, err := FromDir(t.TempDir())
		assert.ErrorContains(t, err, "no evidence in")
	})
	t.Run("bad line", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.TracesJSONFile),
			[]byte(`{"resourceSpans":[]}`+"\n"+`{"resourceSpans": [`+"\n"), 0o644))
		in, err := FromDir(dir)
		require.NoError(t, err)
		_, err = Build(in)
		assert.ErrorContains(t, err, "reading traces: traces.jsonl line 2:")
	})
	t.Run("bad event", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.EventsFile), []byte(`{"time": "yesterday"}`), 0o644))
		in, err := FromDir(dir)
		require.NoError(t, err)
		_, err = Build(in)
		assert.ErrorContains(t, err, "reading events: events.jsonl line 1:")
	})
	t.Run("file removed before reading", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, bundle.LogsJSONFile)
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		in, err := FromDir(dir)
		require.NoError(t, err)
		require.NoError(t, os.Remove(p))
		_, err = Build(in)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("invalid incident.json", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.EventsFile), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.IncidentFile), []byte(`{"id": 1}`), 0o644))
		_, err := FromDir(dir)
		require.ErrorIs(t, err, bundle.ErrCorrupt)
		assert.ErrorContains(t, err, "incident.json")
	})
	t.Run("several incidents", func(t *testing.T) {
		dir := t.TempDir()
		for _, id := range []string{"INC-1", "INC-2"} {
			w, err := bundle.NewPartWriter(bundle.PartInfo{
				IncidentID: id, CollectorID: "c", Seq: 1, Encoding: bundle.EncodingJSON, CreatedAt: at(10, 0),
			})
			require.NoError(t, err)
			data, _, err := w.Finish()
			require.NoError(t, err)
			key, err := bundle.PartKey(id, "c", 1)
			require.NoError(t, err)
			p := filepath.Join(dir, filepath.FromSlash(key))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, data, 0o644))
		}
		_, err := FromDir(dir)
		assert.ErrorContains(t, err, "several incidents (INC-1, INC-2)")
	})
	t.Run("corrupt raw part", func(t *testing.T) {
		dir := t.TempDir()
		parts := scenarioParts(t, scenario())
		good := parts[slices.Sorted(maps.Keys(parts))[0]]
		// Outside the store layout, the part is read at once to learn
		// its incident: only as far as part.json, so the part's zstd
		// frame header is broken, which that read finds wherever the
		// compressor put the blocks.
		data := bytes.Clone(good)
		data[4] ^= 0xff
		p := filepath.Join(dir, evidencedir.RawDir, "c", "part-000001.tar.zst")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
		_, err := FromDir(dir)
		require.ErrorIs(t, err, bundle.ErrCorrupt)
		assert.ErrorContains(t, err, "part-000001.tar.zst")

		// In the store layout, Build reads it whole and finds a flipped
		// byte in the middle.
		require.NoError(t, os.Remove(p))
		data = bytes.Clone(good)
		data[len(data)/2] ^= 0xff
		key, err := bundle.PartKey(scenarioIncident, "c", 1)
		require.NoError(t, err)
		np := filepath.Join(dir, evidencedir.RawDir, filepath.FromSlash(key))
		require.NoError(t, os.MkdirAll(filepath.Dir(np), 0o755))
		require.NoError(t, os.WriteFile(np, data, 0o644))
		in, err := FromDir(dir)
		require.NoError(t, err)
		_, err = Build(in)
		require.ErrorIs(t, err, bundle.ErrCorrupt)
		assert.ErrorContains(t, err, "part-000001.tar.zst")
	})
	t.Run("a part of another incident in the layout of this one", func(t *testing.T) {
		dir := t.TempDir()
		w, err := bundle.NewPartWriter(bundle.PartInfo{
			IncidentID: "INC-2", CollectorID: "c", Seq: 1, Encoding: bundle.EncodingJSON, CreatedAt: at(10, 0),
		})
		require.NoError(t, err)
		data, _, err := w.Finish()
		require.NoError(t, err)
		key, err := bundle.PartKey("INC-1", "c", 1)
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(key))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
		in, err := FromDir(dir)
		require.NoError(t, err)
		_, err = Build(in)
		assert.ErrorContains(t, err, "belongs to incident INC-2, not INC-1")
	})
}

func TestJSONLLongLine(t *testing.T) {
	// A line longer than bufio's default 64 KiB is read whole.
	long := `{"kind":"alert","time":"2026-03-02T10:00:00Z","source":"` + string(bytes.Repeat([]byte("x"), 200<<10)) + `"}`
	var n int
	for ev, err := range jsonl(bytes.NewReader([]byte(long)), "events.jsonl", decodeEvent) {
		require.NoError(t, err)
		assert.Equal(t, at(10, 0), ev.Time.UTC())
		n++
	}
	assert.Equal(t, 1, n)
}
