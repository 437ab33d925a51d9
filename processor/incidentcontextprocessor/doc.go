//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package incidentcontextprocessor implements the incident_context processor.
// It tags every resource of traces, logs and metrics (and, at level record,
// every span, log record and data point) with the deploy that produced the
// telemetry (deployment.id, deployment.name, deployment.environment.name,
// vcs.ref.head.revision) and the open incidents whose scope matches it
// (incident.id), read lock-free from the incidents extension's registry.
package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"
