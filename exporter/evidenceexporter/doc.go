//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package evidenceexporter is the evidence exporter, the recorder of
// otel-evidence: it keeps recent traces, logs and metrics in a bounded ring
// buffer and, for every incident in the registry of the incidents extension,
// freezes the telemetry of the incident's window into bundle parts that go
// through a local spool to the evidence store. See README.md.
package evidenceexporter // import "github.com/otel-evidence/otel-evidence/exporter/evidenceexporter"
