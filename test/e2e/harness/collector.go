package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Collector is a running otelcol-evidence process.
type Collector struct {
	*Process
	t testing.TB
	// Dir is the collector's working directory (relative paths in its
	// config, such as ./var/evidence, land here).
	Dir string
	// ConfigPath is the config file it was started with.
	ConfigPath string
	// HealthURL is the health_check endpoint, when Ports.Health is used.
	HealthURL string
	env       []string
	args      []string
}

// Ports are free loopback addresses for one collector, for use in configs.
type Ports struct {
	OTLPGRPC string
	OTLPHTTP string
	Webhook  string
	Health   string
	Metrics  string
}

// NewPorts picks free loopback addresses for every endpoint of a collector.
func NewPorts(t testing.TB) Ports {
	return Ports{
		OTLPGRPC: FreeAddr(t),
		OTLPHTTP: FreeAddr(t),
		Webhook:  FreeAddr(t),
		Health:   FreeAddr(t),
		Metrics:  FreeAddr(t),
	}
}

// StartCollector writes config to a file in dir (a new temp directory if dir
// is "") and starts the collector on it with the extra environment. When
// healthAddr is not empty it waits until the health_check extension there
// reports healthy.
func StartCollector(t testing.TB, dir, config, healthAddr string, env ...string) *Collector {
	t.Helper()
	return StartCollectorArgs(t, dir, config, healthAddr, nil, env...)
}

// StartCollectorArgs is StartCollector with extra command-line arguments
// (such as --feature-gates).
func StartCollectorArgs(t testing.TB, dir, config, healthAddr string, args []string, env ...string) *Collector {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))
	c := &Collector{t: t, Dir: dir, ConfigPath: path, env: env, args: args}
	if healthAddr != "" {
		c.HealthURL = fmt.Sprintf("http://%s/", healthAddr)
	}
	c.start()
	return c
}

func (c *Collector) start() {
	c.t.Helper()
	c.Process = StartProcess(c.t, c.Dir, c.env, Binary(c.t), append([]string{"--config", c.ConfigPath}, c.args...)...)
	if c.HealthURL != "" {
		c.WaitHealthy(60 * time.Second)
	}
}

// WaitHealthy waits until the health endpoint answers 200, failing fast if
// the process exits.
func (c *Collector) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !healthy(c.HealthURL) {
		if c.Exited() {
			c.t.Fatalf("collector exited before becoming healthy:\n%s", c.Output())
		}
		select {
		case <-deadline:
			c.t.Fatalf("collector not healthy within %s:\n%s", timeout, c.Output())
		case <-tick.C:
		}
	}
}

// Restart stops the collector with SIGTERM and starts it again on the same
// config and directory.
func (c *Collector) Restart() {
	c.t.Helper()
	_, err := c.Stop(10 * time.Second)
	require.NoError(c.t, err)
	c.start()
}

// RestartAfterKill kills the collector with SIGKILL and starts it again.
func (c *Collector) RestartAfterKill() {
	c.t.Helper()
	c.Kill()
	c.start()
}

// WebhookURL returns the URL of a path on the incident_webhook receiver.
func (p Ports) WebhookURL(path string) string { return "http://" + p.Webhook + path }
