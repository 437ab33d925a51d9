package triggers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Alert statuses shared by Alertmanager and Grafana payloads.
const (
	statusFiring   = "firing"
	statusResolved = "resolved"
)

// groupPayload holds the members Alertmanager (version 4) and Grafana
// (version 1) webhooks have in common.
type groupPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []json.RawMessage `json:"alerts"`

	// Grafana only.
	OrgID   int64  `json:"orgId"`
	Title   string `json:"title"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// groupAlert is one alert of a group.
type groupAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`

	// Grafana only.
	DashboardURL string `json:"dashboardURL"`
	PanelURL     string `json:"panelURL"`

	raw      json.RawMessage
	startsAt time.Time
	endsAt   time.Time
	id       string
}

// groupFlavor is what differs between the two sources.
type groupFlavor struct {
	source   string
	version  string
	idPrefix string
	// hashKey returns the string hashed into the group's derived ID.
	hashKey func(p *groupPayload) string
	// linkText names the externalURL link.
	linkText string
}

// parseGroup decodes and interprets an alert-group webhook.
func parseGroup(body []byte, pol *Policy, now time.Time, fl groupFlavor) (Result, error) {
	if pol == nil {
		pol = DefaultPolicy()
	}
	now = clock(now)
	// Events keep the body; never alias the caller's buffer.
	body = bytes.Clone(body)
	var p groupPayload
	decodeErr := decode(body, &p)
	if decodeErr != nil && decodeErr.Reason != ReasonInvalidField {
		return Result{}, decodeErr
	}
	// The version decides how the rest is read, so it is checked before any
	// type mismatch elsewhere in the body is reported.
	if p.Version == "" {
		if decodeErr != nil {
			return Result{}, decodeErr
		}
		return Result{}, missing("version")
	}
	if p.Version != fl.version {
		return Result{}, newError(ErrUnsupportedVersion.Status, ReasonUnsupportedVersion, "version",
			fmt.Sprintf("%s webhook version %q is not supported, only %q", fl.source, truncate(p.Version, 32), fl.version))
	}
	if decodeErr != nil {
		return Result{}, decodeErr
	}
	if err := p.validate(); err != nil {
		return Result{}, err
	}

	groupID := hashID(fl.idPrefix, fl.hashKey(&p))
	alerts, err := p.alerts(pol, groupID)
	if err != nil {
		return Result{}, err
	}

	res := Result{TruncatedAlerts: p.TruncatedAlerts, Alerts: len(alerts)}
	covered := make([]bool, len(alerts))

	if p.Status == statusFiring {
		// One incident per ID among the firing alerts the policy selects.
		byID := map[string][]int{}
		var order []string
		for i, a := range alerts {
			if a.Status != statusFiring || !pol.Opens(a.Labels) {
				continue
			}
			if _, ok := byID[a.id]; !ok {
				order = append(order, a.id)
			}
			byID[a.id] = append(byID[a.id], i)
			covered[i] = true
		}
		for _, id := range order {
			inc := p.incident(id, alerts, byID[id], pol, now, fl)
			res.Open = append(res.Open, inc)
			res.Events = append(res.Events, incident.Event{
				Kind: incident.EventIncidentOpened, Time: now, Source: fl.source,
				IncidentID: id, Incident: &inc, Payload: json.RawMessage(body),
			})
		}
	} else {
		// The group status is computed by the sender over all its alerts,
		// truncated or not: every incident the group maps to is over. We
		// never resolve anything from alerts that are merely missing.
		at := map[string]time.Time{}
		var order []string
		for i, a := range alerts {
			if _, ok := at[a.id]; !ok {
				order = append(order, a.id)
				at[a.id] = time.Time{}
			}
			if a.endsAt.After(at[a.id]) {
				at[a.id] = a.endsAt
			}
			covered[i] = true
		}
		if len(order) == 0 {
			order = append(order, groupID)
		}
		for _, id := range order {
			r := Resolution{ID: id, At: notAfter(orNow(at[id], now), now), SLO: sloName(p.CommonLabels)}
			res.Resolve = append(res.Resolve, r)
			res.Events = append(res.Events, incident.Event{
				Kind: incident.EventIncidentResolved, Time: now, Source: fl.source,
				IncidentID: id, Payload: json.RawMessage(body),
			})
		}
	}

	wholeBodyRecorded := len(res.Events) > 0
	for i, a := range alerts {
		if covered[i] {
			continue
		}
		res.Events = append(res.Events, incident.Event{
			Kind: incident.EventAlert, Time: now, Source: fl.source,
			IncidentID: a.id, Payload: a.raw,
		})
	}
	// A truncated list, or one with no alert at all, is kept whole so the
	// evidence shows what was (not) sent.
	if !wholeBodyRecorded && (p.TruncatedAlerts > 0 || len(alerts) == 0) {
		res.Events = append(res.Events, incident.Event{
			Kind: incident.EventAlert, Time: now, Source: fl.source,
			IncidentID: groupID, Payload: json.RawMessage(body),
		})
	}
	return res, nil
}

func (p *groupPayload) validate() *Error {
	if p.GroupKey == "" {
		return missing("groupKey")
	}
	if p.Status == "" {
		return missing("status")
	}
	if p.Status != statusFiring && p.Status != statusResolved {
		return invalid("status", fmt.Sprintf("must be %q or %q, got %q", statusFiring, statusResolved, truncate(p.Status, 32)))
	}
	if p.Alerts == nil {
		return missing("alerts")
	}
	if p.TruncatedAlerts < 0 {
		return invalid("truncatedAlerts", "must not be negative")
	}
	if err := checkText("groupKey", p.GroupKey, MaxLabelValueLength*4); err != nil {
		return err
	}
	if err := checkLabels("groupLabels", p.GroupLabels, MaxLabelValueLength); err != nil {
		return err
	}
	if err := checkLabels("commonLabels", p.CommonLabels, MaxLabelValueLength); err != nil {
		return err
	}
	return checkLabels("commonAnnotations", p.CommonAnnotations, MaxAnnotationValueLength)
}

// alerts decodes the alerts, drops repeats of a fingerprint and assigns each
// its incident ID: the incident ID label when present, else groupID.
func (p *groupPayload) alerts(pol *Policy, groupID string) ([]groupAlert, *Error) {
	out := make([]groupAlert, 0, len(p.Alerts))
	seen := map[string]bool{}
	idLabel := pol.idLabel()
	for i, raw := range p.Alerts {
		field := fmt.Sprintf("alerts[%d]", i)
		if len(raw) == 0 || raw[0] != '{' {
			return nil, invalid(field, "must be an object")
		}
		var a groupAlert
		if err := decodeValue(raw, field, &a); err != nil {
			return nil, err
		}
		if a.Status != statusFiring && a.Status != statusResolved {
			if a.Status == "" {
				return nil, missing(field + ".status")
			}
			return nil, invalid(field+".status", fmt.Sprintf("must be %q or %q, got %q", statusFiring, statusResolved, truncate(a.Status, 32)))
		}
		if err := checkLabels(field+".labels", a.Labels, MaxLabelValueLength); err != nil {
			return nil, err
		}
		if err := checkLabels(field+".annotations", a.Annotations, MaxAnnotationValueLength); err != nil {
			return nil, err
		}
		var terr *Error
		if a.startsAt, terr = parseTime(field+".startsAt", a.StartsAt); terr != nil {
			return nil, terr
		}
		if a.endsAt, terr = parseTime(field+".endsAt", a.EndsAt); terr != nil {
			return nil, terr
		}
		if a.Fingerprint != "" {
			if seen[a.Fingerprint] {
				continue
			}
			seen[a.Fingerprint] = true
		}
		a.id = groupID
		if v := a.Labels[idLabel]; v != "" {
			if err := validateGivenID(field+".labels."+idLabel, v); err != nil {
				return nil, err
			}
			a.id = v
		}
		a.raw = raw
		out = append(out, a)
	}
	return out, nil
}

// incident builds the incident for one ID from its policy-matching firing
// alerts (idx).
func (p *groupPayload) incident(id string, alerts []groupAlert, idx []int, pol *Policy, now time.Time, fl groupFlavor) incident.Incident {
	var started time.Time
	for _, i := range idx {
		if s := alerts[i].startsAt; !s.IsZero() && (started.IsZero() || s.Before(started)) {
			started = s
		}
	}
	first := alerts[idx[0]]
	inc := incident.Incident{
		ID:        id,
		Title:     truncate(p.title(first), MaxTitleLength),
		Severity:  truncate(firstNonEmpty(p.CommonLabels["severity"], first.Labels["severity"], p.CommonLabels["sloth_severity"], first.Labels["sloth_severity"]), MaxTextLength),
		Source:    fl.source,
		Status:    incident.StatusOpen,
		Scope:     scopeFrom(p.CommonLabels, pol.scopeLabels()),
		StartedAt: notAfter(orNow(started, now), now),
		UpdatedAt: now,
		Labels:    copyLabels(p.CommonLabels),
	}
	var links linkSet
	links.add(p.ExternalURL, fl.linkText)
	links.add(firstNonEmpty(p.CommonAnnotations["runbook_url"], first.Annotations["runbook_url"]), "Runbook")
	for _, i := range idx {
		a := alerts[i]
		links.add(a.GeneratorURL, "Alert source")
		links.add(a.DashboardURL, "Dashboard")
		links.add(a.PanelURL, "Panel")
	}
	inc.Links = links.links
	return inc
}

// title picks the best human title: the summary annotation, then the
// alert name, then the (Grafana) notification title.
func (p *groupPayload) title(first groupAlert) string {
	return firstNonEmpty(
		p.CommonAnnotations["summary"],
		first.Annotations["summary"],
		p.CommonLabels["alertname"],
		first.Labels["alertname"],
		p.Title,
	)
}

// scopeFrom maps labels onto resource-attribute matchers; for each
// attribute the first listed label that is present wins.
func scopeFrom(labels map[string]string, rules []ScopeLabel) []incident.Matcher {
	var scope []incident.Matcher
	done := map[string]bool{}
	for _, r := range rules {
		v := labels[r.Label]
		if v == "" || done[r.Attribute] {
			continue
		}
		done[r.Attribute] = true
		scope = append(scope, incident.Matcher{Key: r.Attribute, Value: v})
	}
	return scope
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// clock returns now in UTC, or the current time when now is unset.
func clock(now time.Time) time.Time {
	if now.IsZero() {
		now = time.Now()
	}
	return now.UTC()
}
