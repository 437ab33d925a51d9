package timeline

import (
	"errors"
	"fmt"
	"iter"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// SchemaVersion is the version of the JSON document written by WriteJSON.
const SchemaVersion = 1

// Defaults of Options.
const (
	// DefaultSpikeFactor is how many times the baseline median a minute's
	// error count must reach to be a spike.
	DefaultSpikeFactor = 3.0
	// DefaultSpikeMinErrors is the fewest errors a spike minute may have.
	DefaultSpikeMinErrors = 5
	// DefaultDeployLookback is how far before the spike minute a deploy may
	// be and still be named as the suspect.
	DefaultDeployLookback = 30 * time.Minute
)

// UnknownService is the service name of resources without service.name.
const UnknownService = "unknown_service"

// Source of the events derived from the incident record.
const SourceIncidentRecord = "incident.json"

// Kinds of entries that Timeline.Entries adds to the events: findings from
// the telemetry rather than recorded events.
const (
	KindErrorSpike = "error_spike"
	KindGap        = "telemetry_gap"
)

// Match values of SuspectDeploy.
const (
	MatchSameService = "same_service"
	MatchAnyService  = "any_service"
)

// Options tune the analysis. Zero fields take the defaults.
type Options struct {
	// SpikeFactor: a spike minute has at least SpikeFactor times the median
	// error count of the service's earlier minutes.
	SpikeFactor float64
	// SpikeMinErrors: a spike minute has at least this many errors.
	SpikeMinErrors int64
	// DeployLookback: the suspect deploy is at most this long before the
	// spike minute.
	DeployLookback time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.SpikeFactor == 0 {
		o.SpikeFactor = DefaultSpikeFactor
	}
	if o.SpikeMinErrors == 0 {
		o.SpikeMinErrors = DefaultSpikeMinErrors
	}
	if o.DeployLookback == 0 {
		o.DeployLookback = DefaultDeployLookback
	}
	switch {
	case !(o.SpikeFactor > 0) || o.SpikeFactor > 1e9:
		return o, fmt.Errorf("options: 'spike_factor' must be a positive number, got %v", o.SpikeFactor)
	case o.SpikeMinErrors < 1:
		return o, fmt.Errorf("options: 'spike_min_errors' must be at least 1, got %d", o.SpikeMinErrors)
	case o.DeployLookback < 0:
		return o, fmt.Errorf("options: 'deploy_lookback' must not be negative, got %s", o.DeployLookback)
	}
	return o, nil
}

// Input is the evidence to build a timeline from. Every field is optional;
// a nil iterator means no items of that kind. An iterator stops Build by
// yielding a non-nil error.
type Input struct {
	// Incident is the incident record (incident.json). When nil, the newest
	// incident snapshot carried by the events of IncidentID is used.
	Incident *incident.Incident
	// IncidentID names the incident the evidence belongs to when Incident
	// is nil. When both are empty and the events concern exactly one
	// incident, that incident is used.
	IncidentID string
	// Events are the incident and deploy events (events.jsonl).
	Events iter.Seq2[incident.Event, error]
	// Traces, Logs and Metrics are the telemetry. Metrics only count as
	// data for the gap detection.
	Traces  iter.Seq2[ptrace.Traces, error]
	Logs    iter.Seq2[plog.Logs, error]
	Metrics iter.Seq2[pmetric.Metrics, error]
	// Options tune the analysis.
	Options Options
}

// Timeline is the analysed evidence of one incident. Every slice is sorted
// and non-nil, every time is UTC, so the same evidence always gives the
// same document.
type Timeline struct {
	SchemaVersion int `json:"schema_version"`
	// Incident is the incident, when known.
	Incident *Incident `json:"incident,omitempty"`
	// Range is the evidence range, nil when there is no telemetry.
	Range *Range `json:"evidence_range,omitempty"`
	// Rules are the thresholds the analysis used.
	Rules Rules `json:"rules"`
	// Totals count everything that was read.
	Totals Totals `json:"totals"`
	// Events are the incident and deploy events, by time.
	Events []Entry `json:"events"`
	// Services summarise each service, by name.
	Services []ServiceSummary `json:"services"`
	// Minutes hold the statistics of every minute in which a service sent
	// data, by minute then service.
	Minutes []MinuteStats `json:"minutes"`
	// Spikes are the first error spike of every service that has one, by
	// minute, then error count (highest first), then service.
	Spikes []Spike `json:"error_spikes"`
	// FirstSpike is the first of Spikes, nil when there is none.
	FirstSpike *Spike `json:"first_error_spike,omitempty"`
	// SuspectDeploy is the deploy that preceded FirstSpike, if any.
	SuspectDeploy *SuspectDeploy `json:"suspect_deploy,omitempty"`
	// Gaps are the runs of minutes without data, by service then start.
	Gaps []Gap `json:"gaps"`
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

// Rules are the thresholds of the spike and suspect-deploy rules.
type Rules struct {
	SpikeFactor           float64 `json:"spike_factor"`
	SpikeMinErrors        int64   `json:"spike_min_errors"`
	DeployLookbackSeconds int64   `json:"deploy_lookback_seconds"`
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
	// UntimedItems counts spans, log records, data points and events with
	// no time, which belong to no minute.
	UntimedItems int64 `json:"untimed_items"`
}

// Entry is one line of the timeline: a recorded event or a finding.
type Entry struct {
	Time time.Time `json:"time"`
	// Kind is the incident.EventKind ("deploy", "incident.opened", ...), or
	// KindErrorSpike or KindGap for findings.
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
	Minute     time.Time `json:"minute"`
	Service    string    `json:"service"`
	Spans      int64     `json:"spans"`
	ErrorSpans int64     `json:"error_spans"`
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
}

// Spike is a service's first error spike.
type Spike struct {
	Service    string    `json:"service"`
	Minute     time.Time `json:"minute"`
	Errors     int64     `json:"errors"`
	ErrorSpans int64     `json:"error_spans"`
	ErrorLogs  int64     `json:"error_logs"`
	Spans      int64     `json:"spans"`
	// BaselineMedian is the median error count of the service's earlier
	// minutes with data; BaselineMinutes is how many there were (0: no
	// baseline, errors may have started before the evidence).
	BaselineMedian  float64 `json:"baseline_median"`
	BaselineMinutes int     `json:"baseline_minutes"`
}

// SuspectDeploy is the deploy that preceded the first error spike.
type SuspectDeploy struct {
	DeployID    string    `json:"deploy_id"`
	Service     string    `json:"service,omitempty"`
	Version     string    `json:"version,omitempty"`
	Commit      string    `json:"commit,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Status      string    `json:"status,omitempty"`
	Time        time.Time `json:"time"`
	// LeadSeconds is how long before the start of the spike minute the
	// deploy happened (negative when within the spike minute).
	LeadSeconds int64 `json:"lead_seconds"`
	// Match is MatchSameService or MatchAnyService.
	Match string `json:"match"`
	// SpikeService and SpikeMinute repeat the spike the deploy preceded.
	SpikeService string    `json:"spike_service"`
	SpikeMinute  time.Time `json:"spike_minute"`
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

// Build reads every iterator of in once and analyses the evidence.
func Build(in Input) (*Timeline, error) {
	opts, err := in.Options.withDefaults()
	if err != nil {
		return nil, err
	}
	a := newAggregator()
	if err := drain(in.Traces, "traces", a.addTraces); err != nil {
		return nil, err
	}
	if err := drain(in.Logs, "logs", a.addLogs); err != nil {
		return nil, err
	}
	if err := drain(in.Metrics, "metrics", a.addMetrics); err != nil {
		return nil, err
	}
	ev := newEventSet()
	if err := drain(in.Events, "events", ev.add); err != nil {
		return nil, err
	}
	ev.sort()

	t := &Timeline{
		SchemaVersion: SchemaVersion,
		Rules: Rules{
			SpikeFactor:           opts.SpikeFactor,
			SpikeMinErrors:        opts.SpikeMinErrors,
			DeployLookbackSeconds: int64(opts.DeployLookback / time.Second),
		},
	}
	inc := ev.incident(in.Incident, in.IncidentID)
	if inc != nil {
		t.Incident = summarizeIncident(inc)
	}
	t.Events = ev.entries(inc)
	t.Totals = a.totals
	t.Totals.Events = int64(len(ev.events)) + ev.untimed
	t.Totals.UntimedItems += ev.untimed

	a.finish(t)
	t.Spikes = findSpikes(t.Minutes, opts)
	if len(t.Spikes) > 0 {
		first := t.Spikes[0]
		t.FirstSpike = &first
		t.SuspectDeploy = ev.suspectDeploy(first, opts.DeployLookback)
	}
	t.Gaps = findGaps(t.Minutes, t.Range)
	return t, nil
}

// drain calls add with every item of seq, stopping at the first error.
func drain[T any](seq iter.Seq2[T, error], what string, add func(T) error) error {
	if seq == nil {
		return nil
	}
	for v, err := range seq {
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		if err := add(v); err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
	}
	return nil
}

// errStop ends a callback-style walk when the consumer of an iterator stops.
var errStop = errors.New("iteration stopped")

func summarizeIncident(inc *incident.Incident) *Incident {
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
