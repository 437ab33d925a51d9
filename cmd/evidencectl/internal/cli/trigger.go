package cli

import (
	"context"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// triggerOptions are the flags of `evidencectl trigger`.
type triggerOptions struct {
	receiver  receiverOptions
	id        string
	title     string
	severity  string
	scope     []string
	startedAt string
	links     []string
	labels    []string
}

// openRequest is the body of the receiver's generic open endpoint.
type openRequest struct {
	ID        string            `json:"id"`
	Title     string            `json:"title,omitempty"`
	Severity  string            `json:"severity,omitempty"`
	Scope     []string          `json:"scope,omitempty"`
	StartedAt string            `json:"started_at,omitempty"`
	Links     []string          `json:"links,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

func newTriggerCmd(root *rootOptions) *cobra.Command {
	o := &triggerOptions{receiver: receiverOptions{root: root}}
	cmd := &cobra.Command{
		Use:   "trigger --id ID --title T [--severity S] [--scope k=v ...] [--started-at TIME] [--link URL ...]",
		Short: "Open an incident through the collector's incident_webhook receiver",
		Long: `Open an incident (POST /v1/incidents): every collector replica freezes the
evidence window around --started-at (default now) for the telemetry the
scope matches (all telemetry without --scope). Sending the same incident
again is harmless.`,
		Example: `  evidencectl trigger --id INC-42 --title "checkout error budget burning" --severity critical \
    --scope service.name=checkout --link https://runbooks.example.com/checkout
  EVIDENCECTL_TOKEN=... evidencectl trigger --id INC-43 --title "payments latency" --started-at 15m`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "id", "title"); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.id, "id", "", "incident ID ([A-Za-z0-9._-], required)")
	f.StringVar(&o.title, "title", "", "incident title (required)")
	f.StringVar(&o.severity, "severity", "", "severity, e.g. critical")
	f.StringArrayVar(&o.scope, "scope", nil, "resource attribute the incident covers, key=value (repeatable; all must match)")
	f.StringVar(&o.startedAt, "started-at", "", "start of the incident: "+timeFlagHelp+" (default now)")
	f.StringArrayVar(&o.links, "link", nil, "http(s) link to attach: runbook, dashboard, alert (repeatable)")
	f.StringArrayVar(&o.labels, "label", nil, "label key=value (repeatable)")
	o.receiver.addFlags(f, "/v1/incidents")
	return cmd
}

func (o *triggerOptions) run(ctx context.Context) error {
	if err := incident.ValidateID(o.id); err != nil {
		return usageError("incident IDs become object keys; use letters, digits, '.', '_' and '-'", "invalid --id: %v", err)
	}
	req := openRequest{ID: o.id, Title: o.title, Severity: o.severity}
	seen := make(map[string]bool)
	for _, s := range o.scope {
		m, err := incident.ParseMatcher(s)
		if err != nil {
			return usageError("for example --scope service.name=checkout", "invalid --scope: %v", err)
		}
		if seen[m.Key] {
			return usageError("give each attribute once", "--scope attribute %q is given twice", m.Key)
		}
		seen[m.Key] = true
		req.Scope = append(req.Scope, m.String())
	}
	for _, l := range o.links {
		u, err := url.Parse(l)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("for example --link https://runbooks.example.com/checkout", "--link %q is not an absolute http or https URL", l)
		}
		req.Links = append(req.Links, l)
	}
	labels, err := parseKeyValues("label", o.labels)
	if err != nil {
		return err
	}
	req.Labels = labels
	if req.StartedAt, _, err = timeFlagValue("started-at", o.startedAt, o.receiver.root.now()); err != nil {
		return err
	}
	answer, err := o.receiver.post(ctx, req)
	if err != nil {
		return err
	}
	return o.receiver.printAnswer(answer)
}
