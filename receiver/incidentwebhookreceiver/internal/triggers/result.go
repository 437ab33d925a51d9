package triggers

import (
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Result is what one accepted payload asks of the registry, plus the events
// to record. Every accepted payload yields at least one Event.
type Result struct {
	// Open lists incidents to open (or, when already open, to keep open).
	Open []incident.Incident
	// Resolve lists incidents to resolve. An ID may name an incident the
	// registry never opened (for example an Alertmanager group whose only
	// policy-matching alert left the group earlier); the registry treats
	// such entries as no-ops.
	Resolve []Resolution
	// Deploys lists deploys to record.
	Deploys []incident.Deploy
	// Events are the entries for events.jsonl and the replica sync log, in
	// a stable order: opened, resolved, deploy, then alert events. Each
	// carries Source and the raw JSON it came from (the whole body, or one
	// alert of a group).
	Events []incident.Event
	// TruncatedAlerts is the Alertmanager/Grafana "truncatedAlerts" count:
	// the alert list was partial, so nothing was inferred from missing
	// alerts. The count is also in the recorded body.
	TruncatedAlerts int
	// Alerts is the number of alerts an Alertmanager or Grafana payload
	// carries (0 for the other endpoints).
	Alerts int
}

// Cost is what the request costs in the receiver's limits: its events, or
// its alerts when it carries more alerts than events (alerts that open one
// incident are recorded as one event, but were parsed and are kept in its
// payload all the same).
func (r *Result) Cost() int {
	return max(len(r.Events), r.Alerts)
}

// Resolution asks the registry to resolve incident ID as of At.
type Resolution struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// SLO is the SLO the resolved alerts name (SLOLabels), if any.
	SLO string `json:"-"`
}
