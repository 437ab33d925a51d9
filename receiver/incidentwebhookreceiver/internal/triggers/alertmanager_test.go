package triggers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

type wantIncident struct {
	id        string
	title     string
	severity  string
	scope     []incident.Matcher
	startedAt time.Time
	links     []string
}

func assertIncident(t *testing.T, want wantIncident, got incident.Incident, source string) {
	t.Helper()
	assert.Equal(t, want.id, got.ID)
	assert.Equal(t, want.title, got.Title)
	assert.Equal(t, want.severity, got.Severity)
	assert.Equal(t, want.scope, got.Scope)
	assert.Equal(t, want.startedAt, got.StartedAt)
	assert.Equal(t, source, got.Source)
	assert.Equal(t, incident.StatusOpen, got.Status)
	assert.Equal(t, testNow, got.UpdatedAt)
	var hrefs []string
	for _, l := range got.Links {
		hrefs = append(hrefs, l.Href)
	}
	assert.Equal(t, want.links, hrefs)
}

func TestParseAlertmanagerFixtures(t *testing.T) {
	checkoutKey := `{}/{severity="critical"}:{alertname="CheckoutErrorRate"}`
	checkoutID := expectedHash("am-", checkoutKey)
	promCheckout := "http://prometheus.example.com:9090/graph?g0.expr=job%3Acheckout_errors%3Aratio_rate5m+%3E+0.05&g0.tab=1"
	tests := []struct {
		file        string
		open        []wantIncident
		resolve     []Resolution
		kinds       []incident.EventKind
		eventIDs    []string
		truncated   int
		labelsEqual bool // Open[0].Labels == commonLabels
	}{
		{
			file: "alertmanager_firing.json",
			open: []wantIncident{{
				id:       checkoutID,
				title:    "Checkout is failing more than 5% of requests",
				severity: "critical",
				scope:    []incident.Matcher{{Key: "service.name", Value: "checkout"}},
				// The third alert repeats the second's fingerprint with an
				// earlier startsAt: it must be ignored.
				startedAt: ts("2026-03-10T11:50:00Z"),
				links:     []string{"http://alertmanager.example.com:9093", "https://runbooks.example.com/checkout-error-rate", promCheckout},
			}},
			kinds:       []incident.EventKind{incident.EventIncidentOpened},
			eventIDs:    []string{checkoutID},
			labelsEqual: true,
		},
		{
			file:     "alertmanager_resolved.json",
			resolve:  []Resolution{{ID: checkoutID, At: ts("2026-03-10T11:59:15Z")}},
			kinds:    []incident.EventKind{incident.EventIncidentResolved},
			eventIDs: []string{checkoutID},
		},
		{
			// Warning alerts, partial list: nothing opens, nothing is
			// inferred from the resolved alert or the missing ones, and the
			// whole body is kept.
			file:      "alertmanager_truncated.json",
			kinds:     []incident.EventKind{incident.EventAlert, incident.EventAlert, incident.EventAlert},
			eventIDs:  []string{expectedHash("am-", `{}:{alertname="KubePodCrashLooping"}`), expectedHash("am-", `{}:{alertname="KubePodCrashLooping"}`), expectedHash("am-", `{}:{alertname="KubePodCrashLooping"}`)},
			truncated: 3,
		},
		{
			file: "alertmanager_sloth.json",
			open: []wantIncident{{
				id:        expectedHash("am-", `{}:{alertname="MyServiceHighErrorRate", sloth_slo="requests-availability"}`),
				title:     "High error rate on 'myservice' requests responses",
				severity:  "pageteam",
				scope:     []incident.Matcher{{Key: "service.name", Value: "myservice"}},
				startedAt: ts("2026-03-10T11:47:00Z"),
				links: []string{
					"http://alertmanager.example.com:9093",
					"http://prometheus.example.com:9090/graph?g0.expr=%28max%28slo%3Asli_error%3Aratio_rate5m%7Bsloth_id%3D%22myservice-requests-availability%22%7D+%3E+%2814.4+%2A+0.001%29%29%29&g0.tab=1",
				},
			}},
			kinds:       []incident.EventKind{incident.EventIncidentOpened},
			eventIDs:    []string{expectedHash("am-", `{}:{alertname="MyServiceHighErrorRate", sloth_slo="requests-availability"}`)},
			labelsEqual: true,
		},
		{
			// A Pyrra warning burn-rate alert opens through its slo label.
			file: "alertmanager_pyrra.json",
			open: []wantIncident{{
				id:        expectedHash("am-", `{}:{alertname="ErrorBudgetBurn", slo="cart-http-errors"}`),
				title:     "ErrorBudgetBurn",
				severity:  "warning",
				scope:     []incident.Matcher{{Key: "service.name", Value: "cart"}},
				startedAt: ts("2026-03-10T10:15:00Z"),
				links: []string{
					"http://alertmanager.example.com:9093",
					"http://prometheus.example.com:9090/graph?g0.expr=http_requests%3Aburnrate2h%7Bjob%3D%22cart%22%2Cslo%3D%22cart-http-errors%22%7D&g0.tab=1",
				},
			}},
			kinds:       []incident.EventKind{incident.EventIncidentOpened},
			eventIDs:    []string{expectedHash("am-", `{}:{alertname="ErrorBudgetBurn", slo="cart-http-errors"}`)},
			labelsEqual: true,
		},
		{
			file:     "alertmanager_warning.json",
			kinds:    []incident.EventKind{incident.EventAlert, incident.EventAlert},
			eventIDs: []string{expectedHash("am-", `{}:{alertname="HighMemoryUsage"}`), expectedHash("am-", `{}:{alertname="HighMemoryUsage"}`)},
		},
		{
			file: "alertmanager_incident_id.json",
			open: []wantIncident{{
				id:        "INC-2026-0310",
				title:     "Payments API is down",
				severity:  "page",
				scope:     []incident.Matcher{{Key: "service.name", Value: "payments"}},
				startedAt: ts("2026-03-10T11:55:00Z"),
				links:     []string{"http://alertmanager.example.com:9093", "http://prometheus.example.com:9090/graph?g0.expr=up%7Bjob%3D%22payments%22%7D+%3D%3D+0&g0.tab=1"},
			}},
			kinds:       []incident.EventKind{incident.EventIncidentOpened},
			eventIDs:    []string{"INC-2026-0310"},
			labelsEqual: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := fixture(t, tt.file)
			res, err := ParseAlertmanager(body, nil, testNow)
			requireResult(t, res, err)
			require.Len(t, res.Open, len(tt.open))
			for i, w := range tt.open {
				assertIncident(t, w, res.Open[i], incident.SourceAlertmanager)
			}
			assert.Equal(t, tt.resolve, res.Resolve)
			assert.Empty(t, res.Deploys)
			assert.Equal(t, tt.kinds, kinds(res))
			assert.Equal(t, tt.truncated, res.TruncatedAlerts)
			for i, ev := range res.Events {
				assert.Equal(t, incident.SourceAlertmanager, ev.Source)
				assert.Equal(t, testNow, ev.Time)
				assert.Equal(t, tt.eventIDs[i], ev.IncidentID, "event %d", i)
				if ev.Kind == incident.EventIncidentOpened {
					require.NotNil(t, ev.Incident)
					assert.Equal(t, res.Open[0], *ev.Incident)
				}
			}
			if tt.labelsEqual {
				var p struct {
					CommonLabels map[string]string `json:"commonLabels"`
				}
				require.NoError(t, json.Unmarshal(body, &p))
				assert.Equal(t, p.CommonLabels, res.Open[0].Labels)
			}
		})
	}
}

func TestParseAlertmanagerAlertEventsCarryTheAlert(t *testing.T) {
	body := fixture(t, "alertmanager_warning.json")
	res, err := ParseAlertmanager(body, nil, testNow)
	requireResult(t, res, err)
	var p struct {
		Alerts []json.RawMessage `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal(body, &p))
	require.Len(t, res.Events, 2)
	for i, ev := range res.Events {
		assert.JSONEq(t, string(p.Alerts[i]), string(ev.Payload))
		assert.Nil(t, ev.Incident)
	}
}

func TestParseAlertmanagerTruncatedKeepsWholeBody(t *testing.T) {
	body := fixture(t, "alertmanager_truncated.json")
	res, err := ParseAlertmanager(body, nil, testNow)
	requireResult(t, res, err)
	last := res.Events[len(res.Events)-1]
	assert.JSONEq(t, string(body), string(last.Payload))
	assert.Empty(t, res.Resolve, "a truncated list never resolves anything")
}

func TestParseAlertmanagerDoesNotAliasBody(t *testing.T) {
	body := fixture(t, "alertmanager_firing.json")
	orig := string(body)
	res, err := ParseAlertmanager(body, nil, testNow)
	requireResult(t, res, err)
	for i := range body {
		body[i] = ' '
	}
	assert.JSONEq(t, orig, string(res.Events[0].Payload))
}

// amAlert and amPayload build Alertmanager payloads for scenario tests.
type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    string            `json:"startsAt,omitempty"`
	EndsAt      string            `json:"endsAt,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
}

type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	CommonLabels      map[string]string `json:"commonLabels,omitempty"`
	CommonAnnotations map[string]string `json:"commonAnnotations,omitempty"`
	ExternalURL       string            `json:"externalURL,omitempty"`
	Alerts            []amAlert         `json:"alerts"`
}

func TestParseAlertmanagerScenarios(t *testing.T) {
	groupID := expectedHash("am-", "g")
	crit := func(fp, status string, extra ...string) amAlert {
		l := map[string]string{"alertname": "A", "severity": "critical", "fp": fp}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return amAlert{Status: status, Labels: l, StartsAt: "2026-03-10T11:00:00Z", Fingerprint: fp}
	}
	warn := amAlert{Status: "firing", Labels: map[string]string{"alertname": "B", "severity": "warning"}, StartsAt: "2026-03-10T10:00:00Z", Fingerprint: "w"}
	customPolicy := DefaultPolicy()
	rule, err := ParseLabelRule(`team="db", severity!="info"`)
	require.NoError(t, err)
	customPolicy.OpenOn = []LabelRule{rule}
	customPolicy.IncidentIDLabel = "ticket"

	tests := []struct {
		name     string
		payload  amPayload
		policy   *Policy
		openIDs  []string
		resolves []Resolution
		kinds    []incident.EventKind
		check    func(t *testing.T, res Result)
	}{
		{
			name:    "critical opens, warning and resolved alert are recorded only",
			payload: amPayload{Status: "firing", Alerts: []amAlert{crit("1", "firing"), warn, crit("2", "resolved")}},
			openIDs: []string{groupID},
			kinds:   []incident.EventKind{incident.EventIncidentOpened, incident.EventAlert, incident.EventAlert},
			check: func(t *testing.T, res Result) {
				// Earliest start among the matching alerts only: the
				// warning started earlier but did not open anything.
				assert.Equal(t, ts("2026-03-10T11:00:00Z"), res.Open[0].StartedAt)
				assert.Equal(t, groupID, res.Events[1].IncidentID)
			},
		},
		{
			name: "incident_id on some alerts splits the group",
			payload: amPayload{Status: "firing", Alerts: []amAlert{
				crit("1", "firing", "incident_id", "INC-7"), crit("2", "firing"), crit("3", "firing", "incident_id", "INC-7"),
			}},
			openIDs: []string{"INC-7", groupID},
			kinds:   []incident.EventKind{incident.EventIncidentOpened, incident.EventIncidentOpened},
		},
		{
			name: "resolved group resolves every ID it maps to, warning-only included",
			payload: amPayload{Status: "resolved", Alerts: []amAlert{
				{Status: "resolved", Labels: map[string]string{"incident_id": "INC-7"}, EndsAt: "2026-03-10T11:30:00Z"},
				{Status: "resolved", Labels: map[string]string{"severity": "warning"}, EndsAt: "2026-03-10T11:20:00Z"},
				{Status: "resolved", Labels: map[string]string{"severity": "info"}, EndsAt: "2026-03-10T11:25:00Z"},
			}},
			resolves: []Resolution{{ID: "INC-7", At: ts("2026-03-10T11:30:00Z")}, {ID: groupID, At: ts("2026-03-10T11:25:00Z")}},
			kinds:    []incident.EventKind{incident.EventIncidentResolved, incident.EventIncidentResolved},
		},
		{
			name: "resolution time never lies in the future, and defaults to now",
			payload: amPayload{Status: "resolved", Alerts: []amAlert{
				{Status: "resolved", Labels: map[string]string{"incident_id": "INC-8"}, EndsAt: "2027-01-01T00:00:00Z"},
				{Status: "resolved", Labels: map[string]string{"a": "b"}},
			}},
			resolves: []Resolution{{ID: "INC-8", At: testNow}, {ID: groupID, At: testNow}},
			kinds:    []incident.EventKind{incident.EventIncidentResolved, incident.EventIncidentResolved},
		},
		{
			name:     "resolved group with truncated list still resolves",
			payload:  amPayload{Status: "resolved", TruncatedAlerts: 10, Alerts: []amAlert{{Status: "resolved", Labels: map[string]string{"a": "b"}, EndsAt: "2026-03-10T11:00:00Z"}}},
			resolves: []Resolution{{ID: groupID, At: ts("2026-03-10T11:00:00Z")}},
			kinds:    []incident.EventKind{incident.EventIncidentResolved},
		},
		{
			name:     "empty resolved group resolves the group ID",
			payload:  amPayload{Status: "resolved", Alerts: []amAlert{}},
			resolves: []Resolution{{ID: groupID, At: testNow}},
			kinds:    []incident.EventKind{incident.EventIncidentResolved},
		},
		{
			name:    "empty firing group records the body",
			payload: amPayload{Status: "firing", Alerts: []amAlert{}},
			kinds:   []incident.EventKind{incident.EventAlert},
			check: func(t *testing.T, res Result) {
				assert.Equal(t, groupID, res.Events[0].IncidentID)
			},
		},
		{
			name:    "missing or future startsAt starts now",
			payload: amPayload{Status: "firing", Alerts: []amAlert{{Status: "firing", Labels: map[string]string{"severity": "page"}}, {Status: "firing", Labels: map[string]string{"severity": "Critical", "x": "1"}, StartsAt: "2030-01-01T00:00:00Z"}}},
			openIDs: []string{groupID},
			kinds:   []incident.EventKind{incident.EventIncidentOpened},
			check: func(t *testing.T, res Result) {
				assert.Equal(t, testNow, res.Open[0].StartedAt)
				assert.Equal(t, "page", res.Open[0].Severity)
			},
		},
		{
			name:    "an empty policy opens nothing",
			payload: amPayload{Status: "firing", Alerts: []amAlert{crit("1", "firing")}},
			policy:  &Policy{},
			kinds:   []incident.EventKind{incident.EventAlert},
		},
		{
			name: "custom rule and incident ID label",
			payload: amPayload{Status: "firing", Alerts: []amAlert{
				{Status: "firing", Labels: map[string]string{"team": "db", "severity": "info"}},
				{Status: "firing", Labels: map[string]string{"team": "db", "ticket": "DB-1"}},
				{Status: "firing", Labels: map[string]string{"severity": "critical"}},
			}},
			policy:  customPolicy,
			openIDs: []string{"DB-1"},
			kinds:   []incident.EventKind{incident.EventIncidentOpened, incident.EventAlert, incident.EventAlert},
		},
		{
			name: "scope: service wins over job, job alone is used",
			payload: amPayload{Status: "firing", CommonLabels: map[string]string{"service": "checkout", "job": "kubernetes-pods", "severity": "critical"},
				Alerts: []amAlert{crit("1", "firing")}},
			openIDs: []string{groupID},
			kinds:   []incident.EventKind{incident.EventIncidentOpened},
			check: func(t *testing.T, res Result) {
				assert.Equal(t, []incident.Matcher{{Key: "service.name", Value: "checkout"}}, res.Open[0].Scope)
			},
		},
		{
			name: "scope can be disabled",
			payload: amPayload{Status: "firing", CommonLabels: map[string]string{"service": "checkout"},
				Alerts: []amAlert{crit("1", "firing")}},
			policy:  &Policy{OpenOn: DefaultPolicy().OpenOn, ScopeLabels: []ScopeLabel{}},
			openIDs: []string{groupID},
			kinds:   []incident.EventKind{incident.EventIncidentOpened},
			check: func(t *testing.T, res Result) {
				assert.Empty(t, res.Open[0].Scope)
			},
		},
		{
			name: "unsafe links are dropped, long titles shortened",
			payload: amPayload{Status: "firing", ExternalURL: "javascript:alert(1)",
				CommonAnnotations: map[string]string{"summary": strings.Repeat("é", MaxTitleLength), "runbook_url": "file:///etc/passwd"},
				Alerts:            []amAlert{crit("1", "firing")}},
			openIDs: []string{groupID},
			kinds:   []incident.EventKind{incident.EventIncidentOpened},
			check: func(t *testing.T, res Result) {
				assert.Empty(t, res.Open[0].Links)
				assert.LessOrEqual(t, len(res.Open[0].Title), MaxTitleLength)
				assert.True(t, strings.HasPrefix(res.Open[0].Title, "éé"))
				assert.True(t, json.Valid(mustJSON(t, res.Open[0].Title)))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.payload.Version = "4"
			tt.payload.GroupKey = "g"
			res, err := ParseAlertmanager(mustJSON(t, tt.payload), tt.policy, testNow)
			requireResult(t, res, err)
			var ids []string
			for _, inc := range res.Open {
				ids = append(ids, inc.ID)
			}
			assert.Equal(t, tt.openIDs, ids)
			assert.Equal(t, tt.resolves, res.Resolve)
			assert.Equal(t, tt.kinds, kinds(res))
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestParseAlertmanagerErrors(t *testing.T) {
	valid := string(fixture(t, "alertmanager_firing.json"))
	alert := func(labels string) string {
		return `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":` + labels + `}]}`
	}
	manyLabels := map[string]string{}
	for i := 0; i <= MaxLabels; i++ {
		manyLabels[strings.Repeat("l", 1+i%50)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = "v"
	}
	tests := []struct {
		name   string
		body   string
		status int
		reason string
		field  string
	}{
		{"empty", "", 400, ReasonMalformedJSON, ""},
		{"whitespace", " \n ", 400, ReasonMalformedJSON, ""},
		{"array", "[]", 400, ReasonMalformedJSON, ""},
		{"null", "null", 400, ReasonMalformedJSON, ""},
		{"cut short", `{"version":"4"`, 400, ReasonMalformedJSON, ""},
		{"syntax", `{"version":"4",}`, 400, ReasonMalformedJSON, ""},
		{"trailing object", valid + `{}`, 400, ReasonMalformedJSON, ""},
		{"trailing garbage", valid + `x`, 400, ReasonMalformedJSON, ""},
		{"too large", `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, ReasonBodyTooLarge, ""},
		{"no version", `{"groupKey":"g","status":"firing","alerts":[]}`, 400, ReasonMissingField, "version"},
		{"old version", `{"version":"3","groupKey":"g","status":"firing","alerts":[]}`, 400, ReasonUnsupportedVersion, "version"},
		{"old version with numeric group key", `{"version":"3","groupKey":666,"status":"firing","alerts":[]}`, 400, ReasonUnsupportedVersion, "version"},
		{"grafana payload", string(fixture(t, "grafana_firing.json")), 400, ReasonUnsupportedVersion, "version"},
		{"numeric version", `{"version":4,"groupKey":"g","status":"firing","alerts":[]}`, 400, ReasonInvalidField, "version"},
		{"no group key", `{"version":"4","status":"firing","alerts":[]}`, 400, ReasonMissingField, "groupKey"},
		{"numeric group key", `{"version":"4","groupKey":1,"status":"firing","alerts":[]}`, 400, ReasonInvalidField, "groupKey"},
		{"no status", `{"version":"4","groupKey":"g","alerts":[]}`, 400, ReasonMissingField, "status"},
		{"bad status", `{"version":"4","groupKey":"g","status":"pending","alerts":[]}`, 400, ReasonInvalidField, "status"},
		{"no alerts", `{"version":"4","groupKey":"g","status":"firing"}`, 400, ReasonMissingField, "alerts"},
		{"null alerts", `{"version":"4","groupKey":"g","status":"firing","alerts":null}`, 400, ReasonMissingField, "alerts"},
		{"alerts object", `{"version":"4","groupKey":"g","status":"firing","alerts":{}}`, 400, ReasonInvalidField, "alerts"},
		{"alert not object", `{"version":"4","groupKey":"g","status":"firing","alerts":["x"]}`, 400, ReasonInvalidField, "alerts[0]"},
		{"negative truncated", `{"version":"4","groupKey":"g","status":"firing","truncatedAlerts":-1,"alerts":[]}`, 400, ReasonInvalidField, "truncatedAlerts"},
		{"alert without status", `{"version":"4","groupKey":"g","status":"firing","alerts":[{"labels":{}}]}`, 400, ReasonMissingField, "alerts[0].status"},
		{"alert bad status", `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"x"}]}`, 400, ReasonInvalidField, "alerts[0].status"},
		{"label not string", alert(`{"severity":1}`), 400, ReasonInvalidField, ""},
		{"bad startsAt", `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","startsAt":"yesterday"}]}`, 400, ReasonInvalidField, "alerts[0].startsAt"},
		{"startsAt out of range", `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","startsAt":"0001-01-01T00:00:00+01:00"}]}`, 400, ReasonInvalidField, "alerts[0].startsAt"},
		{"bad endsAt", `{"version":"4","groupKey":"g","status":"resolved","alerts":[{"status":"resolved","endsAt":"2026-13-01T00:00:00Z"}]}`, 400, ReasonInvalidField, "alerts[0].endsAt"},
		{"incident id traversal", alert(`{"incident_id":"../../etc"}`), 400, ReasonInvalidID, "alerts[0].labels.incident_id"},
		{"incident id slash", alert(`{"incident_id":"a/b"}`), 400, ReasonInvalidID, "alerts[0].labels.incident_id"},
		{"incident id unicode", alert(`{"incident_id":"inc-é"}`), 400, ReasonInvalidID, "alerts[0].labels.incident_id"},
		{"incident id control", alert(`{"incident_id":"inc\u0000"}`), 400, ReasonInvalidID, "alerts[0].labels.incident_id"},
		{"incident id dotdot", alert(`{"incident_id":".."}`), 400, ReasonInvalidID, "alerts[0].labels.incident_id"},
		{"incident id too long", alert(`{"incident_id":"` + strings.Repeat("a", incident.MaxIDLength+1) + `"}`), 400, ReasonInvalidID, "alerts[0].labels.incident_id"},
		{"too many labels", alert(string(mustJSON(t, manyLabels))), 400, ReasonLimitExceeded, "alerts[0].labels"},
		{"label value too long", alert(`{"a":"` + strings.Repeat("v", MaxLabelValueLength+1) + `"}`), 400, ReasonLimitExceeded, "alerts[0].labels.a"},
		{"label name too long", alert(`{"` + strings.Repeat("n", MaxLabelNameLength+1) + `":"v"}`), 400, ReasonLimitExceeded, "alerts[0].labels"},
		{"empty label name", alert(`{"":"v"}`), 400, ReasonInvalidField, "alerts[0].labels"},
		{"too many common labels", `{"version":"4","groupKey":"g","status":"firing","alerts":[],"commonLabels":` + string(mustJSON(t, manyLabels)) + `}`, 400, ReasonLimitExceeded, "commonLabels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseAlertmanager([]byte(tt.body), nil, testNow)
			requireReason(t, err, tt.status, tt.reason, tt.field)
			assert.Empty(t, res.Events)
		})
	}
}

func TestParseAlertmanagerInvalidIDUnwraps(t *testing.T) {
	_, err := ParseAlertmanager([]byte(`{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"incident_id":"a/b"}}]}`), nil, testNow)
	require.ErrorIs(t, err, incident.ErrInvalidID)
	require.ErrorIs(t, err, ErrInvalidID)
	require.Equal(t, http.StatusBadRequest, HTTPStatus(err))
}
