package incidentwebhookreceiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadatatest"
)

// fakeRegistry is an in-memory incidentsapi.Registry that logs every call.
type fakeRegistry struct {
	component.StartFunc
	component.ShutdownFunc

	mu        sync.Mutex
	version   uint64
	snap      *incidentsapi.Snapshot // of version; nil until built
	incidents map[string]incident.Incident
	deploys   map[string]incident.Deploy
	events    []incident.Event
	calls     []string
	// failAfter makes every write after this many calls fail with failErr.
	failAfter int
	failErr   error
}

var _ incidentsapi.Registry = (*fakeRegistry)(nil)

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{
		incidents: map[string]incident.Incident{},
		deploys:   map[string]incident.Deploy{},
		failAfter: -1,
	}
}

func (f *fakeRegistry) CollectorID() string { return "collector-a" }

func (f *fakeRegistry) Snapshot() *incidentsapi.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap != nil && f.snap.Version == f.version {
		return f.snap
	}
	incs := make([]incident.Incident, 0, len(f.incidents))
	for _, inc := range f.incidents {
		incs = append(incs, inc)
	}
	ds := make([]incident.Deploy, 0, len(f.deploys))
	for _, d := range f.deploys {
		ds = append(ds, d)
	}
	f.snap = incidentsapi.NewSnapshot(f.version, incs, ds)
	return f.snap
}

func (*fakeRegistry) Subscribe(func(incidentsapi.Change)) func() { return func() {} }

// call logs a write and returns the injected failure, if due.
func (f *fakeRegistry) call(name string) error {
	f.calls = append(f.calls, name)
	if f.failAfter >= 0 && len(f.calls) > f.failAfter {
		return f.failErr
	}
	return nil
}

func (f *fakeRegistry) OpenIncident(_ context.Context, inc incident.Incident, ev incident.Event) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("open:" + inc.ID); err != nil {
		return false, err
	}
	f.events = append(f.events, ev)
	old, ok := f.incidents[inc.ID]
	if ok && old.Status == incident.StatusOpen && old.Title == inc.Title && old.Severity == inc.Severity {
		return false, nil
	}
	f.incidents[inc.ID] = inc
	f.version++
	return true, nil
}

func (f *fakeRegistry) ResolveIncident(_ context.Context, id string, at time.Time, ev incident.Event) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("resolve:" + id); err != nil {
		return false, err
	}
	f.events = append(f.events, ev)
	inc, ok := f.incidents[id]
	if !ok || inc.Status != incident.StatusOpen {
		return false, nil
	}
	inc.Status = incident.StatusResolved
	inc.ResolvedAt = &at
	f.incidents[id] = inc
	f.version++
	return true, nil
}

func (f *fakeRegistry) RecordDeploy(_ context.Context, d incident.Deploy, ev incident.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("deploy:" + d.ID); err != nil {
		return err
	}
	f.events = append(f.events, ev)
	f.deploys[d.ID] = d
	f.version++
	return nil
}

func (f *fakeRegistry) RecordEvent(_ context.Context, ev incident.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("event:" + string(ev.Kind)); err != nil {
		return err
	}
	f.events = append(f.events, ev)
	return nil
}

func (f *fakeRegistry) Events(from, to time.Time) []incident.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []incident.Event
	for _, ev := range f.events {
		if !ev.Time.Before(from) && !ev.Time.After(to) {
			out = append(out, ev)
		}
	}
	return out
}

func (*fakeRegistry) Store() store.Store { return nil }

// Calls returns a copy of the write calls so far.
func (f *fakeRegistry) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Incident returns the registry's record of id.
func (f *fakeRegistry) Incident(id string) (incident.Incident, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inc, ok := f.incidents[id]
	return inc, ok
}

// testHost exposes extensions and records reported statuses.
type testHost struct {
	exts map[component.ID]component.Component

	mu       sync.Mutex
	statuses []componentstatus.Status
}

var (
	_ component.Host           = (*testHost)(nil)
	_ componentstatus.Reporter = (*testHost)(nil)
)

func newTestHost(reg *fakeRegistry, more map[component.ID]component.Component) *testHost {
	exts := map[component.ID]component.Component{component.MustNewID("incidents"): reg}
	for id, c := range more {
		exts[id] = c
	}
	return &testHost{exts: exts}
}

func (h *testHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func (h *testHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statuses = append(h.statuses, ev.Status())
}

func (h *testHost) Statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.statuses)
}

// fixedNow is the receiver's clock in tests.
var fixedNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

// testEnv is a receiver wired to a fake registry, a logs sink and test
// telemetry, used at the handler level (no server).
type testEnv struct {
	r    *incidentWebhookReceiver
	reg  *fakeRegistry
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
}

func newTestEnv(t *testing.T, mutate func(*Config)) *testEnv {
	return newTestEnvWithConsumer(t, mutate, nil)
}

func newTestEnvWithConsumer(t *testing.T, mutate func(*Config), next consumer.Logs) *testEnv {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	if mutate != nil {
		mutate(cfg)
	}
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	if next == nil {
		next = sink
	}
	r, err := newReceiver(metadatatest.NewSettings(tel), cfg, next)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	reg := newFakeRegistry()
	r.registry = reg
	r.now = func() time.Time { return fixedNow }
	return &testEnv{r: r, reg: reg, sink: sink, tel: tel}
}

// do sends one request to the handler.
func (e *testEnv) do(method, path string, body []byte, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.r.ServeHTTP(rec, req)
	return rec
}

func (e *testEnv) post(path string, body []byte) *httptest.ResponseRecorder {
	return e.do(http.MethodPost, path, body, nil)
}

// fixture reads testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// decodeOK asserts a 200 response and decodes its body.
func decodeOK(t *testing.T, rec *httptest.ResponseRecorder) response {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var resp response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	return resp
}

// errorBody is the JSON error response.
type errorBody struct {
	Error   string `json:"error"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// decodeError asserts the status and decodes the JSON error body.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder, status int) errorBody {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var e errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), "body: %s", rec.Body.String())
	require.NotEmpty(t, e.Error)
	require.NotEmpty(t, e.Message)
	return e
}

// hmacHex is the hex HMAC-SHA256 of msg under secret.
func hmacHex(secret string, msg ...[]byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, b := range msg {
		m.Write(b)
	}
	return hex.EncodeToString(m.Sum(nil))
}
