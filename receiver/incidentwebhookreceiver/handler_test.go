package incidentwebhookreceiver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// eventNames lists the event names of every log record the sink received.
func eventNames(sink *consumertest.LogsSink) []string {
	var names []string
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					names = append(names, lrs.At(k).EventName())
				}
			}
		}
	}
	return names
}

// records returns every log record the sink received, in order.
func records(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

func TestEndpointsSuccess(t *testing.T) {
	type step struct{ path, fixture string }
	tests := []struct {
		name      string
		before    []step
		path      string
		fixture   string
		want      func(t *testing.T, resp response)
		wantCalls []string
		wantLogs  []string
	}{
		{
			name: "alertmanager firing opens", path: "/v1/alertmanager", fixture: "alertmanager_firing.json",
			want: func(t *testing.T, resp response) {
				require.Len(t, resp.Opened, 1)
				assert.True(t, strings.HasPrefix(resp.Opened[0], "am-"), resp.Opened[0])
				assert.Equal(t, 1, resp.Events)
			},
			wantLogs: []string{"incident.opened"},
		},
		{
			name: "alertmanager resolved resolves", path: "/v1/alertmanager", fixture: "alertmanager_resolved.json",
			before: []step{{"/v1/alertmanager", "alertmanager_firing.json"}},
			want: func(t *testing.T, resp response) {
				require.Len(t, resp.Resolved, 1)
				assert.Empty(t, resp.Opened)
				assert.Empty(t, resp.Unchanged)
			},
			wantLogs: []string{"incident.opened", "incident.resolved"},
		},
		{
			name: "grafana firing opens", path: "/v1/grafana", fixture: "grafana_firing.json",
			want: func(t *testing.T, resp response) {
				require.Len(t, resp.Opened, 1)
				assert.True(t, strings.HasPrefix(resp.Opened[0], "gf-"), resp.Opened[0])
			},
			wantLogs: []string{"incident.opened"},
		},
		{
			name: "pagerduty triggered opens", path: "/v1/pagerduty", fixture: "pagerduty_triggered.json",
			want: func(t *testing.T, resp response) {
				assert.Equal(t, []string{"pd-Q2LR7N3JQ8ZYQH"}, resp.Opened)
			},
			wantCalls: []string{"open:pd-Q2LR7N3JQ8ZYQH"},
			wantLogs:  []string{"incident.opened"},
		},
		{
			name: "pagerduty resolved resolves", path: "/v1/pagerduty", fixture: "pagerduty_resolved.json",
			before: []step{{"/v1/pagerduty", "pagerduty_triggered.json"}},
			want: func(t *testing.T, resp response) {
				assert.Equal(t, []string{"pd-Q2LR7N3JQ8ZYQH"}, resp.Resolved)
			},
			wantCalls: []string{"open:pd-Q2LR7N3JQ8ZYQH", "resolve:pd-Q2LR7N3JQ8ZYQH"},
			wantLogs:  []string{"incident.opened", "incident.resolved"},
		},
		{
			name: "pagerduty acknowledged is an event", path: "/v1/pagerduty", fixture: "pagerduty_acknowledged.json",
			want: func(t *testing.T, resp response) {
				assert.Empty(t, resp.Opened)
				assert.Equal(t, 1, resp.Events)
			},
			wantCalls: []string{"event:alert"},
			wantLogs:  []string{"alert"},
		},
		{
			name: "generic open", path: "/v1/incidents", fixture: "incident_open.json",
			want: func(t *testing.T, resp response) {
				assert.Equal(t, response{
					Opened: []string{"INC-42"}, Resolved: []string{}, Unchanged: []string{}, Deploys: []string{}, Events: 1,
				}, resp)
			},
			wantCalls: []string{"open:INC-42"},
			wantLogs:  []string{"incident.opened"},
		},
		{
			name: "generic resolve", path: "/v1/incidents/resolve", fixture: "incident_resolve.json",
			before: []step{{"/v1/incidents", "incident_open.json"}},
			want: func(t *testing.T, resp response) {
				assert.Equal(t, []string{"INC-42"}, resp.Resolved)
			},
			wantCalls: []string{"open:INC-42", "resolve:INC-42"},
			wantLogs:  []string{"incident.opened", "incident.resolved"},
		},
		{
			name: "generic resolve of an unknown incident", path: "/v1/incidents/resolve", fixture: "incident_resolve.json",
			want: func(t *testing.T, resp response) {
				assert.Empty(t, resp.Resolved)
				assert.Equal(t, []string{"INC-42"}, resp.Unchanged)
			},
			wantCalls: []string{"resolve:INC-42"},
			wantLogs:  []string{"incident.resolved"},
		},
		{
			name: "deploy", path: "/v1/deploys", fixture: "deploy.json",
			want: func(t *testing.T, resp response) {
				assert.Equal(t, response{
					Opened: []string{}, Resolved: []string{}, Unchanged: []string{}, Deploys: []string{"deploy-1234"}, Events: 1,
				}, resp)
			},
			wantCalls: []string{"deploy:deploy-1234"},
			wantLogs:  []string{"deploy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			for _, s := range tt.before {
				decodeOK(t, env.post(s.path, fixture(t, s.fixture)))
			}
			resp := decodeOK(t, env.post(tt.path, fixture(t, tt.fixture)))
			tt.want(t, resp)
			if tt.wantCalls != nil {
				assert.Equal(t, tt.wantCalls, env.reg.Calls())
			}
			assert.Equal(t, tt.wantLogs, eventNames(env.sink))
		})
	}
}

func TestAlertmanagerLifecycle(t *testing.T) {
	env := newTestEnv(t, nil)
	clock := env.useClock()
	firing := fixture(t, "alertmanager_firing.json")
	resolved := fixture(t, "alertmanager_resolved.json")

	first := decodeOK(t, env.post("/v1/alertmanager", firing))
	require.Len(t, first.Opened, 1)
	id := first.Opened[0]
	inc, ok := env.reg.Incident(id)
	require.True(t, ok)
	assert.Equal(t, incident.StatusOpen, inc.Status)
	assert.Equal(t, []incident.Matcher{{Key: "service.name", Value: "checkout"}}, inc.Scope)
	assert.Equal(t, "critical", inc.Severity)
	assert.Len(t, env.reg.Snapshot().Open, 1)

	// Alertmanager re-sends the group every repeat_interval: idempotent.
	clock.Advance(retryWindow)
	again := decodeOK(t, env.post("/v1/alertmanager", firing))
	assert.Empty(t, again.Opened)
	assert.Equal(t, []string{id}, again.Unchanged)
	assert.Len(t, env.reg.Snapshot().Open, 1)

	done := decodeOK(t, env.post("/v1/alertmanager", resolved))
	assert.Equal(t, []string{id}, done.Resolved)
	inc, _ = env.reg.Incident(id)
	assert.Equal(t, incident.StatusResolved, inc.Status)
	require.NotNil(t, inc.ResolvedAt)
	assert.Equal(t, time.Date(2026, 3, 10, 12, 20, 0, 0, time.UTC), *inc.ResolvedAt)
	assert.Empty(t, env.reg.Snapshot().Open)

	clock.Advance(retryWindow)
	doneAgain := decodeOK(t, env.post("/v1/alertmanager", resolved))
	assert.Empty(t, doneAgain.Resolved)
	assert.Equal(t, []string{id}, doneAgain.Unchanged)

	assert.Equal(t, []string{"open:" + id, "open:" + id, "resolve:" + id, "resolve:" + id}, env.reg.Calls())
	recs := records(env.sink)
	require.Len(t, recs, 4)
	for i, want := range []bool{true, false, true, false} {
		v, ok := recs[i].Attributes().Get(incident.AttrIncidentChanged)
		require.True(t, ok)
		assert.Equal(t, want, v.Bool(), "record %d", i)
	}
}

func TestAlertmanagerIncidentIDLabel(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Policy.IncidentIDLabel = "ticket" })
	body := bytes.ReplaceAll(fixture(t, "alertmanager_firing.json"),
		[]byte(`"severity": "critical"},`), []byte(`"severity": "critical", "ticket": "INC-7"},`))
	require.Contains(t, string(body), "INC-7")
	resp := decodeOK(t, env.post("/v1/alertmanager", body))
	assert.Equal(t, []string{"INC-7"}, resp.Opened)
}

func TestPolicy(t *testing.T) {
	warning := fixture(t, "alertmanager_warning.json")
	tests := []struct {
		name       string
		openOn     [][]string
		wantOpened int
		wantLogs   []string
		wantCalls  []string
	}{
		{name: "default policy records a warning as an event", wantLogs: []string{"alert"}, wantCalls: []string{"event:alert"}},
		{name: "record only", openOn: [][]string{}, wantLogs: []string{"alert"}, wantCalls: []string{"event:alert"}},
		{name: "warnings of checkout open", openOn: [][]string{{"severity=warning", "service=checkout"}}, wantOpened: 1, wantLogs: []string{"incident.opened"}},
		{name: "warnings of another service do not", openOn: [][]string{{"severity=warning", "service=search"}}, wantLogs: []string{"alert"}, wantCalls: []string{"event:alert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) {
				if tt.openOn != nil {
					c.Policy.OpenOn = tt.openOn
				}
			})
			resp := decodeOK(t, env.post("/v1/alertmanager", warning))
			assert.Len(t, resp.Opened, tt.wantOpened)
			assert.Equal(t, 1, resp.Events)
			assert.Len(t, env.reg.Snapshot().Open, tt.wantOpened)
			assert.Equal(t, tt.wantLogs, eventNames(env.sink))
			if tt.wantCalls != nil {
				assert.Equal(t, tt.wantCalls, env.reg.Calls())
			}
		})
	}
}

func TestRefused(t *testing.T) {
	big := bytes.Repeat([]byte(" "), 2048)
	tests := []struct {
		name      string
		mutate    func(*Config)
		method    string
		path      string
		body      []byte
		header    http.Header
		chunked   bool
		status    int
		reason    string
		field     string
		wantAllow bool
	}{
		{name: "unknown path", path: "/v1/nope", body: []byte(`{}`), status: http.StatusNotFound, reason: "not_found"},
		{name: "trailing slash", path: "/v1/alertmanager/", body: []byte(`{}`), status: http.StatusNotFound, reason: "not_found"},
		{name: "disabled path", mutate: func(c *Config) { c.Paths.Deploys = "" }, path: "/v1/deploys", body: []byte(`{}`), status: http.StatusNotFound, reason: "not_found"},
		{name: "GET", method: http.MethodGet, path: "/v1/alertmanager", status: http.StatusMethodNotAllowed, reason: "method_not_allowed", wantAllow: true},
		{name: "PUT", method: http.MethodPut, path: "/v1/deploys", body: []byte(`{}`), status: http.StatusMethodNotAllowed, reason: "method_not_allowed", wantAllow: true},
		{name: "text/plain", path: "/v1/incidents", body: []byte(`{"id":"INC-1"}`), header: http.Header{"Content-Type": {"text/plain"}}, status: http.StatusUnsupportedMediaType, reason: "unsupported_media_type", field: "Content-Type"},
		{name: "form", path: "/v1/incidents", body: []byte(`id=INC-1`), header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, status: http.StatusUnsupportedMediaType, reason: "unsupported_media_type", field: "Content-Type"},
		{name: "too large", mutate: func(c *Config) { c.MaxRequestBodySize = 1024 }, path: "/v1/incidents", body: big, status: http.StatusRequestEntityTooLarge, reason: "body_too_large"},
		{name: "too large chunked", mutate: func(c *Config) { c.MaxRequestBodySize = 1024 }, path: "/v1/incidents", body: big, chunked: true, status: http.StatusRequestEntityTooLarge, reason: "body_too_large"},
		{name: "malformed JSON", path: "/v1/alertmanager", body: []byte(`{"version": "4",`), status: http.StatusBadRequest, reason: "malformed_json"},
		{name: "empty body", path: "/v1/deploys", status: http.StatusBadRequest, reason: "malformed_json"},
		{name: "unsupported alertmanager version", path: "/v1/alertmanager", body: []byte(`{"version":"3","groupKey":"g","status":"firing","alerts":[]}`), status: http.StatusBadRequest, reason: "unsupported_version", field: "version"},
		{name: "missing id", path: "/v1/incidents", body: []byte(`{"title":"x"}`), status: http.StatusBadRequest, reason: "missing_field", field: "id"},
		{name: "path traversal id", path: "/v1/incidents", body: []byte(`{"id":"../../etc"}`), status: http.StatusBadRequest, reason: "invalid_id", field: "id"},
		{name: "deploy without service", path: "/v1/deploys", body: []byte(`{"id":"d-1"}`), status: http.StatusBadRequest, reason: "missing_field", field: "service"},
		{name: "wrong type", path: "/v1/incidents/resolve", body: []byte(`{"id":42}`), status: http.StatusBadRequest, reason: "invalid_field", field: "id"},
		{name: "pagerduty without event", path: "/v1/pagerduty", body: []byte(`{}`), status: http.StatusBadRequest, reason: "missing_field", field: "event"},
		{
			name: "grafana unsigned", mutate: func(c *Config) { c.Grafana.Secret = "gs" }, path: "/v1/grafana",
			body: []byte(`{}`), status: http.StatusUnauthorized, reason: "missing_signature", field: "X-Grafana-Alerting-Signature",
		},
		{
			name: "grafana badly signed", mutate: func(c *Config) { c.Grafana.Secret = "gs" }, path: "/v1/grafana",
			body: []byte(`{}`), header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("other", []byte(`{}`))}},
			status: http.StatusForbidden, reason: "bad_signature", field: "X-Grafana-Alerting-Signature",
		},
		{
			name: "pagerduty unsigned", mutate: func(c *Config) { c.PagerDuty.Secrets = []configopaque.String{"ps"} }, path: "/v1/pagerduty",
			body: []byte(`{}`), status: http.StatusUnauthorized, reason: "missing_signature", field: "X-PagerDuty-Signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, tt.mutate)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, tt.path, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
				req.Header[k] = v
			}
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			env.r.ServeHTTP(rec, req)

			e := decodeError(t, rec, tt.status)
			assert.Equal(t, tt.reason, e.Error)
			assert.Equal(t, tt.field, e.Field)
			if tt.wantAllow {
				assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
			}
			assert.Empty(t, env.reg.Calls(), "a refused request must not reach the registry")
			assert.Zero(t, env.sink.LogRecordCount(), "a refused request must emit nothing")
		})
	}
}

func TestContentTypes(t *testing.T) {
	tests := []struct {
		ct   string
		want int
	}{
		{"application/json", http.StatusOK},
		{"application/json; charset=utf-8", http.StatusOK},
		{"Application/JSON", http.StatusOK},
		{"application/vnd.pagerduty+json", http.StatusOK},
		{"", http.StatusOK},
		{"text/json", http.StatusUnsupportedMediaType},
		{"application/xml", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json; charset=\"", http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			env := newTestEnv(t, nil)
			rec := env.do(http.MethodPost, "/v1/deploys", fixture(t, "deploy.json"), http.Header{"Content-Type": {tt.ct}})
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

func TestPagerDutySignatures(t *testing.T) {
	body := fixture(t, "pagerduty_triggered.json")
	tampered := bytes.Replace(body, []byte("Checkout error rate"), []byte("Nothing to see"), 1)
	require.NotEqual(t, body, tampered)
	sig := func(secret string) string { return "v1=" + hmacHex(secret, body) }

	tests := []struct {
		name    string
		secrets []configopaque.String
		body    []byte
		header  []string
		status  int
		reason  string
	}{
		{name: "valid", secrets: []configopaque.String{"new"}, body: body, header: []string{sig("new")}, status: http.StatusOK},
		{name: "two signatures while PagerDuty rotates", secrets: []configopaque.String{"new"}, body: body, header: []string{sig("old") + "," + sig("new")}, status: http.StatusOK},
		{name: "two signature headers", secrets: []configopaque.String{"new"}, body: body, header: []string{sig("old"), sig("new")}, status: http.StatusOK},
		{name: "old secret still configured", secrets: []configopaque.String{"new", "old"}, body: body, header: []string{sig("old")}, status: http.StatusOK},
		{name: "future version ignored", secrets: []configopaque.String{"new"}, body: body, header: []string{"v2=abc, " + sig("new")}, status: http.StatusOK},
		{name: "tampered body", secrets: []configopaque.String{"new"}, body: tampered, header: []string{sig("new")}, status: http.StatusForbidden, reason: "bad_signature"},
		{name: "unknown secret", secrets: []configopaque.String{"new"}, body: body, header: []string{sig("stolen")}, status: http.StatusForbidden, reason: "bad_signature"},
		{name: "retired secret", secrets: []configopaque.String{"new"}, body: body, header: []string{sig("old")}, status: http.StatusForbidden, reason: "bad_signature"},
		{name: "missing header", secrets: []configopaque.String{"new"}, body: body, status: http.StatusUnauthorized, reason: "missing_signature"},
		{name: "not hex", secrets: []configopaque.String{"new"}, body: body, header: []string{"v1=zz"}, status: http.StatusForbidden, reason: "bad_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) {
				c.AllowUnauthenticated = false
				c.PagerDuty.Secrets = tt.secrets
				c.Paths = PathsConfig{PagerDuty: "/v1/pagerduty"}
			})
			require.NoError(t, env.r.cfg.Validate())
			rec := env.do(http.MethodPost, "/v1/pagerduty", tt.body, http.Header{"X-Pagerduty-Signature": tt.header})
			if tt.status == http.StatusOK {
				resp := decodeOK(t, rec)
				assert.Equal(t, []string{"pd-Q2LR7N3JQ8ZYQH"}, resp.Opened)
				assert.Equal(t, []string{"open:pd-Q2LR7N3JQ8ZYQH"}, env.reg.Calls())
				return
			}
			e := decodeError(t, rec, tt.status)
			assert.Equal(t, tt.reason, e.Error)
			assert.Equal(t, "X-PagerDuty-Signature", e.Field)
			assert.Empty(t, env.reg.Calls())
			assert.Empty(t, env.reg.Snapshot().Incidents)
			assert.Zero(t, env.sink.LogRecordCount())
		})
	}
}

func TestGrafanaSignatures(t *testing.T) {
	body := fixture(t, "grafana_firing.json")
	ts := strconv.FormatInt(fixedNow.Add(-time.Minute).Unix(), 10)
	stale := strconv.FormatInt(fixedNow.Add(-time.Hour).Unix(), 10)

	tests := []struct {
		name   string
		mutate func(*Config)
		header http.Header
		status int
		reason string
	}{
		{name: "valid", header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", body)}}, status: http.StatusOK},
		{
			name:   "valid with timestamp",
			header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", []byte(ts+":"), body)}, "X-Grafana-Alerting-Signature-Timestamp": {ts}},
			status: http.StatusOK,
		},
		{
			name:   "custom header names",
			mutate: func(c *Config) { c.Grafana.SignatureHeader = "X-Sig"; c.Grafana.TimestampHeader = "X-Ts" },
			header: http.Header{"X-Sig": {hmacHex("gs", []byte(ts+":"), body)}, "X-Ts": {ts}},
			status: http.StatusOK,
		},
		{
			name:   "within max_age",
			mutate: func(c *Config) { c.Grafana.MaxAge = 5 * time.Minute },
			header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", []byte(ts+":"), body)}, "X-Grafana-Alerting-Signature-Timestamp": {ts}},
			status: http.StatusOK,
		},
		{
			name:   "replayed past max_age",
			mutate: func(c *Config) { c.Grafana.MaxAge = 5 * time.Minute },
			header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", []byte(stale+":"), body)}, "X-Grafana-Alerting-Signature-Timestamp": {stale}},
			status: http.StatusForbidden, reason: "bad_signature",
		},
		{
			name:   "max_age without timestamp",
			mutate: func(c *Config) { c.Grafana.MaxAge = 5 * time.Minute },
			header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", body)}},
			status: http.StatusUnauthorized, reason: "missing_signature",
		},
		{
			name:   "timestamp not covered by the signature",
			header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", body)}, "X-Grafana-Alerting-Signature-Timestamp": {ts}},
			status: http.StatusForbidden, reason: "bad_signature",
		},
		{name: "wrong secret", header: http.Header{"X-Grafana-Alerting-Signature": {hmacHex("guess", body)}}, status: http.StatusForbidden, reason: "bad_signature"},
		{name: "missing", status: http.StatusUnauthorized, reason: "missing_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) {
				c.AllowUnauthenticated = false
				c.Grafana.Secret = "gs"
				c.Paths = PathsConfig{Grafana: "/v1/grafana"}
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			require.NoError(t, env.r.cfg.Validate())
			rec := env.do(http.MethodPost, "/v1/grafana", body, tt.header)
			if tt.status == http.StatusOK {
				resp := decodeOK(t, rec)
				assert.Len(t, resp.Opened, 1)
				assert.Len(t, env.reg.Calls(), 1)
				return
			}
			e := decodeError(t, rec, tt.status)
			assert.Equal(t, tt.reason, e.Error)
			assert.Empty(t, env.reg.Calls())
			assert.Zero(t, env.sink.LogRecordCount())
		})
	}
}

func TestRegistryFailure(t *testing.T) {
	env := newTestEnv(t, nil)
	host := newTestHost(env.reg, nil)
	env.r.host = host
	env.reg.FailWrites(0, errors.New("store unreachable"))

	rec := env.post("/v1/incidents", fixture(t, "incident_open.json"))
	e := decodeError(t, rec, http.StatusInternalServerError)
	assert.Equal(t, "registry_failed", e.Error)
	assert.Contains(t, e.Message, "store unreachable")
	assert.Contains(t, e.Message, `"INC-42"`)
	assert.Zero(t, env.sink.LogRecordCount(), "nothing was recorded, so nothing is emitted")
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, host.Statuses())

	// The store comes back: the retry succeeds and health recovers.
	env.reg.FailWrites(-1, nil)
	decodeOK(t, env.post("/v1/incidents", fixture(t, "incident_open.json")))
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, host.Statuses())
	decodeOK(t, env.post("/v1/deploys", fixture(t, "deploy.json")))
	assert.Len(t, host.Statuses(), 2, "recovery is reported once")
}

func TestRegistryFailsHalfway(t *testing.T) {
	// Two incidents in one group (explicit IDs): the second write fails.
	body := []byte(`{"version":"4","groupKey":"g","status":"firing","commonLabels":{"severity":"critical"},"alerts":[
		{"status":"firing","labels":{"severity":"critical","incident_id":"INC-1"},"startsAt":"2026-03-10T12:00:00Z"},
		{"status":"firing","labels":{"severity":"critical","incident_id":"INC-2"},"startsAt":"2026-03-10T12:00:00Z"}]}`)
	env := newTestEnv(t, nil)
	env.reg.FailWrites(1, errors.New("disk full"))

	e := decodeError(t, env.post("/v1/alertmanager", body), http.StatusInternalServerError)
	assert.Equal(t, "registry_failed", e.Error)
	assert.Equal(t, []string{"open:INC-1", "open:INC-2"}, env.reg.Calls())
	// What was recorded is emitted; what failed is not.
	recs := records(env.sink)
	require.Len(t, recs, 1)
	id, _ := recs[0].Attributes().Get(incident.AttrIncidentID)
	assert.Equal(t, "INC-1", id.Str())
}

func TestConsumerFailure(t *testing.T) {
	env := newTestEnvWithConsumer(t, nil, consumertest.NewErr(errors.New("pipeline is full")))
	e := decodeError(t, env.post("/v1/deploys", fixture(t, "deploy.json")), http.StatusServiceUnavailable)
	assert.Equal(t, "pipeline_failed", e.Error)
	assert.Contains(t, e.Message, "pipeline is full")
	assert.Equal(t, []string{"deploy:deploy-1234"}, env.reg.Calls())
}

func TestNotStarted(t *testing.T) {
	env := newTestEnv(t, nil)
	env.r.registry = nil
	e := decodeError(t, env.post("/v1/deploys", fixture(t, "deploy.json")), http.StatusServiceUnavailable)
	assert.Equal(t, "not_ready", e.Error)
}

func TestRequestContextCanceled(t *testing.T) {
	// A client that disconnects mid-body gets no state change.
	env := newTestEnv(t, nil)
	req := httptest.NewRequest(http.MethodPost, "/v1/deploys", errReader{})
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	env.r.ServeHTTP(rec, req)
	e := decodeError(t, rec, http.StatusBadRequest)
	assert.Equal(t, "unreadable_body", e.Error)
	assert.Empty(t, env.reg.Calls())
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, context.Canceled }
