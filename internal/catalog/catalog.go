// Package catalog summarises the incidents an evidence store holds: the
// incident record, every collector's manifest, parts and sizes, and
// whether every collector finished. `evidencectl list` prints it as a
// table and the web page lists and filters it.
package catalog // import "github.com/otel-evidence/otel-evidence/internal/catalog"

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/parallel"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// StatusUnknown is the status of an incident whose record is missing or
// unreadable.
const StatusUnknown = "unknown"

// Parallel bounds the concurrent reads of incident.json and manifests.
const Parallel = 8

// Collector describes one collector's evidence for an incident.
type Collector struct {
	CollectorID string `json:"collector_id"`
	// HasManifest is false while the collector has written no manifest.
	HasManifest bool `json:"has_manifest"`
	// Complete is the manifest's claim that the collector finished.
	Complete bool `json:"complete"`
	// Parts is the number of part objects in the store.
	Parts int `json:"parts"`
	// Bytes is the size of those parts.
	Bytes int64 `json:"bytes"`
	// Window is the evidence window the collector froze.
	Window *bundle.Window `json:"window,omitempty"`
	// Totals are the manifest's counts.
	Totals bundle.Counts `json:"totals"`
	// LossesKnown, Lossless and Losses are the manifest's (format 1
	// manifests do not record losses).
	LossesKnown bool          `json:"losses_known"`
	Lossless    bool          `json:"lossless"`
	Losses      []bundle.Loss `json:"losses,omitempty"`
	// Signature is the manifest's: unsigned, or signed and not checked
	// (the list trusts no key; verify checks it).
	Signature *bundle.Signature `json:"manifest_signature,omitempty"`
}

// Incident summarises one incident's evidence.
type Incident struct {
	ID         string     `json:"id"`
	Title      string     `json:"title,omitempty"`
	Severity   string     `json:"severity,omitempty"`
	Source     string     `json:"source,omitempty"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Window spans every collector's window.
	Window     *bundle.Window `json:"window,omitempty"`
	Collectors []Collector    `json:"collectors"`
	Parts      int            `json:"parts"`
	Bytes      int64          `json:"bytes"`
	// Complete: at least one collector, and every collector finished.
	Complete bool `json:"complete"`
	// Lossless: every collector's manifest is known to lack nothing.
	Lossless bool          `json:"lossless"`
	Totals   bundle.Counts `json:"totals"`
	// Problems name objects that could not be read or decoded.
	Problems []string `json:"problems,omitempty"`

	// Record is the incident record, nil when missing or unreadable.
	Record *incident.Incident `json:"-"`
}

// DoneCollectors is the number of collectors that finished.
func (r *Incident) DoneCollectors() int {
	n := 0
	for _, c := range r.Collectors {
		if c.Complete {
			n++
		}
	}
	return n
}

// ActiveSince reports whether the incident was active at some moment at or
// after since: started after it, still open, or resolved after it.
func (r *Incident) ActiveSince(since time.Time) bool {
	if since.IsZero() {
		return true
	}
	if r.Record != nil {
		switch {
		case r.Record.Status == incident.StatusOpen:
			return true
		case r.Record.ResolvedAt != nil:
			return !r.Record.ResolvedAt.Before(since)
		default:
			return !r.Record.UpdatedAt.Before(since) || !r.Record.StartedAt.Before(since)
		}
	}
	return r.Window != nil && !r.Window.End.Before(since)
}

// SortTime orders incidents: newest first.
func (r *Incident) SortTime() time.Time {
	if r.StartedAt != nil {
		return *r.StartedAt
	}
	if r.Window != nil {
		return r.Window.Start
	}
	return time.Time{}
}

// List summarises every incident in the store, newest first. Unreadable or
// invalid objects become problems of their incident; store failures are
// errors (storage.OpError and the storage package's kinds).
func List(ctx context.Context, st store.Store) ([]*Incident, error) {
	objs, err := storage.ListAll(ctx, st, bundle.IncidentsPrefix)
	if err != nil {
		return nil, err
	}
	groups := bundle.GroupObjects(objs)
	ids := slices.Sorted(maps.Keys(groups))
	rows := make([]*Incident, len(ids))
	err = parallel.ForEach(ctx, len(ids), Parallel, func(ctx context.Context, i int) error {
		row, err := Summarize(ctx, st, groups[ids[i]])
		rows[i] = row
		return err
	})
	if err != nil {
		return nil, err
	}
	Sort(rows)
	return rows, nil
}

// Sort orders incidents newest first, then by ID.
func Sort(rows []*Incident) {
	slices.SortStableFunc(rows, func(a, b *Incident) int {
		return cmp.Or(b.SortTime().Compare(a.SortTime()), strings.Compare(a.ID, b.ID))
	})
}

// Summarize reads an incident's incident.json and manifests.
func Summarize(ctx context.Context, st store.Store, g *bundle.IncidentObjects) (*Incident, error) {
	row := &Incident{ID: g.ID, Status: StatusUnknown, Collectors: []Collector{}, Complete: len(g.Collectors) > 0, Lossless: len(g.Collectors) > 0}
	if g.Incident == nil {
		row.Problems = append(row.Problems, bundle.IncidentFile+" is missing")
	} else {
		inc, problem, err := readIncident(ctx, st, g.ID)
		if err != nil {
			return nil, err
		}
		if problem != "" {
			row.Problems = append(row.Problems, problem)
		}
		if inc != nil {
			row.SetRecord(inc)
		}
	}
	for _, cid := range g.CollectorIDs() {
		objs := g.Collectors[cid]
		cs := Collector{CollectorID: cid, Parts: len(objs.Parts), Bytes: objs.PartBytes()}
		if objs.Manifest != nil {
			m, sig, problem, err := readManifest(ctx, st, g.ID, cid)
			if err != nil {
				return nil, err
			}
			if problem != "" {
				row.Problems = append(row.Problems, problem)
			}
			if m != nil {
				cs.HasManifest, cs.Complete, cs.Totals = true, m.Complete, m.Totals
				cs.LossesKnown, cs.Lossless, cs.Losses = m.LossesKnown(), m.Lossless, m.Losses
				cs.Signature = &sig
				w := m.Window
				cs.Window = &w
			}
		}
		row.AddCollector(cs)
	}
	return row, nil
}

// SetRecord fills the row's fields from the incident record.
func (r *Incident) SetRecord(inc *incident.Incident) {
	r.Record = inc
	r.Title, r.Severity, r.Source, r.Status = inc.Title, inc.Severity, inc.Source, string(inc.Status)
	started := inc.StartedAt
	r.StartedAt = &started
	r.ResolvedAt = inc.ResolvedAt
}

// AddCollector adds a collector's share to the row's totals. A row starts
// Complete and Lossless when it has collectors at all; each collector can
// only take that away.
func (r *Incident) AddCollector(cs Collector) {
	if cs.Window != nil {
		r.Window = unionWindow(r.Window, *cs.Window)
	}
	r.Complete = r.Complete && cs.Complete
	r.Lossless = r.Lossless && cs.LossesKnown && cs.Lossless
	r.Parts += cs.Parts
	r.Bytes += cs.Bytes
	r.Totals = r.Totals.Add(cs.Totals)
	r.Collectors = append(r.Collectors, cs)
}

// HumanBytes formats a size with binary units: 512 B, 1.5 KiB, 3.2 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func unionWindow(w *bundle.Window, o bundle.Window) *bundle.Window {
	if w == nil {
		return &o
	}
	out := *w
	if !o.Start.IsZero() && (out.Start.IsZero() || o.Start.Before(out.Start)) {
		out.Start = o.Start
	}
	if o.End.After(out.End) {
		out.End = o.End
	}
	return &out
}

// readIncident reads and decodes incident.json. A problem string reports an
// invalid object; the error is for store failures.
func readIncident(ctx context.Context, st store.Store, id string) (*incident.Incident, string, error) {
	key, err := bundle.IncidentKey(id)
	if err != nil {
		return nil, "", err
	}
	data, err := storage.ReadAll(ctx, st, key, bundle.MaxIncidentSize)
	if err != nil {
		return nil, "", err
	}
	var inc incident.Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return nil, fmt.Sprintf("%s: invalid JSON: %v", key, err), nil
	}
	if err := inc.Validate(); err != nil {
		return nil, fmt.Sprintf("%s: %v", key, err), nil
	}
	return &inc, "", nil
}

// readManifest reads and decodes one collector's manifest, and says
// whether it is signed.
func readManifest(ctx context.Context, st store.Store, id, cid string) (*bundle.Manifest, bundle.Signature, string, error) {
	key, err := bundle.ManifestKey(id, cid)
	if err != nil {
		return nil, bundle.Signature{}, "", err
	}
	data, err := storage.ReadAll(ctx, st, key, bundle.MaxManifestSize)
	if err != nil {
		return nil, bundle.Signature{}, "", err
	}
	m, sig, err := bundle.OpenManifest(data, nil)
	if err != nil {
		return nil, sig, fmt.Sprintf("%s: %v", key, err), nil
	}
	if m.IncidentID != id || m.CollectorID != cid {
		return nil, sig, fmt.Sprintf("%s: names incident %q and collector %q", key, m.IncidentID, m.CollectorID), nil
	}
	return m, sig, "", nil
}
