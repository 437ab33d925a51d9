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
// bounds a whole file inside a part.
const maxLine = 1 << 30

// FromParts returns an Input reading the parts in the order given. The
// incident ID is taken from the first part. Parts are not verified here;
// see bundle.Part.Verify.
func FromParts(parts ...*bundle.Part) Input {
	parts = slices.Clone(parts)
	in := Input{
		Traces:  partSeq(parts, (*bundle.Part).Traces),
		Logs:    partSeq(parts, (*bundle.Part).Logs),
		Metrics: partSeq(parts, (*bundle.Part).Metrics),
		Events:  partSeq(parts, (*bundle.Part).Events),
	}
	if len(parts) > 0 && parts[0] != nil {
		in.IncidentID = parts[0].Info.IncidentID
	}
	return in
}

// partSeq turns a part's callback walk into an iterator over all parts.
func partSeq[T any](parts []*bundle.Part, walk func(*bundle.Part, func(T) error) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, p := range parts {
			if p == nil {
				continue
			}
			stopped := false
			err := walk(p, func(v T) error {
				if !yield(v, nil) {
					stopped = true
					return errStop
				}
				return nil
			})
			if stopped {
				return
			}
			if err != nil {
				var zero T
				yield(zero, fmt.Errorf("collector %s part %d: %w", p.Info.CollectorID, p.Info.Seq, err))
				return
			}
		}
	}
}

// FromDir returns an Input reading an evidence directory as written by
// `evidencectl get`:
//
//   - traces.jsonl, logs.jsonl and metrics.jsonl (OTLP File format: one
//     Export*ServiceRequest JSON per line) and events.jsonl (one
//     incident.Event JSON per line), any of which may be absent;
//   - the incident record: incident.json, else the incident in
//     merged-manifest.json, else raw/incidents/<id>/incident.json.
//
// When the directory holds none of the JSON Lines files, FromDir reads the
// part objects (part-*.tar.zst) found anywhere below it instead, typically
// under raw/, verifying each against its part.json; they must all belong to
// one incident, whose incident.json is then looked for below the directory. The JSON Lines files are read when
// the returned iterators run, so their errors come from Build.
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
		name string
		set  func(path string)
	}{
		{bundle.EventsFile, func(p string) { in.Events = jsonlFile(p, decodeEvent) }},
		{bundle.LogsJSONFile, func(p string) { in.Logs = jsonlFile(p, decodeLogs) }},
		{bundle.MetricsJSONFile, func(p string) { in.Metrics = jsonlFile(p, decodeMetrics) }},
		{bundle.TracesJSONFile, func(p string) { in.Traces = jsonlFile(p, decodeTraces) }},
	} {
		p := filepath.Join(dir, f.name)
		if _, err := os.Stat(p); err == nil {
			f.set(p)
			found = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Input{}, fmt.Errorf("evidence file: %w", err)
		}
	}
	if found {
		inc, id, err := evidencedir.FindIncident(dir)
		if err != nil {
			return Input{}, err
		}
		in.Incident, in.IncidentID = inc, id
		return in, nil
	}
	return fromPartFiles(dir)
}

// fromPartFiles reads every part object below dir, in path order.
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
	parts := make([]*bundle.Part, 0, len(partPaths))
	for _, p := range partPaths {
		part, err := readPartFile(p)
		if err != nil {
			return Input{}, err
		}
		parts = append(parts, part)
	}
	ids := map[string]bool{}
	for _, p := range parts {
		ids[p.Info.IncidentID] = true
	}
	if len(ids) > 1 {
		return Input{}, fmt.Errorf("%s holds the evidence of several incidents (%s): give one incident's directory",
			dir, strings.Join(slices.Sorted(maps.Keys(ids)), ", "))
	}
	in := FromParts(parts...)
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

func readPartFile(path string) (*bundle.Part, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("evidence part: %w", err)
	}
	defer func() { _ = f.Close() }()
	part, err := bundle.ReadPart(bufio.NewReader(f))
	if err == nil {
		err = part.Verify()
	}
	if err != nil {
		return nil, fmt.Errorf("evidence part %s: %w (run `evidencectl verify` for a full report)", path, err)
	}
	return part, nil
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

// jsonlFile iterates over the records of a JSON Lines file, opened when
// the iteration starts.
func jsonlFile[T any](path string, decode func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			var zero T
			yield(zero, err)
			return
		}
		defer func() { _ = f.Close() }()
		for v, err := range jsonl(f, filepath.Base(path), decode) {
			if !yield(v, err) || err != nil {
				return
			}
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
// collector's parts under bundle.CollectorsPrefix, in collector then part
// order, each verified against its part.json, and incident.json when
// present. Errors wrap store.ErrNotFound when the incident has no evidence
// at all, bundle.ErrCorrupt for a bad part, and the store's own errors.
// The parts are held in memory, decoded.
func FromStore(ctx context.Context, st store.Store, id string) (Input, error) {
	prefix, err := bundle.CollectorsPrefix(id)
	if err != nil {
		return Input{}, err
	}
	var keys []bundle.Key
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
			if err != nil || k.Kind != bundle.KindPart || k.IncidentID != id {
				continue
			}
			keys = append(keys, k)
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
	parts := make([]*bundle.Part, 0, len(keys))
	for _, k := range keys {
		p, err := readStorePart(ctx, st, byKey[k])
		if err != nil {
			return Input{}, err
		}
		parts = append(parts, p)
	}
	inc, err := readStoreIncident(ctx, st, id)
	if err != nil {
		return Input{}, err
	}
	if len(parts) == 0 && inc == nil {
		return Input{}, fmt.Errorf("incident %q has no evidence in %s: %w", id, st, store.ErrNotFound)
	}
	in := FromParts(parts...)
	in.IncidentID = id
	in.Incident = inc
	return in, nil
}

func readStorePart(ctx context.Context, st store.Store, key string) (*bundle.Part, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
	}
	defer func() { _ = rc.Close() }()
	p, err := bundle.ReadPart(bufio.NewReader(rc))
	if err == nil {
		err = p.Verify()
	}
	if err != nil {
		return nil, fmt.Errorf("evidence part %s: %w (run `evidencectl verify` for a full report)", key, err)
	}
	return p, nil
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
