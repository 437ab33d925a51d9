package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// endpointKind names what an endpoint receives.
type endpointKind int

const (
	kindAlertmanager endpointKind = iota + 1
	kindGrafana
	kindPagerDuty
	kindOpen
	kindResolve
	kindDeploy
	kindNote
)

// endpoint is one configured path.
type endpoint struct {
	key  string // the config key under 'paths'
	path string
	kind endpointKind
}

// sourceUnknown is the source attribute of requests to no endpoint.
const sourceUnknown = "unknown"

// source is the sender kind the endpoint serves, as in incident.Source*.
func (k endpointKind) source() string {
	switch k {
	case kindAlertmanager:
		return incident.SourceAlertmanager
	case kindGrafana:
		return incident.SourceGrafana
	case kindPagerDuty:
		return incident.SourcePagerDuty
	case kindOpen, kindResolve:
		return incident.SourceGeneric
	case kindDeploy:
		return incident.SourceDeploy
	case kindNote:
		return incident.SourceNote
	}
	return sourceUnknown
}

// incidentWebhookReceiver serves the webhook endpoints.
type incidentWebhookReceiver struct {
	cfg       *Config
	set       receiver.Settings
	next      consumer.Logs
	obsrecv   *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder
	policy    *triggers.Policy
	grafana   triggers.GrafanaVerifier
	pdSecrets []string
	routes    map[string]endpoint
	// allowed lists the paths for error messages, in config order.
	allowed []string
	// now is the clock; tests replace it.
	now func() time.Time
	// limits enforces the 'limits' settings.
	limits *limiter
	// replays remembers recently recorded events with an identity.
	replays *replayCache

	// Set by Start, before the server runs; read-only afterwards.
	registry incidentsapi.Registry
	host     component.Host

	server    *http.Server
	addr      net.Addr // the bound address, once started
	serveDone sync.WaitGroup
	// degraded is set while the registry is failing, so that recovery is
	// reported once.
	degraded atomic.Bool
}

var _ receiver.Logs = (*incidentWebhookReceiver)(nil)

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*incidentWebhookReceiver, error) {
	pol, err := cfg.Policy.build()
	if err != nil {
		return nil, err
	}
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r := &incidentWebhookReceiver{
		cfg:       cfg,
		set:       set,
		next:      next,
		obsrecv:   obsrecv,
		telemetry: tb,
		policy:    pol,
		grafana: triggers.GrafanaVerifier{
			Secret:          string(cfg.Grafana.Secret),
			Header:          cfg.Grafana.SignatureHeader,
			TimestampHeader: cfg.Grafana.TimestampHeader,
			MaxAge:          cfg.Grafana.MaxAge,
		},
		routes:  map[string]endpoint{},
		now:     time.Now,
		limits:  newLimiter(cfg.Limits),
		replays: newReplayCache(replayCacheSize),
	}
	for _, s := range cfg.PagerDuty.Secrets {
		r.pdSecrets = append(r.pdSecrets, string(s))
	}
	for _, e := range cfg.Paths.endpoints() {
		r.routes[e.path] = e
		r.allowed = append(r.allowed, e.path)
	}
	return r, nil
}

// Start finds the incidents registry and starts the HTTP server.
func (r *incidentWebhookReceiver) Start(ctx context.Context, host component.Host) error {
	// Validate has run for configurations loaded by the collector; this
	// also guards configurations built in code.
	if err := r.cfg.checkAuthenticated(); err != nil {
		return err
	}
	reg, err := incidentsapi.Find(host, r.cfg.Incidents)
	if err != nil {
		return fmt.Errorf("'incidents': %w", err)
	}
	r.registry = reg
	r.host = host

	ln, err := r.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listening on 'endpoint' %q: %w", r.cfg.NetAddr.Endpoint, err)
	}
	srv, err := r.cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, r,
		confighttp.WithErrorHandler(r.serverError))
	if err != nil {
		_ = ln.Close()
		return err
	}
	r.server = srv
	r.addr = ln.Addr()
	if r.cfg.ReadHeaderTimeout <= 0 && r.cfg.ReadTimeout <= 0 {
		r.set.Logger.Warn("Neither 'read_header_timeout' nor 'read_timeout' is set: a client that sends its request slowly can hold a connection forever")
	}
	r.set.Logger.Info("Incident webhook receiver listening",
		zap.String("endpoint", ln.Addr().String()),
		zap.Strings("paths", r.allowed),
		zap.Bool("allow_unauthenticated", r.cfg.AllowUnauthenticated))

	r.serveDone.Add(1)
	go func() {
		defer r.serveDone.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// Shutdown stops the server, waiting for requests in flight within ctx.
func (r *incidentWebhookReceiver) Shutdown(ctx context.Context) error {
	var err error
	if r.server != nil {
		err = r.server.Shutdown(ctx)
		r.serveDone.Wait()
	}
	r.telemetry.Shutdown()
	return err
}

// reportRegistry reports the component's health after a registry write.
func (r *incidentWebhookReceiver) reportRegistry(err error) {
	if r.host == nil {
		return
	}
	switch {
	case err != nil:
		r.degraded.Store(true)
		componentstatus.ReportStatus(r.host, componentstatus.NewRecoverableErrorEvent(err))
	case r.degraded.CompareAndSwap(true, false):
		componentstatus.ReportStatus(r.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}
