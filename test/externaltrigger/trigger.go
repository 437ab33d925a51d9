package pipelinetrigger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// Source is the incident source this trigger records.
const Source = "release-pipeline"

// Run is one run of a release pipeline.
type Run struct {
	// Pipeline names the pipeline, e.g. "checkout-release".
	Pipeline string
	// Service is the service.name the pipeline deploys; the incident is
	// scoped to it.
	Service string
	// At is when the run failed (or passed).
	At time.Time
	// URL links the run.
	URL string
}

// Trigger opens and resolves pipeline incidents in the incidents extension
// named by its ID.
type Trigger struct {
	extension component.ID
	reg       incidentsapi.Registry
}

// New returns a trigger for the incidents extension with the given ID.
func New(extension component.ID) *Trigger { return &Trigger{extension: extension} }

// Start finds the incidents extension.
func (t *Trigger) Start(_ context.Context, host component.Host) error {
	reg, err := incidentsapi.Find(host, t.extension)
	if err != nil {
		return fmt.Errorf("pipeline trigger: %w", err)
	}
	t.reg = reg
	return nil
}

// IncidentID is the stable incident ID of a pipeline: re-sent failures of
// the same pipeline update one incident.
func IncidentID(pipeline string) (string, error) {
	id := incident.SanitizeID("pipeline-" + pipeline)
	if err := incident.ValidateID(id); err != nil {
		return "", fmt.Errorf("pipeline %q: %w", pipeline, err)
	}
	return id, nil
}

// Failed opens (or keeps open) the pipeline's incident and returns its ID.
func (t *Trigger) Failed(ctx context.Context, run Run) (string, error) {
	if t.reg == nil {
		return "", errors.New("pipeline trigger: not started")
	}
	id, err := IncidentID(run.Pipeline)
	if err != nil {
		return "", err
	}
	inc := incident.Incident{
		ID:        id,
		Title:     "release pipeline " + run.Pipeline + " failed",
		Severity:  "warning",
		Source:    Source,
		Status:    incident.StatusOpen,
		Scope:     []incident.Matcher{{Key: "service.name", Value: run.Service}},
		StartedAt: run.At,
		UpdatedAt: run.At,
		Labels:    map[string]string{"pipeline": run.Pipeline},
	}
	if run.URL != "" {
		inc.Links = []incident.Link{{Href: run.URL, Text: "pipeline run"}}
	}
	if err := inc.Validate(); err != nil {
		return "", fmt.Errorf("pipeline %q: %w", run.Pipeline, err)
	}
	ev := incident.Event{Kind: incident.EventIncidentOpened, Time: run.At, Source: Source, IncidentID: id, Incident: &inc}
	if _, err := t.reg.OpenIncident(ctx, inc, ev); err != nil {
		return "", fmt.Errorf("pipeline %q: open incident %s: %w", run.Pipeline, id, err)
	}
	return id, nil
}

// Passed resolves the pipeline's incident, if one is open.
func (t *Trigger) Passed(ctx context.Context, run Run) error {
	if t.reg == nil {
		return errors.New("pipeline trigger: not started")
	}
	id, err := IncidentID(run.Pipeline)
	if err != nil {
		return err
	}
	ev := incident.Event{Kind: incident.EventIncidentResolved, Time: run.At, Source: Source, IncidentID: id}
	if _, err := t.reg.ResolveIncident(ctx, id, run.At, ev); err != nil {
		return fmt.Errorf("pipeline %q: resolve incident %s: %w", run.Pipeline, id, err)
	}
	return nil
}
