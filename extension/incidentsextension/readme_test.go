package incidentsextension

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// TestReadmeExamples checks that every configuration example in README.md
// uses only real options.
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	require.Len(t, blocks, 3)
	for i, b := range blocks {
		path := filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(path, b[1], 0o600))
		cm, err := confmaptest.LoadConf(path)
		require.NoError(t, err)
		sub, err := cm.Sub("extensions::incidents")
		require.NoError(t, err)
		require.NotEmpty(t, sub.AllKeys(), "example %d", i)
		cfg := createDefaultConfig()
		require.NoError(t, sub.Unmarshal(cfg), "example %d", i)
	}
}
