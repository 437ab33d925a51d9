// Package timeline turns an incident's evidence into the draft of a
// blameless postmortem: what the evidence lacks, the precise times (first
// error, first latency regression, time to detect and to resolve), the
// deploys that preceded the first error ranked by what their own telemetry
// says, the deploys that followed it (mitigations, rollbacks), the causal
// chains across services, per-version and per-minute figures, the events
// and the gaps. [Build] computes a [Timeline] from an [Input]; the
// Timeline is plain data that any renderer can present:
// [Timeline.WriteMarkdown] renders the postmortem skeleton and
// [Timeline.WriteJSON] the same facts for machines. [FromDir], [FromStore]
// and [FromParts] make an Input from a downloaded evidence directory, from
// an incident's evidence in the store, or from bundle parts already read.
//
// # Reading
//
// An Input's [Source]s run concurrently, a few at a time (one per bundle
// part, one per 16 MiB slice of a JSON Lines file), each into its own
// aggregate; the aggregates are merged and every result is independent of
// the order in which items arrive. OTLP JSON (the records of otlp_json
// parts and the merged files) is scanned for the few fields the analysis
// reads instead of being decoded into pdata; a record in anything but the
// canonical form pdata writes is decoded with pdata instead, so the
// analysis sees what pdata would. Memory grows with the evidence: about
// 40 bytes per span, 48 more per failed span, 8 per error log record.
//
// # Definitions
//
// All times are UTC. The item time is a span's start time, a log record's
// timestamp (its observed timestamp when the timestamp is unset) and a data
// point's timestamp; items with no time at all are counted in
// [Totals.UntimedItems] and in no minute. Telemetry is grouped by service
// (the service.name resource attribute, "unknown_service" when absent), by
// version and by minute (the item time truncated to the minute). A version
// of a service is its telemetry that carries the same service.version and
// deployment.id; an item's own attributes win over its resource's (the
// record level of incident_context).
//
// The collector's own records (resource service.name [CollectorService])
// are never telemetry of a service: they count in
// [Totals.CollectorRecords], and each log record that names an event
// (event.name) becomes that event, unless events.jsonl records the same
// kind for the same incident and deploy within a second of it.
//
// A span is an error span when its status code is Error. Its latency is end
// time minus start time; spans that end before they start or have no end
// time count as spans but give no latency sample. Percentiles use the
// nearest-rank method: the p-th percentile of n sorted samples is the
// sample at 1-based rank ceil(p*n/100), so it is always an observed
// latency.
//
// Log records are bucketed by SeverityNumber: 17-24 (ERROR and FATAL) are
// "error", 13-16 "warn", 9-12 "info" and everything else (TRACE, DEBUG,
// out-of-range numbers) "other". Records with an unspecified severity number
// fall back to the leading letters of their severity text,
// case-insensitive ("ERROR2" and "error:" read as ERROR): ERROR, ERR,
// FATAL, CRITICAL, CRIT, ALERT, EMERG, EMERGENCY and PANIC are "error",
// WARN and WARNING "warn", INFO and NOTICE "info", anything else "other".
// The errors of a minute are its error spans plus its error log records.
//
// # Spikes
//
// Spikes are looked for in every service's minutes with data and, for a
// service with several versions, in every version's minutes too (a canary
// taking a few per cent of the traffic cannot move the service's p95).
//
// A minute is an error spike when its errors reach at least
// [DefaultSpikeMinErrors] and at least [DefaultSpikeFactor] times the
// median errors of the earlier minutes (the baseline). A minute needs at
// least one earlier minute: errors present since the evidence began are
// the baseline, not a spike. A minute is a latency spike when it has at
// least [DefaultLatencyMinSpans] latency samples and its p95 reaches
// [DefaultLatencyFactor] times, and exceeds by [DefaultLatencyMinIncrease],
// the median p95 of the earlier minutes with that many samples. For a
// version, the earlier minutes are the service's before the version first
// appeared (without any, the other versions' part of the version's first
// minute) and the version's own: a new version is compared with what ran
// before it or beside it. Each series has at most one spike of each kind, its first.
// Thresholds can be changed with [Options].
//
// A spike's onset is the item that began it, at item precision: among the
// series' bad items (error spans and error log records for an error spike;
// spans at least LatencyFactor times the baseline p95 for a latency spike)
// from [OnsetWindow] before the spike minute to its end, the one where a
// constant rate turns into a higher constant rate most likely (the
// maximum-likelihood change point of a Poisson process). An isolated
// earlier error is therefore not the onset, while the first error of a
// burst is. A version's spike that begins with the same item as its
// service's spike is left out: the onset names the version already.
//
// The first error is the earliest onset of an error spike, the first
// latency regression that of a latency spike. The impact start is the
// first error, or without any error the first latency regression (a
// deploy after an earlier latency regression may still have caused the
// errors, a shorter timeout say). The time to detect is the incident's
// started_at minus the impact start; the time to resolve its resolved_at
// minus the impact start.
//
// # Causal chains
//
// Within a trace, a failing span whose parent span failed too is a step
// down; a failing span with no failing child is where a failure starts.
// Every path from a failing span whose parent did not fail down to such a
// span, with consecutive spans of one service merged, is a path of
// services; a path through two services or more is a chain (caller first,
// the deepest failing service, its origin, last). Chains are counted in
// traces, dated by their origin's earliest failing span, and named with up
// to three example traces. The earliest chain's origin is where the errors
// start ([Summary.ErrorOrigin]).
//
// # Suspects and mitigations
//
// The deploys are the deploy events, one per deploy ID: its earliest start
// (the deploy's started_at, else the event's time) and the latest value of
// every other field. A deploy that started after the impact start is never
// a suspect but a mitigation: a rollback when it returns its service to a
// version the service ran before the deploy that preceded it (by an
// earlier deploy or by its telemetry), replacing that service's top
// suspect. The deploys that started at most [DefaultDeployLookback] before
// the impact start are the suspects, each weighed by the telemetry:
//
//   - its own telemetry: the versions tagged with its deployment.id, else
//     those of its version with no other deploy's ID;
//   - compared with the service's other telemetry in the lookback before
//     it (else, with the service's other versions while its own ran): it
//     fails when its error rate is at least SpikeFactor times, at least
//     SpikeMinErrors errors and, by a two-proportion z-test, at least three
//     standard errors above; or when its p95 is at least LatencyFactor
//     times, and LatencyMinIncrease above, with LatencyMinSpans samples on
//     both sides;
//   - whether the service itself had a spike after it, and whether it is
//     the origin of a causal chain that began after it, or only a caller
//     whose errors come from a failing dependency; a later deploy of the
//     service in between takes these over.
//
// Confidence is high when its own telemetry fails and its service spiked
// after it or is where the errors start; medium when its own telemetry
// fails, or when no telemetry carries its tags and its service spiked
// after it; unlikely when its own telemetry is healthy, or a later deploy
// of the service came before the spike, and its service is no chain's
// origin; low otherwise. A deploy of a service that only calls the
// failing one is one level lower. Suspects are ranked by confidence, then
// chain origin, then a spike of their service, then the least time before
// the impact start, then ID. Every suspect carries its reasons; without a
// deploy in the lookback, NoSuspect says so instead of guessing.
//
// # Gaps
//
// The evidence range runs from the first to the last minute holding
// telemetry of any service. A gap is a run of minutes inside that range,
// after a service's first minute with data, in which the service sent
// nothing at all. A service that stops reporting before the range ends
// therefore has a gap up to the end of the range.
//
// # Events and completeness
//
// Events are listed once even when several parts or collectors carry the
// same event (identical JSON). A deploy is listed at its start. When the
// incident record says the incident started or was resolved and no event
// of that kind is in the evidence, an entry is derived from the record,
// with source "incident.json". What the evidence says it lacks
// ([Completeness]) is reported before any conclusion, since it limits
// them all.
package timeline // import "github.com/otel-evidence/otel-evidence/internal/timeline"
