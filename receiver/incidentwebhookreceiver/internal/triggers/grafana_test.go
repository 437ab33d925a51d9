package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

const grafanaGroupKey = `{}/{__grafana_receiver__="otel-evidence"}:{alertname="High latency", grafana_folder="Shop"}`

func TestParseGrafanaFixtures(t *testing.T) {
	id := expectedHash("gf-", "1\n"+grafanaGroupKey)
	tests := []struct {
		file    string
		open    []wantIncident
		resolve []Resolution
		kinds   []incident.EventKind
	}{
		{
			file: "grafana_firing.json",
			open: []wantIncident{{
				id:        id,
				title:     "Frontend p99 latency is above 2s",
				severity:  "critical",
				scope:     []incident.Matcher{{Key: "service.name", Value: "frontend"}},
				startedAt: ts("2026-03-10T10:51:03.157076Z"),
				links: []string{
					"https://grafana.example.com/",
					"https://runbooks.example.com/frontend-latency",
					"https://grafana.example.com/alerting/grafana/1afz29v7z/view?orgId=1",
					"https://grafana.example.com/d/frontend?orgId=1",
					"https://grafana.example.com/d/frontend?orgId=1&viewPanel=4",
				},
			}},
			kinds: []incident.EventKind{incident.EventIncidentOpened},
		},
		{
			file:    "grafana_resolved.json",
			resolve: []Resolution{{ID: id, At: ts("2026-03-10T10:57:03.157076Z")}},
			kinds:   []incident.EventKind{incident.EventIncidentResolved},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ParseGrafana(fixture(t, tt.file), nil, testNow)
			requireResult(t, res, err)
			require.Len(t, res.Open, len(tt.open))
			for i, w := range tt.open {
				assertIncident(t, w, res.Open[i], incident.SourceGrafana)
			}
			assert.Equal(t, tt.resolve, res.Resolve)
			assert.Equal(t, tt.kinds, kinds(res))
			for _, ev := range res.Events {
				assert.Equal(t, incident.SourceGrafana, ev.Source)
				assert.Equal(t, id, ev.IncidentID)
			}
		})
	}
}

func TestParseGrafanaScenarios(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		id     string
		title  string
		opens  bool
		reason string
		field  string
	}{
		{
			name:  "another organization is another group",
			body:  `{"version":"1","orgId":2,"groupKey":"{}:{}","status":"firing","title":"[FIRING:1] T","alerts":[{"status":"firing","labels":{"severity":"critical"}}]}`,
			id:    expectedHash("gf-", "2\n{}:{}"),
			title: "[FIRING:1] T",
			opens: true,
		},
		{
			name:  "no orgId",
			body:  `{"version":"1","groupKey":"{}:{}","status":"firing","alerts":[{"status":"firing","labels":{"severity":"critical","alertname":"X"}}]}`,
			id:    expectedHash("gf-", "0\n{}:{}"),
			title: "X",
			opens: true,
		},
		{
			name: "warning only",
			body: `{"version":"1","orgId":1,"groupKey":"k","status":"firing","alerts":[{"status":"firing","labels":{"severity":"warning"}}]}`,
			id:   expectedHash("gf-", "1\nk"),
		},
		{name: "alertmanager version", body: string(fixture(t, "alertmanager_firing.json")), reason: ReasonUnsupportedVersion, field: "version"},
		{name: "missing group key", body: `{"version":"1","status":"firing","alerts":[]}`, reason: ReasonMissingField, field: "groupKey"},
		{name: "orgId not a number", body: `{"version":"1","orgId":"one","groupKey":"k","status":"firing","alerts":[]}`, reason: ReasonInvalidField, field: "orgId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseGrafana([]byte(tt.body), nil, testNow)
			if tt.reason != "" {
				requireReason(t, err, http.StatusBadRequest, tt.reason, tt.field)
				return
			}
			requireResult(t, res, err)
			assert.Equal(t, tt.id, res.Events[0].IncidentID)
			if tt.opens {
				require.Len(t, res.Open, 1)
				assert.Equal(t, tt.title, res.Open[0].Title)
			} else {
				assert.Empty(t, res.Open)
			}
		})
	}
}

func grafanaSign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	if timestamp != "" {
		mac.Write([]byte(timestamp + ":"))
	}
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestVerifyGrafanaSignature(t *testing.T) {
	body := fixture(t, "grafana_firing.json")
	const secret = "s3cr3t"
	stamp := strconv.FormatInt(testNow.Unix(), 10)
	headers := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name   string
		body   []byte
		header http.Header
		secret string
		status int // 0: valid
		reason string
	}{
		{"valid", body, headers(GrafanaSignatureHeader, grafanaSign(secret, "", body)), secret, 0, ""},
		{"valid uppercase hex", body, headers(GrafanaSignatureHeader, "  "+hexUpper(grafanaSign(secret, "", body))+" "), secret, 0, ""},
		{"valid in the legacy header", body, headers("X-Grafana-Alert-Signature", grafanaSign(secret, "", body)), secret, 0, ""},
		{"valid with timestamp", body, headers(GrafanaSignatureHeader, grafanaSign(secret, stamp, body), GrafanaTimestampHeader, stamp), secret, 0, ""},
		{"tampered body", append([]byte(" "), body...), headers(GrafanaSignatureHeader, grafanaSign(secret, "", body)), secret, 403, ReasonBadSignature},
		{"timestamp not covered", body, headers(GrafanaSignatureHeader, grafanaSign(secret, "", body), GrafanaTimestampHeader, stamp), secret, 403, ReasonBadSignature},
		{"timestamp changed", body, headers(GrafanaSignatureHeader, grafanaSign(secret, stamp, body), GrafanaTimestampHeader, stamp+"1"), secret, 403, ReasonBadSignature},
		{"missing header", body, headers(), secret, 401, ReasonMissingSignature},
		{"empty header", body, headers(GrafanaSignatureHeader, " "), secret, 401, ReasonMissingSignature},
		{"wrong secret", body, headers(GrafanaSignatureHeader, grafanaSign("other", "", body)), secret, 403, ReasonBadSignature},
		{"not hex", body, headers(GrafanaSignatureHeader, "zz"), secret, 403, ReasonBadSignature},
		{"short", body, headers(GrafanaSignatureHeader, "abcd"), secret, 403, ReasonBadSignature},
		{"no secret configured", body, headers(GrafanaSignatureHeader, grafanaSign("", "", body)), "", 403, ReasonBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyGrafanaSignature(tt.body, tt.header, tt.secret)
			if tt.status == 0 {
				require.NoError(t, err)
				return
			}
			requireReason(t, err, tt.status, tt.reason, "")
		})
	}
}

func TestGrafanaVerifierOptions(t *testing.T) {
	body := []byte(`{"version":"1"}`)
	const secret = "k"
	v := GrafanaVerifier{Secret: secret, Header: "X-Sig", TimestampHeader: "X-Ts", MaxAge: 5 * time.Minute}
	at := func(tm time.Time) http.Header {
		s := strconv.FormatInt(tm.Unix(), 10)
		h := http.Header{}
		h.Set("X-Sig", grafanaSign(secret, s, body))
		h.Set("X-Ts", s)
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		status int
		reason string
		field  string
	}{
		{"fresh", at(testNow.Add(-time.Minute)), 0, "", ""},
		{"slightly ahead", at(testNow.Add(time.Minute)), 0, "", ""},
		{"stale", at(testNow.Add(-time.Hour)), 403, ReasonBadSignature, "X-Ts"},
		{"far future", at(testNow.Add(time.Hour)), 403, ReasonBadSignature, "X-Ts"},
		{"default header name is not used", http.Header{GrafanaSignatureHeader: {grafanaSign(secret, "", body)}}, 401, ReasonMissingSignature, "X-Sig"},
		{"timestamp required", http.Header{"X-Sig": {grafanaSign(secret, "", body)}}, 401, ReasonMissingSignature, "X-Ts"},
		{"timestamp not a number", http.Header{"X-Sig": {grafanaSign(secret, "soon", body)}, "X-Ts": {"soon"}}, 403, ReasonBadSignature, "X-Ts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(body, tt.header, testNow)
			if tt.status == 0 {
				require.NoError(t, err)
				return
			}
			requireReason(t, err, tt.status, tt.reason, tt.field)
		})
	}
}

func hexUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
