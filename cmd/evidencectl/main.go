// Command evidencectl lists, downloads, verifies and replays the evidence
// bundles the otel-evidence collector freezes around incidents, and opens
// and resolves incidents and records deploys through its webhook receiver.
// See README.md in this directory, or run `evidencectl --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/otel-evidence/otel-evidence/cmd/evidencectl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{})
	stop()
	os.Exit(code)
}
