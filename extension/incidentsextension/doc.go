//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package incidentsextension implements the incidents extension, the hub of
// otel-evidence: the registry of open incidents and recent deploys
// (incidentsapi.Registry), the evidence store, and the sync of the registry
// between collector replicas through that store.
package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"
