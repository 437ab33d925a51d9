package timeline

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// SchemaVersion is the version of the JSON document written by WriteJSON.
// Version 2 replaced first_error_spike and suspect_deploy with the summary,
// ranked suspects, mitigations, causal chains and per-version figures.
const SchemaVersion = 2

// Defaults of Options.
const (
	// DefaultSpikeFactor is how many times the baseline median a minute's
	// error count must reach to be an error spike.
	DefaultSpikeFactor = 3.0
	// DefaultSpikeMinErrors is the fewest errors an error spike minute may
	// have.
	DefaultSpikeMinErrors = 5
	// DefaultLatencyFactor is how many times the baseline p95 a minute's
	// p95 must reach to be a latency spike.
	DefaultLatencyFactor = 2.0
	// DefaultLatencyMinIncrease is the least a latency spike's p95 must
	// exceed the baseline p95 by, so that jitter of fast services is no
	// regression.
	DefaultLatencyMinIncrease = 10 * time.Millisecond
	// DefaultLatencyMinSpans is the fewest latency samples a minute needs
	// for its p95 to count.
	DefaultLatencyMinSpans = 5
	// DefaultDeployLookback is how long before the first error a deploy may
	// start and still be a suspect.
	DefaultDeployLookback = 30 * time.Minute
)

// OnsetWindow is how far before its spike minute the precise onset of a
// spike is looked for (see the package documentation).
const OnsetWindow = 10 * time.Minute

// UnknownService is the service name of resources without service.name.
const UnknownService = "unknown_service"

// CollectorService is the service.name of the log records the collector
// writes for its own incident, deploy and note events. Those records are
// events of the timeline, never telemetry of a service.
const CollectorService = incident.RecordService

// Source of the events derived from the incident record.
const SourceIncidentRecord = "incident.json"

// Kinds of entries that Timeline.Entries adds to the events: findings from
// the telemetry rather than recorded events.
const (
	KindErrorSpike   = "error_spike"
	KindLatencySpike = "latency_spike"
	KindGap          = "telemetry_gap"
)

// Spike kinds.
const (
	SpikeErrors  = "errors"
	SpikeLatency = "latency"
)

// Spike levels: the whole service, or one version of it.
const (
	LevelService = "service"
	LevelVersion = "version"
)

// Options tune the analysis. Zero fields take the defaults.
type Options struct {
	// SpikeFactor: an error spike minute has at least SpikeFactor times the
	// median error count of the earlier minutes.
	SpikeFactor float64
	// SpikeMinErrors: an error spike minute has at least this many errors.
	SpikeMinErrors int64
	// LatencyFactor: a latency spike minute's p95 is at least LatencyFactor
	// times the baseline p95.
	LatencyFactor float64
	// LatencyMinIncrease: a latency spike minute's p95 exceeds the baseline
	// p95 by at least this much.
	LatencyMinIncrease time.Duration
	// LatencyMinSpans: a minute's p95 counts only with this many samples.
	LatencyMinSpans int64
	// DeployLookback: a suspect deploy starts at most this long before the
	// first error.
	DeployLookback time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.SpikeFactor == 0 {
		o.SpikeFactor = DefaultSpikeFactor
	}
	if o.SpikeMinErrors == 0 {
		o.SpikeMinErrors = DefaultSpikeMinErrors
	}
	if o.LatencyFactor == 0 {
		o.LatencyFactor = DefaultLatencyFactor
	}
	if o.LatencyMinIncrease == 0 {
		o.LatencyMinIncrease = DefaultLatencyMinIncrease
	}
	if o.LatencyMinSpans == 0 {
		o.LatencyMinSpans = DefaultLatencyMinSpans
	}
	if o.DeployLookback == 0 {
		o.DeployLookback = DefaultDeployLookback
	}
	var errs []error
	if !(o.SpikeFactor > 0) || o.SpikeFactor > 1e9 {
		errs = append(errs, fmt.Errorf("options: 'spike_factor' must be a positive number, got %v", o.SpikeFactor))
	}
	if o.SpikeMinErrors < 1 {
		errs = append(errs, fmt.Errorf("options: 'spike_min_errors' must be at least 1, got %d", o.SpikeMinErrors))
	}
	if !(o.LatencyFactor > 1) || o.LatencyFactor > 1e9 {
		errs = append(errs, fmt.Errorf("options: 'latency_factor' must be a number above 1, got %v", o.LatencyFactor))
	}
	if o.LatencyMinIncrease < 0 {
		errs = append(errs, fmt.Errorf("options: 'latency_min_increase' must not be negative, got %s", o.LatencyMinIncrease))
	}
	if o.LatencyMinSpans < 1 {
		errs = append(errs, fmt.Errorf("options: 'latency_min_spans' must be at least 1, got %d", o.LatencyMinSpans))
	}
	if o.DeployLookback < 0 {
		errs = append(errs, fmt.Errorf("options: 'deploy_lookback' must not be negative, got %s", o.DeployLookback))
	}
	return o, errors.Join(errs...)
}

// Input is the evidence to build a timeline from. Every field is optional;
// a nil iterator means no items of that kind. An iterator or a source stops
// Build by returning an error.
type Input struct {
	// Incident is the incident record (incident.json). When nil, the newest
	// incident snapshot carried by the events of IncidentID is used.
	Incident *incident.Incident
	// IncidentID names the incident the evidence belongs to when Incident
	// is nil. When both are empty and the events concern exactly one
	// incident, that incident is used.
	IncidentID string
	// Sources produce evidence concurrently: Build runs each on a goroutine
	// of its own (a few at a time), so a source must only read what it
	// alone owns. FromParts, FromStore and FromDir make one per part or per
	// slice of a file, so that decoding uses every core.
	Sources []Source
	// Events are the incident and deploy events (events.jsonl).
	Events iter.Seq2[incident.Event, error]
	// Traces, Logs and Metrics are the telemetry. Metrics only count as
	// data for the gap detection.
	Traces  iter.Seq2[ptrace.Traces, error]
	Logs    iter.Seq2[plog.Logs, error]
	Metrics iter.Seq2[pmetric.Metrics, error]
	// Completeness is what the evidence says it lacks; nil when it does not
	// say.
	Completeness *Completeness
	// NoteProblems name the notes that could not be read, and why.
	NoteProblems []string
	// Options tune the analysis.
	Options Options
}

// A Source produces evidence into a Sink and returns the first error.
type Source func(Sink) error

// Sink receives the evidence of one Source. Its methods return an error
// only to stop the source (another source failed).
type Sink interface {
	Traces(ptrace.Traces) error
	Logs(plog.Logs) error
	Metrics(pmetric.Metrics) error
	Event(incident.Event) error
}

// Completeness is what the evidence records about itself: whether it is
// lossless, and every loss it names.
type Completeness struct {
	// Lossless is true only when the evidence says nothing is known to be
	// missing.
	Lossless bool `json:"lossless"`
	// Losses name what is missing.
	Losses []Loss `json:"losses"`
}

// Loss is one named gap in the evidence: items of a signal missing for a
// reason, over a time range when known.
type Loss struct {
	// Collector is the collector whose part or manifest names the loss.
	Collector string    `json:"collector,omitempty"`
	Signal    string    `json:"signal"`
	Reason    string    `json:"reason"`
	Items     int64     `json:"items"`
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
}

// Timeline is the analysed evidence of one incident. Every slice is sorted
// and non-nil, every time is UTC, so the same evidence always gives the
// same document. The conclusions (Summary, Suspects, Mitigations, Chains)
// are structured so that any renderer can present them; WriteMarkdown is
// one.
type Timeline struct {
	SchemaVersion int `json:"schema_version"`
	// Incident is the incident, when known.
	Incident *Incident `json:"incident,omitempty"`
	// Completeness repeats what the evidence says it lacks, nil when it
	// does not say. It limits every conclusion below.
	Completeness *Completeness `json:"completeness,omitempty"`
	// Range is the evidence range, nil when there is no telemetry.
	Range *Range `json:"evidence_range,omitempty"`
	// Rules are the thresholds the analysis used.
	Rules Rules `json:"rules"`
	// Totals count everything that was read.
	Totals Totals `json:"totals"`
	// Summary holds the precise times: first error, first latency
	// regression, detection and resolution.
	Summary Summary `json:"summary"`
	// Suspects are the deploys that started before the first error, most
	// likely first. Empty when none did (see NoSuspect).
	Suspects []Suspect `json:"suspects"`
	// NoSuspect says why Suspects is empty, when it is.
	NoSuspect string `json:"no_suspect,omitempty"`
	// Mitigations are the deploys that started after the first error: never
	// suspects, candidates for what ended it.
	Mitigations []Mitigation `json:"mitigations"`
	// Chains are the paths across services along which failing spans
	// called failing spans, by first failure.
	Chains []Chain `json:"chains"`
	// Events are the recorded events (incidents, deploys, notes), by time.
	Events []Entry `json:"events"`
	// Services summarise each service, by name. The collector's own event
	// records are no service.
	Services []ServiceSummary `json:"services"`
	// Versions hold the figures of every version of every service, by
	// service then first item.
	Versions []VersionStats `json:"versions"`
	// Minutes hold the statistics of every minute in which a service sent
	// data, by minute then service.
	Minutes []MinuteStats `json:"minutes"`
	// VersionMinutes hold the same statistics for every minute of every
	// version of a service (Version and DeploymentID set), by service,
	// version (by first item), then minute: the per-version series of
	// the web page's charts.
	VersionMinutes []MinuteStats `json:"version_minutes"`
	// Spikes are the first error and latency spikes of every service and of
	// every version of a service with several, by onset.
	Spikes []Spike `json:"spikes"`
	// Gaps are the runs of minutes without data, by service then start.
	Gaps []Gap `json:"gaps"`
	// UnreadableNotes name the notes that could not be read, and why;
	// they are left out of Events.
	UnreadableNotes []string `json:"unreadable_notes,omitempty"`
}

// Incident is what the timeline reports of the incident record.
type Incident struct {
	ID         string    `json:"id"`
	Title      string    `json:"title,omitempty"`
	Severity   string    `json:"severity,omitempty"`
	Source     string    `json:"source,omitempty"`
	Status     string    `json:"status,omitempty"`
	Scope      []string  `json:"scope,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Links      []string  `json:"links,omitempty"`
}

// Range is the evidence range: from the first to the end of the last minute
// holding telemetry; End is exclusive.
type Range struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Minutes int       `json:"minutes"`
}

// Rules are the thresholds the analysis used.
type Rules struct {
	SpikeFactor           float64 `json:"spike_factor"`
	SpikeMinErrors        int64   `json:"spike_min_errors"`
	LatencyFactor         float64 `json:"latency_factor"`
	LatencyMinIncreaseMs  float64 `json:"latency_min_increase_ms"`
	LatencyMinSpans       int64   `json:"latency_min_spans"`
	DeployLookbackSeconds int64   `json:"deploy_lookback_seconds"`
	OnsetWindowSeconds    int64   `json:"onset_window_seconds"`
}

// Totals count the items read.
type Totals struct {
	Spans      int64     `json:"spans"`
	ErrorSpans int64     `json:"error_spans"`
	LogRecords int64     `json:"log_records"`
	Logs       LogCounts `json:"logs"`
	DataPoints int64     `json:"data_points"`
	// Events counts distinct events, those without time included.
	Events int64 `json:"events"`
	// CollectorRecords counts the collector's own event records (service
	// CollectorService), which count as no telemetry.
	CollectorRecords int64 `json:"collector_records"`
	// UntimedItems counts spans, log records, data points and events with
	// no time, which belong to no minute.
	UntimedItems int64 `json:"untimed_items"`
}

// Entry is one line of the timeline: a recorded event or a finding.
type Entry struct {
	Time time.Time `json:"time"`
	// Kind is the incident.EventKind ("deploy", "incident.opened", ...), or
	// KindErrorSpike, KindLatencySpike or KindGap for findings.
	Kind string `json:"kind"`
	// ID is the deploy ID for deploys, else the incident ID, else the
	// service of a finding.
	ID     string `json:"id,omitempty"`
	Source string `json:"source,omitempty"`
	// Service is the deployed service of a deploy or the service of a
	// finding.
	Service string `json:"service,omitempty"`
	Summary string `json:"summary"`
}

// LogCounts are log records by severity bucket.
type LogCounts struct {
	Error int64 `json:"error"`
	Warn  int64 `json:"warn"`
	Info  int64 `json:"info"`
	Other int64 `json:"other"`
}

func (c *LogCounts) add(o LogCounts) {
	c.Error += o.Error
	c.Warn += o.Warn
	c.Info += o.Info
	c.Other += o.Other
}

// Total is the number of log records.
func (c LogCounts) Total() int64 { return c.Error + c.Warn + c.Info + c.Other }

// MinuteStats are one service's statistics for one minute.
type MinuteStats struct {
	Minute  time.Time `json:"minute"`
	Service string    `json:"service"`
	// Version and DeploymentID name the version of a VersionMinutes entry;
	// empty in Minutes.
	Version      string `json:"version,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	Spans        int64  `json:"spans"`
	ErrorSpans   int64  `json:"error_spans"`
	// LatencySamples is the number of spans P50Ms and P95Ms are computed
	// from; both are 0 when it is 0.
	LatencySamples int64     `json:"latency_samples"`
	P50Ms          float64   `json:"p50_ms"`
	P95Ms          float64   `json:"p95_ms"`
	Logs           LogCounts `json:"logs"`
	DataPoints     int64     `json:"data_points"`
	// Errors is ErrorSpans plus Logs.Error.
	Errors int64 `json:"errors"`
}

// ServiceSummary sums up one service over the evidence range.
type ServiceSummary struct {
	Name        string    `json:"name"`
	FirstMinute time.Time `json:"first_minute"`
	LastMinute  time.Time `json:"last_minute"`
	Spans       int64     `json:"spans"`
	ErrorSpans  int64     `json:"error_spans"`
	Logs        LogCounts `json:"logs"`
	DataPoints  int64     `json:"data_points"`
	// Errors is ErrorSpans plus Logs.Error.
	Errors int64 `json:"errors"`
	// PeakErrors is the highest error count of a minute, first reached at
	// PeakErrorsMinute.
	PeakErrors       int64     `json:"peak_errors"`
	PeakErrorsMinute time.Time `json:"peak_errors_minute,omitzero"`
	// PeakP95Ms is the highest per-minute p95 latency, first reached at
	// PeakP95Minute.
	PeakP95Ms     float64   `json:"peak_p95_ms"`
	PeakP95Minute time.Time `json:"peak_p95_minute,omitzero"`
	// Versions counts the versions the service's telemetry carries.
	Versions int `json:"versions"`
	// FirstError and FirstLatencyRegression are the earliest onsets of the
	// service's error and latency spikes.
	FirstError             *Onset `json:"first_error,omitempty"`
	FirstLatencyRegression *Onset `json:"first_latency_regression,omitempty"`
}

// Onset is the precise start of a spike: the item that began it.
type Onset struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	// Version and DeploymentID are the tags of the item (service.version,
	// deployment.id), when it has them.
	Version      string `json:"version,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	// Signal is "span" or "log".
	Signal string `json:"signal"`
	// TraceID and SpanID identify a span (lowercase hex).
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
	// LatencyMs is the latency of the slow span that began a latency spike.
	LatencyMs float64 `json:"latency_ms,omitempty"`
}

// Spike is the first error or latency spike of a service, or of one
// version of a service that has several.
type Spike struct {
	// Kind is SpikeErrors or SpikeLatency; Level is LevelService or
	// LevelVersion.
	Kind    string `json:"kind"`
	Level   string `json:"level"`
	Service string `json:"service"`
	// Version and DeploymentID name the version of a LevelVersion spike.
	Version      string `json:"version,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	// Minute is the first minute that met the rule; Onset the first item
	// of the rise that made it.
	Minute time.Time `json:"minute"`
	Onset  Onset     `json:"onset"`
	Spans  int64     `json:"spans"`
	// Error spikes: the minute's errors and the baseline median of the
	// earlier minutes, over BaselineMinutes minutes (latency spikes: the
	// minutes of the baseline p95).
	Errors          int64   `json:"errors,omitempty"`
	ErrorSpans      int64   `json:"error_spans,omitempty"`
	ErrorLogs       int64   `json:"error_logs,omitempty"`
	BaselineMedian  float64 `json:"baseline_median,omitempty"`
	BaselineMinutes int     `json:"baseline_minutes"`
	// Latency spikes: the minute's p95, the baseline p95 and the threshold
	// above which a span counted as slow for the onset.
	P95Ms         float64 `json:"p95_ms,omitempty"`
	BaselineP95Ms float64 `json:"baseline_p95_ms,omitempty"`
	ThresholdMs   float64 `json:"threshold_ms,omitempty"`
}

// Summary holds the precise times of the incident.
type Summary struct {
	// FirstError is the earliest onset of an error spike.
	FirstError *Onset `json:"first_error,omitempty"`
	// FirstLatencyRegression is the earliest onset of a latency spike.
	FirstLatencyRegression *Onset `json:"first_latency_regression,omitempty"`
	// ImpactStart is the first error, or without any error the first
	// latency regression: where detection and resolution are measured
	// from, and after which no deploy is a suspect. ImpactKind says which
	// it is (SpikeErrors or SpikeLatency).
	ImpactStart time.Time `json:"impact_start,omitzero"`
	ImpactKind  string    `json:"impact_kind,omitempty"`
	// Opened and Resolved are the incident's started_at and resolved_at.
	Opened   time.Time `json:"incident_opened,omitzero"`
	Resolved time.Time `json:"incident_resolved,omitzero"`
	// DetectionSeconds is Opened - ImpactStart (time to detect), when both
	// are known.
	DetectionSeconds *float64 `json:"detection_seconds,omitempty"`
	// ResolveSeconds is Resolved - ImpactStart (time to resolve), when both
	// are known.
	ResolveSeconds *float64 `json:"resolve_seconds,omitempty"`
	// ErrorOrigin is the deepest service of the earliest causal chain:
	// where the errors started.
	ErrorOrigin *Chain `json:"error_origin,omitempty"`
}

// Figures are the error rate and latency of a group of telemetry.
type Figures struct {
	Spans      int64 `json:"spans"`
	ErrorSpans int64 `json:"error_spans"`
	// ErrorRate is ErrorSpans / Spans (0 to 1), 0 without spans.
	ErrorRate      float64 `json:"error_rate"`
	LatencySamples int64   `json:"latency_samples"`
	P50Ms          float64 `json:"p50_ms"`
	P95Ms          float64 `json:"p95_ms"`
	ErrorLogs      int64   `json:"error_logs"`
}

// VersionStats are the figures of one version of a service: its telemetry
// that carries the same service.version and deployment.id.
type VersionStats struct {
	Service      string    `json:"service"`
	Version      string    `json:"version,omitempty"`
	DeploymentID string    `json:"deployment_id,omitempty"`
	First        time.Time `json:"first"`
	Last         time.Time `json:"last"`
	LogRecords   int64     `json:"log_records"`
	Figures
}

// Group is a set of a service's versions over a time range, with their
// figures together.
type Group struct {
	// Versions are the labels of the versions in the group.
	Versions []string  `json:"versions"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	Figures
}

// Deploy is a deploy as the events record it.
type Deploy struct {
	ID          string    `json:"id"`
	Service     string    `json:"service,omitempty"`
	Version     string    `json:"version,omitempty"`
	Commit      string    `json:"commit,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Status      string    `json:"status,omitempty"`
	StartedAt   time.Time `json:"started_at"`
}

// Confidence levels of a suspect.
const (
	ConfidenceHigh     = "high"
	ConfidenceMedium   = "medium"
	ConfidenceLow      = "low"
	ConfidenceUnlikely = "unlikely"
)

// Reason codes of suspects.
const (
	ReasonPreceded        = "preceded_first_error"
	ReasonVersionFails    = "version_fails"
	ReasonVersionSpecific = "version_specific"
	ReasonVersionHealthy  = "version_healthy"
	ReasonNoTelemetry     = "no_telemetry"
	ReasonServiceSpikes   = "service_spikes"
	ReasonLaterDeploy     = "later_deploy"
	ReasonChainOrigin     = "chain_origin"
	ReasonDownstream      = "downstream"
	ReasonNoSpike         = "service_no_spike"
)

// Reason is one piece of the reasoning about a suspect: a code for
// machines and a sentence for people.
type Reason struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// Suspect is a deploy that started before the first error, with what the
// telemetry says about it.
type Suspect struct {
	Rank   int    `json:"rank"`
	Deploy Deploy `json:"deploy"`
	// LeadSeconds is how long before the first error (ImpactStart) the
	// deploy started.
	LeadSeconds float64 `json:"lead_seconds"`
	// Confidence is ConfidenceHigh, -Medium, -Low or -Unlikely.
	Confidence string   `json:"confidence"`
	Reasons    []Reason `json:"reasons"`
	// Own is the deploy's own telemetry (its deployment.id, else its
	// version); Before the service's other telemetry in the lookback before
	// the deploy; Others the service's other telemetry after it (the old
	// version of a canary, a rollback). Nil when empty.
	Own    *Group `json:"own,omitempty"`
	Before *Group `json:"before,omitempty"`
	Others *Group `json:"others,omitempty"`
}

// Mitigation kinds.
const (
	MitigationRollback = "rollback"
	MitigationDeploy   = "deploy"
)

// Mitigation is a deploy that started after the first error.
type Mitigation struct {
	Deploy Deploy `json:"deploy"`
	// Kind is MitigationRollback when the deploy returns the service to a
	// version it ran before the first error, else MitigationDeploy.
	Kind string `json:"kind"`
	// ReturnsTo is the earlier version a rollback returns to; Reverts the
	// suspect deploy of the same service it replaces, if any.
	ReturnsTo string `json:"returns_to,omitempty"`
	Reverts   string `json:"reverts,omitempty"`
	// AfterSeconds is how long after the first error it started.
	AfterSeconds float64 `json:"after_seconds"`
	// Before and After are the service's telemetry from the first error to
	// the deploy, and from the deploy on.
	Before *Group `json:"before,omitempty"`
	After  *Group `json:"after,omitempty"`
}

// Chain is a path across services along which failing spans called
// failing spans: Path[0] is the outermost caller, the last service the
// deepest failing one (Origin).
type Chain struct {
	Path   []string `json:"path"`
	Origin string   `json:"origin"`
	// Traces counts the traces showing the path.
	Traces int64 `json:"traces"`
	// FirstFailure is the start of the earliest failing span of the origin
	// on this path.
	FirstFailure time.Time `json:"first_failure"`
	// ExampleTraceIDs are up to three traces, earliest first.
	ExampleTraceIDs []string `json:"example_trace_ids"`
}

// Gap is a run of minutes in which a service that had sent data before sent
// nothing.
type Gap struct {
	Service string `json:"service"`
	// Start is the first minute without data; End is the first minute after
	// the gap (exclusive).
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Minutes int       `json:"minutes"`
}

// Build reads every iterator and source of in once and analyses the
// evidence.
func Build(in Input) (*Timeline, error) {
	opts, err := in.Options.withDefaults()
	if err != nil {
		return nil, err
	}
	a, evs, err := collect(in)
	if err != nil {
		return nil, err
	}
	ev := newEventSet()
	for _, e := range evs {
		ev.add(e)
	}
	ev.addRecords(a.records)
	ev.sort()

	t := &Timeline{
		SchemaVersion: SchemaVersion,
		Rules: Rules{
			SpikeFactor:           opts.SpikeFactor,
			SpikeMinErrors:        opts.SpikeMinErrors,
			LatencyFactor:         opts.LatencyFactor,
			LatencyMinIncreaseMs:  durationMs(int64(opts.LatencyMinIncrease)),
			LatencyMinSpans:       opts.LatencyMinSpans,
			DeployLookbackSeconds: int64(opts.DeployLookback / time.Second),
			OnsetWindowSeconds:    int64(OnsetWindow / time.Second),
		},
		Completeness:    normalizeCompleteness(in.Completeness),
		UnreadableNotes: slices.Clone(in.NoteProblems),
	}
	inc := ev.incident(in.Incident, in.IncidentID)
	if inc != nil {
		t.Incident = SummarizeIncident(inc)
	}
	t.Events = ev.entries(inc)
	t.Totals = a.totals
	t.Totals.Events = int64(len(ev.events)) + ev.untimed
	t.Totals.UntimedItems += ev.untimed

	an := newAnalysis(a, opts)
	an.fill(t)
	an.conclude(t, ev.deploys())
	return t, nil
}

// normalizeCompleteness returns a copy with UTC times and non-nil losses.
func normalizeCompleteness(c *Completeness) *Completeness {
	if c == nil {
		return nil
	}
	out := &Completeness{Lossless: c.Lossless, Losses: make([]Loss, 0, len(c.Losses))}
	for _, l := range c.Losses {
		l.From, l.To = utc(l.From), utc(l.To)
		out.Losses = append(out.Losses, l)
	}
	if len(out.Losses) > 0 {
		out.Lossless = false
	}
	return out
}

// SummarizeIncident is the timeline's view of an incident record: times in
// UTC, the scope and links as text.
func SummarizeIncident(inc *incident.Incident) *Incident {
	out := &Incident{
		ID:        inc.ID,
		Title:     inc.Title,
		Severity:  inc.Severity,
		Source:    inc.Source,
		Status:    string(inc.Status),
		StartedAt: utc(inc.StartedAt),
	}
	if inc.ResolvedAt != nil {
		out.ResolvedAt = utc(*inc.ResolvedAt)
	}
	for _, m := range inc.Scope {
		out.Scope = append(out.Scope, m.String())
	}
	for _, l := range inc.Links {
		out.Links = append(out.Links, l.Href)
	}
	return out
}

// utc drops the monotonic reading and the location, so equal instants
// compare and marshal equally.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
