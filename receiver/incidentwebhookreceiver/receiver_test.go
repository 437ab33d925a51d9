package incidentwebhookreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
)

// startReceiver starts a receiver on a free loopback port with host.
func startReceiver(t *testing.T, cfg *Config, host component.Host) (*incidentWebhookReceiver, *consumertest.LogsSink, string) {
	t.Helper()
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	sink := new(consumertest.LogsSink)
	rcv, err := NewFactory().CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), host))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	r := rcv.(*incidentWebhookReceiver)
	return r, sink, "http://" + r.addr.String()
}

// postJSON posts a JSON body and returns the answer's status, header and
// body; the response is read and closed.
func postJSON(t *testing.T, url string, body []byte, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func TestStartServeShutdown(t *testing.T) {
	reg := newFakeRegistry()
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	_, sink, base := startReceiver(t, cfg, newTestHost(reg, nil))

	status, _, body := postJSON(t, base+"/v1/incidents", fixture(t, "incident_open.json"), nil)
	require.Equal(t, http.StatusOK, status, string(body))
	assert.JSONEq(t, `{"opened":["INC-42"],"resolved":[],"unchanged":[],"deploys":[],"events":1}`, string(body))
	assert.Equal(t, []string{"open:INC-42"}, reg.Calls())
	assert.Equal(t, 1, sink.LogRecordCount())
}

func TestShutdownWithoutStart(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	rcv, err := NewFactory().CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, rcv.Shutdown(t.Context()))
}

func TestStartErrors(t *testing.T) {
	reg := newFakeRegistry()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = busy.Close() }()

	tests := []struct {
		name    string
		mutate  func(*Config)
		host    component.Host
		wantIs  error
		wantErr string
	}{
		{
			name:   "unauthenticated",
			mutate: func(c *Config) { c.AllowUnauthenticated = false },
			host:   newTestHost(reg, nil), wantIs: errUnauthenticated, wantErr: "'allow_unauthenticated: true'",
		},
		{
			name: "no incidents extension", host: newTestHost(nil, nil),
			wantIs: incidentsapi.ErrNotFound, wantErr: "'incidents'",
		},
		{
			name:   "incidents extension of another type",
			mutate: func(c *Config) { c.Incidents = component.MustNewID("zpages") },
			host: newTestHost(nil, map[component.ID]component.Component{
				component.MustNewID("zpages"): componentNop{},
			}),
			wantIs: incidentsapi.ErrWrongType,
		},
		{
			name:    "port in use",
			mutate:  func(c *Config) { c.NetAddr.Endpoint = busy.Addr().String() },
			host:    newTestHost(reg, nil),
			wantErr: "listening on 'endpoint'",
		},
		{
			name: "auth extension missing",
			mutate: func(c *Config) {
				c.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("bearertokenauth")}})
			},
			host:    newTestHost(reg, nil),
			wantErr: "bearertokenauth",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.AllowUnauthenticated = true
			cfg.NetAddr.Endpoint = "127.0.0.1:0"
			if tt.mutate != nil {
				tt.mutate(cfg)
			}
			rcv, err := NewFactory().CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(t, err)
			err = rcv.Start(t.Context(), tt.host)
			require.Error(t, err)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Nil(t, rcv.(*incidentWebhookReceiver).server, "no server runs after a failed start")
			require.NoError(t, rcv.Shutdown(t.Context()))
		})
	}
}

type componentNop struct {
	component.StartFunc
	component.ShutdownFunc
}

// TestServerBodyLimit checks the limit through confighttp's own body
// limiter, with and without a Content-Length.
func TestServerBodyLimit(t *testing.T) {
	reg := newFakeRegistry()
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	cfg.MaxRequestBodySize = 4096
	_, _, base := startReceiver(t, cfg, newTestHost(reg, nil))

	big := fmt.Appendf(nil, `{"id":"INC-1","title":%q}`, bytes.Repeat([]byte("x"), 8192))
	status, _, b := postJSON(t, base+"/v1/incidents", big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, string(b))
	assert.Contains(t, string(b), `"error":"body_too_large"`)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/v1/incidents", io.MultiReader(bytes.NewReader(big)))
	require.NoError(t, err)
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b2, _ := io.ReadAll(resp2.Body)
	_ = resp2.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp2.StatusCode, string(b2))
	assert.Empty(t, reg.Calls())
}

// TestServerGzip checks that compressed bodies, which confighttp
// decompresses, are accepted, and that a corrupt one is refused in JSON.
func TestServerGzip(t *testing.T) {
	reg := newFakeRegistry()
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	_, _, base := startReceiver(t, cfg, newTestHost(reg, nil))

	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	_, err := zw.Write(fixture(t, "deploy.json"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	status, _, b := postJSON(t, base+"/v1/deploys", zbuf.Bytes(), http.Header{"Content-Encoding": {"gzip"}})
	require.Equal(t, http.StatusOK, status, string(b))
	assert.Equal(t, []string{"deploy:deploy-1234"}, reg.Calls())

	status, header, b := postJSON(t, base+"/v1/deploys", []byte("not gzip"), http.Header{"Content-Encoding": {"gzip"}})
	require.Equal(t, http.StatusBadRequest, status, string(b))
	assert.Equal(t, "application/json", header.Get("Content-Type"))
	assert.Len(t, reg.Calls(), 1)
}

func TestServerShutdown(t *testing.T) {
	reg := newFakeRegistry()
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	r, _, base := startReceiver(t, cfg, newTestHost(reg, nil))
	status, _, _ := postJSON(t, base+"/v1/deploys", fixture(t, "deploy.json"), nil)
	require.Equal(t, http.StatusOK, status)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx))
	resp, err := http.Post(base+"/v1/deploys", "application/json", bytes.NewReader(fixture(t, "deploy.json")))
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "the port is closed after Shutdown")
}
