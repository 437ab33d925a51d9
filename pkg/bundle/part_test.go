package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

var encodings = []string{EncodingJSON, EncodingProto}

func TestPartRoundTrip(t *testing.T) {
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			d := newTestData()
			data, info := d.write(t, enc)

			assert.Equal(t, FormatVersion, info.Format)
			assert.Equal(t, d.counts, info.Counts)
			assert.True(t, d.tr.Min.Equal(info.TimeRange.Min), "min %s", info.TimeRange.Min)
			assert.True(t, d.tr.Max.Equal(info.TimeRange.Max), "max %s", info.TimeRange.Max)
			files := signalFiles[enc]
			require.ElementsMatch(t, []string{EventsFile, files[0], files[1], files[2]}, mapKeys(info.Files))

			p, err := ReadPart(bytes.NewReader(data))
			require.NoError(t, err)
			require.NoError(t, p.Verify())
			assert.Equal(t, info, p.Info)

			var gotT []ptrace.Traces
			require.NoError(t, p.Traces(func(td ptrace.Traces) error { gotT = append(gotT, td); return nil }))
			require.Len(t, gotT, len(d.traces))
			for i := range gotT {
				assert.Equal(t, testgen.ProtoBytes(t, d.traces[i]), testgen.ProtoBytes(t, gotT[i]), "traces batch %d", i)
			}
			var gotL []plog.Logs
			require.NoError(t, p.Logs(func(ld plog.Logs) error { gotL = append(gotL, ld); return nil }))
			require.Len(t, gotL, len(d.logs))
			assert.Equal(t, testgen.ProtoBytes(t, d.logs[0]), testgen.ProtoBytes(t, gotL[0]))
			var gotM []pmetric.Metrics
			require.NoError(t, p.Metrics(func(md pmetric.Metrics) error { gotM = append(gotM, md); return nil }))
			require.Len(t, gotM, len(d.metrics))
			for i := range gotM {
				assert.Equal(t, testgen.ProtoBytes(t, d.metrics[i]), testgen.ProtoBytes(t, gotM[i]), "metrics batch %d", i)
			}
			var gotE []incident.Event
			require.NoError(t, p.Events(func(ev incident.Event) error { gotE = append(gotE, ev); return nil }))
			require.Len(t, gotE, 2)
			for i, ev := range gotE {
				assert.Equal(t, d.events[i].Kind, ev.Kind)
				assert.True(t, d.events[i].Time.Equal(ev.Time))
				assert.Equal(t, d.events[i].IncidentID, ev.IncidentID)
				assert.Equal(t, d.events[i].DeployID, ev.DeployID)
			}
			assert.JSONEq(t, string(d.events[0].Payload), string(gotE[0].Payload))
			require.NotNil(t, gotE[0].Incident)
			assert.Equal(t, "INC-42", gotE[0].Incident.ID)

			// Recount from the decoded data: part.json must agree.
			var c Counts
			for _, td := range gotT {
				c.Spans += int64(td.SpanCount())
			}
			for _, ld := range gotL {
				c.LogRecords += int64(ld.LogRecordCount())
			}
			for _, md := range gotM {
				c.DataPoints += int64(md.DataPointCount())
			}
			c.Events = int64(len(gotE))
			assert.Equal(t, info.Counts, c)
		})
	}
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPartLayout(t *testing.T) {
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			data, info := newTestData().write(t, enc)
			entries := untar(t, data)
			var names []string
			for _, e := range entries {
				names = append(names, e.hdr.Name)
				assert.Equal(t, byte(tar.TypeReg), e.hdr.Typeflag, e.hdr.Name)
				assert.Equal(t, int64(0o644), e.hdr.Mode, e.hdr.Name)
				assert.True(t, e.hdr.ModTime.Equal(testCreated.Truncate(time.Second)), "%s mtime %s", e.hdr.Name, e.hdr.ModTime)
				assert.Zero(t, e.hdr.Uid)
				assert.Zero(t, e.hdr.Gid)
			}
			files := signalFiles[enc]
			assert.Equal(t, []string{PartInfoFile, EventsFile, files[1], files[2], files[0]}, names)

			var onDisk PartInfo
			require.NoError(t, json.Unmarshal(entries[0].data, &onDisk))
			assert.Equal(t, info, onDisk)

			if enc == EncodingJSON {
				// OTLP File format: one request per line, each line a JSON object.
				lines := strings.Split(strings.TrimSuffix(string(entries[4].data), "\n"), "\n")
				require.Len(t, lines, 2)
				for _, l := range lines {
					assert.True(t, json.Valid([]byte(l)))
					assert.True(t, strings.HasPrefix(l, `{"resourceSpans":`), l[:40])
				}
				// The event's multi-line payload stays on one line.
				assert.Equal(t, 2, strings.Count(string(entries[1].data), "\n"))
			}
		})
	}
}

func TestPartSkipsEmptyBatches(t *testing.T) {
	w, err := NewPartWriter(testInfo(EncodingJSON, 3))
	require.NoError(t, err)
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty() // no spans
	require.NoError(t, w.AddTraces(td))
	require.NoError(t, w.AddTraces(ptrace.NewTraces()))
	require.NoError(t, w.AddLogs(plog.NewLogs()))
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("no-points")
	require.NoError(t, w.AddMetrics(md))
	assert.Zero(t, w.Size())
	require.NoError(t, w.AddEvent(incident.Event{Kind: incident.EventAlert, Time: testStart, Source: incident.SourceGrafana}))
	assert.Equal(t, Counts{Events: 1}, w.Counts())

	data, info, err := w.Finish()
	require.NoError(t, err)
	assert.Equal(t, []string{EventsFile}, mapKeys(info.Files))
	p, err := ReadPart(bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, p.Verify())
	assert.ElementsMatch(t, []string{PartInfoFile, EventsFile}, mapKeys(p.Data))
	calls := 0
	require.NoError(t, p.Traces(func(ptrace.Traces) error { calls++; return nil }))
	assert.Zero(t, calls)
}

// TestPartEncodedEvent: an event encoded once (for its hash, say) is
// written as those bytes, the same line AddEvent writes.
func TestPartEncodedEvent(t *testing.T) {
	ev := incident.Event{Kind: incident.EventAlert, Time: testStart, Source: incident.SourceGrafana, IncidentID: "INC-1", Payload: json.RawMessage(`{"a":1}`)}
	enc, err := EncodeEvent(ev)
	require.NoError(t, err)
	want, err := json.Marshal(ev)
	require.NoError(t, err)
	assert.Equal(t, want, enc.Line())

	lines := func(add func(*PartWriter) error) []byte {
		w, err := NewPartWriter(testInfo(EncodingJSON, 1))
		require.NoError(t, err)
		require.NoError(t, add(w))
		assert.Equal(t, Counts{Events: 1}, w.Counts())
		data, info, err := w.Finish()
		require.NoError(t, err)
		assert.True(t, testStart.Equal(info.TimeRange.Min), "the part's time range starts at the event")
		p, err := ReadPart(bytes.NewReader(data))
		require.NoError(t, err)
		require.NoError(t, p.Verify())
		return p.Data[EventsFile]
	}
	encoded := lines(func(w *PartWriter) error { return w.AddEncodedEvent(enc) })
	assert.Equal(t, string(enc.Line())+"\n", string(encoded))
	assert.Equal(t, lines(func(w *PartWriter) error { return w.AddEvent(ev) }), encoded)

	_, err = EncodeEvent(incident.Event{Kind: incident.EventAlert, Payload: json.RawMessage(`{bad`)})
	require.ErrorContains(t, err, "encoding alert event")
}

func TestPartEmpty(t *testing.T) {
	w, err := NewPartWriter(testInfo(EncodingProto, 1))
	require.NoError(t, err)
	data, info, err := w.Finish()
	require.NoError(t, err)
	assert.Empty(t, info.Files)
	assert.True(t, info.TimeRange.IsZero())
	p, err := ReadPart(bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, p.Verify())
	assert.Equal(t, Counts{}, p.Info.Counts)
	assert.NotContains(t, string(p.Data[PartInfoFile]), "time_range", "an empty part has no time range")
}

func TestPartDeterministic(t *testing.T) {
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			a, _ := newTestData().write(t, enc)
			b, _ := newTestData().write(t, enc)
			require.Equal(t, a, b, "same input, same bytes")

			// CreatedAt in another zone or with a monotonic clock reading is
			// the same instant and gives the same bytes.
			info := testInfo(enc, 1)
			info.CreatedAt = testCreated.In(time.FixedZone("X", 3600))
			c, _ := newTestData().writeInfo(t, info)
			require.Equal(t, a, c)

			info.CreatedAt = testCreated.Add(time.Second)
			w, err := NewPartWriter(info)
			require.NoError(t, err)
			e, _, err := w.Finish()
			require.NoError(t, err)
			require.NotEqual(t, a, e)
		})
	}
}

func TestNewPartWriterRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*PartInfo)
		want   string
	}{
		{"traversal incident", func(p *PartInfo) { p.IncidentID = "../x" }, "'incident_id'"},
		{"slash collector", func(p *PartInfo) { p.CollectorID = "a/b" }, "'collector_id'"},
		{"empty collector", func(p *PartInfo) { p.CollectorID = "" }, "'collector_id'"},
		{"seq zero", func(p *PartInfo) { p.Seq = 0 }, "'seq'"},
		{"seq too large", func(p *PartInfo) { p.Seq = MaxSeq + 1 }, "'seq'"},
		{"encoding", func(p *PartInfo) { p.Encoding = "xml" }, "'encoding'"},
		{"no encoding", func(p *PartInfo) { p.Encoding = "" }, "'encoding'"},
		{"no created_at", func(p *PartInfo) { p.CreatedAt = time.Time{} }, "'created_at'"},
		{"created before 1970", func(p *PartInfo) { p.CreatedAt = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }, "'created_at'"},
		{"window reversed", func(p *PartInfo) { p.Window.End = p.Window.Start.Add(-time.Second) }, "'window.end'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := testInfo(EncodingJSON, 1)
			tt.modify(&info)
			_, err := NewPartWriter(info)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestPartWriterFinishedOnce(t *testing.T) {
	w, err := NewPartWriter(testInfo(EncodingJSON, 1))
	require.NoError(t, err)
	_, _, err = w.Finish()
	require.NoError(t, err)
	_, _, err = w.Finish()
	require.ErrorIs(t, err, errFinished)
	require.ErrorIs(t, w.AddTraces(ptrace.NewTraces()), errFinished)
	require.ErrorIs(t, w.AddLogs(plog.NewLogs()), errFinished)
	require.ErrorIs(t, w.AddMetrics(pmetric.NewMetrics()), errFinished)
	require.ErrorIs(t, w.AddEvent(incident.Event{}), errFinished)
	enc, err := EncodeEvent(incident.Event{})
	require.NoError(t, err)
	require.ErrorIs(t, w.AddEncodedEvent(enc), errFinished)
}

func TestPartWriterFileLimit(t *testing.T) {
	w, err := NewPartWriter(testInfo(EncodingJSON, 1))
	require.NoError(t, err)
	w.maxFile = 100
	err = w.AddEvent(incident.Event{Kind: incident.EventAlert, Time: testStart, Source: strings.Repeat("x", 200)})
	require.ErrorContains(t, err, "events.jsonl")
	require.ErrorContains(t, err, "limit")
	assert.Zero(t, w.Counts().Events, "a refused item is not counted")
	require.ErrorContains(t, w.AddEvent(incident.Event{Payload: json.RawMessage(`{bad`)}), "encoding")
}

// tamperEntry rewrites one file inside a part, keeping part.json.
func tamperEntry(t *testing.T, part []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	entries := untar(t, part)
	found := false
	for i := range entries {
		if entries[i].hdr.Name == name {
			entries[i].data = edit(bytes.Clone(entries[i].data))
			found = true
		}
	}
	require.True(t, found, "no %s in part", name)
	return retar(t, entries)
}

func flipByte(at int) func([]byte) []byte {
	return func(b []byte) []byte {
		b[at%len(b)] ^= 0x20
		return b
	}
}

func TestPartVerifyDetectsTampering(t *testing.T) {
	for _, enc := range encodings {
		files := signalFiles[enc]
		tests := []struct {
			name  string
			entry string
			edit  func([]byte) []byte
			want  string
		}{
			{"flip in traces", files[0], flipByte(17), "sha256"},
			{"flip in logs", files[1], flipByte(1000), "sha256"},
			{"flip in metrics", files[2], flipByte(5), "sha256"},
			{"flip in events", EventsFile, flipByte(3), "sha256"},
		}
		for _, tt := range tests {
			t.Run(enc+"/"+tt.name, func(t *testing.T) {
				data, _ := newTestData().write(t, enc)
				bad := tamperEntry(t, data, tt.entry, tt.edit)
				p, err := ReadPart(bytes.NewReader(bad))
				require.NoError(t, err, "the archive itself is sound")
				err = p.Verify()
				require.Error(t, err)
				require.ErrorIs(t, err, ErrCorrupt)
				probs := p.Problems()
				require.Len(t, probs, 1)
				assert.Equal(t, tt.entry, probs[0].Entry)
				assert.Contains(t, probs[0].Reason, tt.want)
				var ve *VerifyError
				require.ErrorAs(t, err, &ve)
				assert.Equal(t, tt.entry, ve.Entry)
			})
		}
	}
}

// TestPartSizeMismatchNotRead: a file whose size differs from part.json's
// is refused before a byte of it is read.
func TestPartSizeMismatchNotRead(t *testing.T) {
	for _, enc := range encodings {
		files := signalFiles[enc]
		for name, tt := range map[string]struct {
			entry string
			edit  func([]byte) []byte
		}{
			"append to traces": {files[0], func(b []byte) []byte { return append(b, bytes.Repeat([]byte{'\n'}, 1<<20)...) }},
			"truncate logs":    {files[1], func(b []byte) []byte { return b[:len(b)-1] }},
		} {
			t.Run(enc+"/"+name, func(t *testing.T) {
				data, _ := newTestData().write(t, enc)
				_, err := ReadPart(bytes.NewReader(tamperEntry(t, data, tt.entry, tt.edit)))
				var ve *VerifyError
				require.ErrorAs(t, err, &ve)
				assert.Equal(t, tt.entry, ve.Entry)
				assert.Contains(t, ve.Reason, "part.json says")
				assert.Contains(t, ve.Reason, "not read")
			})
		}
	}
}

func TestPartVerifyStructure(t *testing.T) {
	data, _ := newTestData().write(t, EncodingJSON)
	entries := untar(t, data)
	var info PartInfo
	require.NoError(t, json.Unmarshal(entries[0].data, &info))

	withInfo := func(edit func(*PartInfo)) []tarEntry {
		i := info
		i.Files = make(map[string]FileInfo)
		for k, v := range info.Files {
			i.Files[k] = v
		}
		edit(&i)
		b, err := json.Marshal(i)
		require.NoError(t, err)
		out := append([]tarEntry(nil), entries...)
		out[0] = tarEntry{hdr: entries[0].hdr, data: b}
		return out
	}
	without := func(es []tarEntry, name string) []tarEntry {
		var out []tarEntry
		for _, e := range es {
			if e.hdr.Name != name {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		name    string
		entries []tarEntry
		entry   string
		want    string
	}{
		{"file missing", without(entries, LogsJSONFile), LogsJSONFile, "missing from part"},
		{"count without file", without(withInfo(func(i *PartInfo) { delete(i.Files, LogsJSONFile) }), LogsJSONFile), LogsJSONFile, "counts 80 items but the file is absent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ReadPart(bytes.NewReader(retar(t, tt.entries)))
			require.NoError(t, err)
			probs := p.Problems()
			require.NotEmpty(t, probs)
			assert.Equal(t, tt.entry, probs[0].Entry)
			assert.Contains(t, probs[0].Reason, tt.want)
		})
	}
	// Entries part.json does not list are refused before they are read.
	for name, tt := range map[string]struct {
		entries     []tarEntry
		entry, want string
	}{
		"file unlisted":           {withInfo(func(i *PartInfo) { delete(i.Files, LogsJSONFile) }), LogsJSONFile, "not listed"},
		"proto file in json part": {append(withInfo(func(*PartInfo) {}), tarEntry{hdr: tar.Header{Name: TracesProtoFile, Mode: 0o644}, data: []byte{0}}), TracesProtoFile, "not a data file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadPart(bytes.NewReader(retar(t, tt.entries)))
			var ve *VerifyError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.entry, ve.Entry)
			assert.Contains(t, ve.Reason, tt.want)
		})
	}
}

func TestReadPartRejects(t *testing.T) {
	good, _ := newTestData().write(t, EncodingProto)
	entries := untar(t, good)
	infoJSON := entries[0].data
	reg := func(name string, data []byte) tarEntry {
		return tarEntry{hdr: tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}, data: data}
	}
	editInfo := func(edit func(map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(infoJSON, &m))
		edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name  string
		part  []byte
		entry string
		want  string
	}{
		{"empty input", nil, "", "empty input"},
		{"not zstd", []byte("hello, this is not a part"), "", "not a valid zstd-compressed tar"},
		{"zstd but not tar", compress(t, bytes.Repeat([]byte("x"), 2000)), "", "not a valid zstd-compressed tar"},
		{"no part.json", retar(t, []tarEntry{reg(EventsFile, []byte("{}\n"))}), PartInfoFile, "missing"},
		{"unknown entry", retar(t, []tarEntry{reg(PartInfoFile, infoJSON), reg("../../etc/passwd", []byte("x"))}), "", `unexpected entry "../../etc/passwd"`},
		{"part.json not first", retar(t, []tarEntry{reg(EventsFile, []byte("{}\n")), reg(PartInfoFile, infoJSON)}), PartInfoFile, "the first entry is"},
		{"directory entry", retar(t, []tarEntry{reg(PartInfoFile, infoJSON), {hdr: tar.Header{Name: EventsFile, Typeflag: tar.TypeDir, Mode: 0o755}}}), EventsFile, "regular file"},
		{"symlink entry", retar(t, []tarEntry{reg(PartInfoFile, infoJSON), {hdr: tar.Header{Name: EventsFile, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}), EventsFile, "regular file"},
		{"symlink part.json", retar(t, []tarEntry{{hdr: tar.Header{Name: PartInfoFile, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}), PartInfoFile, "regular file"},
		{"duplicate", retar(t, []tarEntry{reg(PartInfoFile, infoJSON), reg(PartInfoFile, infoJSON)}), PartInfoFile, "twice"},
		{"part.json not JSON", retar(t, []tarEntry{reg(PartInfoFile, []byte("{"))}), PartInfoFile, "invalid JSON"},
		{"newer format", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) { m["format"] = FormatVersion + 1 }))}), PartInfoFile, fmt.Sprintf("'format' is %d", FormatVersion+1)},
		{"lossless with losses", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) {
			m["losses"] = []any{map[string]any{"signal": "traces", "reason": "evicted", "items": 3}}
		}))}), PartInfoFile, "'lossless' is true with 1 losses"},
		{"loss of an unknown signal", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) {
			m["lossless"] = false
			m["losses"] = []any{map[string]any{"signal": "profiles", "reason": "evicted", "items": 3}}
		}))}), PartInfoFile, "'losses[0]': 'signal'"},
		{"lossless in format 1", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) { m["format"] = 1 }))}), PartInfoFile, "format 1"},
		{"bad incident id", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) { m["incident_id"] = "../x" }))}), PartInfoFile, "'incident_id'"},
		{"negative count", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) { m["counts"].(map[string]any)["spans"] = -1 }))}), PartInfoFile, "'counts'"},
		{"bad sha256", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) {
			m["files"].(map[string]any)[EventsFile].(map[string]any)["sha256"] = "XYZ"
		}))}), PartInfoFile, "'files.events.jsonl.sha256'"},
		{"files names unknown file", retar(t, []tarEntry{reg(PartInfoFile, editInfo(func(m map[string]any) {
			m["files"].(map[string]any)["x/../y"] = map[string]any{"size": 1, "sha256": strings.Repeat("a", 64)}
		}))}), PartInfoFile, `"x/../y" is not a data file`},
		{"trailing garbage", append(bytes.Clone(good), 0x28, 0xb5, 0x2f, 0xfd, 0, 1, 2, 3), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadPart(bytes.NewReader(tt.part))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrCorrupt)
			var ve *VerifyError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.entry, ve.Entry)
			assert.Contains(t, ve.Reason, tt.want)
		})
	}
}

func TestReadPartLimits(t *testing.T) {
	good, info := newTestData().write(t, EncodingJSON)
	biggest := int64(0)
	var total int64
	for _, f := range info.Files {
		biggest = max(biggest, f.Size)
		total += f.Size
	}
	_, err := ReadPartLimits(bytes.NewReader(good), Limits{MaxFileSize: biggest - 1, MaxTotalSize: 1 << 30, MaxWindow: 8 << 20})
	require.ErrorContains(t, err, "exceeds the limit")
	_, err = ReadPartLimits(bytes.NewReader(good), Limits{MaxFileSize: 1 << 30, MaxTotalSize: total - 1, MaxWindow: 8 << 20})
	require.ErrorContains(t, err, "exceeds the limit")
	_, err = ReadPartLimits(bytes.NewReader(good), Limits{MaxFileSize: biggest, MaxTotalSize: total + maxPartInfoSize, MaxWindow: 8 << 20})
	require.NoError(t, err)
	_, err = ReadPartLimits(bytes.NewReader(good), Limits{MaxFileSize: 1 << 30, MaxTotalSize: 1 << 30, MaxWindow: 1 << 20})
	require.ErrorContains(t, err, "zstd window exceeds the reader's limit")
}

func TestReadPartTruncated(t *testing.T) {
	for _, enc := range encodings {
		good, _ := newTestData().write(t, enc)
		for _, n := range []int{1, 4, 10, 100, len(good) / 3, len(good) / 2, len(good) - 5, len(good) - 1} {
			t.Run(fmt.Sprintf("%s/%d_of_%d", enc, n, len(good)), func(t *testing.T) {
				_, err := ReadPart(bytes.NewReader(good[:n]))
				require.Error(t, err)
				require.ErrorIs(t, err, ErrCorrupt)
				assert.Contains(t, err.Error(), "truncated")
			})
		}
	}
}

// TestReadPartFlippedCompressedByte flips one byte at many positions in the
// compressed part: every flip that changes the content must be caught by
// ReadPart or Verify (the zstd checksum covers the content). A flip that
// leaves the content as it was (in a frame header, or in bits of a
// compressed block that do not change what it decodes to) is caught by the
// manifest's hash of the part object only, see verify_test.go.
func TestReadPartFlippedCompressedByte(t *testing.T) {
	decompress := func(part []byte) ([]byte, error) {
		zr, err := zstd.NewReader(bytes.NewReader(part), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return io.ReadAll(zr)
	}
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			good, _ := newTestData().write(t, enc)
			want, err := decompress(good)
			require.NoError(t, err)
			const header = 14 // magic, frame header descriptor, window, content size
			step := max(1, (len(good)-header)/200)
			caught := 0
			for at := header; at < len(good); at += step {
				bad := bytes.Clone(good)
				bad[at] ^= 0x01
				p, err := ReadPart(bytes.NewReader(bad))
				if err == nil {
					err = p.Verify()
				}
				if err == nil {
					got, derr := decompress(bad)
					require.NoError(t, derr)
					require.True(t, bytes.Equal(want, got), "flip at %d of %d changed the content unnoticed", at, len(good))
					continue
				}
				require.ErrorIs(t, err, ErrCorrupt)
				caught++
			}
			require.Positive(t, caught)
		})
	}
}

func TestPartDecodeErrors(t *testing.T) {
	sentinel := errors.New("stop")
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			data, _ := newTestData().write(t, enc)
			p, err := ReadPart(bytes.NewReader(data))
			require.NoError(t, err)
			require.ErrorIs(t, p.Traces(func(ptrace.Traces) error { return sentinel }), sentinel)
			require.ErrorIs(t, p.Logs(func(plog.Logs) error { return sentinel }), sentinel)
			require.ErrorIs(t, p.Metrics(func(pmetric.Metrics) error { return sentinel }), sentinel)
			require.ErrorIs(t, p.Events(func(incident.Event) error { return sentinel }), sentinel)

			files := signalFiles[enc]
			tf := files[0]
			if enc == EncodingProto {
				p.Data[tf] = append(bytes.Clone(p.Data[tf]), 0, 0, 0xff, 0xff, 1)
			} else {
				p.Data[tf] = append(bytes.Clone(p.Data[tf]), []byte("{not json\n")...)
			}
			n := 0
			err = p.Traces(func(ptrace.Traces) error { n++; return nil })
			var ve *VerifyError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tf, ve.Entry)
			assert.Contains(t, ve.Reason, "record 3")
			assert.Equal(t, 2, n, "the intact records before the bad one are delivered")

			p.Data[EventsFile] = []byte("{\"kind\": 5}\n")
			err = p.Events(func(incident.Event) error { return nil })
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, EventsFile, ve.Entry)
			assert.Contains(t, ve.Reason, "record 1")

			if enc == EncodingProto {
				p.Data[files[1]] = []byte{0, 0}
				require.ErrorContains(t, p.Logs(func(plog.Logs) error { return nil }), "truncated length prefix")
			}
		})
	}
}

func TestVerifyErrorMessage(t *testing.T) {
	tests := []struct {
		err  VerifyError
		want string
	}{
		{VerifyError{Reason: "r"}, "r"},
		{VerifyError{Entry: "traces.jsonl", Reason: "r"}, "traces.jsonl: r"},
		{VerifyError{File: "k", Reason: "r"}, "k: r"},
		{VerifyError{File: "k", Entry: "e", Reason: "r"}, "k: e: r"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.err.Error())
	}
}

func TestTimeRange(t *testing.T) {
	var r TimeRange
	assert.True(t, r.IsZero())
	r.Extend(time.Time{})
	assert.True(t, r.IsZero())
	t1 := testStart
	t0 := t1.Add(-time.Minute)
	t2 := t1.Add(time.Minute)
	r.Extend(t1)
	assert.Equal(t, TimeRange{Min: t1, Max: t1}, r)
	r.Extend(t2)
	r.Extend(t0)
	assert.Equal(t, TimeRange{Min: t0, Max: t2}, r)
	assert.Equal(t, r, TimeRange{}.Union(r))
	assert.Equal(t, r, r.Union(TimeRange{}))
	assert.Equal(t, int64(10), Counts{1, 2, 3, 4}.Total())
	assert.Equal(t, Counts{2, 4, 6, 8}, Counts{1, 2, 3, 4}.Add(Counts{1, 2, 3, 4}))
}

func TestEachRecord(t *testing.T) {
	for _, enc := range []string{EncodingJSON, EncodingProto} {
		t.Run(enc, func(t *testing.T) {
			w, err := NewPartWriter(PartInfo{IncidentID: "INC-1", CollectorID: "c", Seq: 1, Encoding: enc, CreatedAt: time.Unix(1, 0)})
			require.NoError(t, err)
			for i := range 3 {
				require.NoError(t, w.AddTraces(testgen.Traces(int64(i), 10, 2, time.Unix(100, 0), time.Second)))
			}
			data, _, err := w.Finish()
			require.NoError(t, err)
			p, err := ReadPart(bytes.NewReader(data))
			require.NoError(t, err)
			name := TracesJSONFile
			if enc == EncodingProto {
				name = TracesProtoFile
			}
			var spans int
			require.NoError(t, p.EachRecord(name, func(rec []byte) error {
				var td ptrace.Traces
				if enc == EncodingProto {
					td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(rec)
				} else {
					td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(rec)
				}
				spans += td.SpanCount()
				return err
			}))
			assert.Equal(t, 30, spans)

			// A record the caller cannot decode is named, and corrupt.
			n := 0
			err = p.EachRecord(name, func([]byte) error {
				if n++; n == 2 {
					return RecordError{errors.New("bad record")}
				}
				return nil
			})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, name+": record 2: bad record")
			// Other errors pass through.
			stop := errors.New("stop")
			assert.Equal(t, stop, p.EachRecord(name, func([]byte) error { return stop }))
		})
	}
}

// TestPartDataAcrossChunks writes data files of several growth chunks,
// with records that straddle chunk boundaries, and reads back each file
// byte for byte as the writer was given it.
func TestPartDataAcrossChunks(t *testing.T) {
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			w, err := NewPartWriter(testInfo(enc, 1))
			require.NoError(t, err)
			var want bytes.Buffer
			var m ptrace.JSONMarshaler
			var pm ptrace.ProtoMarshaler
			for i := 0; want.Len() < 2*segmentChunks*chunkSize+chunkSize/3; i++ {
				td := testgen.Traces(int64(i+1), 700+i, testgen.DefaultResources, testStart, time.Millisecond)
				require.NoError(t, w.AddTraces(td))
				if enc == EncodingProto {
					rec, err := pm.MarshalTraces(td)
					require.NoError(t, err)
					var hdr [4]byte
					binary.BigEndian.PutUint32(hdr[:], uint32(len(rec)))
					want.Write(hdr[:])
					want.Write(rec)
					continue
				}
				rec, err := m.MarshalTraces(td)
				require.NoError(t, err)
				want.Write(rec)
				want.WriteByte('\n')
			}
			data, info, err := w.Finish()
			require.NoError(t, err)
			p, err := ReadPart(bytes.NewReader(data))
			require.NoError(t, err)
			require.NoError(t, p.Verify())
			name := signalFiles[enc][0]
			assert.Equal(t, int64(want.Len()), info.Files[name].Size)
			assert.True(t, bytes.Equal(want.Bytes(), p.Data[name]), "%s differs from what was written", name)
		})
	}
}

// TestAddTracesEncoded: a record encoded by the caller (AddTracesJSON,
// AddTracesProto) is added as AddTraces adds pdata's encoding of the same
// batch, and refused where AddTraces would split, or into a part of the
// other encoding.
func TestAddTracesEncoded(t *testing.T) {
	td := testgen.Traces(5, 50, 2, testStart, time.Second)
	n, tr := scanTraces(td)
	for _, c := range []struct {
		enc, other string
		marshal    func(ptrace.Traces) ([]byte, error)
		add        func(*PartWriter, []byte, int64, TimeRange) error
	}{
		{EncodingJSON, EncodingProto, (&ptrace.JSONMarshaler{}).MarshalTraces, (*PartWriter).AddTracesJSON},
		{EncodingProto, EncodingJSON, (&ptrace.ProtoMarshaler{}).MarshalTraces, (*PartWriter).AddTracesProto},
	} {
		t.Run(c.enc, func(t *testing.T) {
			rec, err := c.marshal(td)
			require.NoError(t, err)

			viaPdata, err := NewPartWriter(testInfo(c.enc, 1))
			require.NoError(t, err)
			require.NoError(t, viaPdata.AddTraces(td))
			want, wantInfo, err := viaPdata.Finish()
			require.NoError(t, err)

			w, err := NewPartWriter(testInfo(c.enc, 1))
			require.NoError(t, err)
			require.NoError(t, c.add(w, rec, n, tr))
			got, gotInfo, err := w.Finish()
			require.NoError(t, err)
			assert.Equal(t, wantInfo, gotInfo)
			assert.True(t, bytes.Equal(want, got), "the part differs from the one AddTraces writes")

			// Past the limit, or past the record limit even without one: refused.
			w, err = NewPartWriter(testInfo(c.enc, 1))
			require.NoError(t, err)
			w.SetLimit(int64(len(rec)))
			require.ErrorIs(t, c.add(w, rec, n, tr), ErrPartFull)
			w.SetLimit(0)
			w.maxRecord = int64(len(rec)) - 1
			require.ErrorIs(t, c.add(w, rec, n, tr), ErrPartFull)
			assert.Zero(t, w.Size())
			assert.Zero(t, w.Counts().Spans)

			// Not into a part of the other encoding.
			w, err = NewPartWriter(testInfo(c.other, 1))
			require.NoError(t, err)
			require.ErrorContains(t, c.add(w, rec, n, tr), "to a part encoded as "+c.other)
		})
	}
}

// TestPartFramesAreOneTarArchive: a part whose data files span several
// segments, compressed as separate zstd frames, decompresses to exactly
// the tar archive archive/tar writes for its entries, and is the same
// bytes whether its segments were compressed in the background or by the
// writer itself.
func TestPartFramesAreOneTarArchive(t *testing.T) {
	write := func() []byte {
		w, err := NewPartWriter(testInfo(EncodingJSON, 1))
		require.NoError(t, err)
		for i := 0; w.Size() < 2*segmentChunks*chunkSize+chunkSize/3; i++ {
			td := testgen.Traces(int64(i+1), 700+i, testgen.DefaultResources, testStart, time.Millisecond)
			require.NoError(t, w.AddTraces(td))
			if i%3 == 0 {
				ld := plog.NewLogs()
				ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(strings.Repeat("x", i))
				require.NoError(t, w.AddLogs(ld))
			}
		}
		data, _, err := w.Finish()
		require.NoError(t, err)
		return data
	}
	background := write()
	// With the background slot taken, every segment is compressed by the
	// writer.
	compressSlots <- struct{}{}
	inline := write()
	<-compressSlots
	require.True(t, bytes.Equal(background, inline), "the part depends on where its frames were compressed")

	zr, err := zstd.NewReader(bytes.NewReader(background), zstd.WithDecoderConcurrency(1))
	require.NoError(t, err)
	defer zr.Close()
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	entries := untar(t, background)
	require.Len(t, entries, 3)
	require.Equal(t, signalFiles[EncodingJSON][0], entries[2].hdr.Name)
	require.Greater(t, len(entries[2].data), 2*segmentChunks*chunkSize)
	var want bytes.Buffer
	tw := tar.NewWriter(&want)
	for _, e := range entries {
		require.NoError(t, tw.WriteHeader(&e.hdr))
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.True(t, bytes.Equal(want.Bytes(), got), "the decompressed part is not the tar archive of its entries")

	p, err := ReadPart(bytes.NewReader(background))
	require.NoError(t, err)
	require.NoError(t, p.Verify())
}

// setFreeListIdle sets how long the free lists outlive their last use and
// restores the setting when the test ends.
func setFreeListIdle(t *testing.T, d time.Duration) {
	t.Helper()
	freeListTimer.Lock()
	old := freeListIdle
	freeListIdle = d
	freeListTimer.Unlock()
	t.Cleanup(func() {
		freeListTimer.Lock()
		freeListIdle = old
		freeListTimer.Unlock()
	})
}

func TestFreeListsEmptiedWhenIdle(t *testing.T) {
	// While parts follow each other, the encoders and buffers of one are
	// kept for the next.
	setFreeListIdle(t, time.Hour)
	w, err := NewPartWriter(testInfo(EncodingJSON, 1))
	require.NoError(t, err)
	for i := 0; w.Size() < segmentChunks*chunkSize+chunkSize/2; i++ {
		require.NoError(t, w.AddTraces(testgen.Traces(int64(i+1), 700, testgen.DefaultResources, testStart, time.Millisecond)))
	}
	_, _, err = w.Finish()
	require.NoError(t, err)
	require.NotEmpty(t, encoders, "a finished part's encoder is kept for the next part")
	require.NotEmpty(t, freeChunks, "a finished part's chunks are kept for the next part")
	require.NotEmpty(t, freeFrames, "a finished part's frame buffers are kept for the next part")

	// Once no part has used them for freeListIdle, they are given back.
	setFreeListIdle(t, 10*time.Millisecond)
	keepFreeLists()
	require.Eventually(t, func() bool {
		return len(encoders) == 0 && len(freeChunks) == 0 && len(freeFrames) == 0
	}, 10*time.Second, 5*time.Millisecond, "idle free lists hold %d encoders, %d chunks, %d frame buffers",
		len(encoders), len(freeChunks), len(freeFrames))

	// A part written after that allocates afresh and is the same part.
	w, err = NewPartWriter(testInfo(EncodingJSON, 1))
	require.NoError(t, err)
	require.NoError(t, w.AddTraces(testgen.Traces(1, 700, testgen.DefaultResources, testStart, time.Millisecond)))
	_, info, err := w.Finish()
	require.NoError(t, err)
	require.EqualValues(t, 700, info.Counts.Spans)
}

// The frame encoders keep a history of one window and one block
// (WithLowerEncoderMem) instead of two windows: a frame holds at most a
// segment, so the frames must be the bytes the default history gives, for
// a full segment and for one just past it.
func TestFrameEncoderHistorySameBytes(t *testing.T) {
	seg := segmentChunks * chunkSize
	var data []byte
	for i := 0; len(data) < seg+chunkSize; i++ {
		data = fmt.Appendf(data, `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc-%d"}}]},"spanId":"%016x","n":%d}]}`+"\n", i%37, i*7919, i)
	}
	ref, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(seg))
	require.NoError(t, err)
	for _, n := range []int{seg, seg + chunkSize} {
		var want bytes.Buffer
		ref.Reset(&want)
		_, err := ref.Write(data[:n])
		require.NoError(t, err)
		require.NoError(t, ref.Close())
		got := compressFrame(data[:chunkSize], data[chunkSize:n])
		assert.Truef(t, bytes.Equal(want.Bytes(), got.Bytes()), "%d bytes: frame differs from the default history's (%d vs %d bytes)", n, got.Len(), want.Len())
	}
}

// errAfter fails every write once n bytes went through.
type errAfter struct {
	buf bytes.Buffer
	n   int
}

var errWriteFailed = errors.New("write failed")

func (w *errAfter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.n {
		k := w.n - w.buf.Len()
		w.buf.Write(p[:k])
		return k, errWriteFailed
	}
	return w.buf.Write(p)
}

// FinishTo writes the object Finish returns, frame by frame, and names it
// as NewPartRef does; an error from the destination is returned.
func TestPartFinishTo(t *testing.T) {
	write := func(finish func(w *PartWriter)) {
		info := testInfo(EncodingJSON, 3)
		info.Late = true
		w, err := NewPartWriter(info)
		require.NoError(t, err)
		for i := 0; w.Size() < segmentChunks*chunkSize+chunkSize/2; i++ {
			require.NoError(t, w.AddTraces(testgen.Traces(int64(i+1), 500, testgen.DefaultResources, testStart, time.Millisecond)))
		}
		finish(w)
	}
	var (
		data     []byte
		wantInfo PartInfo
	)
	write(func(w *PartWriter) {
		var err error
		data, wantInfo, err = w.Finish()
		require.NoError(t, err)
	})
	wantRef, err := NewPartRef(wantInfo, data)
	require.NoError(t, err)

	var got bytes.Buffer
	write(func(w *PartWriter) {
		ref, info, err := w.FinishTo(&got)
		require.NoError(t, err)
		assert.Equal(t, wantRef, ref)
		assert.Equal(t, wantInfo, info)
		_, _, err = w.FinishTo(&got)
		require.ErrorIs(t, err, errFinished)
	})
	require.True(t, bytes.Equal(data, got.Bytes()), "FinishTo wrote other bytes than Finish returned")

	write(func(w *PartWriter) {
		dst := &errAfter{n: len(data) / 2}
		_, _, err := w.FinishTo(dst)
		require.ErrorIs(t, err, errWriteFailed)
	})
}

// TestPartSpill: a part whose frames wait in a spill file is the same
// bytes, from Finish and FinishTo, as one whose frames stay in memory;
// the frames of its full segments are in the file (so not in memory), and
// the writer closes it. When the file cannot be created or written, the
// frames stay in memory and the part is still the same bytes.
func TestPartSpill(t *testing.T) {
	// Two data files of several segments each, in two parts.
	write := func(spill func() (*os.File, error), finish func(w *PartWriter)) {
		w, err := NewPartWriter(testInfo(EncodingProto, 1))
		require.NoError(t, err)
		if spill != nil {
			w.SetSpill(spill)
		}
		for i := 0; w.Size() < 3*segmentChunks*chunkSize+chunkSize/3; i++ {
			require.NoError(t, w.AddTraces(testgen.Traces(int64(i+1), 700+i, testgen.DefaultResources, testStart, time.Millisecond)))
			ld := plog.NewLogs()
			ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(strings.Repeat(fmt.Sprint(i), 100000))
			require.NoError(t, w.AddLogs(ld))
		}
		finish(w)
	}
	finishBytes := func(out *[]byte) func(w *PartWriter) {
		return func(w *PartWriter) {
			data, _, err := w.Finish()
			require.NoError(t, err)
			*out = data
		}
	}
	var want []byte
	write(nil, finishBytes(&want))
	entries := untar(t, want)
	require.Len(t, entries, 3, "part.json and two data files")
	for _, e := range entries[1:] {
		require.Greater(t, len(e.data), segmentChunks*chunkSize, "%s fits in one segment", e.hdr.Name)
	}

	var files []*os.File
	create := func() (*os.File, error) {
		f, err := os.CreateTemp(t.TempDir(), "frames-")
		files = append(files, f)
		return f, err
	}
	// spilled checks that the last file created holds frames, and that
	// the writer closed it.
	spilled := func() {
		require.NotEmpty(t, files)
		f := files[len(files)-1]
		fi, err := os.Stat(f.Name())
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), "no frame was moved to the spill file")
		_, err = f.Write([]byte{0})
		require.ErrorIs(t, err, os.ErrClosed, "the writer did not close the spill file")
	}

	var got []byte
	write(create, finishBytes(&got))
	require.True(t, bytes.Equal(want, got), "Finish with a spill file wrote other bytes")
	spilled()
	require.Len(t, files, 1, "one spill file per part")

	var to bytes.Buffer
	write(create, func(w *PartWriter) {
		ref, _, err := w.FinishTo(&to)
		require.NoError(t, err)
		assert.Equal(t, int64(len(want)), ref.Size)
	})
	require.True(t, bytes.Equal(want, to.Bytes()), "FinishTo with a spill file wrote other bytes")
	spilled()

	// With the background slot taken, every frame is compressed by the
	// writer, and moved as soon as it is.
	compressSlots <- struct{}{}
	write(create, finishBytes(&got))
	<-compressSlots
	require.True(t, bytes.Equal(want, got), "inline compression with a spill file wrote other bytes")
	spilled()

	// A part given up on closes its spill file too.
	write(create, func(w *PartWriter) {
		w.Discard()
		_, _, err := w.Finish()
		require.ErrorIs(t, err, errFinished)
	})
	spilled()

	write(func() (*os.File, error) { return nil, errWriteFailed }, finishBytes(&got))
	require.True(t, bytes.Equal(want, got), "a spill file that cannot be created changed the part")

	// A file open for reading only: every write to it fails.
	write(func() (*os.File, error) {
		f, err := os.CreateTemp(t.TempDir(), "frames-")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		return os.Open(f.Name())
	}, finishBytes(&got))
	require.True(t, bytes.Equal(want, got), "a spill file that cannot be written changed the part")
}
