package cli

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

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// partJob is one part object to fetch (Ref is nil for a part the manifest
// does not list: the collector is still writing, or has no manifest).
type partJob struct {
	evidencedir.Part
	size int64
}

// downloadStats counts what get did.
type downloadStats struct {
	// Downloaded parts and their bytes.
	Downloaded      int   `json:"downloaded"`
	DownloadedBytes int64 `json:"downloaded_bytes"`
	// Skipped parts were already present with the right SHA-256.
	Skipped int `json:"skipped"`
	// Failed parts are missing from the store or do not match their
	// manifest; they are named in the problems.
	Failed int `json:"failed"`
}

// fetchState is shared by the download workers.
type fetchState struct {
	st       store.Store
	dir      string
	progress progress

	mu       sync.Mutex
	stats    downloadStats
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

// fetchMetadata downloads incident.json and every manifest into the raw
// directory and decodes them. Undecodable objects are kept and reported.
func (o *getOptions) fetchMetadata(ctx context.Context, fetch *fetchState, g *incidentObjects) (*incident.Incident, map[string]*bundle.Manifest, error) {
	var inc *incident.Incident
	if g.incident != nil {
		key, _ := bundle.IncidentKey(g.id)
		data, err := readObject(ctx, fetch.st, key, maxIncidentJSON)
		if err != nil {
			return nil, nil, err
		}
		if err := evidencedir.WriteFile(fetch.localPath(key), data); err != nil {
			return nil, nil, err
		}
		var v incident.Incident
		if err := json.Unmarshal(data, &v); err != nil {
			fetch.problem(key, "invalid JSON: %v", err)
		} else if err := v.Validate(); err != nil {
			fetch.problem(key, "invalid incident: %v", err)
		} else {
			inc = &v
		}
	} else {
		o.root.warnf("%s has no %s (the incidents extension writes it): the merged evidence has no incident record", g.id, bundle.IncidentFile)
	}
	ids := g.collectorIDs()
	manifests := make(map[string]*bundle.Manifest, len(ids))
	var mu sync.Mutex
	err := forEach(ctx, len(ids), o.parallel, func(ctx context.Context, i int) error {
		cid := ids[i]
		if g.collectors[cid].manifest == nil {
			return nil
		}
		key, _ := bundle.ManifestKey(g.id, cid)
		data, err := readObject(ctx, fetch.st, key, maxManifestJSON)
		if err != nil {
			return err
		}
		if err := evidencedir.WriteFile(fetch.localPath(key), data); err != nil {
			return err
		}
		m, err := bundle.ParseManifest(data)
		switch {
		case err != nil:
			fetch.problem(key, "%v", err)
		case m.IncidentID != g.id || m.CollectorID != cid:
			fetch.problem(key, "names incident %q and collector %q", m.IncidentID, m.CollectorID)
		default:
			mu.Lock()
			manifests[cid] = m
			mu.Unlock()
		}
		return nil
	})
	return inc, manifests, err
}

// planParts lists the parts to fetch: every part each manifest lists, and
// every part found in the store that no manifest lists.
func planParts(id string, g *incidentObjects, manifests map[string]*bundle.Manifest) []partJob {
	var jobs []partJob
	for _, cid := range g.collectorIDs() {
		listed := make(map[int]bool)
		if m := manifests[cid]; m != nil {
			for i := range m.Parts {
				ref := &m.Parts[i]
				key, _ := bundle.PartKey(id, cid, ref.Seq)
				jobs = append(jobs, partJob{Part: evidencedir.Part{Collector: cid, Seq: ref.Seq, Key: key, Ref: ref}, size: ref.Size})
				listed[ref.Seq] = true
			}
		}
		objs := g.collectors[cid]
		for _, seq := range slices.Sorted(maps.Keys(objs.parts)) {
			if listed[seq] {
				continue
			}
			p := objs.parts[seq]
			jobs = append(jobs, partJob{Part: evidencedir.Part{Collector: cid, Seq: seq, Key: p.Key}, size: p.Size})
		}
	}
	slices.SortStableFunc(jobs, func(a, b partJob) int {
		return cmp.Or(strings.Compare(a.Collector, b.Collector), cmp.Compare(a.Seq, b.Seq))
	})
	return jobs
}

// localPath is where key lives in the folder's raw copy.
func (s *fetchState) localPath(key string) string { return evidencedir.RawPath(s.dir, key) }

// fetchPart makes the local copy of one part: kept when present with the
// manifest's size and SHA-256, else downloaded to a .partial file, checked
// and renamed. A missing or mismatching part is a problem, not an error.
func (s *fetchState) fetchPart(ctx context.Context, j partJob) error {
	path := s.localPath(j.Key)
	if j.Ref != nil {
		ok, err := fileMatches(path, j.Ref.Size, j.Ref.SHA256)
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
	if err != nil {
		return storeError(err, fmt.Sprintf("%s in %s", j.Key, s.st))
	}
	defer func() { _ = rc.Close() }()
	if j.Ref == nil && info.Size > 0 {
		j.size = info.Size
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := atomicfile.Create(atomicfile.OS, path, atomicfile.Options{TempSuffix: evidencedir.PartialSuffix, Perm: filePerm})
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
		return storeError(err, fmt.Sprintf("%s in %s", j.Key, s.st))
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

type progressWriter struct{ p progress }

func (w progressWriter) Write(b []byte) (int, error) {
	_ = w.p.Add64(int64(len(b)))
	return len(b), nil
}

// fileMatches reports whether the file at path exists with the given size
// and SHA-256.
func fileMatches(path string, size int64, sha string) (bool, error) {
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
