package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Signal names the telemetry an SLO counts.
type Signal string

const (
	// SignalTraces: every selected span is an event.
	SignalTraces Signal = "traces"
	// SignalLogs: every selected log record is an event.
	SignalLogs Signal = "logs"
)

// WindowConfig is one multi-window alert condition: it holds when the burn
// rate over both the long and the short window exceeds BurnRate.
type WindowConfig struct {
	// Long is the long window (for example 1h): it makes the alert
	// significant.
	Long time.Duration `mapstructure:"long"`
	// Short is the short window (for example 5m): it makes the alert stop
	// soon after the errors do.
	Short time.Duration `mapstructure:"short"`
	// BurnRate is the factor of the error budget's sustainable rate (1x
	// spends exactly the budget over the period) both windows must exceed.
	BurnRate float64 `mapstructure:"burn_rate"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LevelConfig is one alert level of the policy: it fires while any of its
// window conditions holds.
type LevelConfig struct {
	// Severity is the incident severity while this level fires.
	Severity string `mapstructure:"severity"`
	// OpenIncident makes this level open an incident (and keep it open).
	OpenIncident bool `mapstructure:"open_incident"`
	// Windows are the conditions; an empty list disables the level.
	Windows []WindowConfig `mapstructure:"windows"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PolicyConfig is the multi-window, multi-burn-rate alerting policy of the
// Google SRE workbook, shared by every SLO.
type PolicyConfig struct {
	// Page is the urgent level (defaults: 14.4x over 1h and 5m, 6x over 6h
	// and 30m); it opens incidents.
	Page LevelConfig `mapstructure:"page"`
	// Ticket is the slow-burn level (defaults: 3x over 1d and 2h, 1x over
	// 3d and 6h); by default it emits series but opens no incident.
	Ticket LevelConfig `mapstructure:"ticket"`
	// ResolveAfter is how long no incident-opening level may hold before
	// the incident resolves (default 5m, divided by time_scale like the
	// windows). A burn rate hovering at a threshold then keeps one incident
	// open instead of resolving and reopening it, which would split one
	// outage into several incidents and evidence bundles. 0 resolves at
	// the first evaluation where no level holds.
	ResolveAfter time.Duration `mapstructure:"resolve_after"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SelectorConfig says which telemetry an SLO counts.
type SelectorConfig struct {
	// Resource lists resource attributes that must all be equal to the
	// given values (for example service.name: checkout). They become the
	// incident's scope and the resource of the emitted series. Empty
	// selects every resource.
	Resource map[string]string `mapstructure:"resource"`
	// GroupBy evaluates the SLO once per distinct combination of these
	// resource attributes (for example [service.name] for one SLO per
	// service); resources without them are not counted. At most max_groups
	// groups are tracked per SLO; events of further groups are dropped and
	// counted.
	GroupBy []string `mapstructure:"group_by"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SLIConfig classifies events as good or bad.
type SLIConfig struct {
	// Bad lists OTTL conditions (span or log context); an event for which
	// any holds is bad.
	Bad []string `mapstructure:"bad"`
	// Good lists OTTL conditions; when set, an event that is neither good
	// nor bad is not an SLI event at all (for example health checks). When
	// empty, every selected event that is not bad is good.
	Good []string `mapstructure:"good"`
	// LatencyThreshold makes a span bad when its duration (end - start)
	// exceeds it, compared natively (the same as the OTTL condition
	// `end_time - start_time > Duration("300ms")`). Traces only.
	LatencyThreshold time.Duration `mapstructure:"latency_threshold"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SLOConfig is one service level objective.
type SLOConfig struct {
	// Name identifies the SLO: in the emitted series (slo.name), in the
	// incident's `slo` label and ID, and in the state. Alertmanager alerts
	// whose sloth_slo or slo label equals it join this SLO's incident.
	Name string `mapstructure:"name"`
	// Signal is "traces" (spans) or "logs" (log records).
	Signal Signal `mapstructure:"signal"`
	// Selector says which resources count.
	Selector SelectorConfig `mapstructure:"selector"`
	// SLI classifies the selected events.
	SLI SLIConfig `mapstructure:"sli"`
	// Objective is the target percentage of good events, for example 99.9.
	Objective float64 `mapstructure:"objective"`
	// Period is the SLO period over which the error budget is spent.
	Period time.Duration `mapstructure:"period"`
	// Labels are added to the SLO's incidents.
	Labels map[string]string `mapstructure:"labels"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Config is the configuration of the slo connector.
type Config struct {
	// Incidents is the ID of the incidents extension through which
	// incidents are opened and resolved.
	Incidents component.ID `mapstructure:"incidents"`
	// Storage is the ID of a storage extension (for example file_storage)
	// that keeps the window counts and open episodes across restarts.
	// Unset: the state lives in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// TimeScale divides every window, bucket and period, so that tests and
	// demos run the policy in seconds (60: an hour lasts a minute). 1 in
	// production.
	TimeScale float64 `mapstructure:"time_scale"`
	// BucketsPerWindow is the resolution of each window: a window is kept
	// as this many buckets, so its length is exact to within one bucket.
	BucketsPerWindow int `mapstructure:"buckets_per_window"`
	// EvaluationInterval is how often the policy is evaluated when no data
	// arrives (every batch is evaluated at once); it bounds how late a
	// resolution is seen after traffic stops.
	EvaluationInterval time.Duration `mapstructure:"evaluation_interval"`
	// MetricsInterval is how often the SLI and burn-rate series are emitted.
	MetricsInterval time.Duration `mapstructure:"metrics_interval"`
	// StateInterval is how often the state is saved to Storage (it is also
	// saved at shutdown).
	StateInterval time.Duration `mapstructure:"state_interval"`
	// MaxGroups bounds the groups (distinct group_by values) per SLO.
	MaxGroups int `mapstructure:"max_groups"`
	// Policy is the alerting policy.
	Policy PolicyConfig `mapstructure:"policy"`
	// SLOs are the objectives evaluated.
	SLOs []SLOConfig `mapstructure:"slos"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Errors returned (wrapped) by Validate.
var (
	errNoSLOs        = errors.New("no SLOs")
	errInvalidSLO    = errors.New("invalid SLO")
	errInvalidPolicy = errors.New("invalid policy")
	errInvalidOption = errors.New("invalid option")
)

// Validate checks the configuration; OTTL conditions are parsed too, so a
// typo is reported at startup with the key that holds it.
func (cfg *Config) Validate() error {
	var errs []error
	bad := func(base error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{base}, args...)...))
	}
	if cfg.Incidents.Type().String() == "" {
		bad(errInvalidOption, "'incidents' must name the incidents extension")
	}
	if cfg.TimeScale < 1 {
		bad(errInvalidOption, "'time_scale' must be at least 1, got %v", cfg.TimeScale)
	}
	if cfg.BucketsPerWindow < 2 || cfg.BucketsPerWindow > maxBucketsPerWindow {
		bad(errInvalidOption, "'buckets_per_window' must be between 2 and %d, got %d", maxBucketsPerWindow, cfg.BucketsPerWindow)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"evaluation_interval", cfg.EvaluationInterval}, {"metrics_interval", cfg.MetricsInterval}, {"state_interval", cfg.StateInterval}} {
		if d.v <= 0 {
			bad(errInvalidOption, "'%s' must be positive, got %s", d.key, d.v)
		}
	}
	if cfg.MaxGroups < 1 {
		bad(errInvalidOption, "'max_groups' must be at least 1, got %d", cfg.MaxGroups)
	}
	errs = append(errs, cfg.Policy.validate()...)
	if len(cfg.SLOs) == 0 {
		bad(errNoSLOs, "'slos' must list at least one SLO")
	}
	names := map[string]int{}
	for i := range cfg.SLOs {
		s := &cfg.SLOs[i]
		key := fmt.Sprintf("slos[%d]", i)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			bad(errInvalidSLO, "'%s.name' repeats %q of 'slos[%d]'", key, s.Name, j)
		}
		names[s.Name] = i
		errs = append(errs, s.validate(key)...)
	}
	return errors.Join(errs...)
}

func (p *PolicyConfig) validate() []error {
	var errs []error
	if p.ResolveAfter < 0 {
		errs = append(errs, fmt.Errorf("%w: 'policy.resolve_after' must not be negative, got %s", errInvalidPolicy, p.ResolveAfter))
	}
	for _, l := range []struct {
		key string
		lv  *LevelConfig
	}{{"policy.page", &p.Page}, {"policy.ticket", &p.Ticket}} {
		for i, w := range l.lv.Windows {
			key := fmt.Sprintf("%s.windows[%d]", l.key, i)
			if w.Short <= 0 || w.Long <= 0 {
				errs = append(errs, fmt.Errorf("%w: '%s.long' and '%s.short' must be positive", errInvalidPolicy, key, key))
			} else if w.Short >= w.Long {
				errs = append(errs, fmt.Errorf("%w: '%s.short' (%s) must be shorter than '%s.long' (%s)", errInvalidPolicy, key, w.Short, key, w.Long))
			}
			if w.BurnRate <= 0 {
				errs = append(errs, fmt.Errorf("%w: '%s.burn_rate' must be positive, got %v", errInvalidPolicy, key, w.BurnRate))
			}
		}
		if l.lv.OpenIncident && len(l.lv.Windows) == 0 {
			errs = append(errs, fmt.Errorf("%w: '%s.open_incident' is set but '%s.windows' is empty", errInvalidPolicy, l.key, l.key))
		}
	}
	return errs
}

func (s *SLOConfig) validate(key string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{errInvalidSLO}, args...)...))
	}
	switch {
	case s.Name == "":
		bad("'%s.name' is required", key)
	case incident.SanitizeID(s.Name) != s.Name:
		bad("'%s.name' %q may only contain A-Z, a-z, 0-9, '.', '_' and '-' (it becomes part of incident IDs)", key, s.Name)
	case len(s.Name) > maxNameLength:
		bad("'%s.name' is longer than %d characters", key, maxNameLength)
	}
	switch s.Signal {
	case SignalTraces, SignalLogs:
	default:
		bad("'%s.signal' must be %q or %q, got %q", key, SignalTraces, SignalLogs, s.Signal)
	}
	if !(s.Objective > 0 && s.Objective < 100) {
		bad("'%s.objective' must be a percentage between 0 and 100 (exclusive), for example 99.9; got %v", key, s.Objective)
	}
	if s.Period <= 0 {
		bad("'%s.period' must be positive, got %s", key, s.Period)
	}
	for k := range s.Selector.Resource {
		if k == "" {
			bad("'%s.selector.resource' has an empty attribute name", key)
		}
	}
	for i, k := range s.Selector.GroupBy {
		switch {
		case k == "":
			bad("'%s.selector.group_by[%d]' must not be empty", key, i)
		case slices.Index(s.Selector.GroupBy, k) != i:
			bad("'%s.selector.group_by[%d]' repeats %q", key, i, k)
		}
		if _, fixed := s.Selector.Resource[k]; fixed {
			bad("'%s.selector.group_by[%d]' %q is already fixed by '%s.selector.resource'", key, i, k, key)
		}
	}
	if len(s.SLI.Bad) == 0 && s.SLI.LatencyThreshold == 0 {
		bad("'%s.sli' needs 'bad' conditions or a 'latency_threshold'", key)
	}
	if s.SLI.LatencyThreshold < 0 {
		bad("'%s.sli.latency_threshold' must be positive, got %s", key, s.SLI.LatencyThreshold)
	}
	if s.SLI.LatencyThreshold > 0 && s.Signal == SignalLogs {
		bad("'%s.sli.latency_threshold' applies to traces only; log records have no duration", key)
	}
	if s.Signal == SignalTraces || s.Signal == SignalLogs {
		if _, err := newClassifier(s, nopTelemetry()); err != nil {
			errs = append(errs, fmt.Errorf("%w: '%s.sli': %w", errInvalidSLO, key, err))
		}
	}
	for k := range s.Labels {
		if k == "" {
			bad("'%s.labels' has an empty label name", key)
		}
	}
	return errs
}

var _ confmap.Unmarshaler = (*Config)(nil)

// Unmarshal decodes the configuration and gives each SLO the defaults for
// the keys it leaves out: signal traces, objective 99.9, period 30d. A key
// that is present keeps its value, even a zero one, so that Validate can
// name it.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	raw, _ := conf.Get("slos").([]any)
	for i := range cfg.SLOs {
		var m map[string]any
		if i < len(raw) {
			m, _ = raw[i].(map[string]any)
		}
		s := &cfg.SLOs[i]
		if _, ok := m["signal"]; !ok {
			s.Signal = defaultSignal
		}
		if _, ok := m["objective"]; !ok {
			s.Objective = defaultObjective
		}
		if _, ok := m["period"]; !ok {
			s.Period = defaultPeriod
		}
	}
	return nil
}
