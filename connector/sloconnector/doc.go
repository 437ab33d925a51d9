//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package sloconnector implements the slo connector. It classifies the
// spans and log records it receives as good or bad events of configured
// SLOs (OTTL conditions, or a latency threshold), keeps their counts in
// time-bucketed windows whose memory is bounded by SLOs x groups x window
// buckets, evaluates a multi-window multi-burn-rate policy (Google SRE
// workbook), emits the SLI, burn-rate and error-budget series as metrics,
// and opens and resolves incidents through the incidents extension.
package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"
