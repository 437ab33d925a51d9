package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorded is one request the fake receiver saw.
type recorded struct {
	method, path, contentType, auth string
	body                            map[string]any
}

// fakeReceiver answers every request with status and body and records it.
type fakeReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

func newFakeReceiver(t *testing.T, status int, answer string) *fakeReceiver {
	f := &fakeReceiver{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		rec := recorded{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization")}
		_ = json.Unmarshal(data, &rec.body)
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeReceiver) only(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.requests, 1)
	return f.requests[0]
}

func (f *fakeReceiver) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func TestWebhookCommands(t *testing.T) {
	const opened = `{"opened":["INC-42"],"resolved":[],"unchanged":[],"deploys":[],"events":1}`
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		answer string
		path   string
		auth   string
		body   map[string]any
		stdout []string
	}{
		{
			name: "trigger",
			args: []string{"trigger", "--id", "INC-42", "--title", "checkout burning", "--severity", "critical",
				"--scope", "service.name=checkout", "--scope", "deployment.environment.name = prod",
				"--started-at", "10m", "--link", "https://runbooks.example.com/checkout", "--label", "team=payments", "--token", "flag-token"},
			env:    map[string]string{envToken: "env-token"},
			answer: opened,
			path:   "/v1/incidents",
			auth:   "Bearer flag-token",
			body: map[string]any{
				"id": "INC-42", "title": "checkout burning", "severity": "critical",
				"scope":      []any{"service.name=checkout", "deployment.environment.name=prod"},
				"started_at": "2026-03-02T11:50:00Z",
				"links":      []any{"https://runbooks.example.com/checkout"},
				"labels":     map[string]any{"team": "payments"},
			},
			stdout: []string{"Opened: INC-42", "Events recorded: 1"},
		},
		{
			name:   "trigger minimal, token from the collector's variable",
			args:   []string{"trigger", "--id", "INC-43", "--title", "t"},
			env:    map[string]string{envCollectorToken: "collector-token"},
			answer: `{"opened":[],"resolved":[],"unchanged":["INC-43"],"deploys":[],"events":1}`,
			path:   "/v1/incidents",
			auth:   "Bearer collector-token",
			body:   map[string]any{"id": "INC-43", "title": "t"},
			stdout: []string{"Unchanged (already in that state): INC-43"},
		},
		{
			name:   "resolve",
			args:   []string{"resolve", "--id", "INC-42", "--at", "2026-03-02T11:00:00+01:00"},
			env:    map[string]string{envToken: "env-token", envCollectorToken: "collector-token"},
			answer: `{"opened":[],"resolved":["INC-42"],"unchanged":[],"deploys":[],"events":1}`,
			path:   "/v1/incidents/resolve",
			auth:   "Bearer env-token",
			body:   map[string]any{"id": "INC-42", "resolved_at": "2026-03-02T10:00:00Z"},
			stdout: []string{"Resolved: INC-42"},
		},
		{
			name: "deploy",
			args: []string{"deploy", "--id", "deploy-1234", "--service", "checkout", "--version", "1.4.2",
				"--environment", "production", "--commit", "9fceb02", "--status", "succeeded", "--name", "checkout 1.4.2",
				"--started-at", "2026-03-02T11:00:00Z", "--finished-at", "now"},
			answer: `{"opened":[],"resolved":[],"unchanged":[],"deploys":["deploy-1234"],"events":1}`,
			path:   "/v1/deploys",
			body: map[string]any{
				"id": "deploy-1234", "service": "checkout", "version": "1.4.2", "environment": "production",
				"commit": "9fceb02", "status": "succeeded", "name": "checkout 1.4.2",
				"started_at": "2026-03-02T11:00:00Z", "finished_at": "2026-03-02T12:00:00Z",
			},
			stdout: []string{"Deploys recorded: deploy-1234"},
		},
		{
			name:   "annotate",
			args:   []string{"annotate", "INC-42", "--at", "11:42", "--author", "alice", "paged", "the", "payments on-call"},
			env:    map[string]string{envToken: "env-token", "USER": "root"},
			answer: `{"opened":[],"resolved":[],"unchanged":[],"deploys":[],"notes":["01772451720000000000-0011223344556677"],"events":1}`,
			path:   "/v1/notes",
			auth:   "Bearer env-token",
			body: map[string]any{
				"incident_id": "INC-42", "at": "2026-03-02T11:42:00Z", "text": "paged the payments on-call", "author": "alice",
			},
			stdout: []string{"Note 01772451720000000000-0011223344556677 recorded on INC-42"},
		},
		{
			name:   "annotate now, author from the environment",
			args:   []string{"annotate", "INC-42", "status page updated"},
			env:    map[string]string{envAuthor: "bob", "USER": "root"},
			answer: `{"notes":["n-1"],"events":1}`,
			path:   "/v1/notes",
			body:   map[string]any{"incident_id": "INC-42", "text": "status page updated", "author": "bob"},
			stdout: []string{"Note n-1 recorded on INC-42"},
		},
		{
			name:   "custom path under a base path",
			args:   []string{"resolve", "--id", "INC-1", "--path", "/hooks/resolve"},
			answer: `{"resolved":["INC-1"]}`,
			path:   "/base/hooks/resolve",
			body:   map[string]any{"id": "INC-1"},
			stdout: []string{"Resolved: INC-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newFakeReceiver(t, http.StatusOK, tt.answer)
			base := rcv.URL
			if tt.name == "custom path under a base path" {
				base += "/base/"
			}
			args := append(append([]string{}, tt.args...), "--receiver", base)
			r := runWith(t, runOpts{env: tt.env}, args...).requireCode(t, ExitOK)
			for _, s := range tt.stdout {
				assert.Contains(t, r.stdout, s)
			}
			req := rcv.only(t)
			assert.Equal(t, http.MethodPost, req.method)
			assert.Equal(t, tt.path, req.path)
			assert.Equal(t, "application/json", req.contentType)
			assert.Equal(t, tt.auth, req.auth)
			assert.Equal(t, tt.body, req.body)

			// --output json prints the receiver's answer.
			env := map[string]string{envReceiver: base}
			for k, v := range tt.env {
				env[k] = v
			}
			var answer map[string]any
			runWith(t, runOpts{env: env}, append([]string{"--output", "json"}, tt.args...)...).requireCode(t, ExitOK).jsonOut(t, &answer)
			var want map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.answer), &want))
			assert.Equal(t, want, answer)
		})
	}
}

func TestWebhookErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		answer string
		args   []string
		code   int
		stderr []string
		sent   bool
	}{
		{"refused field", http.StatusBadRequest, `{"error":"invalid_field","field":"started_at","message":"must be an RFC 3339 timestamp"}`,
			[]string{"trigger", "--id", "INC-1", "--title", "t"}, ExitUsage,
			[]string{"refused the request (400 Bad Request): invalid_field 'started_at': must be an RFC 3339 timestamp"}, true},
		{"unauthorized", http.StatusUnauthorized, `{"error":"unauthorized","field":"Authorization","message":"missing token"}`,
			[]string{"resolve", "--id", "INC-1"}, ExitFailure, []string{"401 Unauthorized", "missing token", "check --token"}, true},
		{"no endpoint", http.StatusNotFound, `404 page not found`,
			[]string{"deploy", "--id", "d1", "--service", "s"}, ExitFailure, []string{"no such endpoint", "404 page not found", "--path"}, true},
		{"server failure", http.StatusInternalServerError, `{"error":"registry_failed","message":"store down"}`,
			[]string{"resolve", "--id", "INC-1"}, ExitFailure, []string{"failed (500 Internal Server Error): registry_failed: store down", "retry"}, true},
		{"missing id", http.StatusOK, `{}`, []string{"trigger", "--title", "t"}, ExitUsage, []string{"--id is required"}, false},
		{"missing title", http.StatusOK, `{}`, []string{"trigger", "--id", "INC-1"}, ExitUsage, []string{"--title is required"}, false},
		{"missing service", http.StatusOK, `{}`, []string{"deploy", "--id", "d1"}, ExitUsage, []string{"--service is required"}, false},
		{"bad id", http.StatusOK, `{}`, []string{"resolve", "--id", "INC/1"}, ExitUsage, []string{"invalid --id"}, false},
		{"bad scope", http.StatusOK, `{}`, []string{"trigger", "--id", "I", "--title", "t", "--scope", "service.name"}, ExitUsage, []string{"key=value"}, false},
		{"twice scope", http.StatusOK, `{}`, []string{"trigger", "--id", "I", "--title", "t", "--scope", "a=1", "--scope", "a=2"}, ExitUsage, []string{"given twice"}, false},
		{"bad link", http.StatusOK, `{}`, []string{"trigger", "--id", "I", "--title", "t", "--link", "ftp://x"}, ExitUsage, []string{"not an absolute http"}, false},
		{"bad time", http.StatusOK, `{}`, []string{"resolve", "--id", "I", "--at", "tomorrow"}, ExitUsage, []string{"invalid --at"}, false},
		{"finished before started", http.StatusOK, `{}`, []string{"deploy", "--id", "d", "--service", "s", "--started-at", "now", "--finished-at", "1h"}, ExitUsage, []string{"is before --started-at"}, false},
		{"bad path", http.StatusOK, `{}`, []string{"resolve", "--id", "I", "--path", "v1"}, ExitUsage, []string{"must start with /"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newFakeReceiver(t, tt.status, tt.answer)
			r := run(t, append(tt.args, "--receiver", rcv.URL)...).requireCode(t, tt.code)
			for _, s := range tt.stderr {
				assert.Contains(t, r.stderr, s)
			}
			if tt.sent {
				assert.Equal(t, 1, rcv.count())
			} else {
				assert.Zero(t, rcv.count(), "nothing is sent for invalid flags")
			}
		})
	}
}

func TestWebhookUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	r := runWith(t, runOpts{env: map[string]string{envReceiver: "http://" + addr}}, "resolve", "--id", "INC-1").requireCode(t, ExitFailure)
	assert.Contains(t, r.stderr, "cannot reach the receiver at http://"+addr+"/v1/incidents/resolve")
	assert.Contains(t, r.stderr, "is the collector running")

	r = run(t, "resolve", "--id", "INC-1", "--receiver", "localhost:8088").requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "invalid receiver URL")
}

func TestAnnotateRefused(t *testing.T) {
	rcv := newFakeReceiver(t, http.StatusNotFound,
		`{"error":"unknown_incident","field":"incident_id","message":"no incident \"INC-404\" in the registry or the evidence store"}`)
	r := run(t, "annotate", "INC-404", "x", "--receiver", rcv.URL).requireCode(t, ExitNotFound)
	assert.Contains(t, r.stderr, "knows no such incident")
	assert.Contains(t, r.stderr, "evidencectl list")

	for _, args := range [][]string{
		{"annotate", "INC-42"},                   // no text
		{"annotate", "../x", "text"},             // bad ID
		{"annotate", "INC-42", "bell\a"},         // control character
		{"annotate", "INC-42", "x", "--at", "z"}, // bad time
		{"annotate", "INC-42", strings.Repeat("x", 8193)},
	} {
		r := run(t, append(args, "--receiver", rcv.URL)...).requireCode(t, ExitUsage)
		assert.NotEmpty(t, r.stderr, "%v", args)
	}
	assert.Equal(t, 1, rcv.count(), "nothing invalid is sent")
}
