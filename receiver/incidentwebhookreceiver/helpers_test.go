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
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadatatest"
)

// fakeRegistry is the in-memory registry of incidentsapitest: it logs every
// write (Calls) and fails writes on demand (FailWrites).
type fakeRegistry = incidentsapitest.Registry

func newFakeRegistry() *fakeRegistry { return incidentsapitest.NewRegistry("collector-a", nil) }

// newTestHost offers reg as the "incidents" extension, and more; it records
// the statuses the receiver reports.
func newTestHost(reg component.Component, more map[component.ID]component.Component) *incidentsapitest.Host {
	return incidentsapitest.NewHost(reg, more)
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
