package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestParsePagerDutyFixtures(t *testing.T) {
	const id = "pd-Q2LR7N3JQ8ZYQH"
	tests := []struct {
		file    string
		open    []wantIncident
		resolve []Resolution
		kind    incident.EventKind
		eventID string
	}{
		{
			file: "pagerduty_triggered.json",
			open: []wantIncident{{
				id:        id,
				title:     "Checkout error rate above 5%",
				severity:  "P1",
				scope:     []incident.Matcher{{Key: "service.name", Value: "checkout"}},
				startedAt: ts("2026-03-10T11:49:12Z"),
				links:     []string{"https://acme.pagerduty.com/incidents/Q2LR7N3JQ8ZYQH", "https://acme.pagerduty.com/services/PF9KMXH"},
			}},
			kind:    incident.EventIncidentOpened,
			eventID: id,
		},
		{file: "pagerduty_acknowledged.json", kind: incident.EventAlert, eventID: id},
		{file: "pagerduty_resolved.json", resolve: []Resolution{{ID: id, At: ts("2026-03-10T11:59:01.004Z")}}, kind: incident.EventIncidentResolved, eventID: id},
		{file: "pagerduty_annotated.json", kind: incident.EventAlert, eventID: id},
		{file: "pagerduty_service_updated.json", kind: incident.EventAlert},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := fixture(t, tt.file)
			res, err := ParsePagerDuty(body, testNow)
			requireResult(t, res, err)
			require.Len(t, res.Open, len(tt.open))
			for i, w := range tt.open {
				assertIncident(t, w, res.Open[i], incident.SourcePagerDuty)
			}
			assert.Equal(t, tt.resolve, res.Resolve)
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			assert.Equal(t, tt.kind, ev.Kind)
			assert.Equal(t, tt.eventID, ev.IncidentID)
			assert.Equal(t, incident.SourcePagerDuty, ev.Source)
			assert.JSONEq(t, string(body), string(ev.Payload))
		})
	}
}

func TestParsePagerDutyTriggeredLabels(t *testing.T) {
	res, err := ParsePagerDuty(fixture(t, "pagerduty_triggered.json"), testNow)
	requireResult(t, res, err)
	assert.Equal(t, map[string]string{
		"pagerduty_incident_id":  "Q2LR7N3JQ8ZYQH",
		"pagerduty_incident_key": "d3640fbd41094207a1c11e58e46b1662",
		"urgency":                "high",
		"priority":               "P1",
		"pagerduty_service":      "checkout",
	}, res.Open[0].Labels)
}

func TestParsePagerDutyScenarios(t *testing.T) {
	ev := func(typ, data string) string {
		return `{"event":{"id":"E1","event_type":"` + typ + `","resource_type":"incident","occurred_at":"2026-03-10T11:00:00Z","data":` + data + `}}`
	}
	tests := []struct {
		name   string
		body   string
		openID string
		kind   incident.EventKind
		check  func(t *testing.T, res Result)
	}{
		{
			name:   "reopened opens again",
			body:   ev("incident.reopened", `{"id":"P1","type":"incident","title":"T"}`),
			openID: "pd-P1",
			kind:   incident.EventIncidentOpened,
		},
		{
			name:   "urgency without priority, no service, start from occurred_at",
			body:   ev("incident.triggered", `{"id":"P1","type":"incident","title":"T","urgency":"low","priority":null}`),
			openID: "pd-P1",
			kind:   incident.EventIncidentOpened,
			check: func(t *testing.T, res Result) {
				assert.Equal(t, "low", res.Open[0].Severity)
				assert.Empty(t, res.Open[0].Scope)
				assert.Equal(t, ts("2026-03-10T11:00:00Z"), res.Open[0].StartedAt)
			},
		},
		{
			name:   "unsafe PagerDuty id is sanitized and hashed",
			body:   ev("incident.triggered", `{"id":"../../x/y","type":"incident"}`),
			openID: expectedHash("pd-x-y-", "../../x/y"),
			kind:   incident.EventIncidentOpened,
		},
		{
			name:   "id of only unsafe characters is hashed",
			body:   ev("incident.triggered", `{"id":"ééé","type":"incident"}`),
			openID: expectedHash("pd-", "ééé"),
			kind:   incident.EventIncidentOpened,
		},
		{
			name:   "long id is hashed to fit",
			body:   ev("incident.triggered", `{"id":"`+strings.Repeat("A", 200)+`","type":"incident"}`),
			openID: expectedHash("pd-"+strings.Repeat("A", 64)+"-", strings.Repeat("A", 200)),
			kind:   incident.EventIncidentOpened,
		},
		{
			name: "unknown event type is recorded, not refused",
			body: `{"event":{"id":"E2","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-03-10T11:00:00Z","data":{"message":"Hello from your friend Pagey!","type":"ping"}}}`,
			kind: incident.EventAlert,
		},
		{
			name: "acknowledged without data",
			body: `{"event":{"id":"E3","event_type":"incident.acknowledged"}}`,
			kind: incident.EventAlert,
		},
		{
			name: "future occurred_at resolves now",
			body: `{"event":{"id":"E4","event_type":"incident.resolved","occurred_at":"2030-01-01T00:00:00Z","data":{"id":"P1"}}}`,
			kind: incident.EventIncidentResolved,
			check: func(t *testing.T, res Result) {
				assert.Equal(t, []Resolution{{ID: "pd-P1", At: testNow}}, res.Resolve)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParsePagerDuty([]byte(tt.body), testNow)
			requireResult(t, res, err)
			if tt.openID != "" {
				require.Len(t, res.Open, 1)
				assert.Equal(t, tt.openID, res.Open[0].ID)
			} else {
				assert.Empty(t, res.Open)
			}
			assert.Equal(t, tt.kind, res.Events[0].Kind)
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestParsePagerDutyErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		reason string
		field  string
	}{
		{"not json", `event`, ReasonMalformedJSON, ""},
		{"no event", `{}`, ReasonMissingField, "event"},
		{"null event", `{"event":null}`, ReasonMissingField, "event"},
		{"event not object", `{"event":"x"}`, ReasonInvalidField, "event"},
		{"no id", `{"event":{"event_type":"incident.triggered"}}`, ReasonMissingField, "event.id"},
		{"no type", `{"event":{"id":"E"}}`, ReasonMissingField, "event.event_type"},
		{"bad occurred_at", `{"event":{"id":"E","event_type":"x","occurred_at":"now"}}`, ReasonInvalidField, "event.occurred_at"},
		{"triggered without data", `{"event":{"id":"E","event_type":"incident.triggered"}}`, ReasonMissingField, "event.data"},
		{"triggered without data id", `{"event":{"id":"E","event_type":"incident.triggered","data":{"type":"incident"}}}`, ReasonMissingField, "event.data.id"},
		{"resolved without data id", `{"event":{"id":"E","event_type":"incident.resolved","data":{}}}`, ReasonMissingField, "event.data.id"},
		{"bad created_at", `{"event":{"id":"E","event_type":"incident.triggered","data":{"id":"P","created_at":"x"}}}`, ReasonInvalidField, "event.data.created_at"},
		{"title not a string", `{"event":{"id":"E","event_type":"incident.triggered","data":{"id":"P","title":1}}}`, ReasonInvalidField, "event.data.title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePagerDuty([]byte(tt.body), testNow)
			requireReason(t, err, http.StatusBadRequest, tt.reason, tt.field)
		})
	}
}

func pdSign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerifyPagerDuty(t *testing.T) {
	body := fixture(t, "pagerduty_triggered.json")
	const secret, oldSecret = "new-secret", "old-secret"
	h := func(values ...string) http.Header {
		hdr := http.Header{}
		for _, v := range values {
			hdr.Add(PagerDutySignatureHeader, v)
		}
		return hdr
	}
	tests := []struct {
		name    string
		body    []byte
		header  http.Header
		secrets []string
		status  int // 0: valid
		reason  string
	}{
		{"valid", body, h(pdSign(secret, body)), []string{secret}, 0, ""},
		{"rotated: two v1, the second matches", body, h(pdSign(oldSecret, body) + "," + pdSign(secret, body)), []string{secret}, 0, ""},
		{"rotated: two v1, the first matches", body, h(pdSign(secret, body) + ", " + pdSign(oldSecret, body)), []string{secret}, 0, ""},
		{"our rotation: two secrets", body, h(pdSign(oldSecret, body)), []string{secret, oldSecret}, 0, ""},
		{"unknown versions ignored", body, h("v2=abc," + pdSign(secret, body)), []string{secret}, 0, ""},
		{"several header lines", body, h("v2=abc", pdSign(secret, body)), []string{secret}, 0, ""},
		{"tampered body", append(append([]byte{}, body...), ' '), h(pdSign(secret, body)), []string{secret}, 403, ReasonBadSignature},
		{"missing header", body, h(), []string{secret}, 401, ReasonMissingSignature},
		{"empty header", body, h(" , "), []string{secret}, 401, ReasonMissingSignature},
		{"wrong secret", body, h(pdSign("guess", body)), []string{secret}, 403, ReasonBadSignature},
		{"only unknown versions", body, h("v9=" + strings.TrimPrefix(pdSign(secret, body), "v1=")), []string{secret}, 403, ReasonBadSignature},
		{"not hex", body, h("v1=zz"), []string{secret}, 403, ReasonBadSignature},
		{"no prefix", body, h(strings.TrimPrefix(pdSign(secret, body), "v1=")), []string{secret}, 403, ReasonBadSignature},
		{"no secrets", body, h(pdSign("", body)), nil, 403, ReasonBadSignature},
		{"empty secret skipped", body, h(pdSign("", body)), []string{""}, 403, ReasonBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyPagerDuty(tt.body, tt.header, tt.secrets)
			if tt.status == 0 {
				require.NoError(t, err)
				return
			}
			requireReason(t, err, tt.status, tt.reason, PagerDutySignatureHeader)
		})
	}
}
