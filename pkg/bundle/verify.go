package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Report is the outcome of verifying one incident's evidence.
type Report struct {
	IncidentID string `json:"incident_id"`
	// Incident is the decoded incident.json, nil when missing or invalid.
	Incident *incident.Incident `json:"incident,omitempty"`
	// Collectors are sorted by CollectorID.
	Collectors []CollectorReport `json:"collectors"`
	// Problems concern the incident as a whole (incident.json).
	Problems []*VerifyError `json:"problems,omitempty"`
	// Unexpected lists objects under the incident that are not part of the
	// layout. They are not verified and are not problems.
	Unexpected []string `json:"unexpected,omitempty"`
}

// CollectorReport is the outcome for one collector's parts and manifest.
type CollectorReport struct {
	CollectorID string `json:"collector_id"`
	// HasManifest is false when manifest.json is missing or unreadable.
	HasManifest bool `json:"has_manifest"`
	// Complete is the manifest's own claim that the collector finished.
	Complete bool `json:"complete"`
	// Parts is the number of part objects checked (listed or found).
	Parts int `json:"parts"`
	// Unlisted are the numbers of parts found in the store but not listed
	// in the manifest (a collector still writing, or a lost manifest
	// update). They are a problem only when the manifest is complete.
	Unlisted []int `json:"unlisted,omitempty"`
	// Totals are the manifest's totals.
	Totals Counts `json:"totals"`
	// LossesKnown is false without a manifest and for a format 1 manifest,
	// which predates Lossless and Losses.
	LossesKnown bool `json:"losses_known"`
	// Lossless and Losses are the manifest's: nothing known to be missing,
	// or what is.
	Lossless bool           `json:"lossless"`
	Losses   []Loss         `json:"losses,omitempty"`
	Problems []*VerifyError `json:"problems,omitempty"`
}

// Lossless reports whether every collector's manifest is known to lack
// nothing. Losses do not make a bundle fail verification: a bundle that
// names what it lacks is honest.
func (r *Report) Lossless() bool {
	if len(r.Collectors) == 0 {
		return false
	}
	for _, c := range r.Collectors {
		if !c.LossesKnown || !c.Lossless {
			return false
		}
	}
	return true
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.AllProblems()) == 0 }

// Complete reports whether every collector's manifest says complete and no
// problem was found.
func (r *Report) Complete() bool {
	if !r.OK() || len(r.Collectors) == 0 {
		return false
	}
	for _, c := range r.Collectors {
		if !c.Complete {
			return false
		}
	}
	return true
}

// AllProblems returns the incident's problems followed by every
// collector's.
func (r *Report) AllProblems() []*VerifyError {
	out := slices.Clone(r.Problems)
	for _, c := range r.Collectors {
		out = append(out, c.Problems...)
	}
	return out
}

// source is where a bundle is read from: a store or a local directory laid
// out like the store's keys.
type source interface {
	// list returns every key under prefix, in lexical order.
	list(ctx context.Context, prefix string) ([]string, error)
	// open opens key; a missing key gives an error wrapping store.ErrNotFound.
	open(ctx context.Context, key string) (io.ReadCloser, error)
	// name is how key is shown in reports.
	name(key string) string
}

type storeSource struct{ st store.Store }

func (s storeSource) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	after := ""
	for {
		objs, err := s.st.List(ctx, prefix, after)
		if err != nil {
			return nil, fmt.Errorf("listing %q in %s: %w", prefix, s.st, err)
		}
		if len(objs) == 0 {
			return keys, nil
		}
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		next := objs[len(objs)-1].Key
		if next <= after {
			return nil, fmt.Errorf("listing %q in %s: key order went back from %q to %q", prefix, s.st, after, next)
		}
		after = next
	}
}

func (s storeSource) open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := s.st.Get(ctx, key)
	return rc, err
}

func (s storeSource) name(key string) string { return key }

type dirSource struct {
	dir  string
	root *os.Root
}

func (s dirSource) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	start := strings.TrimSuffix(prefix, "/")
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(p, prefix) {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filepath.Join(s.dir, filepath.FromSlash(start)), err)
	}
	slices.Sort(keys)
	return keys, nil
}

// errUnreadable marks objects that exist but cannot be opened as evidence
// (in a directory: a symbolic link leading outside it, a directory where a
// file belongs). They are reported as problems, not as failures to verify.
var errUnreadable = errors.New("cannot be read")

func (s dirSource) open(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := s.root.Open(filepath.FromSlash(key))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", s.name(key), store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%w: not a regular file", errUnreadable)
	}
	return f, nil
}

func (s dirSource) name(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

// VerifyBundle checks the evidence of incident id in st: incident.json
// decodes and names the incident; for every collector, the manifest
// decodes, every listed part exists with the manifest's size and SHA-256,
// and every file inside each part (listed or not) matches its part.json.
// Problems are collected in the Report; the error is for failures to run
// the check at all (invalid ID, store errors, cancellation, or no evidence:
// wraps store.ErrNotFound).
func VerifyBundle(ctx context.Context, st store.Store, id string) (Report, error) {
	return verify(ctx, storeSource{st: st}, id, DefaultLimits)
}

// VerifyDir is VerifyBundle for a local copy: dir holds the store's keys
// as paths ("incidents/<id>/..."). Symbolic links leading out of dir are
// not followed.
func VerifyDir(ctx context.Context, dir, id string) (Report, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Report{IncidentID: id}, fmt.Errorf("opening evidence directory: %w", err)
	}
	defer func() { _ = root.Close() }()
	return verify(ctx, dirSource{dir: dir, root: root}, id, DefaultLimits)
}

type collectorObjects struct {
	manifest string
	parts    map[int]string
}

func verify(ctx context.Context, src source, id string, lim Limits) (Report, error) {
	rep := Report{IncidentID: id, Collectors: []CollectorReport{}}
	prefix, err := IncidentPrefix(id)
	if err != nil {
		return rep, err
	}
	keys, err := src.list(ctx, prefix)
	if err != nil {
		return rep, err
	}
	if len(keys) == 0 {
		return rep, fmt.Errorf("incident %q: no evidence under %s: %w", id, src.name(prefix), store.ErrNotFound)
	}
	collectors := make(map[string]*collectorObjects)
	hasIncident := false
	for _, key := range keys {
		k, err := ParseKey(key)
		if err != nil || k.IncidentID != id {
			if nid, _, nerr := ParseNoteKey(key); nerr == nil && nid == id {
				continue // a note: people's, not the collectors' evidence
			}
			rep.Unexpected = append(rep.Unexpected, src.name(key))
			continue
		}
		if k.Kind == KindIncident {
			hasIncident = true
			continue
		}
		c := collectors[k.CollectorID]
		if c == nil {
			c = &collectorObjects{parts: make(map[int]string)}
			collectors[k.CollectorID] = c
		}
		if k.Kind == KindManifest {
			c.manifest = key
		} else {
			c.parts[k.Part] = key
		}
	}

	incKey, _ := IncidentKey(id)
	if !hasIncident {
		rep.Problems = append(rep.Problems, &VerifyError{File: src.name(incKey), Reason: "missing"})
	} else {
		inc, verr, err := readIncident(ctx, src, incKey, id)
		if err != nil {
			return rep, err
		}
		if verr != nil {
			rep.Problems = append(rep.Problems, verr)
		}
		rep.Incident = inc
	}

	for _, cid := range slices.Sorted(maps.Keys(collectors)) {
		cr, err := verifyCollector(ctx, src, id, cid, collectors[cid], lim)
		if err != nil {
			return rep, err
		}
		rep.Collectors = append(rep.Collectors, cr)
	}
	return rep, nil
}

// readAll reads key up to limit bytes. A VerifyError reports a missing or
// oversized object; the error is for anything else.
func readAll(ctx context.Context, src source, key string, limit int64) ([]byte, *VerifyError, error) {
	rc, err := src.open(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &VerifyError{File: src.name(key), Reason: "missing"}, nil
	}
	if errors.Is(err, errUnreadable) {
		return nil, &VerifyError{File: src.name(key), Reason: err.Error()}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", src.name(key), err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", src.name(key), err)
	}
	if int64(len(data)) > limit {
		return nil, &VerifyError{File: src.name(key), Reason: fmt.Sprintf("larger than the limit of %d bytes", limit)}, nil
	}
	return data, nil, nil
}

func readIncident(ctx context.Context, src source, key, id string) (*incident.Incident, *VerifyError, error) {
	data, verr, err := readAll(ctx, src, key, MaxIncidentSize)
	if err != nil || verr != nil {
		return nil, verr, err
	}
	bad := func(format string, args ...any) (*incident.Incident, *VerifyError, error) {
		return nil, &VerifyError{File: src.name(key), Reason: fmt.Sprintf(format, args...)}, nil
	}
	var inc incident.Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return bad("invalid JSON: %v", err)
	}
	if err := inc.Validate(); err != nil {
		return bad("invalid incident: %v", err)
	}
	if inc.ID != id {
		return bad("'id' is %q, want %q", inc.ID, id)
	}
	return &inc, nil, nil
}

func verifyCollector(ctx context.Context, src source, id, cid string, objs *collectorObjects, lim Limits) (CollectorReport, error) {
	cr := CollectorReport{CollectorID: cid}
	mkey, _ := ManifestKey(id, cid)
	var m *Manifest
	if objs.manifest == "" {
		cr.Problems = append(cr.Problems, &VerifyError{File: src.name(mkey), Reason: "missing: this collector's evidence is incomplete"})
	} else {
		data, verr, err := readAll(ctx, src, mkey, MaxManifestSize)
		if err != nil {
			return cr, err
		}
		if verr == nil {
			m, err = ParseManifest(data)
			switch {
			case err != nil:
				verr = &VerifyError{File: src.name(mkey), Reason: err.Error()}
			case m.IncidentID != id || m.CollectorID != cid:
				verr = &VerifyError{File: src.name(mkey), Reason: fmt.Sprintf("names incident %q and collector %q, but is stored under %q and %q", m.IncidentID, m.CollectorID, id, cid)}
				m = nil
			}
		}
		if verr != nil {
			cr.Problems = append(cr.Problems, verr)
		}
	}
	listed := make(map[int]bool)
	if m != nil {
		cr.HasManifest = true
		cr.Complete = m.Complete
		cr.Totals = m.Totals
		cr.LossesKnown, cr.Lossless, cr.Losses = m.LossesKnown(), m.Lossless, m.Losses
		for i := range m.Parts {
			ref := &m.Parts[i]
			listed[ref.Seq] = true
			key, _ := PartKey(id, cid, ref.Seq)
			if _, ok := objs.parts[ref.Seq]; !ok {
				cr.Problems = append(cr.Problems, &VerifyError{File: src.name(key), Reason: "listed in manifest.json but missing"})
				continue
			}
			probs, err := verifyPart(ctx, src, key, id, cid, ref, lim)
			if err != nil {
				return cr, err
			}
			cr.Parts++
			cr.Problems = append(cr.Problems, probs...)
		}
	}
	for _, seq := range slices.Sorted(maps.Keys(objs.parts)) {
		if listed[seq] {
			continue
		}
		key := objs.parts[seq]
		cr.Unlisted = append(cr.Unlisted, seq)
		if m != nil && m.Complete {
			cr.Problems = append(cr.Problems, &VerifyError{File: src.name(key), Reason: "not listed in the complete manifest.json"})
		}
		probs, err := verifyPart(ctx, src, key, id, cid, nil, lim)
		if err != nil {
			return cr, err
		}
		cr.Parts++
		cr.Problems = append(cr.Problems, probs...)
	}
	return cr, nil
}

// countingHash hashes and counts what is read through it.
type countingHash struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingHash) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// verifyPart streams one part object once: hashing it for the manifest
// check while decoding it for the part.json check. ref is nil for parts the
// manifest does not list.
func verifyPart(ctx context.Context, src source, key, id, cid string, ref *PartRef, lim Limits) ([]*VerifyError, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := src.name(key)
	rc, err := src.open(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return []*VerifyError{{File: name, Reason: "missing"}}, nil
	}
	if errors.Is(err, errUnreadable) {
		return []*VerifyError{{File: name, Reason: err.Error()}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	defer func() { _ = rc.Close() }()
	in := &countingHash{r: io.LimitReader(rc, lim.MaxTotalSize+1), h: sha256.New()}
	part, perr := ReadPartLimits(in, lim)
	if _, err := io.Copy(io.Discard, in); err != nil {
		if strings.Contains(err.Error(), "checksum mismatch") {
			// The S3 client checks the object's stored CRC at its end:
			// the object is damaged, the store is reachable.
			return []*VerifyError{{File: name, Reason: "failed the store's integrity check: " + err.Error()}}, nil
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var probs []*VerifyError
	add := func(entry, format string, args ...any) {
		probs = append(probs, &VerifyError{File: name, Entry: entry, Reason: fmt.Sprintf(format, args...)})
	}
	if in.n > lim.MaxTotalSize {
		add("", "larger than the limit of %d bytes", lim.MaxTotalSize)
		return probs, nil
	}
	if ref != nil {
		if in.n != ref.Size {
			add("", "size %d, manifest.json says %d", in.n, ref.Size)
		}
		if sum := hex.EncodeToString(in.h.Sum(nil)); sum != ref.SHA256 {
			add("", "sha256 %s, manifest.json says %s", sum, ref.SHA256)
		}
	}
	if perr != nil {
		var ve *VerifyError
		if errors.As(perr, &ve) {
			add(ve.Entry, "%s", ve.Reason)
		} else {
			add("", "%v", perr)
		}
		return probs, nil
	}
	for _, p := range part.Problems() {
		add(p.Entry, "%s", p.Reason)
	}
	info := part.Info
	seq := 0
	if k, err := ParseKey(key); err == nil {
		seq = k.Part
	}
	if info.IncidentID != id || info.CollectorID != cid || info.Seq != seq {
		add(PartInfoFile, "describes part %d of incident %q by collector %q, but is stored as part %d of %q by %q",
			info.Seq, info.IncidentID, info.CollectorID, seq, id, cid)
	}
	if ref != nil && info.Counts != ref.Counts {
		add(PartInfoFile, "counts %+v, manifest.json says %+v", info.Counts, ref.Counts)
	}
	return probs, nil
}
