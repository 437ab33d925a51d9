package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/safetext"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// statusAll is the value of list --status that keeps every incident.
const statusAll = "all"

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

// incidentSummary is one row of `evidencectl list`.
type incidentSummary = catalog.Incident

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

	rows, err := catalog.List(ctx, st)
	if err != nil {
		return interrupted(storeErr(err), "run the command again")
	}
	rows = slices.DeleteFunc(rows, func(r *incidentSummary) bool { return !o.keep(r, since) })

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
	return r.ActiveSince(since)
}

// losslessCell is the row's LOSSLESS column.
func losslessCell(r *incidentSummary) string {
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
		_, err := fmt.Fprintf(w, "No incidents in %s.\n", safetext.Escape(storeName))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table := &textWriter{w: tw}
	table.printf("ID\tSTATUS\tSEVERITY\tSTARTED\tWINDOW\tCOLLECTORS\tPARTS\tSIZE\tCOMPLETE\tLOSSLESS\tTITLE\n")
	for _, r := range rows {
		done := r.DoneCollectors()
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
			done, len(r.Collectors), r.Parts, humanBytes(r.Bytes), yesNo(r.Complete), losslessCell(r), title)
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
func humanBytes(n int64) string { return catalog.HumanBytes(n) }
