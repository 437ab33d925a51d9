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
	// TrustedKeys are the key IDs signatures were checked against; none
	// means signatures were not checked.
	TrustedKeys []string `json:"trusted_keys,omitempty"`
	// IncidentRecord compares incident.json with the records frozen into
	// the parts.
	IncidentRecord *IncidentCheck `json:"incident_record,omitempty"`
}

// Signed reports whether every collector's manifest and parts carry a
// signature (checked or not).
func (r *Report) Signed() bool {
	if len(r.Collectors) == 0 {
		return false
	}
	for _, c := range r.Collectors {
		if !c.Signed() {
			return false
		}
	}
	return true
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
	Lossless bool   `json:"lossless"`
	Losses   []Loss `json:"losses,omitempty"`
	// Manifest is the outcome of checking the manifest's signature.
	Manifest Signature `json:"manifest_signature"`
	// SignedParts counts the parts whose part.json is signed (checked or
	// not); UnsignedParts those without a signature.
	SignedParts   int `json:"signed_parts"`
	UnsignedParts int `json:"unsigned_parts"`
	// KeyIDs are the key IDs that signed the manifest and parts.
	KeyIDs []string `json:"key_ids,omitempty"`
	// Chained counts the parts whose link to the previous part was checked.
	Chained int `json:"chained_parts"`
	// DerivedFrom is set for a derived (redacted) bundle.
	DerivedFrom *DerivedCheck  `json:"derived_from,omitempty"`
	Problems    []*VerifyError `json:"problems,omitempty"`
}

// Signed reports whether the collector's manifest and every part carry a
// signature.
func (c *CollectorReport) Signed() bool {
	return c.Manifest.State != SigUnsigned && c.Manifest.State != "" && c.UnsignedParts == 0
}

// DerivedCheck is what verify found about a derived bundle's source.
type DerivedCheck struct {
	SourceManifestSHA256 string `json:"source_manifest_sha256"`
	RulesSHA256          string `json:"rules_sha256"`
	Tool                 string `json:"tool,omitempty"`
	// SourceSignature is the source manifest's own signature, checked
	// against the same trusted keys.
	SourceSignature Signature `json:"source_signature"`
	// SourceCollector is the collector that wrote the source.
	SourceCollector string `json:"source_collector,omitempty"`
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

// TamperedNotRegular is the problem of an object that is not a regular
// file (in a filesystem store or a downloaded copy): a symbolic link, even
// to another part, is never something a collector wrote.
const TamperedNotRegular = "tampered with: a symbolic link or other non-regular file stands where the collector writes a regular object"

func (s dirSource) open(_ context.Context, key string) (io.ReadCloser, error) {
	name := filepath.FromSlash(key)
	if st, err := s.root.Lstat(name); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", s.name(key), store.ErrNotRegular)
	}
	f, err := s.root.Open(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", s.name(key), store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", s.name(key), store.ErrNotRegular)
	}
	return f, nil
}

func (s dirSource) name(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

// openProblem turns an error opening key into a problem, or returns it
// when it is a failure to read at all.
func openProblem(src source, key string, err error) (*VerifyError, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &VerifyError{File: src.name(key), Reason: "missing"}, nil
	case errors.Is(err, store.ErrNotRegular):
		return &VerifyError{File: src.name(key), Reason: TamperedNotRegular}, nil
	case errors.Is(err, errUnreadable):
		return &VerifyError{File: src.name(key), Reason: err.Error()}, nil
	}
	return nil, fmt.Errorf("opening %s: %w", src.name(key), err)
}

// VerifyOptions tune verification.
type VerifyOptions struct {
	// Keys are the trusted public keys. With keys, every manifest and part
	// must carry a valid signature by one of them; without, signatures are
	// reported but not checked.
	Keys *KeyRing
	// Limits bound the reading of each part; zero means DefaultLimits.
	Limits Limits
	// derived is set while a derived (redacted) collector's parts are
	// checked: they are not the collector's, so they need no signature of
	// its keys (the source manifest's signature is checked instead).
	derived bool
}

// acceptable reports whether sig is acceptable for a document: valid
// under opts, or, in a derived bundle, anything but a bad signature.
func (o VerifyOptions) acceptable(sig Signature) bool {
	return sig.OK(o.Keys) || (o.derived && sig.State != SigInvalid)
}

// VerifyBundle checks the evidence of incident id in st: incident.json
// decodes, names the incident and agrees with the records frozen into the
// parts; for every collector, the manifest decodes, every listed part
// exists with the manifest's size and SHA-256, every file inside each part
// (listed or not) matches its part.json, and each part names the SHA-256
// of the one before it; with trusted keys, every manifest and part.json is
// signed by one of them. Problems are collected in the Report; the error
// is for failures to run the check at all (invalid ID, store errors,
// cancellation, or no evidence: wraps store.ErrNotFound).
func VerifyBundle(ctx context.Context, st store.Store, id string, opts ...VerifyOptions) (Report, error) {
	return verify(ctx, storeSource{st: st}, id, oneOpts(opts))
}

// VerifyDir is VerifyBundle for a local copy: dir holds the store's keys
// as paths ("incidents/<id>/..."). Symbolic links are never followed: one
// where an object belongs is reported as tampering.
func VerifyDir(ctx context.Context, dir, id string, opts ...VerifyOptions) (Report, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Report{IncidentID: id}, fmt.Errorf("opening evidence directory: %w", err)
	}
	defer func() { _ = root.Close() }()
	return verify(ctx, dirSource{dir: dir, root: root}, id, oneOpts(opts))
}

func oneOpts(opts []VerifyOptions) VerifyOptions {
	var o VerifyOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Limits = o.Limits.orDefault()
	return o
}

type collectorObjects struct {
	manifest string
	parts    map[int]string
}

func verify(ctx context.Context, src source, id string, opts VerifyOptions) (Report, error) {
	rep := Report{IncidentID: id, Collectors: []CollectorReport{}, TrustedKeys: opts.Keys.KeyIDs()}
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

	var frozen []FrozenRecord
	for _, cid := range slices.Sorted(maps.Keys(collectors)) {
		cr, fr, err := verifyCollector(ctx, src, id, cid, collectors[cid], opts)
		if err != nil {
			return rep, err
		}
		rep.Collectors = append(rep.Collectors, cr)
		frozen = append(frozen, fr...)
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
	if len(frozen) > 0 {
		chk := CheckIncident(rep.Incident, frozen)
		rep.IncidentRecord = &chk
		if chk.Tampered != "" {
			rep.Problems = append(rep.Problems, &VerifyError{File: src.name(incKey), Reason: chk.Tampered})
		}
	}
	return rep, nil
}

// readAll reads key up to limit bytes. A VerifyError reports a missing,
// non-regular or oversized object; the error is for anything else.
func readAll(ctx context.Context, src source, key string, limit int64) ([]byte, *VerifyError, error) {
	rc, err := src.open(ctx, key)
	if err != nil {
		verr, err := openProblem(src, key, err)
		return nil, verr, err
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

// partResult is what reading one part object found.
type partResult struct {
	key    string
	seq    int
	info   *PartInfo
	sha256 string
	sig    Signature
	frozen *incident.Incident
	ok     bool // no problem at all
}

func verifyCollector(ctx context.Context, src source, id, cid string, objs *collectorObjects, opts VerifyOptions) (CollectorReport, []FrozenRecord, error) {
	cr := CollectorReport{CollectorID: cid}
	mkey, _ := ManifestKey(id, cid)
	problem := func(key, reason string) {
		cr.Problems = append(cr.Problems, &VerifyError{File: src.name(key), Reason: reason})
	}
	var m *Manifest
	if objs.manifest == "" {
		problem(mkey, "missing: this collector's evidence is incomplete, and no manifest vouches for its parts")
	} else {
		data, verr, err := readAll(ctx, src, mkey, MaxManifestSize)
		if err != nil {
			return cr, nil, err
		}
		if verr == nil {
			var sig Signature
			m, sig, err = OpenManifest(data, opts.Keys)
			cr.Manifest = sig
			switch {
			case err != nil:
				verr = &VerifyError{File: src.name(mkey), Reason: err.Error()}
			case m.IncidentID != id || m.CollectorID != cid:
				verr = &VerifyError{File: src.name(mkey), Reason: fmt.Sprintf("names incident %q and collector %q, but is stored under %q and %q", m.IncidentID, m.CollectorID, id, cid)}
				m = nil
			case !sig.OK(opts.Keys) && (m.DerivedFrom == nil || sig.State == SigInvalid):
				verr = &VerifyError{File: src.name(mkey), Reason: sig.Problem(opts.Keys)}
			}
			if m != nil && m.DerivedFrom != nil {
				opts.derived = true
			}
			cr.KeyIDs = appendNew(cr.KeyIDs, sig.KeyIDs...)
		}
		if verr != nil {
			cr.Problems = append(cr.Problems, verr)
		}
	}
	listed := make(map[int]*PartRef)
	results := make(map[int]*partResult)
	check := func(seq int, key string, ref *PartRef) error {
		res, probs, err := verifyPart(ctx, src, key, id, cid, ref, opts)
		if err != nil {
			return err
		}
		cr.Parts++
		cr.Problems = append(cr.Problems, probs...)
		if res != nil {
			results[seq] = res
		}
		return nil
	}
	if m != nil {
		cr.HasManifest = true
		cr.Complete = m.Complete
		cr.Totals = m.Totals
		cr.LossesKnown, cr.Lossless, cr.Losses = m.LossesKnown(), m.Lossless, m.Losses
		for i := range m.Parts {
			ref := &m.Parts[i]
			listed[ref.Seq] = ref
			key, _ := PartKey(id, cid, ref.Seq)
			if _, ok := objs.parts[ref.Seq]; !ok {
				// Not listed by the store: missing, or something other
				// than an object (a symbolic link) stands there.
				rc, err := src.open(ctx, key)
				if err == nil {
					_ = rc.Close()
				}
				if errors.Is(err, store.ErrNotRegular) {
					problem(key, TamperedNotRegular)
				} else {
					problem(key, "listed in manifest.json but missing")
				}
				continue
			}
			if err := check(ref.Seq, key, ref); err != nil {
				return cr, nil, err
			}
		}
		if m.DerivedFrom != nil {
			cr.DerivedFrom = checkDerivation(m, opts.Keys, results, func(reason string) { problem(mkey, reason) })
		}
	}
	for _, seq := range slices.Sorted(maps.Keys(objs.parts)) {
		if listed[seq] != nil {
			continue
		}
		key := objs.parts[seq]
		cr.Unlisted = append(cr.Unlisted, seq)
		if m != nil && m.Complete {
			problem(key, "not listed in the complete manifest.json")
		}
		if err := check(seq, key, nil); err != nil {
			return cr, nil, err
		}
	}
	var frozen []FrozenRecord
	for _, seq := range slices.Sorted(maps.Keys(results)) {
		res := results[seq]
		if res.sig.State == SigUnsigned {
			cr.UnsignedParts++
		} else {
			cr.SignedParts++
			cr.KeyIDs = appendNew(cr.KeyIDs, res.sig.KeyIDs...)
		}
		if res.frozen != nil && res.ok {
			frozen = append(frozen, FrozenRecord{Incident: res.frozen, File: src.name(res.key), FrozenAt: res.info.CreatedAt})
		}
	}
	cr.Chained = checkChain(results, func(key, reason string) { problem(key, reason) }, func(seq int) string {
		k, _ := PartKey(id, cid, seq)
		return k
	})
	return cr, frozen, nil
}

func appendNew(list []string, ids ...string) []string {
	for _, id := range ids {
		if !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return list
}

// checkChain checks that each part of format 2 names the SHA-256 of the
// collector's part before it, and returns the number of links checked.
func checkChain(results map[int]*partResult, problem func(key, reason string), keyOf func(int) string) int {
	n := 0
	for _, seq := range slices.Sorted(maps.Keys(results)) {
		res := results[seq]
		if res.info == nil || res.info.Format < 2 || seq == 1 || res.info.Seq != seq {
			continue
		}
		n++
		want := res.info.PrevPartSHA256
		prev := results[seq-1]
		switch {
		case want == "":
			problem(res.key, fmt.Sprintf("hash chain broken: part %d does not name the SHA-256 of part %d", seq, seq-1))
		case prev == nil:
			problem(res.key, fmt.Sprintf("hash chain broken: part %d follows a part %d with SHA-256 %s, which is missing or unreadable (%s)",
				seq, seq-1, want, keyOf(seq-1)))
		case prev.sha256 != want:
			problem(res.key, fmt.Sprintf("hash chain broken: part %d follows a part %d with SHA-256 %s, but %s has SHA-256 %s (removed, replaced or reordered)",
				seq, seq-1, want, keyOf(seq-1), prev.sha256))
		}
	}
	return n
}

// checkDerivation checks a derived manifest against the source manifest it
// carries: the digest, the source's signature, and that every derived part
// was made from the source's part of the same number.
func checkDerivation(m *Manifest, keys *KeyRing, results map[int]*partResult, problem func(string)) *DerivedCheck {
	d := m.DerivedFrom
	out := &DerivedCheck{SourceManifestSHA256: d.SourceManifestSHA256, RulesSHA256: d.RulesSHA256, Tool: d.Tool}
	sum := sha256.Sum256(d.SourceManifest)
	if hex.EncodeToString(sum[:]) != d.SourceManifestSHA256 {
		problem(fmt.Sprintf("'derived_from.source_manifest' has SHA-256 %s, not the %s it names", hex.EncodeToString(sum[:]), d.SourceManifestSHA256))
		return out
	}
	src, sig, err := OpenManifest(d.SourceManifest, keys)
	out.SourceSignature = sig
	if err != nil {
		problem("'derived_from.source_manifest': " + err.Error())
		return out
	}
	if !sig.OK(keys) {
		problem("the source manifest it was derived from: " + sig.Problem(keys))
	}
	out.SourceCollector = src.CollectorID
	if src.IncidentID != m.IncidentID {
		problem(fmt.Sprintf("derived from a manifest of incident %q", src.IncidentID))
	}
	bySeq := make(map[int]PartRef, len(src.Parts))
	for _, p := range src.Parts {
		bySeq[p.Seq] = p
	}
	for _, seq := range slices.Sorted(maps.Keys(results)) {
		res := results[seq]
		if res.info == nil {
			continue
		}
		ref, ok := bySeq[seq]
		if !ok || ref.SHA256 != res.info.SourcePartSHA256 {
			problem(fmt.Sprintf("part %d names source part SHA-256 %q, which the source manifest does not list as part %d", seq, res.info.SourcePartSHA256, seq))
		}
	}
	return out
}

func asVerifyError(err error) *VerifyError {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve
	}
	return nil
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

// verifyPart streams one part object once, in bounded memory: hashing it
// for the manifest check while decoding it for the part.json check. ref is
// nil for parts the manifest does not list. The result is nil when the
// part could not be opened.
func verifyPart(ctx context.Context, src source, key, id, cid string, ref *PartRef, opts VerifyOptions) (*partResult, []*VerifyError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	lim := opts.Limits
	name := src.name(key)
	rc, err := src.open(ctx, key)
	if err != nil {
		verr, err := openProblem(src, key, err)
		if verr != nil {
			return nil, []*VerifyError{verr}, nil
		}
		return nil, nil, err
	}
	defer func() { _ = rc.Close() }()
	seq := 0
	if k, err := ParseKey(key); err == nil {
		seq = k.Part
	}
	res := &partResult{key: key, seq: seq}
	in := &countingHash{r: io.LimitReader(rc, lim.MaxTotalSize+1), h: sha256.New()}
	var probs []*VerifyError
	add := func(entry, format string, args ...any) {
		probs = append(probs, &VerifyError{File: name, Entry: entry, Reason: fmt.Sprintf(format, args...)})
	}
	addErr := func(err error) {
		var ve *VerifyError
		if errors.As(err, &ve) {
			add(ve.Entry, "%s", ve.Reason)
		} else {
			add("", "%v", err)
		}
	}
	ps, perr := OpenPart(in, ReadOptions{Limits: lim, Keys: opts.Keys})
	if perr == nil {
		defer ps.Close()
		// Every record is delimited (nothing decoded), so that a part
		// readers would refuse (a line over the record limit) fails here.
		perr = ps.Walk(func(string, []byte) error { return nil })
		if slices.Contains(ps.Problems(), asVerifyError(perr)) {
			perr = nil // listed with the problems below
		}
	}
	// The rest of the object is hashed for the manifest check.
	_, readErr := io.Copy(io.Discard, in)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if readErr != nil {
		if !strings.Contains(readErr.Error(), "checksum mismatch") {
			return nil, nil, fmt.Errorf("reading %s: %w", name, readErr)
		}
		// The S3 client checks the object's stored CRC at its end: the
		// object is damaged, the store is reachable.
		add("", "failed the store's integrity check: %v", readErr)
	}
	res.sha256 = hex.EncodeToString(in.h.Sum(nil))
	if in.n > lim.MaxTotalSize {
		add("", "larger than the limit of %d bytes", lim.MaxTotalSize)
		return res, probs, nil
	}
	if ref != nil {
		if in.n != ref.Size {
			add("", "size %d, manifest.json says %d", in.n, ref.Size)
		}
		if res.sha256 != ref.SHA256 {
			add("", "sha256 %s, manifest.json says %s", res.sha256, ref.SHA256)
		}
	}
	if ps == nil {
		addErr(perr)
		return res, probs, nil
	}
	info := ps.Info()
	res.info = &info
	res.sig = ps.Signature()
	if !opts.acceptable(res.sig) {
		add(PartInfoFile, "%s", res.sig.Problem(opts.Keys))
	}
	for _, p := range ps.Problems() {
		add(p.Entry, "%s", p.Reason)
	}
	if perr != nil {
		addErr(perr)
	}
	if info.IncidentID != id || info.CollectorID != cid || info.Seq != seq {
		add(PartInfoFile, "describes part %d of incident %q by collector %q, but is stored as part %d of %q by %q",
			info.Seq, info.IncidentID, info.CollectorID, seq, id, cid)
	}
	if ref != nil && info.Counts != ref.Counts {
		add(PartInfoFile, "counts %+v, manifest.json says %+v", info.Counts, ref.Counts)
	}
	if inc, err := ps.Incident(); err != nil {
		addErr(err)
	} else if inc != nil && inc.ID != id {
		add(PartIncidentFile, "records incident %q, not %q", inc.ID, id)
	} else {
		res.frozen = inc
	}
	res.ok = len(probs) == 0
	return res, probs, nil
}
