package sloconnector

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

// TestReadmeConfigExample checks that the configuration example in
// README.md uses only real options, validates, and documents the defaults.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var found int
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1) {
		if !strings.Contains(string(b[1]), "connectors:\n  slo:\n") {
			continue
		}
		found++
		path := filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(path, b[1], 0o600))
		cm, err := confmaptest.LoadConf(path)
		require.NoError(t, err)
		sub, err := cm.Sub("connectors::slo")
		require.NoError(t, err)
		cfg := createDefaultConfig().(*Config)
		require.NoError(t, sub.Unmarshal(cfg))
		require.NoError(t, confmap.Validate(cfg))
		def := createDefaultConfig().(*Config)
		require.Equal(t, def.Policy, cfg.Policy, "the documented policy is the default")
		require.Equal(t, def.TimeScale, cfg.TimeScale)
		require.Equal(t, def.BucketsPerWindow, cfg.BucketsPerWindow)
		require.Equal(t, def.EvaluationInterval, cfg.EvaluationInterval)
		require.Equal(t, def.MetricsInterval, cfg.MetricsInterval)
		require.Equal(t, def.StateInterval, cfg.StateInterval)
		require.Equal(t, def.MaxGroups, cfg.MaxGroups)
		require.Len(t, cfg.SLOs, 2)
		require.Equal(t, defaultPeriod, cfg.SLOs[0].Period)
		require.Equal(t, defaultPeriod, cfg.SLOs[1].Period, "period defaults to 30 days")
	}
	require.Equal(t, 1, found, "README.md must hold one collector configuration example")
}
