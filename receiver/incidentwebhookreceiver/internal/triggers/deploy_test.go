package triggers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestParseDeploy(t *testing.T) {
	finished := ts("2026-03-10T11:44:10Z")
	tests := []struct {
		name   string
		body   string
		want   incident.Deploy
		reason string
		field  string
	}{
		{
			name: "fixture",
			body: string(fixture(t, "deploy.json")),
			want: incident.Deploy{
				ID: "deploy-checkout-1.4.2-20260310T1140", Service: "checkout", Version: "1.4.2",
				Environment: "production", Commit: "9fceb02d0ae598e95dc970b74767f19372d61af8",
				Name: "checkout 1.4.2", StartedAt: ts("2026-03-10T11:40:00Z"), FinishedAt: &finished,
				Status: incident.DeploySucceeded,
			},
		},
		{
			name: "minimal starts now",
			body: `{"id":"d1","service":"cart","status":"started"}`,
			want: incident.Deploy{ID: "d1", Service: "cart", StartedAt: testNow, Status: incident.DeployStarted},
		},
		{name: "missing id", body: `{"service":"cart"}`, reason: ReasonMissingField, field: "id"},
		{name: "invalid id", body: `{"id":"d/1","service":"cart"}`, reason: ReasonInvalidID, field: "id"},
		{name: "missing service", body: `{"id":"d1"}`, reason: ReasonMissingField, field: "service"},
		{name: "service too long", body: `{"id":"d1","service":"` + strings.Repeat("s", MaxTextLength+1) + `"}`, reason: ReasonLimitExceeded, field: "service"},
		{name: "version not a string", body: `{"id":"d1","service":"cart","version":1.2}`, reason: ReasonInvalidField, field: "version"},
		{name: "bad started_at", body: `{"id":"d1","service":"cart","started_at":"x"}`, reason: ReasonInvalidField, field: "started_at"},
		{name: "bad finished_at", body: `{"id":"d1","service":"cart","finished_at":"x"}`, reason: ReasonInvalidField, field: "finished_at"},
		{name: "finished before started", body: `{"id":"d1","service":"cart","started_at":"2026-03-10T11:00:00Z","finished_at":"2026-03-10T10:00:00Z"}`, reason: ReasonInvalidField, field: "finished_at"},
		{name: "trailing data", body: `{"id":"d1","service":"cart"}]`, reason: ReasonMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseDeploy([]byte(tt.body), testNow)
			if tt.reason != "" {
				requireReason(t, err, http.StatusBadRequest, tt.reason, tt.field)
				return
			}
			requireResult(t, res, err)
			require.Equal(t, []incident.Deploy{tt.want}, res.Deploys)
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			assert.Equal(t, incident.EventDeploy, ev.Kind)
			assert.Equal(t, incident.SourceDeploy, ev.Source)
			assert.Equal(t, tt.want.ID, ev.DeployID)
			assert.Equal(t, &tt.want, ev.Deploy)
			assert.JSONEq(t, tt.body, string(ev.Payload))
		})
	}
}
