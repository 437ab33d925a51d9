package webui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// ErrNotFound is what (errors.Is) an Evidence returns for an incident it
// does not hold.
var ErrNotFound = errors.New("no such incident")

// Evidence is what the pages read: the incidents of a store, or of a
// folder that `evidencectl get` wrote.
type Evidence interface {
	// String names the store or folder.
	String() string
	// List summarises every incident, newest first.
	List(ctx context.Context) ([]*catalog.Incident, error)
	// Summary summarises one incident as List does, from its record and
	// its collectors' manifests, without reading a part.
	Summary(ctx context.Context, id string) (*catalog.Incident, error)
	// Version identifies the current state of an incident's evidence: it
	// changes whenever an object of the incident is added or rewritten.
	Version(ctx context.Context, id string) (string, error)
	// Input is the incident's evidence for the timeline; its sources read
	// it when they run.
	Input(ctx context.Context, id string) (timeline.Input, error)
	// Store is the store holding the incident's objects in the store
	// layout: the store itself, or a folder's raw copy of it.
	Store(ctx context.Context, id string) (store.Store, error)
}

// StoreEvidence is the evidence in a store.
func StoreEvidence(st store.Store) Evidence { return storeEvidence{st} }

type storeEvidence struct{ st store.Store }

func (e storeEvidence) String() string { return e.st.String() }

func (e storeEvidence) List(ctx context.Context) ([]*catalog.Incident, error) {
	return catalog.List(ctx, e.st)
}

func (e storeEvidence) Summary(ctx context.Context, id string) (*catalog.Incident, error) {
	prefix, err := bundle.IncidentPrefix(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	objs, err := storage.ListAll(ctx, e.st, prefix)
	if err != nil {
		return nil, err
	}
	g, ok := bundle.GroupObjects(objs)[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q in %s", ErrNotFound, id, e.st)
	}
	return catalog.Summarize(ctx, e.st, g)
}

func (e storeEvidence) Version(ctx context.Context, id string) (string, error) {
	prefix, err := bundle.IncidentPrefix(id)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	objs, err := storage.ListAll(ctx, e.st, prefix)
	if err != nil {
		return "", err
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("%w: %q in %s", ErrNotFound, id, e.st)
	}
	h := sha256.New()
	for _, o := range objs {
		_, _ = fmt.Fprintf(h, "%s\x00%d\x00%d\n", o.Key, o.Size, o.Modified.UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (e storeEvidence) Input(ctx context.Context, id string) (timeline.Input, error) {
	in, err := timeline.FromStore(ctx, e.st, id)
	if errors.Is(err, store.ErrNotFound) {
		return in, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return in, err
}

func (e storeEvidence) Store(context.Context, string) (store.Store, error) { return e.st, nil }

// DirEvidence is the evidence in a folder: one incident's folder as
// `evidencectl get` writes it (with merged-manifest.json), or a folder of
// such folders.
func DirEvidence(dir string) (Evidence, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("evidence folder %s is not a directory", dir)
	}
	return dirEvidence{dir}, nil
}

type dirEvidence struct{ dir string }

func (e dirEvidence) String() string { return e.dir }

// folders returns the incident folders by incident ID.
func (e dirEvidence) folders() (map[string]string, error) {
	out := map[string]string{}
	add := func(dir string) error {
		if _, err := os.Stat(filepath.Join(dir, evidencedir.ManifestFile)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("evidence folder: %w", err)
		}
		_, id, err := evidencedir.FindIncident(dir)
		if err != nil || id == "" {
			// An unreadable folder is listed under its name, with its
			// problem.
			id = filepath.Base(dir)
		}
		if incident.ValidateID(id) == nil {
			out[id] = dir
		}
		return nil
	}
	if err := add(e.dir); err != nil || len(out) > 0 {
		return out, err
	}
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		return nil, fmt.Errorf("evidence folder: %w", err)
	}
	for _, d := range entries {
		if d.IsDir() {
			if err := add(filepath.Join(e.dir, d.Name())); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (e dirEvidence) folder(id string) (string, error) {
	fs, err := e.folders()
	if err != nil {
		return "", err
	}
	dir, ok := fs[id]
	if !ok {
		return "", fmt.Errorf("%w: %q in %s", ErrNotFound, id, e.dir)
	}
	return dir, nil
}

func (e dirEvidence) List(context.Context) ([]*catalog.Incident, error) {
	folders, err := e.folders()
	if err != nil {
		return nil, err
	}
	rows := make([]*catalog.Incident, 0, len(folders))
	for id, dir := range folders {
		rows = append(rows, summarizeDir(id, dir))
	}
	catalog.Sort(rows)
	return rows, nil
}

// summarizeDir summarises a folder from its merged-manifest.json, as the
// list does an incident in the store.
func summarizeDir(id, dir string) *catalog.Incident {
	row := &catalog.Incident{ID: id, Status: catalog.StatusUnknown, Collectors: []catalog.Collector{}}
	m, err := evidencedir.ReadManifest(dir)
	if err != nil {
		row.Problems = append(row.Problems, err.Error())
		return row
	}
	inc, _, err := evidencedir.FindIncident(dir)
	switch {
	case err != nil:
		row.Problems = append(row.Problems, err.Error())
	case inc != nil:
		row.SetRecord(inc)
	default:
		row.Problems = append(row.Problems, bundle.IncidentFile+" is missing")
	}
	row.Complete = len(m.Collectors) > 0
	for _, c := range m.Collectors {
		row.AddCollector(catalog.Collector{
			CollectorID: c.CollectorID, HasManifest: c.HasManifest, Complete: c.Complete,
			Parts: c.Parts, Bytes: c.Bytes, Window: c.Window, Totals: c.Counts,
		})
	}
	for _, p := range m.Problems {
		row.Problems = append(row.Problems, p.Error())
	}
	return row
}

func (e dirEvidence) Summary(_ context.Context, id string) (*catalog.Incident, error) {
	dir, err := e.folder(id)
	if err != nil {
		return nil, err
	}
	return summarizeDir(id, dir), nil
}

func (e dirEvidence) Version(_ context.Context, id string) (string, error) {
	dir, err := e.folder(id)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	// dir is one of the folders found under the served folder.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error { //nolint:gosec // dir is a folder found under the served one, named by a valid incident ID
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h.Write([]byte(p + "\x00" + strconv.FormatInt(info.Size(), 10) + "\x00" + strconv.FormatInt(info.ModTime().UnixNano(), 10) + "\n"))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("evidence folder: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (e dirEvidence) Input(_ context.Context, id string) (timeline.Input, error) {
	dir, err := e.folder(id)
	if err != nil {
		return timeline.Input{}, err
	}
	return timeline.FromDir(dir)
}

func (e dirEvidence) Store(_ context.Context, id string) (store.Store, error) {
	dir, err := e.folder(id)
	if err != nil {
		return nil, err
	}
	return storage.NewFilesystem(filepath.Join(dir, evidencedir.RawDir))
}

func notFound(id string, err error) error {
	return fmt.Errorf("%w: %q: %w", ErrNotFound, Text(id), err)
}

var (
	errBadTraceID = errors.New("a trace ID is 32 hexadecimal digits")
	errNoTrace    = errors.New("the evidence holds no span of this trace")
)
