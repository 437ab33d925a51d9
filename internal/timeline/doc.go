// Package timeline turns an incident's evidence into the draft of a
// blameless postmortem: the incident and deploy events in order, per-minute
// telemetry statistics for every service, the first error spike, the deploy
// that preceded it and the gaps in the telemetry. [Build] computes a
// [Timeline] from an [Input]; [Timeline.WriteMarkdown] renders the
// postmortem skeleton and [Timeline.WriteJSON] the same facts for machines.
// [FromDir], [FromStore] and [FromParts] make an Input from a downloaded
// evidence directory, from an incident's evidence in the store, or from
// bundle parts already read.
//
// # Definitions
//
// All times are UTC. Telemetry is grouped into whole minutes (the item time
// truncated to the minute) and by service, the service.name resource
// attribute ("unknown_service" when absent). The item time is a span's start
// time, a log record's timestamp (its observed timestamp when the timestamp
// is unset) and a data point's timestamp; items with no time at all are
// counted in [Totals.UntimedItems] and in no minute.
//
// A span is an error span when its status code is Error. Its latency is end
// time minus start time, in milliseconds; spans that end before they start
// or have no end time count as spans but give no latency sample. The p50 and
// p95 of a minute use the nearest-rank method: the p-th percentile of n
// sorted samples is the sample at 1-based rank ceil(p*n/100), so it is
// always an observed latency.
//
// Log records are bucketed by SeverityNumber: 17-24 (ERROR and FATAL) are
// "error", 13-16 "warn", 9-12 "info" and everything else (TRACE, DEBUG,
// out-of-range numbers) "other". Records with an unspecified severity number
// fall back to the leading letters of their severity text,
// case-insensitive ("ERROR2" and "error:" read as ERROR): ERROR, ERR,
// FATAL, CRITICAL, CRIT, ALERT, EMERG, EMERGENCY and PANIC are "error",
// WARN and WARNING "warn", INFO and NOTICE "info", anything else "other".
//
// The error count of a service's minute is its error spans plus its error
// log records.
//
// # First error spike
//
// For every service, minutes are examined in order, considering only
// minutes in which the service sent data (spans, log records or data
// points). A minute is the service's first error spike when its error count
// is at least [DefaultSpikeMinErrors] and at least [DefaultSpikeFactor]
// times the median error count of all the service's earlier minutes with
// data (the baseline). A minute without any earlier minute has no baseline:
// the median is taken as zero, so the minute is a spike when it reaches the
// minimum alone, and [Spike.BaselineMinutes] is 0 to say that errors may
// have started before the evidence did. Both thresholds can be changed with
// [Options].
//
// The first error spike is the earliest of the services' first spikes; a
// tie is broken by the higher error count, then by service name.
//
// # Suspect deploy
//
// The deploy that preceded the spike is the latest deploy event of the
// spike's service whose time falls in [spike minute - lookback, end of the
// spike minute), lookback being [DefaultDeployLookback]. When the service
// has no deploy in that range, the latest deploy of any service in the same
// range is named instead, and [SuspectDeploy.Match] says so. The time of a
// deploy event is the event's time (the deploy's started_at when the event
// has none).
//
// # Gaps
//
// The evidence range runs from the first to the last minute holding
// telemetry of any service. A gap is a run of minutes inside that range,
// after a service's first minute with data, in which the service sent
// nothing at all. A service that stops reporting before the range ends
// therefore has a gap up to the end of the range.
//
// # Events
//
// Events are listed once even when several parts or collectors carry the
// same event (identical JSON). When the incident record says the incident
// started or was resolved and no event of that kind is in the evidence, an
// entry is derived from the record, with source "incident.json".
package timeline // import "github.com/otel-evidence/otel-evidence/internal/timeline"
