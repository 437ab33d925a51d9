package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// Config configures the incident_webhook receiver.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, tls (set tls.client_ca_file
	// for mutual TLS), auth (an authenticator extension such as
	// bearertokenauth), max_request_body_size and the other confighttp
	// server settings.
	confighttp.ServerConfig `mapstructure:",squash"`

	// Incidents is the component ID of the incidents extension whose
	// registry records the incidents, deploys and events.
	Incidents component.ID `mapstructure:"incidents"`

	// AllowUnauthenticated lets the receiver start although some of its
	// endpoints would accept requests from anyone who can reach it: neither
	// mutual TLS (tls.client_ca_file) nor an authenticator extension (auth)
	// is configured, and the endpoint has no signature secret. Only for
	// tests and trusted networks.
	AllowUnauthenticated bool `mapstructure:"allow_unauthenticated"`

	// Paths are the URL paths of the endpoints. An empty path disables
	// its endpoint.
	Paths PathsConfig `mapstructure:"paths"`

	// Grafana configures the verification of Grafana's webhook signatures.
	Grafana GrafanaConfig `mapstructure:"grafana"`

	// PagerDuty configures the verification of PagerDuty's v3 webhook
	// signatures.
	PagerDuty PagerDutyConfig `mapstructure:"pagerduty"`

	// Policy decides which Alertmanager and Grafana alerts open incidents
	// and how an alert group becomes an incident.
	Policy PolicyConfig `mapstructure:"policy"`

	// Limits bound what senders can make the receiver do: request rates,
	// concurrent requests and open incidents.
	Limits LimitsConfig `mapstructure:"limits"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LimitsConfig bounds the receiver's work and the registry's growth, so
// that a misbehaving or hostile sender cannot exhaust memory or the store.
// A zero value disables a limit.
type LimitsConfig struct {
	// EventsPerSecond is the sustained rate, in events, of each of the
	// receiver's two budgets: one for requests that open incidents or record
	// alerts, one for requests that record deploys or resolve incidents that
	// are not open. A request draws as many tokens as it records events (an
	// Alertmanager group of 300 alerts costs 300 times a single alert), so
	// the budget bounds the work and the store writes a sender causes, not
	// its request count. Resolutions of open incidents draw from neither, so
	// a flood of new incidents starves neither deploys nor resolutions.
	// Requests over budget get 429 rate_limited. 0 disables rate limiting.
	EventsPerSecond float64 `mapstructure:"events_per_second"`
	// Burst is how many events each budget takes at once after a quiet
	// period. Must be at least max_events_per_request when
	// events_per_second is set, or a full request could never pass.
	Burst int `mapstructure:"burst"`
	// MaxEventsPerRequest caps the events (alerts, for Alertmanager and
	// Grafana) one request may record. A larger request is refused whole
	// with 413 too_many_events, before anything is recorded: the sender
	// splits it (Alertmanager: a smaller max_alerts, or finer group_by).
	// 0 disables the cap.
	MaxEventsPerRequest int `mapstructure:"max_events_per_request"`
	// MaxOpenIncidents caps the incidents open in the registry at once
	// (whoever opened them). A request that would open more gets 429
	// too_many_open_incidents; updates of incidents already open, deploys
	// and resolutions are unaffected. 0 disables the cap.
	MaxOpenIncidents int `mapstructure:"max_open_incidents"`
	// MaxConcurrentRequests caps the requests being read and handled at
	// once, and with max_request_body_size the memory they hold. Requests
	// over it get 429 too_many_concurrent_requests. 0 disables the cap.
	MaxConcurrentRequests int `mapstructure:"max_concurrent_requests"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PathsConfig holds the URL path of each endpoint; "" disables it.
type PathsConfig struct {
	// Alertmanager receives Prometheus Alertmanager webhooks (version 4).
	Alertmanager string `mapstructure:"alertmanager"`
	// Grafana receives Grafana alerting webhooks (version 1).
	Grafana string `mapstructure:"grafana"`
	// PagerDuty receives PagerDuty v3 webhooks.
	PagerDuty string `mapstructure:"pagerduty"`
	// Incidents opens incidents through the generic JSON API.
	Incidents string `mapstructure:"incidents"`
	// Resolve resolves incidents through the generic JSON API.
	Resolve string `mapstructure:"resolve"`
	// Deploys records deploy events from CI/CD.
	Deploys string `mapstructure:"deploys"`
	// Notes records timeline notes on known incidents (who paged whom,
	// what was tried), as `evidencectl annotate` does.
	Notes string `mapstructure:"notes"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// GrafanaConfig configures Grafana webhook signature checks.
type GrafanaConfig struct {
	// Secret is the contact point's HMAC-SHA256 secret. When set, requests
	// to the Grafana endpoint must carry a valid signature.
	Secret configopaque.String `mapstructure:"secret"`
	// SignatureHeader names the header that carries the signature. Empty
	// means X-Grafana-Alerting-Signature.
	SignatureHeader string `mapstructure:"signature_header"`
	// TimestampHeader names the header that carries the signature's Unix
	// timestamp, when the contact point sends one. Empty means
	// X-Grafana-Alerting-Signature-Timestamp.
	TimestampHeader string `mapstructure:"timestamp_header"`
	// MaxAge, when positive, requires the timestamp header and refuses
	// signatures older (or further in the future) than this, against
	// replays; a signature already recorded within it is answered as a
	// duplicate and changes nothing.
	MaxAge time.Duration `mapstructure:"max_age"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PagerDutyConfig configures PagerDuty webhook signature and replay checks.
type PagerDutyConfig struct {
	// Secrets are the signing secrets of the webhook subscription. A
	// request is authentic when its signature matches any of them, so a
	// secret can be rotated without downtime by listing the new one next to
	// the old one. When set, requests must carry a valid signature.
	Secrets []configopaque.String `mapstructure:"secrets"`
	// MaxAge, when positive, requires event.occurred_at and refuses events
	// that occurred further than this from now with 403 stale_event, so
	// that an old signed request cannot be replayed. It is also how long an
	// event.id is remembered to recognise redeliveries and replays (an
	// hour when 0). 0 turns the age check off.
	MaxAge time.Duration `mapstructure:"max_age"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PolicyConfig is the alert policy for Alertmanager and Grafana webhooks.
type PolicyConfig struct {
	// OpenOn lists rules; a firing alert opens an incident when any rule
	// matches its labels. A rule is a list of label matchers that must all
	// hold, in Prometheus syntax: name=value, name!=value, name=~regexp,
	// name!~regexp (values may be double-quoted). Alerts that match no rule
	// are recorded as events only. An empty list opens nothing.
	OpenOn [][]string `mapstructure:"open_on"`
	// ScopeLabels maps alert labels onto resource attributes: the group's
	// common labels become the incident's scope. For each attribute, the
	// first listed label that is present wins. An empty list gives every
	// incident an empty scope (it covers all telemetry).
	ScopeLabels []ScopeLabelConfig `mapstructure:"scope_labels"`
	// IncidentIDLabel names the alert label that carries an explicit
	// incident ID; alerts without it get an ID derived from their group.
	IncidentIDLabel string `mapstructure:"incident_id_label"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ScopeLabelConfig maps one alert label onto one resource attribute.
type ScopeLabelConfig struct {
	// Label is the alert label, such as "service".
	Label string `mapstructure:"label"`
	// Attribute is the resource attribute, such as "service.name".
	Attribute string `mapstructure:"attribute"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

// Unmarshal implements confmap.Unmarshaler. It must exist: otherwise the
// Unmarshal method of the embedded confighttp.ServerConfig is promoted to
// Config, and confmap decodes only the server settings, silently dropping
// every receiver key. confmap calls this with its top-level hook disabled,
// so decoding proceeds field by field, the embedded ServerConfig included.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	return conf.Unmarshal(cfg)
}

// errUnauthenticated is returned (wrapped) when an endpoint would accept
// anonymous requests and allow_unauthenticated is false.
var errUnauthenticated = errors.New("unauthenticated endpoints")

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("'endpoint' must not be empty"))
	}
	if cfg.MaxRequestBodySize <= 0 {
		errs = append(errs, errors.New("'max_request_body_size' must be positive"))
	} else if cfg.MaxRequestBodySize > triggers.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("'max_request_body_size' must be at most %d (the largest payload the parsers accept), got %d",
			triggers.MaxBodyBytes, cfg.MaxRequestBodySize))
	}
	errs = append(errs, cfg.Paths.validate()...)
	if cfg.Grafana.MaxAge < 0 {
		errs = append(errs, errors.New("'grafana.max_age' must not be negative"))
	}
	for i, s := range cfg.PagerDuty.Secrets {
		if s == "" {
			errs = append(errs, fmt.Errorf("'pagerduty.secrets[%d]' must not be empty", i))
		}
	}
	if cfg.PagerDuty.MaxAge < 0 {
		errs = append(errs, errors.New("'pagerduty.max_age' must not be negative"))
	}
	errs = append(errs, cfg.Limits.validate()...)
	if _, err := cfg.Policy.build(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.checkAuthenticated(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (l *LimitsConfig) validate() []error {
	var errs []error
	switch {
	case l.EventsPerSecond < 0 || math.IsNaN(l.EventsPerSecond) || math.IsInf(l.EventsPerSecond, 0):
		errs = append(errs, fmt.Errorf("'limits.events_per_second' must be a finite number, 0 or more, got %v", l.EventsPerSecond))
	case l.EventsPerSecond > 0 && l.Burst == 0:
		errs = append(errs, fmt.Errorf("'limits.burst' must be at least 1 when 'limits.events_per_second' is set, got %d", l.Burst))
	case l.EventsPerSecond > 0 && l.MaxEventsPerRequest > 0 && l.Burst < l.MaxEventsPerRequest:
		errs = append(errs, fmt.Errorf("'limits.burst' (%d) must be at least 'limits.max_events_per_request' (%d) when 'limits.events_per_second' is set, "+
			"or a request of that many events could never pass", l.Burst, l.MaxEventsPerRequest))
	}
	if l.Burst < 0 {
		errs = append(errs, fmt.Errorf("'limits.burst' must not be negative, got %d", l.Burst))
	}
	if l.MaxEventsPerRequest < 0 {
		errs = append(errs, fmt.Errorf("'limits.max_events_per_request' must not be negative, got %d", l.MaxEventsPerRequest))
	}
	if l.MaxOpenIncidents < 0 {
		errs = append(errs, fmt.Errorf("'limits.max_open_incidents' must not be negative, got %d", l.MaxOpenIncidents))
	}
	if l.MaxConcurrentRequests < 0 {
		errs = append(errs, fmt.Errorf("'limits.max_concurrent_requests' must not be negative, got %d", l.MaxConcurrentRequests))
	}
	return errs
}

// endpoints lists the enabled endpoints with their config key.
func (p *PathsConfig) endpoints() []endpoint {
	all := []endpoint{
		{key: "alertmanager", path: p.Alertmanager, kind: kindAlertmanager},
		{key: "grafana", path: p.Grafana, kind: kindGrafana},
		{key: "pagerduty", path: p.PagerDuty, kind: kindPagerDuty},
		{key: "incidents", path: p.Incidents, kind: kindOpen},
		{key: "resolve", path: p.Resolve, kind: kindResolve},
		{key: "deploys", path: p.Deploys, kind: kindDeploy},
		{key: "notes", path: p.Notes, kind: kindNote},
	}
	out := all[:0]
	for _, e := range all {
		if e.path != "" {
			out = append(out, e)
		}
	}
	return out
}

func (p *PathsConfig) validate() []error {
	var errs []error
	seen := map[string]string{}
	eps := p.endpoints()
	for _, e := range eps {
		switch {
		case !strings.HasPrefix(e.path, "/"):
			errs = append(errs, fmt.Errorf("'paths.%s' must start with '/', got %q", e.key, e.path))
		case strings.ContainsAny(e.path, "?# \t"):
			errs = append(errs, fmt.Errorf("'paths.%s' must be a plain path without query, fragment or spaces, got %q", e.key, e.path))
		case seen[e.path] != "":
			errs = append(errs, fmt.Errorf("'paths.%s' and 'paths.%s' must differ, both are %q", seen[e.path], e.key, e.path))
		default:
			seen[e.path] = e.key
		}
	}
	if len(eps) == 0 {
		errs = append(errs, errors.New("'paths' disables every endpoint; set at least one"))
	}
	return errs
}

// transportAuthenticated reports whether every request is authenticated
// before it reaches the handler: by mutual TLS or an authenticator extension.
func (cfg *Config) transportAuthenticated() bool {
	if cfg.Auth.HasValue() {
		return true
	}
	if tls := cfg.TLS.Get(); tls != nil && tls.ClientCAFile != "" {
		return true
	}
	return false
}

// checkAuthenticated refuses a configuration in which some enabled endpoint
// would accept anonymous requests, unless allow_unauthenticated is set.
func (cfg *Config) checkAuthenticated() error {
	if cfg.AllowUnauthenticated || cfg.transportAuthenticated() {
		return nil
	}
	var open []string
	for _, e := range cfg.Paths.endpoints() {
		switch {
		case e.kind == kindGrafana && cfg.Grafana.Secret != "":
		case e.kind == kindPagerDuty && len(cfg.PagerDuty.Secrets) > 0:
		default:
			open = append(open, fmt.Sprintf("'paths.%s' (%s)", e.key, e.path))
		}
	}
	if len(open) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s would accept requests from anyone who can reach the receiver; "+
		"configure 'auth' (an authenticator extension such as bearertokenauth) or 'tls.client_ca_file' (mutual TLS), "+
		"or the signature secrets 'grafana.secret' / 'pagerduty.secrets' and disable the other endpoints by setting their path to \"\", "+
		"or set 'allow_unauthenticated: true' for tests and trusted networks",
		errUnauthenticated, strings.Join(open, ", "))
}

// build turns the policy configuration into a triggers.Policy.
func (pc *PolicyConfig) build() (*triggers.Policy, error) {
	pol := &triggers.Policy{
		OpenOn:          make([]triggers.LabelRule, 0, len(pc.OpenOn)),
		ScopeLabels:     make([]triggers.ScopeLabel, 0, len(pc.ScopeLabels)),
		IncidentIDLabel: pc.IncidentIDLabel,
	}
	var errs []error
	for i, rule := range pc.OpenOn {
		if len(rule) == 0 {
			errs = append(errs, fmt.Errorf("'policy.open_on[%d]' must list at least one label matcher", i))
			continue
		}
		var lr triggers.LabelRule
		for j, s := range rule {
			r, err := triggers.ParseLabelRule(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("'policy.open_on[%d][%d]': %w", i, j, err))
				continue
			}
			lr.Matchers = append(lr.Matchers, r.Matchers...)
		}
		pol.OpenOn = append(pol.OpenOn, lr)
	}
	for i, s := range pc.ScopeLabels {
		if s.Label == "" {
			errs = append(errs, fmt.Errorf("'policy.scope_labels[%d].label' must not be empty", i))
		}
		if s.Attribute == "" {
			errs = append(errs, fmt.Errorf("'policy.scope_labels[%d].attribute' must not be empty", i))
		}
		pol.ScopeLabels = append(pol.ScopeLabels, triggers.ScopeLabel{Label: s.Label, Attribute: s.Attribute})
	}
	if pc.IncidentIDLabel == "" {
		errs = append(errs, errors.New("'policy.incident_id_label' must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return pol, nil
}
