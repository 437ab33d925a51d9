package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

const defaultGetParallel = 4

// getOptions are the flags of `evidencectl get`.
type getOptions struct {
	root            *rootOptions
	dir             string
	parallel        int
	requireLossless bool
	allowUnverified bool
}

func newGetCmd(root *rootOptions) *cobra.Command {
	o := &getOptions{root: root}
	cmd := &cobra.Command{
		Use:   "get INCIDENT [-o DIR] [--parallel N]",
		Short: "Download, verify and merge an incident's evidence from every collector",
		Long: `Download every part and manifest of the incident from every collector, in
parallel, verify each part's SHA-256 against its manifest, and merge them
into DIR (default ./INCIDENT):

  traces.jsonl, logs.jsonl, metrics.jsonl  OTLP JSON Lines from all parts of
                                           all collectors (otlp_proto parts
                                           are re-encoded to JSON)
  events.jsonl                             incident and deploy events, each
                                           once even when several replicas
                                           recorded it
  merged-manifest.json                     collectors, completeness, counts
                                           per collector and totals
  raw/                                     the store layout, for
                                           'evidencectl verify DIR'

The downloaded copy is verified as 'evidencectl verify' does: with --key
(repeatable; or EVIDENCECTL_KEYS) every manifest and part.json must carry a
valid signature of a trusted key; each part must follow the part before it
in its collector's hash chain. Parts with a problem are not merged, and
neither are parts no valid manifest covers (a collector still writing, or a
manifest that is missing or badly signed) unless --allow-unverified. Any
problem exits 4, naming the file.

Running get again resumes: parts already present with the right SHA-256
are kept, others are downloaded again (to a .partial file, renamed when
verified). Manifests are always fetched again, so a bundle that was still
being written is completed by the next run.

Evidence the collectors know to be missing (evicted from the ring, lost in
a restart, with unusable times, arrived too late) is named on MISSING lines
and in merged-manifest.json ("lossless", and each collector's "losses").
With --require-lossless, such evidence exits 4 after it is downloaded.`,
		Example: `  evidencectl get INC-42 --key evidence-signing.pub
  evidencectl get INC-42 -o /tmp/inc-42 --parallel 8
  evidencectl get INC-42 --store s3://evidence/prod --s3-region eu-west-1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVarP(&o.dir, "dir", "o", "", "directory to write into (default ./INCIDENT)")
	cmd.Flags().IntVar(&o.parallel, "parallel", defaultGetParallel, "parts downloaded at the same time")
	cmd.Flags().BoolVar(&o.requireLossless, "require-lossless", false, "fail (exit 4) when the evidence names missing items or does not record its losses")
	cmd.Flags().BoolVar(&o.allowUnverified, "allow-unverified", false,
		"also merge parts no valid manifest covers (a collector still writing, or a manifest missing or badly signed)")
	return cmd
}

// getResult is the JSON output of get.
type getResult struct {
	Dir      string                    `json:"dir"`
	Download evidencedir.DownloadStats `json:"download"`
	Merged   evidencedir.Manifest      `json:"merged"`
}

func (o *getOptions) run(ctx context.Context, id string) error {
	if err := incident.ValidateID(id); err != nil {
		return usageError("run `evidencectl list` for the incidents in the store", "invalid incident id: %v", err)
	}
	if o.parallel < 1 {
		return usageError("use --parallel 1 or more", "invalid --parallel %d", o.parallel)
	}
	dir := o.dir
	if dir == "" {
		dir = id
	}
	keys, err := o.root.keyRing(ctx)
	if err != nil {
		return err
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return err
	}
	defer release()

	merged, stats, err := evidencedir.Download(ctx, st, id, dir, evidencedir.DownloadOptions{
		Keys:            keys,
		AllowUnverified: o.allowUnverified,
		Parallel:        o.parallel,
		NewProgress: func(total int64) evidencedir.Progress {
			return o.root.newProgress(total, "downloading "+id)
		},
		Warn: func(msg string) { o.root.warnf("%s", msg) },
		Now:  o.root.now,
	})
	var dirErr *evidencedir.DirError
	switch {
	case errors.Is(err, evidencedir.ErrIncidentNotFound):
		return newError(ErrNotFound, nil, "check --store or run `evidencectl list`", "incident %s not found in %s", id, st)
	case errors.As(err, &dirErr):
		return newError(nil, dirErr.Err, "choose another directory with -o", "%v", dirErr)
	case err != nil:
		return interrupted(storeErr(err), "run the same command again to resume; verified parts are kept")
	}

	res := getResult{Dir: dir, Download: stats, Merged: *merged}
	if o.root.jsonOutput() {
		err = o.root.printJSON(res)
	} else {
		err = writeGetText(o.root.stdout(), &res)
	}
	if err != nil {
		return err
	}
	for _, c := range merged.Collectors {
		if !c.Complete {
			o.root.warnf("collector %s has not finished this bundle (its manifest is not complete): run `evidencectl get %s` again later for the rest", c.CollectorID, id)
		}
	}
	if len(merged.Problems) > 0 {
		return newError(ErrVerifyFailed, nil, "the parts named above were not merged; run `evidencectl get "+id+"` again, and if they stay bad, `evidencectl verify "+id+"` checks the store's copy",
			"%d problem(s) in the evidence of %s: %s", len(merged.Problems), id, problemList(merged.Problems))
	}
	if o.requireLossless && !merged.Lossless {
		why := "it does not record whether anything is missing"
		if ls := merged.Losses(); len(ls) > 0 {
			why = fmt.Sprintf("it names %d missing items (%s)", lossItems(ls), lossText(ls[0].CollectorID, ls[0].Loss))
			if len(ls) > 1 {
				why += fmt.Sprintf(" and %d more losses", len(ls)-1)
			}
		}
		return newError(ErrNotLossless, nil, "the evidence in "+dir+" is intact; read it knowing what it lacks, or drop --require-lossless",
			"the evidence of %s is not lossless: %s", id, why)
	}
	return nil
}

// problemList joins the problems for an error message.
func problemList(probs []*bundle.VerifyError) string {
	const maxShown = 5
	var s string
	for i, p := range probs {
		if i == maxShown {
			s += fmt.Sprintf("; and %d more", len(probs)-maxShown)
			break
		}
		if i > 0 {
			s += "; "
		}
		s += p.Error()
	}
	return s
}

// writeGetText prints what get did for a human.
func writeGetText(w io.Writer, r *getResult) error {
	out := &textWriter{w: w}
	m := &r.Merged
	if m.Incident != nil {
		out.printf("Incident %s", m.IncidentID)
		if m.Incident.Title != "" {
			out.printf(" \"%s\"", m.Incident.Title)
		}
		out.printf(" (%s", m.Incident.Status)
		if m.Incident.Severity != "" {
			out.printf(", %s", m.Incident.Severity)
		}
		out.printf(") from %s\n\n", m.Store)
	} else {
		out.printf("Incident %s from %s\n\n", m.IncidentID, m.Store)
	}
	if out.err != nil {
		return out.err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table := &textWriter{w: tw}
	table.printf("COLLECTOR\tCOMPLETE\tPARTS\tSIZE\tSPANS\tLOG RECORDS\tDATA POINTS\tEVENTS\n")
	for _, c := range m.Collectors {
		complete := yesNo(c.Complete)
		if !c.HasManifest {
			complete = "no manifest"
		}
		table.printf("%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", c.CollectorID, complete, c.Parts, humanBytes(c.Bytes),
			c.Counts.Spans, c.Counts.LogRecords, c.Counts.DataPoints, c.Counts.Events)
	}
	if table.err != nil {
		return table.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	out.printf("\nMerged into %s: %d spans, %d log records, %d data points, %d events (%d recorded across collectors).\n",
		r.Dir, m.Totals.Spans, m.Totals.LogRecords, m.Totals.DataPoints, m.Totals.Events, m.EventsRecorded)
	d := r.Download
	out.printf("Downloaded %s (%s); %d already present and verified", plural(d.Downloaded, "part"), humanBytes(d.DownloadedBytes), d.Skipped)
	if d.Failed > 0 {
		out.printf("; %d failed", d.Failed)
	}
	if d.Notes > 0 {
		out.printf("; %s", plural(d.Notes, "timeline note"))
	}
	out.println(".")
	for _, p := range m.Problems {
		out.printf("BAD  %s\n", p.Error())
	}
	losses := m.Losses()
	writeLosses(out, losses)
	if m.Complete {
		out.printf("The bundle is complete")
	} else {
		out.printf("The bundle is NOT complete")
	}
	switch {
	case len(losses) > 0:
		out.printf(" and NOT lossless: the collectors name %d missing items (MISSING above).\n", lossItems(losses))
	case m.Lossless:
		out.println(" and lossless.")
	default:
		out.println("; it does not record whether anything is missing.")
	}
	out.printf("Check the copy any time with: evidencectl verify %s\n", r.Dir)
	return out.err
}

// plural formats a count with its noun: "1 part", "3 parts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
