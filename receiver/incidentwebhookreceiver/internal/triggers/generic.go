package triggers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// genericOpen is the body of the generic "open an incident" call.
type genericOpen struct {
	ID        string            `json:"id"`
	Title     string            `json:"title"`
	Severity  string            `json:"severity"`
	Scope     json.RawMessage   `json:"scope"`
	StartedAt string            `json:"started_at"`
	Links     json.RawMessage   `json:"links"`
	Labels    map[string]string `json:"labels"`
}

type genericResolve struct {
	ID         string `json:"id"`
	ResolvedAt string `json:"resolved_at"`
}

// ParseGenericOpen interprets the generic incident API's open call:
//
//	{"id": "INC-42", "title": "...", "severity": "critical",
//	 "scope": {"service.name": "checkout"} or ["service.name=checkout"],
//	 "started_at": "2026-01-02T15:04:05Z",
//	 "links": [{"href": "https://...", "text": "..."}] or ["https://..."],
//	 "labels": {"team": "payments"}}
//
// id is required and must already be a valid ID (400 invalid_id otherwise;
// it is never rewritten). started_at defaults to now. Links must be
// absolute http(s) URLs.
func ParseGenericOpen(body []byte, now time.Time) (Result, error) {
	now = clock(now)
	body = bytes.Clone(body)
	var g genericOpen
	if err := decode(body, &g); err != nil {
		return Result{}, err
	}
	if err := validateGivenID("id", g.ID); err != nil {
		return Result{}, err
	}
	if err := checkText("title", g.Title, MaxTitleLength); err != nil {
		return Result{}, err
	}
	if err := checkText("severity", g.Severity, MaxTextLength); err != nil {
		return Result{}, err
	}
	if err := checkLabels("labels", g.Labels, MaxLabelValueLength); err != nil {
		return Result{}, err
	}
	started, terr := parseTime("started_at", g.StartedAt)
	if terr != nil {
		return Result{}, terr
	}
	scope, serr := parseScope(g.Scope)
	if serr != nil {
		return Result{}, serr
	}
	links, lerr := parseLinks(g.Links)
	if lerr != nil {
		return Result{}, lerr
	}
	inc := incident.Incident{
		ID:        g.ID,
		Title:     g.Title,
		Severity:  g.Severity,
		Source:    incident.SourceGeneric,
		Status:    incident.StatusOpen,
		Scope:     scope,
		StartedAt: orNow(started, now),
		UpdatedAt: now,
		Labels:    copyLabels(g.Labels),
		Links:     links,
	}
	return Result{
		Open: []incident.Incident{inc},
		Events: []incident.Event{{
			Kind: incident.EventIncidentOpened, Time: now, Source: incident.SourceGeneric,
			IncidentID: inc.ID, Incident: &inc, Payload: json.RawMessage(body),
		}},
	}, nil
}

// ParseGenericResolve interprets the generic incident API's resolve call,
// {"id": "INC-42", "resolved_at": "2026-01-02T16:00:00Z"}; resolved_at
// defaults to now.
func ParseGenericResolve(body []byte, now time.Time) (Result, error) {
	now = clock(now)
	body = bytes.Clone(body)
	var g genericResolve
	if err := decode(body, &g); err != nil {
		return Result{}, err
	}
	if err := validateGivenID("id", g.ID); err != nil {
		return Result{}, err
	}
	at, terr := parseTime("resolved_at", g.ResolvedAt)
	if terr != nil {
		return Result{}, terr
	}
	return Result{
		Resolve: []Resolution{{ID: g.ID, At: orNow(at, now)}},
		Events: []incident.Event{{
			Kind: incident.EventIncidentResolved, Time: now, Source: incident.SourceGeneric,
			IncidentID: g.ID, Payload: json.RawMessage(body),
		}},
	}, nil
}

// parseScope accepts an object of attribute values or an array of
// "key=value" strings.
func parseScope(raw json.RawMessage) ([]incident.Matcher, *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var scope []incident.Matcher
	switch raw[0] {
	case '{':
		var m map[string]string
		if err := decodeValue(raw, "scope", &m); err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(m) {
			scope = append(scope, incident.Matcher{Key: k, Value: m[k]})
		}
	case '[':
		var list []string
		if err := decodeValue(raw, "scope", &list); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for i, s := range list {
			m, err := incident.ParseMatcher(s)
			if err != nil {
				return nil, invalid(fmt.Sprintf("scope[%d]", i), err.Error())
			}
			if seen[m.Key] {
				return nil, invalid(fmt.Sprintf("scope[%d]", i), fmt.Sprintf("attribute %q is given twice", m.Key))
			}
			seen[m.Key] = true
			scope = append(scope, m)
		}
	default:
		return nil, invalid("scope", `must be an object such as {"service.name": "checkout"} or an array such as ["service.name=checkout"]`)
	}
	if len(scope) > MaxScopeMatchers {
		return nil, tooMany("scope", fmt.Sprintf("has %d matchers, the limit is %d", len(scope), MaxScopeMatchers))
	}
	for i, m := range scope {
		field := fmt.Sprintf("scope[%d]", i)
		switch {
		case m.Key == "":
			return nil, invalid(field, "attribute keys must not be empty")
		case len(m.Key) > MaxLabelNameLength || len(m.Value) > MaxLabelValueLength:
			return nil, tooMany(field, fmt.Sprintf("keys are limited to %d bytes and values to %d", MaxLabelNameLength, MaxLabelValueLength))
		}
	}
	return scope, nil
}

// parseLinks accepts an array of {"href", "text"} objects or of URL strings.
func parseLinks(raw json.RawMessage) ([]incident.Link, *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, invalid("links", `must be an array of {"href": ..., "text": ...} objects or of URLs`)
	}
	var items []json.RawMessage
	if err := decodeValue(raw, "links", &items); err != nil {
		return nil, err
	}
	if len(items) > MaxLinks {
		return nil, tooMany("links", fmt.Sprintf("has %d links, the limit is %d", len(items), MaxLinks))
	}
	links := make([]incident.Link, 0, len(items))
	for i, item := range items {
		field := fmt.Sprintf("links[%d]", i)
		var l incident.Link
		switch {
		case len(item) > 0 && item[0] == '"':
			if err := decodeValue(item, field, &l.Href); err != nil {
				return nil, err
			}
		case len(item) > 0 && item[0] == '{':
			if err := decodeValue(item, field, &l); err != nil {
				return nil, err
			}
			field += ".href"
		default:
			return nil, invalid(field, "must be a URL string or an object with href")
		}
		if l.Href == "" {
			return nil, missing(field)
		}
		if !webURL(l.Href) {
			return nil, invalid(field, fmt.Sprintf("must be an absolute http or https URL of at most %d bytes", MaxURLLength))
		}
		if err := checkText(fmt.Sprintf("links[%d].text", i), l.Text, MaxTitleLength); err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}
