package triggers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// PagerDutySignatureHeader carries PagerDuty's v3 webhook signatures.
const PagerDutySignatureHeader = "X-PagerDuty-Signature"

// PagerDuty v3 event types that change incident state.
const (
	PagerDutyTriggered    = "incident.triggered"
	PagerDutyReopened     = "incident.reopened"
	PagerDutyAcknowledged = "incident.acknowledged"
	PagerDutyResolved     = "incident.resolved"
)

type pdWebhook struct {
	Event *pdEvent `json:"event"`
}

type pdEvent struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   string          `json:"occurred_at"`
	Data         json.RawMessage `json:"data"`
}

type pdReference struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

// pdData covers the "incident" data type and the incident reference that
// incident_note, incident_responder and incident_status_update carry.
type pdData struct {
	ID          string       `json:"id"`
	Type        string       `json:"type"`
	Title       string       `json:"title"`
	HTMLURL     string       `json:"html_url"`
	Status      string       `json:"status"`
	IncidentKey string       `json:"incident_key"`
	CreatedAt   string       `json:"created_at"`
	Urgency     string       `json:"urgency"`
	Service     *pdReference `json:"service"`
	Priority    *pdReference `json:"priority"`
	Incident    *pdReference `json:"incident"`
}

// ParsePagerDuty interprets a PagerDuty v3 webhook, {"event": {"id",
// "event_type", "resource_type", "occurred_at", "data"}}:
//
//   - incident.triggered and incident.reopened open incident "pd-" + the
//     PagerDuty incident ID (sanitized), with data.title, the priority
//     (else urgency) as severity, data.html_url as link, data.created_at
//     (else occurred_at) as start, and service.name = data.service.summary
//     as scope when the service is named;
//   - incident.resolved resolves it at occurred_at (else now);
//   - every other event type, incident.acknowledged included, is recorded
//     as an event that changes nothing (linked to the incident when the
//     data names one). These are not errors.
func ParsePagerDuty(body []byte, now time.Time) (Result, error) {
	now = clock(now)
	body = bytes.Clone(body)
	var w pdWebhook
	if err := decode(body, &w); err != nil {
		return Result{}, err
	}
	ev := w.Event
	switch {
	case ev == nil:
		return Result{}, missing("event")
	case ev.ID == "":
		return Result{}, missing("event.id")
	case ev.EventType == "":
		return Result{}, missing("event.event_type")
	}
	occurred, terr := parseTime("event.occurred_at", ev.OccurredAt)
	if terr != nil {
		return Result{}, terr
	}
	occurred = notAfter(orNow(occurred, now), now)

	var data pdData
	hasData := len(ev.Data) > 0 && ev.Data[0] == '{'
	if hasData {
		if err := decodeValue(ev.Data, "event.data", &data); err != nil {
			return Result{}, err
		}
	}
	changesState := ev.EventType == PagerDutyTriggered || ev.EventType == PagerDutyReopened || ev.EventType == PagerDutyResolved
	if changesState {
		switch {
		case !hasData:
			return Result{}, missing("event.data")
		case data.ID == "":
			return Result{}, missing("event.data.id")
		}
	}

	// The incident this event is about, if any.
	var pdID string
	switch {
	case data.Type == "incident" || changesState:
		pdID = data.ID
	case data.Incident != nil:
		pdID = data.Incident.ID
	}
	var id string
	if pdID != "" {
		id = deriveID("pd-", pdID)
	}

	var res Result
	switch ev.EventType {
	case PagerDutyTriggered, PagerDutyReopened:
		inc, err := data.incident(id, occurred, now)
		if err != nil {
			return Result{}, err
		}
		res.Open = []incident.Incident{inc}
		res.Events = []incident.Event{{
			Kind: incident.EventIncidentOpened, Time: now, Source: incident.SourcePagerDuty,
			IncidentID: id, Incident: &inc, Payload: json.RawMessage(body),
		}}
	case PagerDutyResolved:
		res.Resolve = []Resolution{{ID: id, At: occurred}}
		res.Events = []incident.Event{{
			Kind: incident.EventIncidentResolved, Time: now, Source: incident.SourcePagerDuty,
			IncidentID: id, Payload: json.RawMessage(body),
		}}
	default:
		res.Events = []incident.Event{{
			Kind: incident.EventAlert, Time: now, Source: incident.SourcePagerDuty,
			IncidentID: id, Payload: json.RawMessage(body),
		}}
	}
	return res, nil
}

func (d *pdData) incident(id string, occurred, now time.Time) (incident.Incident, *Error) {
	started, terr := parseTime("event.data.created_at", d.CreatedAt)
	if terr != nil {
		return incident.Incident{}, terr
	}
	inc := incident.Incident{
		ID:        id,
		Title:     truncate(d.Title, MaxTitleLength),
		Severity:  truncate(d.Urgency, MaxTextLength),
		Source:    incident.SourcePagerDuty,
		Status:    incident.StatusOpen,
		StartedAt: notAfter(orNow(started, occurred), now),
		UpdatedAt: now,
	}
	labels := map[string]string{"pagerduty_incident_id": d.ID}
	if d.IncidentKey != "" {
		labels["pagerduty_incident_key"] = d.IncidentKey
	}
	if d.Urgency != "" {
		labels["urgency"] = d.Urgency
	}
	if d.Priority != nil && d.Priority.Summary != "" {
		inc.Severity = truncate(d.Priority.Summary, MaxTextLength)
		labels["priority"] = d.Priority.Summary
	}
	if d.Service != nil && d.Service.Summary != "" {
		inc.Scope = []incident.Matcher{{Key: "service.name", Value: d.Service.Summary}}
		labels["pagerduty_service"] = d.Service.Summary
	}
	if err := checkLabels("event.data", labels, MaxLabelValueLength); err != nil {
		return incident.Incident{}, err
	}
	inc.Labels = labels
	var links linkSet
	links.add(d.HTMLURL, "PagerDuty incident")
	if d.Service != nil {
		links.add(d.Service.HTMLURL, "PagerDuty service")
	}
	inc.Links = links.links
	return inc, nil
}

// VerifyPagerDuty checks a PagerDuty v3 webhook signature. The
// X-PagerDuty-Signature header holds one or more comma-separated
// "v1=<hex HMAC-SHA256 of the body>" entries (several while a secret is
// rotated); the request is authentic when any v1 entry equals the HMAC
// under any of secrets. Entries of other versions are ignored. A missing
// header is 401 missing_signature; no match is 403 bad_signature.
func VerifyPagerDuty(body []byte, header http.Header, secrets []string) error {
	values := header.Values(PagerDutySignatureHeader)
	var sigs [][]byte
	present := false
	for _, v := range values {
		for _, entry := range strings.Split(v, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			present = true
			hexSig, ok := strings.CutPrefix(entry, "v1=")
			if !ok {
				continue // a future signature version
			}
			if sig, err := hex.DecodeString(hexSig); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if !present {
		return newError(http.StatusUnauthorized, ReasonMissingSignature, PagerDutySignatureHeader, "the request is not signed")
	}
	if len(sigs) == 0 {
		return newError(http.StatusForbidden, ReasonBadSignature, PagerDutySignatureHeader, "no well-formed v1 signature")
	}
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return newError(http.StatusForbidden, ReasonBadSignature, PagerDutySignatureHeader, "no signature matches the body")
}
