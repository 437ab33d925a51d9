package triggers

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

type deployBody struct {
	ID          string `json:"id"`
	Service     string `json:"service"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
	Commit      string `json:"commit"`
	Name        string `json:"name"`
	StartedAt   string `json:"started_at"`
	FinishedAt  string `json:"finished_at"`
	Status      string `json:"status"`
}

// ParseDeploy interprets a deploy event from CI/CD:
//
//	{"id": "deploy-1234", "service": "checkout", "version": "1.4.2",
//	 "environment": "production", "commit": "9fceb02", "name": "...",
//	 "started_at": "...", "finished_at": "...", "status": "succeeded"}
//
// id (a valid ID, never rewritten) and service are required; started_at
// defaults to now and finished_at, when given, must not precede it. status
// is free-form (see incident.DeployStarted and friends).
func ParseDeploy(body []byte, now time.Time) (Result, error) {
	now = clock(now)
	body = bytes.Clone(body)
	var b deployBody
	if err := decode(body, &b); err != nil {
		return Result{}, err
	}
	if err := validateGivenID("id", b.ID); err != nil {
		return Result{}, err
	}
	if b.Service == "" {
		return Result{}, missing("service")
	}
	for _, f := range []struct{ field, value string }{
		{"service", b.Service}, {"version", b.Version}, {"environment", b.Environment},
		{"commit", b.Commit}, {"name", b.Name}, {"status", b.Status},
	} {
		if err := checkText(f.field, f.value, MaxTextLength); err != nil {
			return Result{}, err
		}
	}
	started, terr := parseTime("started_at", b.StartedAt)
	if terr != nil {
		return Result{}, terr
	}
	started = orNow(started, now)
	finished, terr := parseTime("finished_at", b.FinishedAt)
	if terr != nil {
		return Result{}, terr
	}
	d := incident.Deploy{
		ID:          b.ID,
		Service:     b.Service,
		Version:     b.Version,
		Environment: b.Environment,
		Commit:      b.Commit,
		Name:        b.Name,
		StartedAt:   started,
		Status:      b.Status,
	}
	if !finished.IsZero() {
		if finished.Before(started) {
			return Result{}, invalid("finished_at", "must not be before started_at")
		}
		d.FinishedAt = &finished
	}
	return Result{
		Deploys: []incident.Deploy{d},
		Events: []incident.Event{{
			Kind: incident.EventDeploy, Time: now, Source: incident.SourceDeploy,
			DeployID: d.ID, Deploy: &d, Payload: json.RawMessage(body),
		}},
	}, nil
}
