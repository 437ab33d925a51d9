package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// deployOptions are the flags of `evidencectl deploy`.
type deployOptions struct {
	receiver    receiverOptions
	id          string
	service     string
	version     string
	environment string
	commit      string
	name        string
	status      string
	startedAt   string
	finishedAt  string
}

// deployRequest is the body of the receiver's deploy endpoint.
type deployRequest struct {
	ID          string `json:"id"`
	Service     string `json:"service"`
	Version     string `json:"version,omitempty"`
	Environment string `json:"environment,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Name        string `json:"name,omitempty"`
	StartedAt   string `json:"started_at,omitempty"`
	FinishedAt  string `json:"finished_at,omitempty"`
	Status      string `json:"status,omitempty"`
}

func newDeployCmd(root *rootOptions) *cobra.Command {
	o := &deployOptions{receiver: receiverOptions{root: root}}
	cmd := &cobra.Command{
		Use:   "deploy --id ID --service S [--version V --environment E --commit C --status S --started-at T --finished-at T]",
		Short: "Record a deploy through the collector's incident_webhook receiver",
		Long: `Record a deploy (POST /v1/deploys). The collectors tag the service's
telemetry with deployment.id from then on, and the deploy is an event in
every incident's evidence. Call it when the deploy starts and again, with
the same --id, when it finishes.`,
		Example: `  evidencectl deploy --id deploy-1234 --service checkout --version 1.4.2 \
    --environment production --commit 9fceb02 --status started
  evidencectl deploy --id deploy-1234 --service checkout --version 1.4.2 \
    --status succeeded --started-at 2026-03-02T09:00:00Z --finished-at now`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "id", "service"); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.id, "id", "", "deploy ID ([A-Za-z0-9._-], required)")
	f.StringVar(&o.service, "service", "", "service.name of the deployed service (required)")
	f.StringVar(&o.version, "version", "", "service.version being deployed")
	f.StringVar(&o.environment, "environment", "", "deployment.environment.name, e.g. production")
	f.StringVar(&o.commit, "commit", "", "VCS revision (vcs.ref.head.revision)")
	f.StringVar(&o.name, "name", "", "deployment.name")
	f.StringVar(&o.status, "status", "", "deploy status: "+incident.DeployStarted+", "+incident.DeploySucceeded+", "+incident.DeployFailed+" or your own")
	f.StringVar(&o.startedAt, "started-at", "", "deploy start: "+timeFlagHelp+" (default now)")
	f.StringVar(&o.finishedAt, "finished-at", "", "deploy end: "+timeFlagHelp)
	o.receiver.addFlags(f, "/v1/deploys")
	return cmd
}

func (o *deployOptions) run(ctx context.Context) error {
	if err := incident.ValidateID(o.id); err != nil {
		return usageError("deploy IDs use letters, digits, '.', '_' and '-'", "invalid --id: %v", err)
	}
	req := deployRequest{
		ID: o.id, Service: o.service, Version: o.version, Environment: o.environment,
		Commit: o.commit, Name: o.name, Status: o.status,
	}
	now := o.receiver.root.now()
	var err error
	var started, finished time.Time
	if req.StartedAt, started, err = timeFlagValue("started-at", o.startedAt, now); err != nil {
		return err
	}
	if req.FinishedAt, finished, err = timeFlagValue("finished-at", o.finishedAt, now); err != nil {
		return err
	}
	if req.FinishedAt != "" && req.StartedAt != "" && finished.Before(started) {
		return usageError("give a --finished-at after --started-at", "--finished-at %s is before --started-at %s", req.FinishedAt, req.StartedAt)
	}
	answer, err := o.receiver.post(ctx, req)
	if err != nil {
		return err
	}
	return o.receiver.printAnswer(answer)
}
