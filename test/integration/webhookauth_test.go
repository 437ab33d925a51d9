package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otel-evidence/otel-evidence/internal/testutil/freeport"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"
)

// TestBearerTokenAuth runs the webhook receiver behind the real
// bearertokenauth extension, as configured in production.
func TestBearerTokenAuth(t *testing.T) {
	authID := component.MustNewIDWithName("bearertokenauth", "webhooks")
	fact := bearertokenauthextension.NewFactory()
	extCfg := fact.CreateDefaultConfig().(*bearertokenauthextension.Config)
	extCfg.BearerToken = "s3cret-token"
	ext, err := fact.Create(t.Context(), extensiontest.NewNopSettings(fact.Type()), extCfg)
	require.NoError(t, err)
	reg := incidentsapitest.NewRegistry("collector-a", nil)
	host := incidentsapitest.NewHost(reg, map[component.ID]component.Component{authID: ext})
	require.NoError(t, ext.Start(t.Context(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })

	rf := incidentwebhookreceiver.NewFactory()
	cfg := rf.CreateDefaultConfig().(*incidentwebhookreceiver.Config)
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})
	require.NoError(t, cfg.Validate(), "an auth extension authenticates every endpoint")
	port, err := freeport.Port()
	require.NoError(t, err)
	cfg.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	sink := new(consumertest.LogsSink)
	rcv, err := rf.CreateLogs(t.Context(), receivertest.NewNopSettings(rf.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), host))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", cfg.NetAddr.Endpoint)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the receiver listens")
	url := "http://" + cfg.NetAddr.Endpoint + "/v1/alertmanager"
	body, err := os.ReadFile(filepath.Join("testdata", "alertmanager_firing.json"))
	require.NoError(t, err)

	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{name: "no token", status: http.StatusUnauthorized},
		{name: "wrong token", header: http.Header{"Authorization": {"Bearer guess"}}, status: http.StatusUnauthorized},
		{name: "wrong scheme", header: http.Header{"Authorization": {"Basic s3cret-token"}}, status: http.StatusUnauthorized},
		{name: "token", header: http.Header{"Authorization": {"Bearer s3cret-token"}}, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(reg.Calls())
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(string(body)))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tt.status, resp.StatusCode, string(b))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var e struct {
				Error string `json:"error"`
				Field string `json:"field"`
			}
			require.NoError(t, json.Unmarshal(b, &e))
			if tt.status == http.StatusOK {
				assert.Len(t, reg.Calls(), before+1)
				return
			}
			assert.Equal(t, "unauthorized", e.Error)
			assert.Equal(t, "Authorization", e.Field)
			assert.Len(t, reg.Calls(), before, "an unauthenticated request changes nothing")
		})
	}
	assert.Equal(t, 1, sink.LogRecordCount())
}
