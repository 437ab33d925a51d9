package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// outputMarkdown is timeline's name for the text output.
const outputMarkdown = "markdown"

// timelineOptions are the flags of `evidencectl timeline`.
type timelineOptions struct {
	root    *rootOptions
	inStore bool
}

func newTimelineCmd(root *rootOptions) *cobra.Command {
	o := &timelineOptions{root: root}
	cmd := &cobra.Command{
		Use:   "timeline INCIDENT|DIR [--output markdown|json]",
		Short: "Draft a postmortem timeline from an incident's evidence",
		Long: `Read an incident's evidence and write the draft of a blameless postmortem:
the incident and deploy events in order, per-minute spans, errors, p50 and
p95 latency and log severities for every service, the first error spike,
the deploy that preceded it, and gaps in the telemetry. The Markdown output
has the Summary, Impact, Timeline, Contributing factors and Action items
sections, with what the evidence shows filled in and TODO placeholders for
the rest; --output json gives the same facts for machines.

With a directory (as written by 'evidencectl get'), the merged files in it
are read (or, without them, the parts under DIR/raw). With an incident ID,
the parts are read from the store, verified, where they lie. A directory
wins over an incident ID of the same name; --in-store reads the store
instead.

The first error spike is the first minute in which a service's errors
(error spans plus ERROR and FATAL logs) reach at least 5 and at least 3
times the median of its earlier minutes. The suspect deploy is the latest
deploy of that service (else of any service) at most 30 minutes before the
spike minute, or within it.`,
		Example: `  evidencectl timeline ./INC-42 > INC-42-postmortem.md
  evidencectl timeline INC-42 --store s3://evidence/prod
  evidencectl timeline ./INC-42 --output json | jq .suspect_deploy`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	// A local --output shadows the global one to accept "markdown"; it
	// stores into the same option, as "text" or "json".
	cmd.Flags().Var(timelineFormat{root}, "output", "output format: markdown (or text) or json")
	cmd.Flags().BoolVar(&o.inStore, "in-store", false, "read the incident from the store even when a directory of that name exists")
	return cmd
}

// timelineFormat is the --output value of timeline.
type timelineFormat struct{ o *rootOptions }

func (f timelineFormat) String() string {
	if f.o == nil || f.o.output != outputJSON {
		return outputMarkdown
	}
	return outputJSON
}

func (f timelineFormat) Set(s string) error {
	switch strings.ToLower(s) {
	case outputMarkdown, "md", outputText:
		f.o.output = outputText
	case outputJSON:
		f.o.output = outputJSON
	default:
		return fmt.Errorf("must be %s or %s, got %q", outputMarkdown, outputJSON, s)
	}
	return nil
}

func (timelineFormat) Type() string { return "format" }

func (o *timelineOptions) run(ctx context.Context, arg string) error {
	in, err := o.input(ctx, arg)
	if err != nil {
		return err
	}
	tl, err := timeline.Build(in)
	if err != nil {
		return readError(err, arg)
	}
	if o.root.jsonOutput() {
		return tl.WriteJSON(o.root.stdout())
	}
	return tl.WriteMarkdown(o.root.stdout())
}

// input reads a directory, or the incident's evidence in the store.
func (o *timelineOptions) input(ctx context.Context, arg string) (timeline.Input, error) {
	if !o.inStore {
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			in, err := timeline.FromDir(arg)
			if err != nil {
				return in, dirError(err, arg)
			}
			return in, nil
		}
	}
	if err := incident.ValidateID(arg); err != nil {
		return timeline.Input{}, usageError("give an incident ID (see `evidencectl list`) or the directory `evidencectl get` wrote",
			"%q is neither a directory nor an incident ID: %v", arg, err)
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return timeline.Input{}, err
	}
	defer release()
	in, err := timeline.FromStore(ctx, st, arg)
	switch {
	case err == nil:
		return in, nil
	case errors.Is(err, bundle.ErrCorrupt):
		return in, newError(nil, err, fmt.Sprintf("run `evidencectl verify %s --in-store` for a full report", arg),
			"the evidence of %s is corrupt: %v", arg, err)
	case errors.Is(err, store.ErrNotFound):
		return in, newError(ErrNotFound, err, "check the ID with `evidencectl list` and the store with --store", "%v", err)
	}
	return in, interrupted(storeError(err, "the evidence of "+arg), "run the command again")
}

// dirError classifies an error from reading an evidence directory.
func dirError(err error, dir string) error {
	switch {
	case errors.Is(err, bundle.ErrCorrupt):
		return newError(nil, err, fmt.Sprintf("run `evidencectl verify %s` for a full report, or `evidencectl get` again", dir),
			"the evidence in %s is corrupt: %v", dir, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return newError(nil, err, "check the directory and its permissions", "cannot read %s: %v", dir, err)
	}
	return newError(ErrNotFound, err, "give the directory `evidencectl get` wrote, or an incident ID", "%v", err)
}

// readError classifies an error from reading the evidence while building
// the timeline: undecodable evidence fails verification.
func readError(err error, arg string) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return newError(nil, err, "check the directory and its permissions", "cannot read the evidence of %s: %v", arg, err)
	}
	return newError(ErrVerifyFailed, err, fmt.Sprintf("run `evidencectl verify %s` for a full report", arg),
		"cannot read the evidence of %s: %v", arg, err)
}
