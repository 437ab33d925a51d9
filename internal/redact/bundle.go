package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Tool is what a derived manifest names as its maker.
const Tool = "evidencectl redact"

// Options describe one derivation.
type Options struct {
	// Src and Dst hold the store layout ("incidents/<id>/..."): the
	// verified source, and the new directory the copy is written to.
	Src, Dst string
	// IncidentID is the incident to copy.
	IncidentID string
	// RulesSHA256 is the SHA-256 of the rules file as given.
	RulesSHA256 string
	// Now stamps the copy.
	Now time.Time
}

// Summary says what Bundle wrote.
type Summary struct {
	Collectors int `json:"collectors"`
	Parts      int `json:"parts"`
	// Counts are the items copied (redacted, not dropped).
	Counts bundle.Counts `json:"counts"`
}

// Bundle writes a redacted copy of the incident's evidence: every part of
// every collector's manifest, redacted and re-hashed, chained like the
// source, each naming the source part it was made from; a manifest per
// collector recording the source manifest (as stored, with its signature)
// and the rules' digest; and the redacted incident.json. The source must
// have been verified by the caller.
func Bundle(opts Options, r *Redactor) (Summary, error) {
	var sum Summary
	id := opts.IncidentID
	srcRoot, err := os.OpenRoot(opts.Src)
	if err != nil {
		return sum, err
	}
	defer func() { _ = srcRoot.Close() }()
	incKey, err := bundle.IncidentKey(id)
	if err != nil {
		return sum, err
	}
	if b, err := srcRoot.ReadFile(filepath.FromSlash(incKey)); err == nil {
		inc, err := bundle.ParseIncident(b)
		if err != nil {
			return sum, fmt.Errorf("%s: %w", incKey, err)
		}
		out, err := json.MarshalIndent(r.Incident(inc), "", "  ")
		if err != nil {
			return sum, err
		}
		if err := write(opts.Dst, incKey, append(out, '\n')); err != nil {
			return sum, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return sum, err
	}
	prefix, err := bundle.CollectorsPrefix(id)
	if err != nil {
		return sum, err
	}
	entries, err := fs.ReadDir(srcRoot.FS(), filepath.FromSlash(prefix[:len(prefix)-1]))
	if err != nil {
		return sum, fmt.Errorf("reading %s: %w", prefix, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n, counts, err := collector(srcRoot, opts, e.Name(), r)
		if err != nil {
			return sum, err
		}
		sum.Collectors++
		sum.Parts += n
		sum.Counts = sum.Counts.Add(counts)
	}
	return sum, nil
}

func collector(src *os.Root, opts Options, cid string, r *Redactor) (int, bundle.Counts, error) {
	id := opts.IncidentID
	var counts bundle.Counts
	mkey, err := bundle.ManifestKey(id, cid)
	if err != nil {
		return 0, counts, err
	}
	raw, err := src.ReadFile(filepath.FromSlash(mkey))
	if err != nil {
		return 0, counts, fmt.Errorf("%s: %w", mkey, err)
	}
	srcM, err := bundle.ParseManifest(raw)
	if err != nil {
		return 0, counts, fmt.Errorf("%s: %w", mkey, err)
	}
	m, err := bundle.NewManifest(id, cid, srcM.Window)
	if err != nil {
		return 0, counts, err
	}
	prev := ""
	for _, ref := range srcM.Parts {
		pkey, err := bundle.PartKey(id, cid, ref.Seq)
		if err != nil {
			return 0, counts, err
		}
		data, info, err := part(src, pkey, ref, prev, r)
		if err != nil {
			return 0, counts, fmt.Errorf("%s: %w", pkey, err)
		}
		nref, err := bundle.NewPartRef(info, data)
		if err != nil {
			return 0, counts, err
		}
		if err := m.AddPart(nref); err != nil {
			return 0, counts, err
		}
		if err := write(opts.Dst, pkey, data); err != nil {
			return 0, counts, err
		}
		prev = nref.SHA256
		counts = counts.Add(info.Counts)
	}
	m.Complete = srcM.Complete
	m.Losses = slices.Clone(srcM.Losses)
	m.UpdatedAt = opts.Now
	digest := sha256.Sum256(raw)
	m.DerivedFrom = &bundle.Derivation{
		SourceManifestSHA256: hex.EncodeToString(digest[:]),
		SourceManifest:       raw,
		RulesSHA256:          opts.RulesSHA256,
		Tool:                 Tool,
		CreatedAt:            opts.Now,
	}
	out, err := m.Marshal()
	if err != nil {
		return 0, counts, err
	}
	return len(srcM.Parts), counts, write(opts.Dst, mkey, out)
}

// part redacts one source part, record by record.
func part(src *os.Root, key string, ref bundle.PartRef, prev string, r *Redactor) ([]byte, bundle.PartInfo, error) {
	f, err := src.Open(filepath.FromSlash(key))
	if err != nil {
		return nil, bundle.PartInfo{}, err
	}
	defer func() { _ = f.Close() }()
	ps, err := bundle.OpenPart(f, bundle.ReadOptions{})
	if err != nil {
		return nil, bundle.PartInfo{}, err
	}
	defer ps.Close()
	info := ps.Info()
	info.PrevPartSHA256 = prev
	info.SourcePartSHA256 = ref.SHA256
	w, err := bundle.NewPartWriter(info)
	if err != nil {
		return nil, bundle.PartInfo{}, err
	}
	frozen, err := ps.Incident()
	if err != nil {
		return nil, bundle.PartInfo{}, err
	}
	if frozen != nil {
		if err := w.SetIncident(r.Incident(frozen)); err != nil {
			return nil, bundle.PartInfo{}, err
		}
	}
	enc := info.Encoding
	err = ps.Walk(func(name string, rec []byte) error {
		switch bundle.SignalOf(name) {
		case "traces":
			td, err := bundle.DecodeTraces(enc, rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			r.Traces(td)
			return w.AddTraces(td)
		case "logs":
			ld, err := bundle.DecodeLogs(enc, rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			r.Logs(ld)
			return w.AddLogs(ld)
		case "metrics":
			md, err := bundle.DecodeMetrics(enc, rec)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			r.Metrics(md)
			return w.AddMetrics(md)
		case "events":
			var ev incident.Event
			if err := json.Unmarshal(rec, &ev); err != nil {
				return bundle.RecordError{Err: err}
			}
			ev, err := r.Event(ev)
			if err != nil {
				return bundle.RecordError{Err: err}
			}
			return w.AddEvent(ev)
		}
		return nil
	})
	if err != nil {
		return nil, bundle.PartInfo{}, err
	}
	return w.Finish()
}

// write creates key under dir (never overwriting).
func write(dir, key string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640) //nolint:gosec // under the chosen output directory
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
