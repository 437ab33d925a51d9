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
		Long: `Read an incident's evidence and write the draft of a blameless postmortem,
with what the evidence shows filled in and TODO placeholders for the rest;
--output json gives the same facts for machines:

  - what the evidence lacks (the losses its collectors name), first;
  - the first error and the first latency regression, to the millisecond
    (the item that began the rise, with its trace), the time to detect
    (incident opened minus the first error) and the time to resolve;
  - the suspects: the deploys that started in the 30 minutes before the
    first error, ranked by what their own telemetry (deployment.id, else
    service.version) shows against the service's before them, with the
    reasons and a confidence for each; a deploy after the first error is a
    mitigation (a rollback when it returns to an earlier version), never a
    suspect; "no deploy preceded the first error" rather than a guess;
  - the causal chains: failing spans that called failing spans in another
    service, down to the service where the errors start, with traces;
  - per-version and per-minute figures, telemetry gaps, and the events:
    incidents, deploys, and the notes people added ('evidencectl
    annotate'), however late; the collector's own event records are
    events, never a service.

With a directory (as written by 'evidencectl get'), the merged files in it
are read (or, without them, the parts under DIR/raw). With an incident ID,
the parts are read from the store, verified, where they lie. A directory
wins over an incident ID of the same name; --in-store reads the store
instead.

A minute is an error spike when a service's (or one of its versions')
errors, error spans plus ERROR and FATAL logs, reach at least 5 and 3 times
the median of its earlier minutes; a latency spike when its p95 reaches
twice the median p95 of the earlier minutes and 10 ms more. The draft's
Evidence section repeats the rules.`,
		Example: `  evidencectl timeline ./INC-42 > INC-42-postmortem.md
  evidencectl timeline INC-42 --store s3://evidence/prod
  evidencectl timeline ./INC-42 --output json | jq '.suspects[0] | {deploy, confidence, reasons}'
  evidencectl timeline ./INC-42 --output json | jq .summary.detection_seconds`,
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
	in, fromStore, release, err := o.input(ctx, arg)
	if err != nil {
		return err
	}
	// The parts are read while the timeline is built: the store stays open
	// until then.
	defer release()
	tl, err := timeline.Build(in)
	if err != nil {
		return buildError(err, arg, fromStore)
	}
	if o.root.jsonOutput() {
		return tl.WriteJSON(o.root.stdout())
	}
	return tl.WriteMarkdown(o.root.stdout())
}

// input reads a directory, or the incident's evidence in the store; it
// says which, and returns what releases the store.
func (o *timelineOptions) input(ctx context.Context, arg string) (timeline.Input, bool, func(), error) {
	nothing := func() {}
	if !o.inStore {
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			in, err := timeline.FromDir(arg)
			if err != nil {
				return in, false, nothing, dirError(err, arg)
			}
			return in, false, nothing, nil
		}
	}
	if err := incident.ValidateID(arg); err != nil {
		return timeline.Input{}, false, nothing, usageError("give an incident ID (see `evidencectl list`) or the directory `evidencectl get` wrote",
			"%q is neither a directory nor an incident ID: %v", arg, err)
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return timeline.Input{}, true, nothing, err
	}
	in, err := timeline.FromStore(ctx, st, arg)
	if err != nil {
		release()
		return in, true, nothing, buildError(err, arg, true)
	}
	return in, true, release, nil
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

// buildError classifies an error from reading the evidence, before or
// while the timeline is built: a corrupt part fails verification, a store
// that fails is an interruption, a missing incident is not found.
func buildError(err error, arg string, fromStore bool) error {
	verify := fmt.Sprintf("run `evidencectl verify %s` for a full report", arg)
	if fromStore {
		verify = fmt.Sprintf("run `evidencectl verify %s --in-store` for a full report", arg)
	}
	switch {
	case errors.Is(err, bundle.ErrCorrupt):
		return newError(ErrVerifyFailed, err, verify, "the evidence of %s is corrupt: %v", arg, err)
	case fromStore && errors.Is(err, store.ErrNotFound):
		return newError(ErrNotFound, err, "check the ID with `evidencectl list` and the store with --store", "%v", err)
	case fromStore:
		return interrupted(storeError(err, "the evidence of "+arg), "run the command again")
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		return newError(nil, err, "check the directory and its permissions", "cannot read the evidence of %s: %v", arg, err)
	}
	return newError(ErrVerifyFailed, err, verify, "cannot read the evidence of %s: %v", arg, err)
}
