// Package cli implements evidencectl, the command line tool incident owners
// use to list, download, verify, summarise and replay evidence bundles, and that
// pipelines use to open and resolve incidents and record deploys.
//
// Each verb lives in its own file (list.go, get.go, verify.go, timeline.go,
// replay.go, trigger.go, resolve.go, deploy.go, version.go) and builds its cobra
// command from a small options struct; the options shared by every command
// (store addressing, output format, the process's streams and clock) are in
// rootOptions. Results go to stdout, as text or, with --output json, as one
// JSON document; diagnostics and progress go to stderr. Errors map to the
// exit codes below with errors.Is, and every error message says what to do
// next.
//
//	0  ExitOK             success
//	1  ExitFailure        any other failure
//	2  ExitUsage          bad flags or arguments
//	3  ExitNotFound       the incident (or another named object) does not exist
//	4  ExitVerifyFailed   evidence failed verification
//	5  ExitStoreUnreachable  the evidence store cannot be reached or read
package cli // import "github.com/otel-evidence/otel-evidence/cmd/evidencectl/internal/cli"
