package incidentwebhookreceiver

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// TestReadmeConfigExample checks that the collector configuration example in
// README.md uses only real options and validates.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var found int
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1) {
		if !strings.Contains(string(b[1]), "  incident_webhook:\n") {
			continue
		}
		found++
		path := filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(path, b[1], 0o600))
		cm, err := confmaptest.LoadConf(path)
		require.NoError(t, err)
		sub, err := cm.Sub("receivers::incident_webhook")
		require.NoError(t, err)
		cfg := createDefaultConfig().(*Config)
		require.NoError(t, sub.Unmarshal(cfg))
		require.NoError(t, confmap.Validate(cfg))
		require.Equal(t, "0.0.0.0:8088", cfg.NetAddr.Endpoint)
		require.Len(t, cfg.PagerDuty.Secrets, 2)
		// The documented policy is the default one.
		require.Equal(t, createDefaultConfig().(*Config).Policy.ScopeLabels, cfg.Policy.ScopeLabels)
		require.Equal(t, createDefaultConfig().(*Config).Policy.OpenOn, cfg.Policy.OpenOn)
		// The documented limits, timeouts and max ages are the defaults.
		def := createDefaultConfig().(*Config)
		require.Equal(t, def.Limits, cfg.Limits)
		require.Equal(t, def.PagerDuty.MaxAge, cfg.PagerDuty.MaxAge)
		require.Equal(t, def.ReadHeaderTimeout, cfg.ReadHeaderTimeout)
		require.Equal(t, def.ReadTimeout, cfg.ReadTimeout)
		require.Equal(t, def.WriteTimeout, cfg.WriteTimeout)
	}
	require.Equal(t, 1, found, "README.md must hold one collector configuration example")
}
