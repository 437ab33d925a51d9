package evidencedir

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"
	"github.com/otel-evidence/otel-evidence/internal/parallel"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// ErrIncidentNotFound is returned (wrapped) by Download when the store holds
// no object of the incident.
var ErrIncidentNotFound = errors.New("incident not found")

// DirError is a folder that cannot be created.
type DirError struct {
	Dir string
	Err error
}

func (e *DirError) Error() string { return fmt.Sprintf("cannot create %s: %v", e.Dir, e.Err) }

func (e *DirError) Unwrap() error { return e.Err }

// Progress is told the bytes downloaded.
type Progress interface {
	Add64(n int64) error
	Finish() error
}

type noProgress struct{}

func (noProgress) Add64(int64) error { return nil }
func (noProgress) Finish() error     { return nil }

// DownloadOptions tune Download.
type DownloadOptions struct {
	// Parallel is how many objects are fetched at the same time (at least 1).
	Parallel int
	// NewProgress, when set, makes the progress of a download of total bytes.
	NewProgress func(total int64) Progress
	// Warn, when set, is told what the caller should pass on (an incident
	// without incident.json).
	Warn func(msg string)
	// Now stamps the merged manifest (time.Now when nil).
	Now func() time.Time
	// Keys are the trusted public keys: with keys, every manifest and
	// part.json must carry a valid signature of one of them.
	Keys *bundle.KeyRing
	// AllowUnverified merges parts that no valid manifest covers (a
	// collector still writing, or one whose manifest is missing or badly
	// signed); they are refused otherwise.
	AllowUnverified bool
}

// DownloadStats counts what Download did.
type DownloadStats struct {
	// Downloaded parts and their bytes.
	Downloaded      int   `json:"downloaded"`
	DownloadedBytes int64 `json:"downloaded_bytes"`
	// Skipped parts were already present with the right SHA-256.
	Skipped int `json:"skipped"`
	// Failed parts are missing from the store or do not match their
	// manifest; they are named in the problems.
	Failed int `json:"failed"`
	// Notes are the incident's timeline notes fetched.
	Notes int `json:"notes"`
}

// Download fetches every part and manifest of incident id from every
// collector in st into dir's raw copy, in parallel, verifying each part's
// SHA-256 against its manifest, merges them into dir and writes
// merged-manifest.json. Running it again resumes: parts already present
// with the right SHA-256 are kept; manifests are fetched again. Parts that
// are missing or damaged are problems in the returned manifest, not
// errors. Errors: ErrIncidentNotFound, a *storage.OpError when the store
// fails, a wrapped storage.ErrObjectTooLarge, the context's error, or
// writing dir failing.
func Download(ctx context.Context, st store.Store, id, dir string, opts DownloadOptions) (*Manifest, DownloadStats, error) {
	if opts.Parallel < 1 {
		opts.Parallel = 1
	}
	if opts.Warn == nil {
		opts.Warn = func(string) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	prefix, err := bundle.IncidentPrefix(id)
	if err != nil {
		return nil, DownloadStats{}, err
	}
	objs, err := storage.ListAll(ctx, st, prefix)
	if err != nil {
		return nil, DownloadStats{}, err
	}
	g := bundle.GroupObjects(objs)[id]
	if g == nil {
		return nil, DownloadStats{}, fmt.Errorf("%w: incident %s not found in %s", ErrIncidentNotFound, id, st)
	}
	rawDir := filepath.Join(dir, RawDir)
	if err := os.MkdirAll(rawDir, DirPerm); err != nil {
		return nil, DownloadStats{}, &DirError{Dir: rawDir, Err: err}
	}
	fetch := &fetchState{st: st, dir: dir, progress: noProgress{}, bad: make(map[string]bool)}

	// incident.json, the manifests and the notes: small, fetched again.
	inc, manifests, err := fetch.fetchMetadata(ctx, g, opts.Parallel, opts.Warn)
	if err != nil {
		return nil, fetch.stats, err
	}
	if err := fetch.fetchNotes(ctx, id, objs, opts.Parallel, opts.Warn); err != nil {
		return nil, fetch.stats, err
	}
	jobs := planParts(id, g, manifests)
	var total int64
	for _, j := range jobs {
		total += j.size
	}
	if opts.NewProgress != nil {
		fetch.progress = opts.NewProgress(total)
	}
	err = parallel.ForEach(ctx, len(jobs), opts.Parallel, func(ctx context.Context, i int) error {
		return fetch.fetchPart(ctx, jobs[i])
	})
	_ = fetch.progress.Finish()
	if err != nil {
		return nil, fetch.stats, err
	}

	parts := make([]Part, len(jobs))
	for i, j := range jobs {
		parts[i] = j.Part
	}
	// The raw copy is verified as `evidencectl verify` does (signatures,
	// the hash chain, the frozen incident records); only what holds up is
	// merged.
	rec, err := fetch.custody(ctx, id, parts, opts)
	if err != nil {
		return nil, fetch.stats, err
	}
	if rec != nil {
		inc = rec
	}
	merged, err := Merge(dir, id, inc, g.CollectorIDs(), manifests, parts, fetch.bad)
	if err != nil {
		return nil, fetch.stats, err
	}
	merged.Store = st.String()
	merged.CreatedAt = opts.Now().UTC()
	merged.Problems = append(fetch.problems, merged.Problems...)
	merged.Complete = merged.Complete && len(merged.Problems) == 0
	if err := WriteJSON(filepath.Join(dir, ManifestFile), merged); err != nil {
		return nil, fetch.stats, err
	}
	return merged, fetch.stats, nil
}

// custody verifies the raw copy and leaves out of the merge (in s.bad)
// every part with a problem and, unless opts.AllowUnverified, every part
// no valid manifest covers. It returns the incident record to show: the
// one frozen into the parts, brought up to date with the registry's own
// changes (nil when the parts hold none).
func (s *fetchState) custody(ctx context.Context, id string, parts []Part, opts DownloadOptions) (*incident.Incident, error) {
	rawDir := filepath.Join(s.dir, RawDir)
	rep, err := bundle.VerifyDir(ctx, rawDir, id, bundle.VerifyOptions{Keys: opts.Keys})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", rawDir, err)
	}
	named := make(map[string]bool, len(s.problems))
	for _, p := range s.problems {
		named[p.File] = true
	}
	for _, p := range rep.AllProblems() {
		key := p.File
		if rel, err := filepath.Rel(rawDir, p.File); err == nil {
			key = filepath.ToSlash(rel)
		}
		if s.bad[key] || (named[key] && p.Entry == "") {
			continue // the download already named it
		}
		s.problems = append(s.problems, &bundle.VerifyError{File: key, Entry: p.Entry, Reason: p.Reason})
		s.bad[key] = true
	}
	covered := make(map[string]bool)
	for _, c := range rep.Collectors {
		key, _ := bundle.ManifestKey(id, c.CollectorID)
		covered[c.CollectorID] = c.HasManifest && c.Manifest.OK(opts.Keys) && !s.bad[key]
	}
	for _, p := range parts {
		if s.bad[p.Key] || (covered[p.Collector] && p.Ref != nil) {
			continue
		}
		if opts.AllowUnverified {
			opts.Warn(fmt.Sprintf("%s: no valid manifest covers it; merged because of --allow-unverified", p.Key))
			continue
		}
		s.problems = append(s.problems, &bundle.VerifyError{File: p.Key,
			Reason: "no valid manifest covers this part (its collector is still writing, or its manifest is missing or not validly signed): not merged; --allow-unverified merges it"})
		s.bad[p.Key] = true
	}
	if rep.IncidentRecord != nil {
		return rep.IncidentRecord.Record, nil
	}
	return nil, nil
}

// partJob is one part object to fetch (Ref is nil for a part the manifest
// does not list: the collector is still writing, or has no manifest).
type partJob struct {
	Part
	size int64
}

// fetchState is shared by the download workers.
type fetchState struct {
	st       store.Store
	dir      string
	progress Progress

	mu       sync.Mutex
	stats    DownloadStats
	problems []*bundle.VerifyError
	// bad holds the keys of parts that must not be merged.
	bad map[string]bool
}

func (s *fetchState) problem(key, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, &bundle.VerifyError{File: key, Reason: fmt.Sprintf(format, args...)})
	s.bad[key] = true
	s.stats.Failed++
}

// localPath is where key lives in the folder's raw copy.
func (s *fetchState) localPath(key string) string { return RawPath(s.dir, key) }

// fetchMetadata downloads incident.json and every manifest into the raw
// directory and decodes them. Undecodable objects are kept and reported.
func (s *fetchState) fetchMetadata(ctx context.Context, g *bundle.IncidentObjects, parallelism int, warn func(string)) (*incident.Incident, map[string]*bundle.Manifest, error) {
	var inc *incident.Incident
	if g.Incident != nil {
		key, _ := bundle.IncidentKey(g.ID)
		data, err := storage.ReadAll(ctx, s.st, key, bundle.MaxIncidentSize)
		if err != nil {
			return nil, nil, err
		}
		if err := WriteFile(s.localPath(key), data); err != nil {
			return nil, nil, err
		}
		var v incident.Incident
		if err := json.Unmarshal(data, &v); err != nil {
			s.problem(key, "invalid JSON: %v", err)
		} else if err := v.Validate(); err != nil {
			s.problem(key, "invalid incident: %v", err)
		} else {
			inc = &v
		}
	} else {
		warn(fmt.Sprintf("%s has no %s (the incidents extension writes it): the merged evidence has no incident record", g.ID, bundle.IncidentFile))
	}
	ids := g.CollectorIDs()
	manifests := make(map[string]*bundle.Manifest, len(ids))
	var mu sync.Mutex
	err := parallel.ForEach(ctx, len(ids), parallelism, func(ctx context.Context, i int) error {
		cid := ids[i]
		if g.Collectors[cid].Manifest == nil {
			return nil
		}
		key, _ := bundle.ManifestKey(g.ID, cid)
		data, err := storage.ReadAll(ctx, s.st, key, bundle.MaxManifestSize)
		if err != nil {
			return err
		}
		if err := WriteFile(s.localPath(key), data); err != nil {
			return err
		}
		m, err := bundle.ParseManifest(data)
		switch {
		case err != nil:
			s.problem(key, "%v", err)
		case m.IncidentID != g.ID || m.CollectorID != cid:
			s.problem(key, "names incident %q and collector %q", m.IncidentID, m.CollectorID)
		default:
			mu.Lock()
			manifests[cid] = m
			mu.Unlock()
		}
		return nil
	})
	return inc, manifests, err
}

// fetchNotes downloads the incident's notes into the raw directory, where
// the timeline reads them. A note larger than bundle.MaxNoteSize is left
// in the store with a warning: notes are people's, not the collectors'
// evidence, and one of them cannot make the download fail.
func (s *fetchState) fetchNotes(ctx context.Context, id string, objs []store.ObjectInfo, parallelism int, warn func(string)) error {
	var keys []string
	for _, o := range objs {
		if nid, _, err := bundle.ParseNoteKey(o.Key); err == nil && nid == id {
			keys = append(keys, o.Key)
		}
	}
	return parallel.ForEach(ctx, len(keys), parallelism, func(ctx context.Context, i int) error {
		data, err := storage.ReadAll(ctx, s.st, keys[i], bundle.MaxNoteSize)
		if errors.Is(err, storage.ErrObjectTooLarge) {
			warn(fmt.Sprintf("note %s is not downloaded: %v", keys[i], err))
			return nil
		}
		if err != nil {
			return err
		}
		if err := WriteFile(s.localPath(keys[i]), data); err != nil {
			return err
		}
		s.mu.Lock()
		s.stats.Notes++
		s.mu.Unlock()
		return nil
	})
}

// planParts lists the parts to fetch: every part each manifest lists, and
// every part found in the store that no manifest lists.
func planParts(id string, g *bundle.IncidentObjects, manifests map[string]*bundle.Manifest) []partJob {
	var jobs []partJob
	for _, cid := range g.CollectorIDs() {
		listed := make(map[int]bool)
		if m := manifests[cid]; m != nil {
			for i := range m.Parts {
				ref := &m.Parts[i]
				key, _ := bundle.PartKey(id, cid, ref.Seq)
				jobs = append(jobs, partJob{Part: Part{Collector: cid, Seq: ref.Seq, Key: key, Ref: ref}, size: ref.Size})
				listed[ref.Seq] = true
			}
		}
		objs := g.Collectors[cid]
		for _, seq := range slices.Sorted(maps.Keys(objs.Parts)) {
			if listed[seq] {
				continue
			}
			p := objs.Parts[seq]
			jobs = append(jobs, partJob{Part: Part{Collector: cid, Seq: seq, Key: p.Key}, size: p.Size})
		}
	}
	slices.SortStableFunc(jobs, func(a, b partJob) int {
		return cmp.Or(strings.Compare(a.Collector, b.Collector), cmp.Compare(a.Seq, b.Seq))
	})
	return jobs
}

// fetchPart makes the local copy of one part: kept when present with the
// manifest's size and SHA-256, else downloaded to a .partial file, checked
// and renamed. A missing or mismatching part is a problem, not an error.
func (s *fetchState) fetchPart(ctx context.Context, j partJob) error {
	path := s.localPath(j.Key)
	if j.Ref != nil {
		ok, err := FileMatches(path, j.Ref.Size, j.Ref.SHA256)
		if err != nil {
			return err
		}
		if ok {
			_ = s.progress.Add64(j.size)
			s.mu.Lock()
			s.stats.Skipped++
			s.mu.Unlock()
			return nil
		}
	}
	rc, info, err := s.st.Get(ctx, j.Key)
	if errors.Is(err, store.ErrNotFound) {
		s.problem(j.Key, "listed in manifest.json but missing from the store")
		return nil
	}
	if errors.Is(err, store.ErrNotRegular) {
		s.problem(j.Key, "%s", bundle.TamperedNotRegular)
		return nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "checksum mismatch") {
			// A small object is read whole by Get, which then fails the
			// transport's integrity check: damaged, not unreachable.
			s.problem(j.Key, "download failed its integrity check: %v", err)
			return nil
		}
		return &storage.OpError{What: fmt.Sprintf("%s in %s", j.Key, s.st), Err: err}
	}
	defer func() { _ = rc.Close() }()
	if j.Ref == nil && info.Size > 0 {
		j.size = info.Size
	}
	if err := os.MkdirAll(filepath.Dir(path), DirPerm); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := atomicfile.Create(atomicfile.OS, path, atomicfile.Options{TempSuffix: PartialSuffix, Perm: FilePerm})
	if err != nil {
		return err
	}
	defer f.Abort()
	h := sha256.New()
	limit := bundle.DefaultLimits.MaxTotalSize
	n, err := io.Copy(io.MultiWriter(f, h, progressWriter{s.progress}), io.LimitReader(rc, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if integrityFailure(err, n, j) {
			// The whole object arrived but failed the transport's own
			// integrity check (the S3 backend verifies a CRC32C at EOF):
			// the stored object is damaged, the store is reachable.
			s.problem(j.Key, "download failed its integrity check: %v", err)
			return nil
		}
		return &storage.OpError{What: fmt.Sprintf("%s in %s", j.Key, s.st), Err: err}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case n > limit:
		s.problem(j.Key, "larger than the limit of %d bytes", limit)
	case j.Ref != nil && n != j.Ref.Size:
		s.problem(j.Key, "size %d, manifest.json says %d", n, j.Ref.Size)
	case j.Ref != nil && sum != j.Ref.SHA256:
		s.problem(j.Key, "sha256 %s, manifest.json says %s", sum, j.Ref.SHA256)
	default:
		if err := f.Commit(); err != nil {
			return err
		}
		s.mu.Lock()
		s.stats.Downloaded++
		s.stats.DownloadedBytes += n
		s.mu.Unlock()
		return nil
	}
	return nil
}

// integrityFailure reports whether a download error is the store's
// integrity check failing rather than the store being unreachable: every
// expected byte arrived, or the S3 client says the checksum did not match
// (minio-go has no typed error for it).
func integrityFailure(err error, n int64, j partJob) bool {
	return (j.Ref != nil && n == j.Ref.Size) || strings.Contains(err.Error(), "checksum mismatch")
}

type progressWriter struct{ p Progress }

func (w progressWriter) Write(b []byte) (int, error) {
	_ = w.p.Add64(int64(len(b)))
	return len(b), nil
}

// FileMatches reports whether the file at path exists with the given size
// and SHA-256.
func FileMatches(path string, size int64, sha string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	if !info.Mode().IsRegular() || info.Size() != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sha, nil
}
