package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// componentStatusGate makes the health_check extension (v0.161.0) report
// the components' status: config/default.yaml's health_check needs it.
const componentStatusGate = "--feature-gates=+extension.healthcheck.useComponentStatus"

func s3StoreConfig(t *testing.T, srv *s3server.Server) map[string]any {
	cfg, _ := harness.S3Store(t, srv, "e2e")
	return cfg
}

// TestObjectLockMissingRefusesStart: the real collector configured with
// 'object_lock' on a versitygw bucket created without Object Lock exits at
// start, saying which key is wrong and what to do; on a bucket created with
// it, it starts healthy.
func TestObjectLockMissingRefusesStart(t *testing.T) {
	lock := map[string]any{"mode": "GOVERNANCE", "retention": "1h"}
	plain := s3server.Start(t)
	st := s3StoreConfig(t, plain)
	st["s3"].(map[string]any)["object_lock"] = lock
	p := harness.NewPorts(t)
	c := harness.StartCollector(t, "", harness.Config(t, p, harness.Options{Store: st}), "")
	require.Eventually(t, c.Exited, 60*time.Second, 50*time.Millisecond, "the collector kept running:\n%s", c.Output())
	out := c.Output()
	assert.Contains(t, out, "the bucket has no Object Lock")
	assert.Contains(t, out, "'store.s3.object_lock'")
	assert.Contains(t, out, "created with Object Lock")
	assert.False(t, healthy200(p.Health))

	locked := s3server.Start(t, s3server.WithObjectLock())
	st = s3StoreConfig(t, locked)
	st["s3"].(map[string]any)["object_lock"] = lock
	p = harness.NewPorts(t)
	harness.StartCollector(t, "", harness.Config(t, p, harness.Options{Store: st}), p.Health)
}

// TestHealthReportsStoreRefusingWrites: with config/default.yaml's
// health_check (component status, recoverable errors after
// recovery_duration), a store that stops taking writes turns /health
// unhealthy within a minute and store_writable to 0; both recover with the
// store.
func TestHealthReportsStoreRefusingWrites(t *testing.T) {
	srv := s3server.Start(t)
	p := harness.NewPorts(t)
	// config/default.yaml's health_check, on this test's port.
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "default.yaml"))
	require.NoError(t, err)
	var def struct {
		Extensions struct {
			HealthCheck map[string]any `yaml:"health_check"`
		} `yaml:"extensions"`
	}
	require.NoError(t, yaml.Unmarshal(b, &def))
	hc := def.Extensions.HealthCheck
	require.Contains(t, hc, "component_health")
	hc["http"].(map[string]any)["endpoint"] = p.Health
	cfg := harness.Config(t, p, harness.Options{Store: s3StoreConfig(t, srv), Override: map[string]any{
		"extensions": map[string]any{"health_check": hc},
	}})
	c := harness.StartCollectorArgs(t, "", cfg, p.Health, []string{componentStatusGate})
	require.Equal(t, float64(1), metricValue(t, p.Metrics, "otelcol_extension_incidents_store_writable", nil))

	srv.Stop()
	stopped := time.Now()
	require.Eventually(t, func() bool { return !healthy200(p.Health) }, 90*time.Second, 250*time.Millisecond,
		"still healthy a minute and a half after the store stopped:\n%s", c.Output())
	took := time.Since(stopped)
	t.Logf("unhealthy %s after the store stopped", took.Round(time.Second))
	assert.Less(t, took, time.Minute)
	// The intake the deploy artifacts' probes ask for (the traces
	// pipeline, without the extensions) stays healthy: a store outage
	// must not restart the collector or take it out of its Services.
	assert.True(t, healthy200Path(p.Health, "/?pipeline=traces"), "the traces pipeline's status during the store outage")
	assert.Equal(t, float64(0), metricValue(t, p.Metrics, "otelcol_extension_incidents_store_writable", nil))
	assert.True(t, strings.Contains(c.Output(), "the evidence store refuses writes") || strings.Contains(c.Output(), "Incident registry sync failed"))

	srv.Restart()
	require.Eventually(t, func() bool { return healthy200(p.Health) }, 60*time.Second, 250*time.Millisecond)
	assert.Equal(t, float64(1), metricValue(t, p.Metrics, "otelcol_extension_incidents_store_writable", nil))
	require.False(t, c.Exited())
}

func healthy200(addr string) bool { return healthy200Path(addr, "/") }

func healthy200Path(addr, path string) bool {
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + path)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
