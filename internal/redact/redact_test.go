package redact

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

const rulesYAML = `
allowed_keys: [service.name, http.route, user.email, team, card, labels, alertname]
allow_all_keys: false
ignored_keys: [service.name]
blocked_key_patterns: ["^user\\."]
blocked_values: ["[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}"]
`

func TestRules(t *testing.T) {
	r, err := Parse([]byte(rulesYAML))
	require.NoError(t, err)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("host.name", "db-7")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.Attributes().PutStr("user.email", "ann@example.com")
	s.Attributes().PutStr("http.route", "/pay/4111-1111-1111-1111")
	s.Attributes().PutStr("secret", "x")
	r.Traces(td)
	res := rs.Resource().Attributes()
	assert.Equal(t, 1, res.Len(), "host.name is not allowed: removed")
	attrs := s.Attributes().AsRaw()
	assert.Equal(t, map[string]any{"user.email": Mask, "http.route": "/pay/" + Mask}, attrs)

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("charged 4111-1111-1111-1111 ok")
	r.Logs(ld)
	assert.Equal(t, "charged **** ok", lr.Body().Str())

	inc := &incident.Incident{ID: "INC-1", Title: "card 4111-1111-1111-1111 declined", Labels: map[string]string{"team": "pay", "owner": "ann", "user.id": "7"},
		StartedAt: time.Now()}
	got := r.Incident(inc)
	assert.Equal(t, "card **** declined", got.Title)
	assert.Equal(t, map[string]string{"team": "pay"}, got.Labels)
	assert.Equal(t, "card 4111-1111-1111-1111 declined", inc.Title, "the source record is left as it is")

	ev, err := r.Event(incident.Event{Kind: incident.EventIncidentOpened, Payload: json.RawMessage(`{"alerts":[{"labels":{"alertname":"card 4111-1111-1111-1111","pod":"p-1"}}]}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"alerts":[{"labels":{"alertname":"card ****"}}]}`, string(ev.Payload))
}

func TestRulesHash(t *testing.T) {
	r, err := Compile(Rules{BlockedKeyPatterns: []string{"email"}, HashFunction: HashSHA256})
	require.NoError(t, err)
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.Attributes().PutStr("email", "ann@example.com")
	s.Attributes().PutStr("other", "kept")
	r.Traces(td)
	v, _ := s.Attributes().Get("email")
	assert.Len(t, v.Str(), 64)
	assert.NotContains(t, v.Str(), "ann")
	o, _ := s.Attributes().Get("other")
	assert.Equal(t, "kept", o.Str())
}

func TestRulesErrors(t *testing.T) {
	for yml, want := range map[string]string{
		"blocked_values: ['(']":       "'blocked_values[0]'",
		"blocked_key_patterns: ['[']": "'blocked_key_patterns[0]'",
		"hash_function: md5":          "'hash_function'",
		"allow_all_keys: false":       "'allowed_keys' is empty",
		"blocked_valuez: [x]":         "blocked_valuez",
	} {
		_, err := Parse([]byte(yml))
		assert.ErrorContains(t, err, want, yml)
	}
}
