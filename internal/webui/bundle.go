package webui

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// DefaultShareExpiry is the validity the bundle page offers first.
const DefaultShareExpiry = 24 * time.Hour

type bundleFile struct {
	Key, Name, Kind string
	Size            int64
	// Check says what verification established of a file without problems.
	Check    string
	Problems []string
	// Share is the presigned URL, when asked for.
	Share string
}

type lossRow struct {
	Collector string
	bundle.Loss
}

type bundlePage struct {
	page
	Report   bundle.Report
	OK       bool
	Complete bool
	// ProblemCount counts every problem verification found.
	ProblemCount int
	Files        []bundleFile
	Problems     []string
	// Losses and Signatures say what the bundle records of them; LossRows
	// are the losses its manifests name.
	Losses, Signatures string
	LossRows           []lossRow
	Bytes              int64
	// Shareable: the store can presign URLs (S3) and the server allows it.
	Shareable bool
	Expires   string
	ExpiresAt time.Time
	Shared    bool
	ShareErr  string
}

func (s *Server) bundlePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	st, objs, err := s.objects(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.verify(ctx, st, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := bundlePage{page: s.page(id+": bundle", id, "bundle"), Report: rep, Signatures: s.signatures(rep)}
	known := len(rep.Collectors) > 0
	for _, c := range rep.Collectors {
		known = known && c.LossesKnown
		for _, l := range c.Losses {
			p.LossRows = append(p.LossRows, lossRow{c.CollectorID, l})
		}
	}
	switch {
	case rep.Lossless():
		p.Losses = "none: every manifest says nothing is known to be missing"
	case len(p.LossRows) > 0:
		p.Losses = "the manifests name what is missing (below)"
	case !known:
		p.Losses = "not recorded by this bundle (a manifest is missing or predates loss records)"
	default:
		p.Losses = "a manifest says something is missing"
	}
	p.OK, p.Complete, p.ProblemCount = rep.OK(), rep.Complete(), len(rep.AllProblems())
	byKey := map[string][]string{}
	for _, e := range rep.AllProblems() {
		if e.File == "" {
			p.Problems = append(p.Problems, e.Error())
			continue
		}
		msg := e.Reason
		if e.Entry != "" {
			msg = e.Entry + ": " + msg
		}
		byKey[e.File] = append(byKey[e.File], msg)
	}
	for _, o := range objs {
		f := bundleFile{Key: o.Key, Name: strings.TrimPrefix(o.Key, bundle.IncidentsPrefix+id+"/"), Size: o.Size, Kind: kindOf(o.Key), Problems: byKey[o.Key]}
		f.Check = checkOf(f.Kind)
		delete(byKey, o.Key)
		p.Bytes += o.Size
		p.Files = append(p.Files, f)
	}
	for key, msgs := range byKey { // problems of objects that are not there
		p.Files = append(p.Files, bundleFile{Key: key, Name: strings.TrimPrefix(key, bundle.IncidentsPrefix+id+"/"), Kind: kindOf(key), Problems: msgs})
	}
	_, presigns := st.(catalog.Presigner)
	p.Shareable = presigns && s.share
	p.Expires = DefaultShareExpiry.String()
	if v := r.URL.Query().Get("expires"); v != "" && p.Shareable {
		p.Expires = v
		s.presign(ctx, st, id, &p)
	}
	s.render(w, http.StatusOK, "bundle", p)
}

// signatures sums up what verification found of the signatures.
func (s *Server) signatures(rep bundle.Report) string {
	signed, unsigned := 0, 0
	states := map[bundle.SignatureState]bool{}
	var unknown []string
	for _, c := range rep.Collectors {
		signed += c.SignedParts
		unsigned += c.UnsignedParts
		states[c.Manifest.State] = true
		if c.Manifest.State == bundle.SigUnknownKey {
			for _, k := range c.Manifest.KeyIDs {
				if !slices.Contains(unknown, Text(k)) {
					unknown = append(unknown, Text(k))
				}
			}
		}
		if c.Manifest.State == bundle.SigUnsigned {
			unsigned++
		} else {
			signed++
		}
	}
	switch {
	case signed == 0:
		return "unsigned: the collector had no signing key"
	case states[bundle.SigInvalid]:
		return "NOT VALID: a signature does not match what it signs; see the problems below"
	case states[bundle.SigUnknownKey]:
		return "NOT VALID: signed by a key that is not trusted (" + strings.Join(unknown, ", ") + "); see the problems below"
	case unsigned > 0:
		return fmt.Sprintf("%d signed, %d unsigned documents", signed, unsigned)
	case s.keys == nil || s.keys.Len() == 0:
		return "signed, not checked: give evidencectl serve the trusted keys (--key)"
	}
	if rep.OK() {
		return "valid: signed by a trusted key"
	}
	return "signed; see the problems below"
}

// presign fills the share links of the page's files.
func (s *Server) presign(ctx context.Context, st store.Store, id string, p *bundlePage) {
	d, err := time.ParseDuration(p.Expires)
	if err != nil || d < time.Minute || d > storage.MaxPresignExpiry {
		p.ShareErr = fmt.Sprintf("'expires' must be a duration from 1m to %s, such as 24h, got %s", storage.MaxPresignExpiry, Text(p.Expires))
		return
	}
	shared, err := catalog.Share(ctx, st, id, d, s.now())
	if err != nil {
		p.ShareErr = "the links could not be signed: " + Text(err.Error())
		return
	}
	urls := map[string]catalog.Shared{}
	for _, sh := range shared {
		urls[sh.Key] = sh
	}
	for i := range p.Files {
		if sh, ok := urls[p.Files[i].Key]; ok {
			p.Files[i].Share = sh.URL
			p.ExpiresAt = sh.Expires
		}
	}
	p.Shared = true
}

// checkOf says what verification establishes of a file of a kind.
func checkOf(kind string) string {
	switch bundle.KeyKind(kind) {
	case bundle.KindPart:
		return "verified: matches its manifest and its part.json"
	case bundle.KindManifest:
		return "verified: valid, lists every part"
	case bundle.KindIncident:
		return "readable: the record is valid"
	}
	return "not covered by the bundle's hashes"
}

func kindOf(key string) string {
	k, err := bundle.ParseKey(key)
	if err == nil {
		return string(k.Kind)
	}
	if _, _, err := bundle.ParseNoteKey(key); err == nil {
		return "note"
	}
	return "other"
}

// objects returns the store holding the incident and its objects.
func (s *Server) objects(ctx context.Context, id string) (store.Store, []store.ObjectInfo, error) {
	if err := incident.ValidateID(id); err != nil {
		return nil, nil, notFound(id, err)
	}
	st, err := s.ev.Store(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	objs, err := catalog.Objects(ctx, st, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound(id, err)
	}
	return st, objs, err
}

// verify checks every object of the incident, one incident at a time.
func (s *Server) verify(ctx context.Context, st store.Store, id string) (bundle.Report, error) {
	s.build.Lock()
	defer s.build.Unlock()
	rep, err := bundle.VerifyBundle(ctx, st, id, bundle.VerifyOptions{Keys: s.keys})
	if errors.Is(err, store.ErrNotFound) {
		return rep, notFound(id, err)
	}
	return rep, err
}

// bundleTar streams the incident's objects as a tar in the store layout
// (incidents/<id>/...), which `evidencectl verify DIR` checks once
// extracted. Each object is copied as it is read: nothing is held.
func (s *Server) bundleTar(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	st, objs, err := s.objects(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-bundle.tar"`)
	tw := tar.NewWriter(w)
	if err := s.writeTar(ctx, tw, st, objs); err != nil {
		// The headers are sent: the client sees a truncated tar, which
		// fails to extract, and the log says why.
		s.log.Warn("bundle download failed", zap.String("incident", id), zap.Error(err))
		return
	}
	_ = tw.Close()
}

func (s *Server) writeTar(ctx context.Context, tw *tar.Writer, st store.Store, objs []store.ObjectInfo) error {
	for _, o := range objs {
		rc, info, err := st.Get(ctx, o.Key)
		if err != nil {
			return err
		}
		err = tw.WriteHeader(&tar.Header{Name: o.Key, Mode: 0o644, Size: info.Size, ModTime: info.Modified, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		if err == nil {
			_, err = io.CopyN(tw, rc, info.Size)
		}
		_ = rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
	}
	return nil
}
