package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/internal/webui"
)

// defaultListen is where serve listens: loopback only, unless asked.
const defaultListen = "127.0.0.1:8080"

// serveShutdown bounds the wait for open requests when serve stops.
const serveShutdown = 5 * time.Second

// serveOptions are the flags of `evidencectl serve`.
type serveOptions struct {
	root   *rootOptions
	listen string
}

func newServeCmd(root *rootOptions) *cobra.Command {
	o := &serveOptions{root: root}
	cmd := &cobra.Command{
		Use:   "serve [DIR] [--listen ADDRESS]",
		Short: "Serve the evidence as web pages for incident owners",
		Long: `Serve a read-only web page over the evidence store (--store, file or S3) or
over a folder that 'evidencectl get' wrote (DIR: one incident's folder, or
a folder of them): the incidents, searchable and filtered by service,
severity, status, label, deploy and time; for each incident its summary,
the draft postmortem (with a Markdown download), the suspects with their
reasons, the timeline of events and notes, and per-service charts of
errors, requests and p95 latency per minute by version with deploy,
incident and note markers.

The pages need no JavaScript and load nothing from the network. It
listens on 127.0.0.1 unless --listen says otherwise; anyone who can reach
the address can read the evidence, so put it behind an authenticating
proxy before listening on another interface. It prints the address it
listens on and runs until interrupted. When the incidents page is shown,
the two newest incidents it lists are analysed in the background, so that
their pages open at once. The bundle page checks signatures against the
trusted keys of --key (or EVIDENCECTL_KEYS, or --config's evidence
exporter), as verify does.`,
		Example: `  evidencectl serve --store s3://evidence/prod
  evidencectl serve ./INC-42
  evidencectl serve --listen 127.0.0.1:0 --store file:///var/lib/otelcol-evidence/evidence`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			return o.run(cmd.Context(), dir)
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", defaultListen, "address to listen on (host:port; port 0 picks a free one)")
	return cmd
}

func (o *serveOptions) run(ctx context.Context, dir string) error {
	var ev webui.Evidence
	if dir != "" {
		d, err := webui.DirEvidence(dir)
		if err != nil {
			return newError(ErrNotFound, err, "give the folder `evidencectl get` wrote, or serve the store with --store", "%v", err)
		}
		ev = d
	} else {
		st, release, err := o.root.openStore(ctx)
		if err != nil {
			return err
		}
		defer release()
		ev = webui.StoreEvidence(st)
	}
	keys, err := o.root.keyRing(ctx)
	if err != nil {
		return err
	}
	srv, err := webui.New(webui.Options{Evidence: ev, Now: o.root.now, Share: true, Prefetch: true, Keys: keys})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.listen)
	if err != nil {
		return usageError("choose another --listen address, or port 0 for a free one", "cannot listen on %s: %v", o.listen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	t := &textWriter{w: o.root.stdout()}
	t.printf("Serving the evidence of %s at http://%s/ (Ctrl-C stops)\n", ev, ln.Addr())
	if t.err != nil {
		_ = ln.Close()
		return t.err
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdown)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stopping the server: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
