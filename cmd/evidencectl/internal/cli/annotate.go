package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// envAuthor names the author of notes when --author is not given.
const envAuthor = "EVIDENCECTL_AUTHOR"

// annotateOptions are the flags of `evidencectl annotate`.
type annotateOptions struct {
	receiver receiverOptions
	at       string
	author   string
}

// noteRequest is the body of the receiver's notes endpoint.
type noteRequest struct {
	IncidentID string `json:"incident_id"`
	At         string `json:"at,omitempty"`
	Text       string `json:"text"`
	Author     string `json:"author,omitempty"`
}

func newAnnotateCmd(root *rootOptions) *cobra.Command {
	o := &annotateOptions{receiver: receiverOptions{root: root}}
	cmd := &cobra.Command{
		Use:   "annotate INCIDENT [--at TIME] [--author NAME] TEXT...",
		Short: "Add a note to an incident's timeline through the collector's incident_webhook receiver",
		Long: `Add a note to an incident's timeline (POST /v1/notes): who paged whom,
what was tried, what people saw. --at is when it happened (default now).
The note is kept with the incident's evidence, so it joins the timeline
('evidencectl timeline') whenever it is written, during the incident or
while the postmortem is drafted. The incident must exist. Sending the same
note again (incident, time, author and text) records it once.

The author is --author, else ` + envAuthor + `, else the user name ($USER).`,
		Example: `  evidencectl annotate INC-42 --at 11:42 "paged the payments on-call"
  evidencectl annotate INC-42 --at 2026-03-02T11:50:00Z --author alice "rollback of checkout 1.4.2 started"
  evidencectl annotate INC-42 "status page updated"`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0], strings.Join(args[1:], " "))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.at, "at", "", "when it happened: "+timeFlagHelp+" (default now)")
	f.StringVar(&o.author, "author", "", "who writes the note (env "+envAuthor+"; default $USER)")
	o.receiver.addFlags(f, "/v1/notes")
	return cmd
}

func (o *annotateOptions) run(ctx context.Context, id, text string) error {
	if err := incident.ValidateID(id); err != nil {
		return usageError("give the incident's ID (see `evidencectl list`)", "invalid incident ID %q: %v", id, err)
	}
	env := o.receiver.root.env
	req := noteRequest{
		IncidentID: id, Text: text,
		Author: firstNonEmpty(o.author, env.Getenv(envAuthor), env.Getenv("USER")),
	}
	if err := (&incident.Note{Text: req.Text, Author: req.Author}).Validate(); err != nil {
		return usageError("a note is one to 8192 bytes of text without control characters", "%v", err)
	}
	var err error
	if req.At, _, err = timeFlagValue("at", o.at, o.receiver.root.now()); err != nil {
		return err
	}
	answer, err := o.receiver.post(ctx, req)
	if err != nil {
		return err
	}
	if o.receiver.root.jsonOutput() {
		return o.receiver.printAnswer(answer)
	}
	var a struct {
		Notes []string `json:"notes"`
	}
	out := &textWriter{w: o.receiver.root.stdout()}
	if err := json.Unmarshal(answer, &a); err != nil || len(a.Notes) == 0 {
		out.printf("The receiver answered: %s\n", strings.TrimSpace(string(answer)))
		return out.err
	}
	out.printf("Note %s recorded on %s\n", strings.Join(a.Notes, ", "), id)
	return out.err
}
