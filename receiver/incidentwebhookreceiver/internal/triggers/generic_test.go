package triggers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestParseGenericOpenFixtures(t *testing.T) {
	tests := []struct {
		file string
		want incident.Incident
	}{
		{
			file: "generic_open.json",
			want: incident.Incident{
				ID:       "INC-2026-0310-checkout",
				Title:    "Checkout failing after deploy 1.4.2",
				Severity: "critical",
				Source:   incident.SourceGeneric,
				Status:   incident.StatusOpen,
				Scope: []incident.Matcher{
					{Key: "deployment.environment.name", Value: "production"},
					{Key: "service.name", Value: "checkout"},
				},
				StartedAt: ts("2026-03-10T11:45:00Z"),
				UpdatedAt: testNow,
				Labels:    map[string]string{"team": "payments", "commander": "dana"},
				Links: []incident.Link{
					{Href: "https://status.example.com/incidents/123", Text: "Status page"},
					{Href: "https://chat.example.com/archives/C024BE91L"},
				},
			},
		},
		{
			file: "generic_open_lists.json",
			want: incident.Incident{
				ID:     "INC-42",
				Title:  "Manual freeze for investigation",
				Source: incident.SourceGeneric,
				Status: incident.StatusOpen,
				Scope: []incident.Matcher{
					{Key: "service.name", Value: "cart"},
					{Key: "k8s.namespace.name", Value: "shop"},
				},
				StartedAt: testNow,
				UpdatedAt: testNow,
				Links:     []incident.Link{{Href: "https://tickets.example.com/INC-42"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := fixture(t, tt.file)
			res, err := ParseGenericOpen(body, testNow)
			requireResult(t, res, err)
			require.Equal(t, []incident.Incident{tt.want}, res.Open)
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			assert.Equal(t, incident.EventIncidentOpened, ev.Kind)
			assert.Equal(t, tt.want.ID, ev.IncidentID)
			assert.Equal(t, &tt.want, ev.Incident)
			assert.JSONEq(t, string(body), string(ev.Payload))
		})
	}
}

func TestParseGenericOpenErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		reason string
		field  string
	}{
		{"not an object", `"INC-1"`, ReasonMalformedJSON, ""},
		{"trailing data", `{"id":"INC-1"} {"id":"INC-2"}`, ReasonMalformedJSON, ""},
		{"no id", `{"title":"x"}`, ReasonMissingField, "id"},
		{"empty id", `{"id":""}`, ReasonMissingField, "id"},
		{"numeric id", `{"id":42}`, ReasonInvalidField, "id"},
		{"traversal", `{"id":"../../etc/passwd"}`, ReasonInvalidID, "id"},
		{"slash", `{"id":"team/INC-1"}`, ReasonInvalidID, "id"},
		{"backslash", `{"id":"a\\b"}`, ReasonInvalidID, "id"},
		{"dot dot", `{"id":".."}`, ReasonInvalidID, "id"},
		{"dot", `{"id":"."}`, ReasonInvalidID, "id"},
		{"space", `{"id":"INC 1"}`, ReasonInvalidID, "id"},
		{"unicode", `{"id":"INC-①"}`, ReasonInvalidID, "id"},
		{"control", `{"id":"INC-1\n"}`, ReasonInvalidID, "id"},
		{"nul", `{"id":"INC\u0000"}`, ReasonInvalidID, "id"},
		{"too long", `{"id":"` + strings.Repeat("a", incident.MaxIDLength+1) + `"}`, ReasonInvalidID, "id"},
		{"bad started_at", `{"id":"INC-1","started_at":"10:00"}`, ReasonInvalidField, "started_at"},
		{"scope string", `{"id":"INC-1","scope":"service.name=x"}`, ReasonInvalidField, "scope"},
		{"scope number values", `{"id":"INC-1","scope":{"a":1}}`, ReasonInvalidField, "scope"},
		{"scope bad matcher", `{"id":"INC-1","scope":["service.name"]}`, ReasonInvalidField, "scope[0]"},
		{"scope empty key", `{"id":"INC-1","scope":{"":"x"}}`, ReasonInvalidField, "scope[0]"},
		{"scope twice", `{"id":"INC-1","scope":["a=1","a=2"]}`, ReasonInvalidField, "scope[1]"},
		{"scope too many", `{"id":"INC-1","scope":[` + manyScope(MaxScopeMatchers+1) + `]}`, ReasonLimitExceeded, "scope"},
		{"links object", `{"id":"INC-1","links":{"href":"https://x.example"}}`, ReasonInvalidField, "links"},
		{"link number", `{"id":"INC-1","links":[1]}`, ReasonInvalidField, "links[0]"},
		{"link javascript", `{"id":"INC-1","links":["javascript:alert(1)"]}`, ReasonInvalidField, "links[0]"},
		{"link relative", `{"id":"INC-1","links":[{"href":"/runbook"}]}`, ReasonInvalidField, "links[0].href"},
		{"link without href", `{"id":"INC-1","links":[{"text":"x"}]}`, ReasonMissingField, "links[0].href"},
		{"too many links", `{"id":"INC-1","links":[` + strings.TrimSuffix(strings.Repeat(`"https://x.example",`, MaxLinks+1), ",") + `]}`, ReasonLimitExceeded, "links"},
		{"title too long", `{"id":"INC-1","title":"` + strings.Repeat("t", MaxTitleLength+1) + `"}`, ReasonLimitExceeded, "title"},
		{"severity too long", `{"id":"INC-1","severity":"` + strings.Repeat("s", MaxTextLength+1) + `"}`, ReasonLimitExceeded, "severity"},
		{"label too long", `{"id":"INC-1","labels":{"a":"` + strings.Repeat("v", MaxLabelValueLength+1) + `"}}`, ReasonLimitExceeded, "labels.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGenericOpen([]byte(tt.body), testNow)
			requireReason(t, err, http.StatusBadRequest, tt.reason, tt.field)
		})
	}
}

func manyScope(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"k` + strings.Repeat("x", i) + `=v"`
	}
	return strings.Join(parts, ",")
}

func TestParseGenericResolve(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   []Resolution
		reason string
		field  string
	}{
		{name: "fixture", body: string(fixture(t, "generic_resolve.json")), want: []Resolution{{ID: "INC-2026-0310-checkout", At: ts("2026-03-10T11:59:30Z")}}},
		{name: "defaults to now", body: `{"id":"INC-1"}`, want: []Resolution{{ID: "INC-1", At: testNow}}},
		{name: "offset normalized to UTC", body: `{"id":"INC-1","resolved_at":"2026-03-10T12:30:00+01:00"}`, want: []Resolution{{ID: "INC-1", At: ts("2026-03-10T11:30:00Z")}}},
		{name: "missing id", body: `{"resolved_at":"2026-03-10T11:59:30Z"}`, reason: ReasonMissingField, field: "id"},
		{name: "invalid id", body: `{"id":"a/../b"}`, reason: ReasonInvalidID, field: "id"},
		{name: "bad time", body: `{"id":"INC-1","resolved_at":"2026-03-10"}`, reason: ReasonInvalidField, field: "resolved_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseGenericResolve([]byte(tt.body), testNow)
			if tt.reason != "" {
				requireReason(t, err, http.StatusBadRequest, tt.reason, tt.field)
				return
			}
			requireResult(t, res, err)
			assert.Equal(t, tt.want, res.Resolve)
			assert.Equal(t, []incident.EventKind{incident.EventIncidentResolved}, kinds(res))
			assert.Equal(t, tt.want[0].ID, res.Events[0].IncidentID)
			assert.Equal(t, incident.SourceGeneric, res.Events[0].Source)
		})
	}
}
