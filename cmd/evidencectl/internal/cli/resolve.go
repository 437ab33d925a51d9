package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// resolveOptions are the flags of `evidencectl resolve`.
type resolveOptions struct {
	receiver receiverOptions
	id       string
	at       string
}

// resolveRequest is the body of the receiver's generic resolve endpoint.
type resolveRequest struct {
	ID         string `json:"id"`
	ResolvedAt string `json:"resolved_at,omitempty"`
}

func newResolveCmd(root *rootOptions) *cobra.Command {
	o := &resolveOptions{receiver: receiverOptions{root: root}}
	cmd := &cobra.Command{
		Use:   "resolve --id ID [--at TIME]",
		Short: "Resolve an incident through the collector's incident_webhook receiver",
		Long: `Resolve an incident (POST /v1/incidents/resolve) at --at (default now).
Collectors still recording its window finish their bundles.`,
		Example: `  evidencectl resolve --id INC-42
  evidencectl resolve --id INC-42 --at 2026-03-02T10:05:00Z`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "id"); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.id, "id", "", "incident ID (required)")
	f.StringVar(&o.at, "at", "", "resolution time: "+timeFlagHelp+" (default now)")
	o.receiver.addFlags(f, "/v1/incidents/resolve")
	return cmd
}

func (o *resolveOptions) run(ctx context.Context) error {
	if err := incident.ValidateID(o.id); err != nil {
		return usageError("run `evidencectl list --status open` for the open incidents", "invalid --id: %v", err)
	}
	req := resolveRequest{ID: o.id}
	var err error
	if req.ResolvedAt, _, err = timeFlagValue("at", o.at, o.receiver.root.now()); err != nil {
		return err
	}
	answer, err := o.receiver.post(ctx, req)
	if err != nil {
		return err
	}
	return o.receiver.printAnswer(answer)
}
