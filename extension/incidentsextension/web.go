package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/webui"
)

// startWeb serves the evidence pages of the store on 'web.endpoint',
// behind 'web.auth', as `evidencectl serve` does, when 'web' is
// configured. The pages only read the store; they cannot sign share
// links, which would hand the evidence to whoever gets one.
func (e *incidentsExtension) startWeb(ctx context.Context, host component.Host) error {
	cfg := e.cfg.Web.Get()
	if cfg == nil {
		return nil
	}
	if !cfg.Auth.HasValue() {
		return errors.New("incidents: 'web.auth' is required: the pages show all the evidence")
	}
	pages, err := webui.New(webui.Options{Evidence: webui.StoreEvidence(e.raw), Logger: e.logger, Now: e.now})
	if err != nil {
		return fmt.Errorf("incidents: the evidence pages: %w", err)
	}
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("incidents: listening on 'web.endpoint' %q: %w", cfg.NetAddr.Endpoint, err)
	}
	srv, err := cfg.ToServer(ctx, host.GetExtensions(), e.tset, pages)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("incidents: 'web': %w", err)
	}
	e.web, e.webDone, e.pages = srv, make(chan struct{}), pages
	go func() {
		defer close(e.webDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("The evidence pages stopped", zap.Error(err))
		}
	}()
	e.logger.Info("Serving the evidence pages", zap.String("endpoint", ln.Addr().String()))
	return nil
}

func (e *incidentsExtension) stopWeb(ctx context.Context) error {
	if e.web == nil {
		return nil
	}
	err := e.web.Shutdown(ctx)
	<-e.webDone
	e.pages.Close()
	if err != nil {
		return fmt.Errorf("incidents: stopping the evidence pages: %w", err)
	}
	return nil
}
