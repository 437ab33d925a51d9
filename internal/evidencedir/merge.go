package evidencedir

import (
	"bufio"
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
	f, err := atomicfile.Create(atomicfile.OS, path, atomicfile.Options{TempSuffix: PartialSuffix, Perm: FilePerm})
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

// appendFrom copies the n bytes of lines spilled in f.
func (o *outFile) appendFrom(f *os.File, n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("merging into %s: %w", o.path, err)
	}
	if _, err := io.Copy(io.MultiWriter(o.w, o.h), io.LimitReader(f, n)); err != nil {
		return fmt.Errorf("writing %s: %w", o.path, err)
	}
	o.n += n
	return nil
}

// eventLine is one distinct event with the line it was first stored as.
type eventLine struct {
	key  string
	time time.Time
	raw  []byte
}

// merger concatenates parts into the merged files.
type merger struct {
	out        map[string]*outFile
	spill      *spill
	events     []eventLine
	eventBytes int64
	seen       map[string]bool
	problems   []*bundle.VerifyError
}

// eventKey identifies an event across replicas: every replica that
// records the same webhook call stores the same kind, IDs, time and source.
func eventKey(ev *incident.Event) string {
	return string(ev.Kind) + "\x00" + ev.IncidentID + "\x00" + ev.DeployID + "\x00" +
		ev.Time.UTC().Format(time.RFC3339Nano) + "\x00" + ev.Source
}

// Part is one part object of the raw copy, to merge.
type Part struct {
	Collector string
	Seq       int
	// Key is the object key; the part is at RawPath(dir, Key).
	Key string
	// Ref is the manifest's record, nil for a part its collector's
	// manifest does not list (yet).
	Ref *bundle.PartRef
}

// Merge merges the raw copies of parts (in order) of incident id's
// collectors into dir's merged files and returns the manifest to write
// (Store and CreatedAt are the caller's). Parts in skip (by key) are left
// out; parts that fail to decode or verify are named in the manifest's
// problems and left out. The merged files are written atomically: an error
// leaves the previous ones.
func Merge(dir, id string, inc *incident.Incident, collectors []string, manifests map[string]*bundle.Manifest,
	parts []Part, skip map[string]bool,
) (*Manifest, error) {
	sp, err := newSpill(dir)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	m := &merger{out: make(map[string]*outFile), seen: make(map[string]bool), spill: sp}
	for _, name := range MergedFiles {
		f, err := createOut(filepath.Join(dir, name))
		if err != nil {
			m.abort()
			return nil, err
		}
		m.out[name] = f
	}
	mm := &Manifest{
		Format:     Format,
		IncidentID: id,
		Incident:   inc,
		Collectors: []Collector{},
		Files:      make(map[string]bundle.FileInfo),
		Complete:   len(collectors) > 0,
	}
	byID := make(map[string]int)
	for _, cid := range collectors {
		mc := Collector{CollectorID: cid}
		if man := manifests[cid]; man != nil {
			w := man.Window
			mc.HasManifest, mc.Complete, mc.Window = true, man.Complete, &w
			mc.LossesKnown, mc.Lossless, mc.Losses = man.LossesKnown(), man.Lossless, man.Losses
		}
		mm.Complete = mm.Complete && mc.Complete
		byID[cid] = len(mm.Collectors)
		mm.Collectors = append(mm.Collectors, mc)
	}
	for _, j := range parts {
		if skip[j.Key] {
			continue
		}
		info, size, ok, err := m.mergePart(RawPath(dir, j.Key), id, j)
		if err != nil {
			m.abort()
			return nil, err
		}
		if !ok {
			continue
		}
		mc := &mm.Collectors[byID[j.Collector]]
		mc.Parts++
		mc.Bytes += size
		if j.Ref == nil {
			mc.UnlistedParts = append(mc.UnlistedParts, j.Seq)
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
	for _, name := range MergedFiles {
		fi, err := m.out[name].commit()
		if err != nil {
			m.abort()
			return nil, err
		}
		delete(m.out, name)
		mm.Files[name] = fi
	}
	mm.Problems = m.problems
	mm.Lossless = mm.LossesKnown() && len(mm.Losses()) == 0
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

// maxEventBytes bounds the distinct events held for sorting across a
// whole merge (events are few: incident and deploy events).
const maxEventBytes = 64 << 20

// spill holds one part's merged lines until the whole part has been read
// and checked, so that a part is merged whole or not at all while never
// being held in memory.
type spill struct {
	f [3]*os.File
	n [3]int64
}

func newSpill(dir string) (*spill, error) {
	sp := &spill{}
	for i := range sp.f {
		f, err := os.CreateTemp(dir, ".merge-spill-*")
		if err != nil {
			sp.close()
			return nil, fmt.Errorf("creating a temporary file in %s: %w", dir, err)
		}
		_ = os.Remove(f.Name()) // unlinked: gone whatever happens
		sp.f[i] = f
	}
	return sp, nil
}

func (sp *spill) reset() error {
	for i, f := range sp.f {
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		sp.n[i] = 0
	}
	return nil
}

func (sp *spill) line(i int, b []byte) error {
	if _, err := sp.f[i].Write(b); err != nil {
		return err
	}
	if _, err := sp.f[i].Write([]byte{'\n'}); err != nil {
		return err
	}
	sp.n[i] += int64(len(b)) + 1
	return nil
}

func (sp *spill) close() {
	for _, f := range sp.f {
		if f != nil {
			_ = f.Close()
		}
	}
}

// mergePart reads one local part in one pass, verifies it against its
// part.json and appends its items. ok is false when the part was reported
// and skipped; the error is for failures to write the merged files.
func (m *merger) mergePart(path, id string, j Part) (info bundle.PartInfo, size int64, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		m.problem(j.Key, "", "local copy unreadable: %v", err)
		return info, 0, false, nil
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		m.problem(j.Key, "", "local copy unreadable: %v", err)
		return info, 0, false, nil
	}
	ps, err := bundle.OpenPart(f, bundle.ReadOptions{})
	if err != nil {
		m.problemErr(j.Key, err)
		return info, 0, false, nil
	}
	defer ps.Close()
	info = ps.Info()
	if info.IncidentID != id || info.CollectorID != j.Collector || info.Seq != j.Seq {
		m.problem(j.Key, bundle.PartInfoFile, "describes part %d of incident %q by collector %q", info.Seq, info.IncidentID, info.CollectorID)
		return info, 0, false, nil
	}
	if j.Ref != nil && info.Counts != j.Ref.Counts {
		m.problem(j.Key, bundle.PartInfoFile, "counts %+v, manifest.json says %+v", info.Counts, j.Ref.Counts)
		return info, 0, false, nil
	}
	if err := m.spill.reset(); err != nil {
		return info, 0, false, fmt.Errorf("merging: %w", err)
	}
	var events []eventLine
	partSeen := make(map[string]bool)
	evBytes := m.eventBytes
	var writeErr error
	var (
		traceJSON  ptrace.JSONMarshaler
		logJSON    plog.JSONMarshaler
		metricJSON pmetric.JSONMarshaler
	)
	proto := info.Encoding == bundle.EncodingProto
	walkErr := ps.Walk(func(name string, rec []byte) error {
		i := slices.Index([]string{"traces", "logs", "metrics"}, bundle.SignalOf(name))
		if name == bundle.EventsFile {
			var ev incident.Event
			if err := json.Unmarshal(rec, &ev); err != nil {
				return bundle.RecordError{Err: err}
			}
			key := eventKey(&ev)
			if m.seen[key] || partSeen[key] {
				return nil
			}
			partSeen[key] = true
			evBytes += int64(len(rec))
			if evBytes > maxEventBytes {
				return bundle.RecordError{Err: fmt.Errorf("the events exceed the merge's limit of %d bytes", maxEventBytes)}
			}
			events = append(events, eventLine{key: key, time: ev.Time, raw: slices.Clone(rec)})
			return nil
		}
		if i < 0 {
			return nil
		}
		line := rec
		if proto {
			var err error
			switch i {
			case 0:
				var td ptrace.Traces
				if td, err = bundle.DecodeTraces(info.Encoding, rec); err == nil {
					line, err = traceJSON.MarshalTraces(td)
				}
			case 1:
				var ld plog.Logs
				if ld, err = bundle.DecodeLogs(info.Encoding, rec); err == nil {
					line, err = logJSON.MarshalLogs(ld)
				}
			case 2:
				var md pmetric.Metrics
				if md, err = bundle.DecodeMetrics(info.Encoding, rec); err == nil {
					line, err = metricJSON.MarshalMetrics(md)
				}
			}
			if err != nil {
				return bundle.RecordError{Err: fmt.Errorf("re-encoding as JSON: %w", err)}
			}
		}
		if err := m.spill.line(i, line); err != nil {
			writeErr = err
			return err
		}
		return nil
	})
	if writeErr != nil {
		return info, 0, false, fmt.Errorf("merging: %w", writeErr)
	}
	if walkErr != nil {
		for _, p := range ps.Problems() {
			m.problem(j.Key, p.Entry, "%s", p.Reason)
		}
		if len(ps.Problems()) == 0 {
			m.problemErr(j.Key, walkErr)
		}
		return info, 0, false, nil
	}
	for i, name := range SignalFiles {
		if err := m.out[name].appendFrom(m.spill.f[i], m.spill.n[i]); err != nil {
			return info, 0, false, err
		}
	}
	for _, ev := range events {
		m.seen[ev.key] = true
		m.events = append(m.events, ev)
	}
	m.eventBytes = evBytes
	return info, st.Size(), true, nil
}
