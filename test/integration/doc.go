// Package integration runs otel-evidence's components in process beside
// other collector components (contrib's bearertokenauth, for one) that the
// components' own modules do not require.
package integration // import "github.com/otel-evidence/otel-evidence/test/integration"
