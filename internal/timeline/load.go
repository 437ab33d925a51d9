package timeline

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// maxLine bounds one line of a JSON Lines file, as bundle.DefaultLimits
// bounds one record inside a part: what a line claims never decides how
// much is held.
var maxLine = int(bundle.DefaultLimits.MaxRecordSize)

// FromParts returns an Input reading the parts given, one source per
// part. The incident ID is taken from the first part. Parts are not
// verified here; see bundle.Part.Verify.
func FromParts(parts ...*bundle.Part) Input {
	var in Input
	for _, p := range parts {
		if p == nil {
			continue
		}
		if in.IncidentID == "" {
			in.IncidentID = p.Info.IncidentID
		}
		in.Sources = append(in.Sources, func(s Sink) error { return walkPart(p, s) })
	}
	return in
}

// walkPart feeds every item and event of a part to s. The JSON records of
// an otlp_json part are scanned rather than decoded when s is Build's.
func walkPart(p *bundle.Part, s Sink) error {
	var err error
	if p.Info.Encoding == bundle.EncodingJSON {
		for _, f := range []struct {
			name  string
			lines jsonLines
		}{{bundle.TracesJSONFile, tracesLines}, {bundle.LogsJSONFile, logsLines}, {bundle.MetricsJSONFile, metricsLines}} {
			if err = p.EachRecord(f.name, func(rec []byte) error { return f.lines.feed(s, rec) }); err != nil {
				break
			}
		}
	} else {
		err = p.Traces(s.Traces)
		if err == nil {
			err = p.Logs(s.Logs)
		}
		if err == nil {
			err = p.Metrics(s.Metrics)
		}
	}
	if err == nil {
		err = p.Events(s.Event)
	}
	if err != nil && !errors.Is(err, errStopped) {
		return fmt.Errorf("collector %s part %d: %w", p.Info.CollectorID, p.Info.Seq, err)
	}
	return err
}

// FromDir returns an Input reading an evidence directory as written by
// `evidencectl get`:
//
//   - traces.jsonl, logs.jsonl and metrics.jsonl (OTLP File format: one
//     Export*ServiceRequest JSON per line) and events.jsonl (one
//     incident.Event JSON per line), any of which may be absent;
//   - the incident record: incident.json, else the incident in
//     merged-manifest.json, else raw/incidents/<id>/incident.json;
//   - the incident's notes, raw/incidents/<id>/notes/*.json.
//
// When the directory holds none of the JSON Lines files, FromDir reads the
// part objects (part-*.tar.zst) found anywhere below it instead, typically
// under raw/, verifying each against its part.json; they must all belong to
// one incident, whose incident.json is then looked for below the
// directory. Files and parts are read when Build runs its sources (each
// JSON Lines file in slices, each part whole), so their errors come from
// Build.
func FromDir(dir string) (Input, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return Input{}, fmt.Errorf("evidence directory: %w", err)
	}
	if !st.IsDir() {
		return Input{}, fmt.Errorf("evidence directory %s is not a directory", dir)
	}
	var in Input
	found := false
	for _, f := range []struct {
		name, what string
		feed       func(s Sink, line []byte) error
	}{
		{bundle.EventsFile, "events", feed(decodeEvent, Sink.Event)},
		{bundle.LogsJSONFile, "logs", logsLines.feed},
		{bundle.MetricsJSONFile, "metrics", metricsLines.feed},
		{bundle.TracesJSONFile, "traces", tracesLines.feed},
	} {
		p := filepath.Join(dir, f.name)
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return Input{}, fmt.Errorf("evidence file: %w", err)
		}
		found = true
		in.Sources = append(in.Sources, fileSources(p, f.what, st.Size(), f.feed)...)
	}
	if !found {
		var err error
		if in, err = fromPartFiles(dir); err != nil {
			return Input{}, err
		}
	} else {
		inc, id, err := evidencedir.FindIncident(dir)
		if err != nil {
			return Input{}, err
		}
		in.Incident, in.IncidentID = inc, id
		if mm, err := evidencedir.ReadManifest(dir); err == nil && mm.LossesKnown() {
			in.Completeness = &Completeness{Lossless: mm.Lossless}
			for _, l := range mm.Losses() {
				in.Completeness.Losses = append(in.Completeness.Losses, lossOf(l.CollectorID, l.Loss))
			}
		}
	}
	notes, err := dirNotes(dir, in.IncidentID)
	if err != nil {
		return Input{}, err
	}
	notes.input(&in)
	return in, nil
}

// fromPartFiles reads every part object below dir, one source per part.
// The incident comes from the store layout of the parts' paths
// (incidents/<id>/collectors/<collector>/part-N.tar.zst); a part found
// elsewhere is read at once to learn it. Every part must belong to that
// incident.
func fromPartFiles(dir string) (Input, error) {
	var partPaths, incidentPaths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		switch name := d.Name(); {
		case strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".tar.zst"):
			partPaths = append(partPaths, p)
		case name == bundle.IncidentFile:
			incidentPaths = append(incidentPaths, p)
		}
		return nil
	})
	if err != nil {
		return Input{}, fmt.Errorf("evidence directory: %w", err)
	}
	if len(partPaths) == 0 {
		return Input{}, fmt.Errorf("no evidence in %s: expected %s, %s, %s or %s, or part-*.tar.zst files under %s/",
			dir, bundle.TracesJSONFile, bundle.LogsJSONFile, bundle.MetricsJSONFile, bundle.EventsFile, evidencedir.RawDir)
	}
	slices.Sort(partPaths) // WalkDir is lexical already; keep it explicit
	ids := map[string]bool{}
	for _, p := range partPaths {
		id, ok := incidentOfPath(dir, p)
		if !ok {
			info, err := partInfoOf(p)
			if err != nil {
				return Input{}, err
			}
			id = info.IncidentID
		}
		ids[id] = true
	}
	if len(ids) > 1 {
		return Input{}, fmt.Errorf("%s holds the evidence of several incidents (%s): give one incident's directory",
			dir, strings.Join(slices.Sorted(maps.Keys(ids)), ", "))
	}
	var in Input
	for id := range ids {
		in.IncidentID = id
	}
	for _, p := range partPaths {
		in.Sources = append(in.Sources, func(s Sink) error {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("evidence part: %w", err)
			}
			defer func() { _ = f.Close() }()
			return streamPart(f, p, in.IncidentID, s)
		})
	}
	// The incident record is the incident.json in a directory named after
	// the incident (the store layout), or the only incident.json.
	slices.Sort(incidentPaths)
	for _, p := range incidentPaths {
		if len(incidentPaths) > 1 && filepath.Base(filepath.Dir(p)) != in.IncidentID {
			continue
		}
		inc, err := evidencedir.ReadIncidentFile(p)
		if err != nil {
			return Input{}, err
		}
		if inc.ID == in.IncidentID {
			in.Incident = inc
		}
		break
	}
	return in, nil
}

// incidentOfPath returns the incident of a part file whose path below dir
// ends in the store layout of a part.
func incidentOfPath(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return "", false
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, seg := range segs {
		if seg+"/" != bundle.IncidentsPrefix {
			continue
		}
		if k, err := bundle.ParseKey(strings.Join(segs[i:], "/")); err == nil && k.Kind == bundle.KindPart {
			return k.IncidentID, true
		}
	}
	return "", false
}

// partInfoOf reads only the part.json of the part at path.
func partInfoOf(path string) (bundle.PartInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return bundle.PartInfo{}, fmt.Errorf("evidence part: %w", err)
	}
	defer func() { _ = f.Close() }()
	ps, err := bundle.OpenPart(f, bundle.ReadOptions{})
	if err != nil {
		return bundle.PartInfo{}, fmt.Errorf("evidence part %s: %w (run `evidencectl verify` for a full report)", path, err)
	}
	defer ps.Close()
	return ps.Info(), nil
}

// streamPart feeds every item and event of the part read from r to s, one
// record at a time: nothing of the part is held beyond the record being
// read, whatever the part claims or contains. A file whose hash does not
// match part.json fails at its end (and with it the whole timeline). want,
// when set, is the incident the part must belong to.
func streamPart(r io.Reader, name, want string, s Sink) error {
	ps, err := bundle.OpenPart(bufio.NewReaderSize(r, 64<<10), bundle.ReadOptions{})
	if err != nil {
		return fmt.Errorf("evidence part %s: %w (run `evidencectl verify` for a full report)", name, err)
	}
	defer ps.Close()
	info := ps.Info()
	if want != "" && info.IncidentID != want {
		return fmt.Errorf("evidence part %s belongs to incident %s, not %s: give one incident's directory", name, info.IncidentID, want)
	}
	enc := info.Encoding
	err = ps.Walk(func(file string, rec []byte) error {
		switch file {
		case bundle.EventsFile:
			ev, err := decodeEvent(rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			return s.Event(ev)
		case bundle.TracesJSONFile:
			return tracesLines.feed(s, rec)
		case bundle.LogsJSONFile:
			return logsLines.feed(s, rec)
		case bundle.MetricsJSONFile:
			return metricsLines.feed(s, rec)
		}
		switch bundle.SignalOf(file) {
		case "traces":
			td, err := bundle.DecodeTraces(enc, rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			return s.Traces(td)
		case "logs":
			ld, err := bundle.DecodeLogs(enc, rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			return s.Logs(ld)
		case "metrics":
			md, err := bundle.DecodeMetrics(enc, rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			return s.Metrics(md)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopped) {
		return fmt.Errorf("evidence part %s (collector %s part %d): %w (run `evidencectl verify` for a full report)",
			name, info.CollectorID, info.Seq, err)
	}
	return err
}

func decodeTraces(b []byte) (ptrace.Traces, error) {
	return (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
}

func decodeLogs(b []byte) (plog.Logs, error) {
	return (&plog.JSONUnmarshaler{}).UnmarshalLogs(b)
}

func decodeMetrics(b []byte) (pmetric.Metrics, error) {
	return (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(b)
}

func decodeEvent(b []byte) (incident.Event, error) {
	var ev incident.Event
	err := json.Unmarshal(b, &ev)
	return ev, err
}

// chunkSize is the size of the slices of a JSON Lines file that the
// sources of FromDir read, each on a goroutine of its own.
const chunkSize = 16 << 20

// feed returns a function that decodes one JSON line and hands the result
// to a sink.
func feed[T any](decode func([]byte) (T, error), put func(Sink, T) error) func(Sink, []byte) error {
	return func(s Sink, line []byte) error {
		v, err := decode(line)
		if err != nil {
			return bundle.RecordError{Err: err}
		}
		return put(s, v)
	}
}

// fileSources returns the sources reading a JSON Lines file of the given
// size: one per slice of chunkSize bytes, each reading the lines that
// start in its slice. what names the content in errors ("traces").
func fileSources(path, what string, size int64, line func(Sink, []byte) error) []Source {
	n := max(1, (size+chunkSize-1)/chunkSize)
	out := make([]Source, n)
	for i := range n {
		from, to := i*chunkSize, (i+1)*chunkSize
		if i == n-1 {
			to = math.MaxInt64 // whatever the file holds by the time it is read
		}
		out[i] = func(s Sink) error {
			err := readLines(path, from, to, func(b []byte) error { return line(s, b) })
			if err != nil && !errors.Is(err, errStopped) {
				return fmt.Errorf("reading %s: %w", what, err)
			}
			return err
		}
	}
	return out
}

// readLines calls fn with every non-blank line of the file at path that
// starts at a byte offset in [from, to), blanks trimmed. Errors of fn
// that are bundle.RecordErrors, and lines too long, are placed by file
// and line.
func readLines(path string, from, to int64, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	off := int64(0)
	if from > 0 {
		// The line that starts at from is ours only when the byte before
		// it ends a line: start reading there and drop what precedes the
		// first newline.
		if _, err := f.Seek(from-1, io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		off = from - 1
	}
	r := bufio.NewReaderSize(f, 256<<10)
	var long []byte
	first := from > 0
	for off < to {
		start := off
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxLine {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			if len(long) > maxLine {
				return fmt.Errorf("%s line %d: longer than %d bytes", filepath.Base(path), lineNumber(path, start), maxLine)
			}
			line = long
		}
		off += int64(len(line))
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s after byte %d: %w", filepath.Base(path), start, err)
		}
		if first {
			first = false
		} else if rec := bytes.TrimSpace(line); len(rec) > 0 {
			if ferr := fn(rec); ferr != nil {
				var re bundle.RecordError
				if errors.As(ferr, &re) {
					return fmt.Errorf("%s line %d: %w", filepath.Base(path), lineNumber(path, start), re.Err)
				}
				return ferr
			}
		}
		if err != nil { // io.EOF
			return nil
		}
	}
	return nil
}

// lineNumber returns the 1-based number of the line that starts at byte
// off of the file at path (0 when the file cannot be read); it is only
// called to place an error.
func lineNumber(path string, off int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	n, buf := 1, make([]byte, 256<<10)
	for r := io.LimitReader(f, off); ; {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return n
		}
	}
}

// jsonl iterates over the records of JSON Lines read from r, skipping
// blank lines. Errors name the file and the line.
func jsonl[T any](r io.Reader, name string, decode func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		line := 0
		for sc.Scan() {
			line++
			rec := bytes.TrimSpace(sc.Bytes())
			if len(rec) == 0 {
				continue
			}
			v, err := decode(rec)
			if err != nil {
				yield(zero, fmt.Errorf("%s line %d: %w", name, line, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(zero, fmt.Errorf("%s after line %d: %w", name, line, err))
		}
	}
}

// FromStore returns an Input reading incident id's evidence from st: every
// collector's parts under bundle.CollectorsPrefix, one source per part
// that reads it and verifies it against its part.json when Build runs, and
// incident.json, read at once when present. Errors wrap store.ErrNotFound
// when the incident has no evidence at all, bundle.ErrCorrupt for a bad
// part (from Build) or incident.json, and the store's own errors.
func FromStore(ctx context.Context, st store.Store, id string) (Input, error) {
	prefix, err := bundle.CollectorsPrefix(id)
	if err != nil {
		return Input{}, err
	}
	var keys, manifests []bundle.Key
	byKey := map[bundle.Key]string{}
	after := ""
	for {
		objs, err := st.List(ctx, prefix, after)
		if err != nil {
			return Input{}, fmt.Errorf("listing %s in %s: %w", prefix, st, err)
		}
		if len(objs) == 0 {
			break
		}
		for _, o := range objs {
			k, err := bundle.ParseKey(o.Key)
			if err != nil || k.IncidentID != id {
				continue
			}
			switch k.Kind {
			case bundle.KindPart:
				keys = append(keys, k)
			case bundle.KindManifest:
				manifests = append(manifests, k)
			default:
				continue
			}
			byKey[k] = o.Key
		}
		if next := objs[len(objs)-1].Key; next > after {
			after = next
		} else {
			return Input{}, fmt.Errorf("listing %s in %s: keys out of order after %q", prefix, st, after)
		}
	}
	slices.SortFunc(keys, func(a, b bundle.Key) int {
		return cmp.Or(strings.Compare(a.CollectorID, b.CollectorID), cmp.Compare(a.Part, b.Part))
	})
	inc, err := readStoreIncident(ctx, st, id)
	if err != nil {
		return Input{}, err
	}
	if len(keys) == 0 && inc == nil {
		return Input{}, fmt.Errorf("incident %q has no evidence in %s: %w", id, st, store.ErrNotFound)
	}
	in := Input{IncidentID: id, Incident: inc}
	if in.Completeness, err = storeCompleteness(ctx, st, manifests, byKey); err != nil {
		return Input{}, err
	}
	notes, err := storeNotes(ctx, st, id)
	if err != nil {
		return Input{}, err
	}
	notes.input(&in)
	for _, k := range keys {
		key := byKey[k]
		in.Sources = append(in.Sources, func(s Sink) error {
			rc, _, err := st.Get(ctx, key)
			if err != nil {
				return fmt.Errorf("reading %s from %s: %w", key, st, err)
			}
			defer func() { _ = rc.Close() }()
			return streamPart(rc, key, in.IncidentID, s)
		})
	}
	return in, nil
}

// storeCompleteness reads the collectors' manifests for what they say is
// missing: nil when there is none, or when one predates loss records or
// cannot be read (verify names the latter).
func storeCompleteness(ctx context.Context, st store.Store, manifests []bundle.Key, byKey map[bundle.Key]string) (*Completeness, error) {
	if len(manifests) == 0 {
		return nil, nil
	}
	c := &Completeness{Lossless: true}
	for _, k := range manifests {
		key := byKey[k]
		rc, _, err := st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, bundle.MaxManifestSize+1))
		_ = rc.Close() // read only: ReadAll reports what matters
		if err != nil {
			return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
		}
		m, err := bundle.ParseManifest(data)
		if err != nil || !m.LossesKnown() {
			return nil, nil //nolint:nilerr // an unreadable manifest records nothing; verify reports it
		}
		c.Lossless = c.Lossless && m.Lossless
		for _, l := range m.Losses {
			c.Losses = append(c.Losses, lossOf(k.CollectorID, l))
		}
	}
	return c, nil
}

// lossOf is the timeline's copy of a collector's loss.
func lossOf(collector string, l bundle.Loss) Loss {
	return Loss{Collector: collector, Signal: l.Signal, Reason: l.Reason, Items: l.Items, From: l.From, To: l.To}
}

// readStoreIncident reads incident.json, or returns nil when it is
// missing; an invalid one is a *bundle.VerifyError.
func readStoreIncident(ctx context.Context, st store.Store, id string) (*incident.Incident, error) {
	key, err := bundle.IncidentKey(id)
	if err != nil {
		return nil, err
	}
	rc, _, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, bundle.MaxIncidentSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
	}
	if len(data) > bundle.MaxIncidentSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", key, bundle.MaxIncidentSize)
	}
	inc, err := bundle.ParseIncident(data)
	if err != nil {
		return nil, &bundle.VerifyError{File: key, Reason: err.Error()}
	}
	return inc, nil
}
