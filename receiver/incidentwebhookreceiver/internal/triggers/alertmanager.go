package triggers

import (
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// AlertmanagerVersion is the only Alertmanager webhook payload version
// accepted.
const AlertmanagerVersion = "4"

var alertmanagerFlavor = groupFlavor{
	source:   incident.SourceAlertmanager,
	version:  AlertmanagerVersion,
	idPrefix: "am-",
	hashKey:  func(p *groupPayload) string { return p.GroupKey },
	linkText: "Alertmanager",
}

// ParseAlertmanager interprets a Prometheus Alertmanager webhook
// (webhook_config, payload version "4"). pol nil means DefaultPolicy().
//
//   - Required members: version ("4", else 400 unsupported_version), status,
//     groupKey and alerts.
//   - Alerts repeated with the same fingerprint count once.
//   - Each alert maps to an incident ID: its incident ID label
//     (Policy.IncidentIDLabel) when set, validated and never rewritten, else
//     "am-" + the first 16 hex characters of sha256(groupKey).
//   - status "firing": each ID with at least one firing alert that the
//     policy selects is opened. StartedAt is the earliest startsAt of those
//     alerts; Title the summary annotation, else alertname; Severity the
//     severity (else sloth_severity) label; Scope and Labels come from
//     commonLabels; Links from externalURL, a runbook_url annotation and
//     the alerts' generatorURL.
//   - status "resolved": every ID the alerts map to is resolved, at the
//     latest endsAt (now when unset; never later than now).
//   - Alerts that neither open nor resolve anything are recorded as alert
//     events carrying the alert's own JSON.
//   - truncatedAlerts > 0: the list is partial. Nothing is inferred from
//     missing alerts, the count is returned in Result.TruncatedAlerts and
//     the whole body is always recorded in an event.
func ParseAlertmanager(body []byte, pol *Policy, now time.Time) (Result, error) {
	return parseGroup(body, pol, now, alertmanagerFlavor)
}
