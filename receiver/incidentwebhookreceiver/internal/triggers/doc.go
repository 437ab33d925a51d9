// Package triggers parses and authenticates the outside signals that open and
// resolve incidents and record deploys: Prometheus Alertmanager and Grafana
// alerting webhooks (including Sloth and Pyrra SLO burn-rate alerts),
// PagerDuty v3 webhooks, the generic incident API and deploy events.
//
// The functions here are pure: they take a request body (and headers for the
// signature checks) and return a Result that says what the registry should
// do, plus the events to record as evidence. They never run an HTTP server;
// the incident_webhook receiver calls them and maps an *Error straight onto
// an HTTP response.
//
// IDs taken from a payload as given (the generic API, the incident_id label)
// are validated with incident.ValidateID and refused when invalid. Only IDs
// that this package derives (hashes of group keys, PagerDuty incident IDs)
// are sanitized.
package triggers // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
