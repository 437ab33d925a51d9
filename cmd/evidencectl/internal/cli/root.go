package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/otel-evidence/otel-evidence/internal/safetext"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Output formats accepted by --output.
const (
	outputText = "text"
	outputJSON = "json"
)

// Env is what one run of evidencectl reads from and writes to. The zero
// value of each field means the process's own (os.Stdout, os.Getenv,
// time.Now, ...), so tests can run the CLI in-process.
type Env struct {
	// Stdout receives results: text, or JSON with --output json.
	Stdout io.Writer
	// Stderr receives errors, warnings and progress bars.
	Stderr io.Writer
	// Getenv looks up environment variables.
	Getenv func(string) string
	// Now is the clock.
	Now func() time.Time
	// StderrIsTerminal says whether progress bars may be drawn on Stderr;
	// nil means: when Stderr is a terminal.
	StderrIsTerminal func() bool
}

func (e Env) withDefaults() Env {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.StderrIsTerminal == nil {
		w := e.Stderr
		e.StderrIsTerminal = func() bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		}
	}
	return e
}

// rootOptions are shared by every command: the process environment, the
// output format and the store address. Commands keep a pointer to it and
// read it when they run, after flag parsing.
type rootOptions struct {
	env    Env
	output string
	store  storeOptions
	keys   keyOptions
	// wrote is set once a command has written its result to stdout, so
	// that a failure after it does not add a second JSON document.
	wrote bool
}

// jsonOutput reports whether --output json was given.
func (o *rootOptions) jsonOutput() bool { return o.output == outputJSON }

// stdout is where results go.
func (o *rootOptions) stdout() io.Writer { return resultWriter{o} }

type resultWriter struct{ o *rootOptions }

func (w resultWriter) Write(p []byte) (int, error) {
	w.o.wrote = true
	return w.o.env.Stdout.Write(p)
}

// printJSON writes v to stdout as indented JSON.
func (o *rootOptions) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the JSON output: %w", err)
	}
	_, err = o.stdout().Write(append(b, '\n'))
	return err
}

// warnf writes a warning line to stderr.
func (o *rootOptions) warnf(format string, args ...any) {
	// Nothing is left to tell about a stderr that cannot be written.
	_, _ = fmt.Fprintf(o.env.Stderr, "evidencectl: warning: "+format+"\n", safetext.Args(args)...)
}

// keyRing loads the trusted public keys of --key, EVIDENCECTL_KEYS or the
// --config collector configuration's evidence exporters; nil when there
// are none.
func (o *rootOptions) keyRing(ctx context.Context) (*bundle.KeyRing, error) {
	return o.keys.ring(ctx, o.env.Getenv, o.store.configFile)
}

// now is the current time from the run's clock.
func (o *rootOptions) now() time.Time { return o.env.Now() }

// openStore opens the store the flags, --config or EVIDENCECTL_STORE
// address. The returned function releases it.
func (o *rootOptions) openStore(ctx context.Context) (store.Store, func(), error) {
	return o.store.open(ctx, o.env.Getenv)
}

// newRootCmd builds the evidencectl command tree.
func newRootCmd(env Env) (*cobra.Command, *rootOptions) {
	o := &rootOptions{env: env.withDefaults()}
	root := &cobra.Command{
		Use:   "evidencectl",
		Short: "List, download, verify and replay otel-evidence incident bundles",
		Long: `evidencectl gets incident owners from "the alert fired" to "I have all the
evidence" in one command, without knowing the store layout:

  evidencectl list --status open
  evidencectl get INC-42              # downloads, verifies and merges into ./INC-42
  evidencectl verify ./INC-42
  evidencectl replay ./INC-42 --endpoint localhost:4317 --insecure --shift-to-now

It also opens and resolves incidents and records deploys through the
collector's incident_webhook receiver (trigger, resolve, deploy).

The store is addressed with --store (file:///path or s3://bucket/prefix),
EVIDENCECTL_STORE, or --config pointing at a collector configuration.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("run `evidencectl --help` for the list of commands", "unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if o.output != outputText && o.output != outputJSON {
				return usageError("use --output text or --output json", "invalid --output %q", o.output)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(fmt.Sprintf("run `%s --help` for the flags", cmd.CommandPath()), "%v", err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&o.output, "output", outputText, "output format: text or json (JSON goes to stdout)")
	o.store.addFlags(pf)
	o.keys.addFlags(pf)

	root.AddCommand(
		newListCmd(o),
		newGetCmd(o),
		newVerifyCmd(o),
		newReplayCmd(o),
		newTriggerCmd(o),
		newResolveCmd(o),
		newDeployCmd(o),
		newAnnotateCmd(o),
		newKeygenCmd(o),
		newRedactCmd(o),
		newTimelineCmd(o),
		newServeCmd(o),
		newShareCmd(o),
		newVersionCmd(o),
	)
	return root, o
}

// Main runs evidencectl with args (without the program name) and returns
// the exit code. Errors are printed to env.Stderr as "evidencectl: ...";
// with --output json, an error that comes before any result is also
// written to env.Stdout as {"error": {...}}.
func Main(ctx context.Context, args []string, env Env) int {
	root, o := newRootCmd(env)
	root.SetArgs(args)
	root.SetOut(o.env.Stdout)
	root.SetErr(o.env.Stderr)
	root.SetIn(os.Stdin)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	// Error messages quote evidence (titles, keys, file names): escaped.
	_, _ = fmt.Fprintf(o.env.Stderr, "evidencectl: %s\n", safetext.Escape(err.Error()))
	if o.jsonOutput() && !o.wrote {
		_ = o.printJSON(map[string]any{"error": map[string]any{
			"kind":      errorKind(code),
			"exit_code": code,
			"message":   err.Error(),
		}})
	}
	return code
}

// exactArgs is cobra.ExactArgs returning a usage error that shows the
// command's usage line.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(fmt.Sprintf("usage: %s", cmd.UseLine()), "%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs returning a usage error that shows the
// command's usage line.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(fmt.Sprintf("usage: %s", cmd.UseLine()), "%s takes at least %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// requireFlags returns a usage error naming the first listed flag that was
// not given a non-empty value.
func requireFlags(cmd *cobra.Command, names ...string) error {
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			return fmt.Errorf("internal error: no flag --%s", name)
		}
		if f.Value.String() == "" {
			return usageError(fmt.Sprintf("usage: %s", cmd.UseLine()), "--%s is required", name)
		}
	}
	return nil
}

// flagChanged reports whether the flag was set on the command line.
func flagChanged(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
