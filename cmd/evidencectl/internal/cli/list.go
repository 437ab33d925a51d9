package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/parallel"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Values of list --status.
const (
	statusAll     = "all"
	statusUnknown = "unknown"
	// listParallel bounds the concurrent reads of incident.json and manifests.
	listParallel = 8
)

// listOptions are the flags of `evidencectl list`.
type listOptions struct {
	root   *rootOptions
	since  string
	status string
}

func newListCmd(root *rootOptions) *cobra.Command {
	o := &listOptions{root: root}
	cmd := &cobra.Command{
		Use:   "list [--since DURATION|TIME] [--status open|resolved|all]",
		Short: "List the incidents in the store with their evidence",
		Long: `List the incidents in the evidence store: status, evidence window, the
collectors that reported evidence, parts, sizes, and whether every
collector has finished its bundle.

--since keeps the incidents active at some moment after the given time:
started after it, still open, or resolved after it.`,
		Example: `  evidencectl list
  evidencectl list --status open --since 24h
  evidencectl list --store s3://evidence/prod --output json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&o.since, "since", "", "only incidents active after this "+timeFlagHelp)
	cmd.Flags().StringVar(&o.status, "status", statusAll, "only incidents with this status: open, resolved or all")
	return cmd
}

// collectorSummary describes one collector's evidence for an incident.
type collectorSummary struct {
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
}

// incidentSummary is one row of `evidencectl list`.
type incidentSummary struct {
	ID         string     `json:"id"`
	Title      string     `json:"title,omitempty"`
	Severity   string     `json:"severity,omitempty"`
	Source     string     `json:"source,omitempty"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Window spans every collector's window.
	Window     *bundle.Window     `json:"window,omitempty"`
	Collectors []collectorSummary `json:"collectors"`
	Parts      int                `json:"parts"`
	Bytes      int64              `json:"bytes"`
	// Complete: at least one collector, and every collector finished.
	Complete bool `json:"complete"`
	// Lossless: every collector's manifest is known to lack nothing.
	Lossless bool          `json:"lossless"`
	Totals   bundle.Counts `json:"totals"`
	// Problems name objects that could not be read or decoded.
	Problems []string `json:"problems,omitempty"`

	inc *incident.Incident
}

func (o *listOptions) run(ctx context.Context) error {
	switch o.status {
	case statusAll, string(incident.StatusOpen), string(incident.StatusResolved):
	default:
		return usageError("use --status open, resolved or all", "invalid --status %q", o.status)
	}
	var since time.Time
	if o.since != "" {
		t, err := parseTimeFlag(o.since, o.root.now())
		if err != nil {
			return usageError("for example --since 24h or --since 2026-03-02T09:00:00Z", "invalid --since: %v", err)
		}
		since = t
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return err
	}
	defer release()

	objs, err := listAll(ctx, st, bundle.IncidentsPrefix)
	if err != nil {
		return err
	}
	groups := bundle.GroupObjects(objs)
	ids := slices.Sorted(maps.Keys(groups))
	rows := make([]*incidentSummary, len(ids))
	err = parallel.ForEach(ctx, len(ids), listParallel, func(ctx context.Context, i int) error {
		row, err := summarize(ctx, st, groups[ids[i]])
		rows[i] = row
		return err
	})
	if err != nil {
		return interrupted(err, "run the command again")
	}
	rows = slices.DeleteFunc(rows, func(r *incidentSummary) bool { return !o.keep(r, since) })
	slices.SortStableFunc(rows, func(a, b *incidentSummary) int {
		return cmp.Or(b.sortTime().Compare(a.sortTime()), strings.Compare(a.ID, b.ID))
	})

	if o.root.jsonOutput() {
		out := struct {
			Store     string             `json:"store"`
			Incidents []*incidentSummary `json:"incidents"`
		}{st.String(), rows}
		if out.Incidents == nil {
			out.Incidents = []*incidentSummary{}
		}
		return o.root.printJSON(out)
	}
	return writeIncidentTable(o.root.stdout(), st.String(), rows)
}

// keep applies the --status and --since filters.
func (o *listOptions) keep(r *incidentSummary, since time.Time) bool {
	if o.status != statusAll && r.Status != o.status {
		return false
	}
	if since.IsZero() {
		return true
	}
	if r.inc != nil {
		switch {
		case r.inc.Status == incident.StatusOpen:
			return true
		case r.inc.ResolvedAt != nil:
			return !r.inc.ResolvedAt.Before(since)
		default:
			return !r.inc.UpdatedAt.Before(since) || !r.inc.StartedAt.Before(since)
		}
	}
	return r.Window != nil && !r.Window.End.Before(since)
}

// sortTime orders rows: newest incident first.
func (r *incidentSummary) sortTime() time.Time {
	if r.StartedAt != nil {
		return *r.StartedAt
	}
	if r.Window != nil {
		return r.Window.Start
	}
	return time.Time{}
}

// summarize reads an incident's incident.json and manifests. Unreadable or
// invalid objects become problems in the row; store failures are errors.
func summarize(ctx context.Context, st store.Store, g *bundle.IncidentObjects) (*incidentSummary, error) {
	row := &incidentSummary{ID: g.ID, Status: statusUnknown, Collectors: []collectorSummary{}, Complete: len(g.Collectors) > 0, Lossless: len(g.Collectors) > 0}
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
			row.inc = inc
			row.Title, row.Severity, row.Source, row.Status = inc.Title, inc.Severity, inc.Source, string(inc.Status)
			started := inc.StartedAt
			row.StartedAt = &started
			row.ResolvedAt = inc.ResolvedAt
		}
	}
	for _, cid := range g.CollectorIDs() {
		objs := g.Collectors[cid]
		cs := collectorSummary{CollectorID: cid, Parts: len(objs.Parts), Bytes: objs.PartBytes()}
		if objs.Manifest != nil {
			m, problem, err := readManifest(ctx, st, g.ID, cid)
			if err != nil {
				return nil, err
			}
			if problem != "" {
				row.Problems = append(row.Problems, problem)
			}
			if m != nil {
				cs.HasManifest, cs.Complete, cs.Totals = true, m.Complete, m.Totals
				cs.LossesKnown, cs.Lossless, cs.Losses = m.LossesKnown(), m.Lossless, m.Losses
				w := m.Window
				cs.Window = &w
				row.Window = unionWindow(row.Window, w)
			}
		}
		row.Complete = row.Complete && cs.Complete
		row.Lossless = row.Lossless && cs.LossesKnown && cs.Lossless
		row.Parts += cs.Parts
		row.Bytes += cs.Bytes
		row.Totals = row.Totals.Add(cs.Totals)
		row.Collectors = append(row.Collectors, cs)
	}
	return row, nil
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
	data, err := readObject(ctx, st, key, maxIncidentJSON)
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

// readManifest reads and decodes one collector's manifest.
func readManifest(ctx context.Context, st store.Store, id, cid string) (*bundle.Manifest, string, error) {
	key, err := bundle.ManifestKey(id, cid)
	if err != nil {
		return nil, "", err
	}
	data, err := readObject(ctx, st, key, maxManifestJSON)
	if err != nil {
		return nil, "", err
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		return nil, fmt.Sprintf("%s: %v", key, err), nil
	}
	if m.IncidentID != id || m.CollectorID != cid {
		return nil, fmt.Sprintf("%s: names incident %q and collector %q", key, m.IncidentID, m.CollectorID), nil
	}
	return m, "", nil
}

// losslessCell is the row's LOSSLESS column.
func (r *incidentSummary) losslessCell() string {
	known := len(r.Collectors) > 0
	var losses []evidencedir.CollectorLoss
	for _, c := range r.Collectors {
		known = known && c.LossesKnown
		for _, l := range c.Losses {
			losses = append(losses, evidencedir.CollectorLoss{CollectorID: c.CollectorID, Loss: l})
		}
	}
	return losslessColumn(known, r.Lossless, losses)
}

// writeIncidentTable prints the rows as an aligned table.
func writeIncidentTable(w io.Writer, storeName string, rows []*incidentSummary) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "No incidents in %s.\n", storeName)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table := &textWriter{w: tw}
	table.println("ID\tSTATUS\tSEVERITY\tSTARTED\tWINDOW\tCOLLECTORS\tPARTS\tSIZE\tCOMPLETE\tLOSSLESS\tTITLE")
	for _, r := range rows {
		done := 0
		for _, c := range r.Collectors {
			if c.Complete {
				done++
			}
		}
		started := "-"
		if r.StartedAt != nil {
			started = r.StartedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		title := r.Title
		if len(r.Problems) > 0 {
			title = strings.TrimSpace(title + " (" + fmt.Sprint(len(r.Problems)) + " unreadable objects)")
		}
		table.printf("%s\t%s\t%s\t%s\t%s\t%d/%d done\t%d\t%s\t%s\t%s\t%s\n",
			r.ID, r.Status, dash(r.Severity), started, formatWindow(r.Window, r.StartedAt),
			done, len(r.Collectors), r.Parts, humanBytes(r.Bytes), yesNo(r.Complete), r.losslessCell(), title)
	}
	if table.err != nil {
		return table.err
	}
	return tw.Flush()
}

// formatWindow shows the window relative to the incident start when known
// ("-30m..+10m"), else as UTC times.
func formatWindow(w *bundle.Window, started *time.Time) string {
	if w == nil {
		return "-"
	}
	if started != nil && !w.Start.IsZero() && !w.End.IsZero() {
		return fmt.Sprintf("%s..%s", signedDuration(w.Start.Sub(*started)), signedDuration(w.End.Sub(*started)))
	}
	return w.Start.UTC().Format("2006-01-02 15:04:05Z") + ".." + w.End.UTC().Format("2006-01-02 15:04:05Z")
}

func signedDuration(d time.Duration) string {
	s := shortDuration(d.Abs())
	if d < 0 {
		return "-" + s
	}
	return "+" + s
}

// shortDuration drops zero trailing units: 30m, 1h30m, 45s, 1.5s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Millisecond).String()
	for _, z := range []string{"h0m0s", "m0s"} {
		if strings.HasSuffix(s, z) {
			s = s[:len(s)-len(z)+1]
		}
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// humanBytes formats a size with binary units: 512 B, 1.5 KiB, 3.2 MiB.
func humanBytes(n int64) string {
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
