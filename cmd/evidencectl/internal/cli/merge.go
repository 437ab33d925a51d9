package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// mergedFiles are the merged outputs, in the order they are listed.
var mergedFiles = []string{bundle.TracesJSONFile, bundle.LogsJSONFile, bundle.MetricsJSONFile, bundle.EventsFile}

// mergedCollector is one collector's share of the merged evidence.
type mergedCollector struct {
	CollectorID string `json:"collector_id"`
	// HasManifest is false when the collector's manifest is missing or
	// unreadable; its parts are then merged as found.
	HasManifest bool `json:"has_manifest"`
	// Complete is the manifest's claim that the collector finished.
	Complete bool `json:"complete"`
	// Window is the evidence window the collector froze.
	Window *bundle.Window `json:"window,omitempty"`
	// Parts is the number of parts merged; Bytes their compressed size.
	Parts int   `json:"parts"`
	Bytes int64 `json:"bytes"`
	// UnlistedParts are merged parts its manifest does not list (yet).
	UnlistedParts []int `json:"unlisted_parts,omitempty"`
	// Counts are the items merged from this collector; events are counted
	// as recorded, before deduplication across collectors.
	Counts bundle.Counts `json:"counts"`
	// TimeRange spans the merged items' times.
	TimeRange bundle.TimeRange `json:"time_range,omitzero"`
}

// mergedManifest is merged-manifest.json.
type mergedManifest struct {
	Format     int    `json:"format"`
	IncidentID string `json:"incident_id"`
	// Store is where the evidence came from.
	Store     string    `json:"store"`
	CreatedAt time.Time `json:"created_at"`
	// Incident is the store's incident.json, when readable.
	Incident *incident.Incident `json:"incident,omitempty"`
	// Complete: every collector finished and nothing was wrong.
	Complete   bool              `json:"complete"`
	Collectors []mergedCollector `json:"collectors"`
	// Totals are the merged items; Events counts distinct events.
	Totals bundle.Counts `json:"totals"`
	// EventsRecorded counts events before deduplication.
	EventsRecorded int64 `json:"events_recorded"`
	// TimeRange spans every merged item.
	TimeRange bundle.TimeRange `json:"time_range,omitzero"`
	// Files are the merged files with their size and SHA-256.
	Files map[string]bundle.FileInfo `json:"files"`
	// Problems name the objects that were not merged and why.
	Problems []*bundle.VerifyError `json:"problems,omitempty"`
}

// outFile is a merged file being written: an atomic file (through a
// .partial file), a buffer and a hash.
type outFile struct {
	path string
	f    *atomicfile.File
	w    *bufio.Writer
	h    hash.Hash
	n    int64
}

func createOut(path string) (*outFile, error) {
	f, err := atomicfile.Create(atomicfile.OS, path, atomicfile.Options{TempSuffix: partialSuffix, Perm: filePerm})
	if err != nil {
		return nil, err
	}
	return &outFile{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10), h: sha256.New()}, nil
}

// line writes b and a newline.
func (o *outFile) line(b []byte) error {
	o.h.Write(b)
	o.h.Write([]byte{'\n'})
	o.n += int64(len(b)) + 1
	if _, err := o.w.Write(b); err != nil {
		return fmt.Errorf("writing %s: %w", o.path, err)
	}
	if err := o.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("writing %s: %w", o.path, err)
	}
	return nil
}

// commit flushes the buffer and puts the file in place.
func (o *outFile) commit() (bundle.FileInfo, error) {
	if err := o.w.Flush(); err != nil {
		o.f.Abort()
		return bundle.FileInfo{}, fmt.Errorf("writing %s: %w", o.path, err)
	}
	if err := o.f.Commit(); err != nil {
		return bundle.FileInfo{}, err
	}
	return bundle.FileInfo{Size: o.n, SHA256: hex.EncodeToString(o.h.Sum(nil))}, nil
}

func (o *outFile) abort() { o.f.Abort() }

// eventLine is one distinct event with the line it was first stored as.
type eventLine struct {
	key  string
	time time.Time
	raw  []byte
}

// merger concatenates parts into the merged files.
type merger struct {
	out      map[string]*outFile
	events   []eventLine
	seen     map[string]bool
	problems []*bundle.VerifyError
}

// eventKey identifies an event across replicas: every replica that
// records the same webhook call stores the same kind, IDs, time and source.
func eventKey(ev *incident.Event) string {
	return string(ev.Kind) + "\x00" + ev.IncidentID + "\x00" + ev.DeployID + "\x00" +
		ev.Time.UTC().Format(time.RFC3339Nano) + "\x00" + ev.Source
}

// mergeBundle merges the local copies of the parts in jobs (in order) into
// dir. Parts in bad are skipped; parts that fail to decode or verify are
// reported in the manifest's problems and skipped.
func mergeBundle(dir, id string, inc *incident.Incident, g *incidentObjects, manifests map[string]*bundle.Manifest,
	jobs []partJob, bad map[string]bool,
) (*mergedManifest, error) {
	m := &merger{out: make(map[string]*outFile), seen: make(map[string]bool)}
	for _, name := range mergedFiles {
		f, err := createOut(filepath.Join(dir, name))
		if err != nil {
			m.abort()
			return nil, err
		}
		m.out[name] = f
	}
	mm := &mergedManifest{
		Format:     mergedFormat,
		IncidentID: id,
		Incident:   inc,
		Collectors: []mergedCollector{},
		Files:      make(map[string]bundle.FileInfo),
		Complete:   len(g.collectors) > 0,
	}
	byID := make(map[string]int)
	for _, cid := range g.collectorIDs() {
		mc := mergedCollector{CollectorID: cid}
		if man := manifests[cid]; man != nil {
			w := man.Window
			mc.HasManifest, mc.Complete, mc.Window = true, man.Complete, &w
		}
		mm.Complete = mm.Complete && mc.Complete
		byID[cid] = len(mm.Collectors)
		mm.Collectors = append(mm.Collectors, mc)
	}
	rawDir := filepath.Join(dir, rawDirName)
	for _, j := range jobs {
		if bad[j.key] {
			continue
		}
		info, size, ok, err := m.mergePart(filepath.Join(rawDir, filepath.FromSlash(j.key)), id, j)
		if err != nil {
			m.abort()
			return nil, err
		}
		if !ok {
			continue
		}
		mc := &mm.Collectors[byID[j.collector]]
		mc.Parts++
		mc.Bytes += size
		if j.ref == nil {
			mc.UnlistedParts = append(mc.UnlistedParts, j.seq)
		}
		mc.Counts = mc.Counts.Add(info.Counts)
		mc.TimeRange = mc.TimeRange.Union(info.TimeRange)
	}
	for _, c := range mm.Collectors {
		mm.Totals = mm.Totals.Add(c.Counts)
		mm.TimeRange = mm.TimeRange.Union(c.TimeRange)
	}
	mm.EventsRecorded = mm.Totals.Events
	mm.Totals.Events = int64(len(m.events))

	slices.SortStableFunc(m.events, func(a, b eventLine) int { return a.time.Compare(b.time) })
	for _, ev := range m.events {
		if err := m.out[bundle.EventsFile].line(ev.raw); err != nil {
			m.abort()
			return nil, err
		}
	}
	for _, name := range mergedFiles {
		fi, err := m.out[name].commit()
		if err != nil {
			m.abort()
			return nil, err
		}
		delete(m.out, name)
		mm.Files[name] = fi
	}
	mm.Problems = m.problems
	return mm, nil
}

func (m *merger) abort() {
	for _, f := range m.out {
		f.abort()
	}
}

func (m *merger) problem(key, entry, format string, args ...any) {
	m.problems = append(m.problems, &bundle.VerifyError{File: key, Entry: entry, Reason: fmt.Sprintf(format, args...)})
}

// problemErr records a failure to read the part at key: a *bundle.VerifyError
// keeps its entry and reason.
func (m *merger) problemErr(key string, err error) {
	var ve *bundle.VerifyError
	if errors.As(err, &ve) {
		m.problem(key, ve.Entry, "%s", ve.Reason)
		return
	}
	m.problem(key, "", "%v", err)
}

// mergePart reads one local part, verifies it against its part.json and
// appends its items. ok is false when the part was reported and skipped;
// the error is for failures to write the merged files.
func (m *merger) mergePart(path, id string, j partJob) (info bundle.PartInfo, size int64, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		m.problem(j.key, "", "local copy unreadable: %v", err)
		return info, 0, false, nil
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		m.problem(j.key, "", "local copy unreadable: %v", err)
		return info, 0, false, nil
	}
	part, err := bundle.ReadPart(f)
	if err != nil {
		m.problemErr(j.key, err)
		return info, 0, false, nil
	}
	if probs := part.Problems(); len(probs) > 0 {
		for _, p := range probs {
			m.problem(j.key, p.Entry, "%s", p.Reason)
		}
		return info, 0, false, nil
	}
	info = part.Info
	if info.IncidentID != id || info.CollectorID != j.collector || info.Seq != j.seq {
		m.problem(j.key, bundle.PartInfoFile, "describes part %d of incident %q by collector %q", info.Seq, info.IncidentID, info.CollectorID)
		return info, 0, false, nil
	}
	if j.ref != nil && info.Counts != j.ref.Counts {
		m.problem(j.key, bundle.PartInfoFile, "counts %+v, manifest.json says %+v", info.Counts, j.ref.Counts)
		return info, 0, false, nil
	}
	// Decode everything first, so that a part is merged whole or not at all.
	var events []eventLine
	for i, line := range jsonLines(part.Data[bundle.EventsFile]) {
		var ev incident.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			m.problem(j.key, bundle.EventsFile, "line %d: %v", i+1, err)
			return info, 0, false, nil
		}
		events = append(events, eventLine{key: eventKey(&ev), time: ev.Time, raw: line})
	}
	lines, err := signalLines(part)
	if err != nil {
		m.problemErr(j.key, err)
		return info, 0, false, nil
	}
	for i, name := range mergedFiles[:3] {
		for _, line := range lines[i] {
			if err := m.out[name].line(line); err != nil {
				return info, 0, false, err
			}
		}
	}
	for _, ev := range events {
		if !m.seen[ev.key] {
			m.seen[ev.key] = true
			m.events = append(m.events, ev)
		}
	}
	return info, st.Size(), true, nil
}

// signalLines returns the OTLP JSON lines of a part's traces, logs and
// metrics: an otlp_json part's lines as they are, an otlp_proto part's
// requests re-encoded.
func signalLines(part *bundle.Part) ([3][][]byte, error) {
	var out [3][][]byte
	if part.Info.Encoding != bundle.EncodingProto {
		for i, name := range mergedFiles[:3] {
			out[i] = jsonLines(part.Data[name])
		}
		return out, nil
	}
	var (
		traceJSON  ptrace.JSONMarshaler
		logJSON    plog.JSONMarshaler
		metricJSON pmetric.JSONMarshaler
	)
	add := func(i int, b []byte, err error) error {
		if err != nil {
			return fmt.Errorf("re-encoding %s as JSON: %w", mergedFiles[i], err)
		}
		out[i] = append(out[i], b)
		return nil
	}
	if err := part.Traces(func(td ptrace.Traces) error {
		b, err := traceJSON.MarshalTraces(td)
		return add(0, b, err)
	}); err != nil {
		return out, err
	}
	if err := part.Logs(func(ld plog.Logs) error {
		b, err := logJSON.MarshalLogs(ld)
		return add(1, b, err)
	}); err != nil {
		return out, err
	}
	err := part.Metrics(func(md pmetric.Metrics) error {
		b, err := metricJSON.MarshalMetrics(md)
		return add(2, b, err)
	})
	return out, err
}

// jsonLines splits JSON Lines data into its non-blank lines.
func jsonLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, bytes.TrimRight(line, "\r"))
		}
	}
	return out
}

// readJSONLines calls fn with every non-blank line of r.
func readJSONLines(r io.Reader, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(n, bytes.TrimRight(line, "\r\n")); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
