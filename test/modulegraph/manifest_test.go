package modulegraph

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The pinned collector release: core, core's stable modules, contrib.
const (
	coreVersion    = "v0.161.0"
	stableVersion  = "v1.67.0"
	contribVersion = "v0.161.0"
	ourModule      = "github.com/otel-evidence/otel-evidence"
)

// components are ours, each a module of its own.
var components = []struct{ kind, module string }{
	{"extensions", ourModule + "/extension/incidentsextension"},
	{"receivers", ourModule + "/receiver/incidentwebhookreceiver"},
	{"processors", ourModule + "/processor/incidentcontextprocessor"},
	{"exporters", ourModule + "/exporter/evidenceexporter"},
	{"connectors", ourModule + "/connector/sloconnector"},
}

// unwanted are modules our distribution carries that a team adding our
// components must not get through them.
var unwanted = []string{"transformprocessor", "filterprocessor", "redactionprocessor", "fileexporter",
	"spanmetricsconnector", "prometheusremotewriteexporter"}

// ourVersion is the version our modules are released at together (see
// scripts/release.sh), as builder-config.yaml names it.
func ourVersion(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	require.NoError(t, err)
	m := regexp.MustCompile(`gomod: ` + regexp.QuoteMeta(ourModule+"/exporter/evidenceexporter") + ` (v\S+)`).FindSubmatch(data)
	require.NotNil(t, m, "builder-config.yaml names the evidence exporter's version")
	return string(m[1])
}

// manifest is a platform team's builder manifest: core's otlp receiver and
// debug exporter plus our components at the pinned release, built from
// the checkout at root through replaces.
func manifest(root, out, version string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dist:\n  name: otelcol-acme\n  description: a platform team's collector\n  module: example.com/acme/otelcol\n  output_path: %s\n  version: 1.0.0\n", out)
	lines := map[string][]string{
		"receivers": {"go.opentelemetry.io/collector/receiver/otlpreceiver " + coreVersion},
		"exporters": {"go.opentelemetry.io/collector/exporter/debugexporter " + coreVersion},
	}
	for _, c := range components {
		lines[c.kind] = append(lines[c.kind], c.module+" "+version)
	}
	for _, kind := range []string{"extensions", "receivers", "processors", "exporters", "connectors"} {
		fmt.Fprintf(&b, "%s:\n", kind)
		for _, l := range lines[kind] {
			fmt.Fprintf(&b, "  - gomod: %s\n", l)
		}
	}
	b.WriteString("replaces:\n")
	fmt.Fprintf(&b, "  - %s => %s\n", ourModule, root)
	for _, c := range components {
		fmt.Fprintf(&b, "  - %s => %s\n", c.module, filepath.Join(root, strings.TrimPrefix(c.module, ourModule+"/")))
	}
	return b.String()
}

// TestBuilderManifestModuleGraph builds a collector from a manifest that
// adds our components to core's otlp receiver and debug exporter, with the
// pinned builder, and checks the module graph the build resolved: none of
// the contrib components our own distribution carries, and every collector
// module at the pinned release (nothing upgraded behind the team's back).
func TestBuilderManifestModuleGraph(t *testing.T) {
	root := harness.RepoRoot(t)
	builder := harness.Tool(t, "builder")
	dir := t.TempDir()
	out := filepath.Join(dir, "otelcol-acme")
	cfg := filepath.Join(dir, "builder-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(manifest(root, out, ourVersion(t, root))), 0o600))

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	// The build happens outside the repository's go.work; the build cache is
	// the developer's (or CI's) own, so packages built before are reused.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	build := exec.CommandContext(ctx, builder, "--config", cfg)
	build.Env = env
	var log bytes.Buffer
	build.Stdout, build.Stderr = &log, &log
	require.NoErrorf(t, build.Run(), "builder failed:\n%s", log.String())

	list := exec.CommandContext(ctx, "go", "list", "-m", "all")
	list.Dir, list.Env = out, env
	graph, err := list.Output()
	require.NoError(t, err)
	mods := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(graph)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			mods[f[0]] = f[1]
		} else if len(f) == 1 {
			mods[f[0]] = "" // the main module
		}
	}
	for _, c := range components {
		assert.Containsf(t, mods, c.module, "%s is in the build", c.module)
	}
	for path, version := range mods {
		for _, u := range unwanted {
			assert.NotContainsf(t, path, u, "%s %s came in through our components", path, version)
		}
		switch {
		case strings.HasPrefix(path, "github.com/open-telemetry/opentelemetry-collector-contrib/"):
			assert.Equalf(t, contribVersion, version, "%s is at another release than contrib %s", path, contribVersion)
		case path == "go.opentelemetry.io/collector" || strings.HasPrefix(path, "go.opentelemetry.io/collector/"):
			assert.Containsf(t, []string{coreVersion, stableVersion}, version,
				"%s is at another release than core %s / %s", path, coreVersion, stableVersion)
		}
	}

	// The collector the team gets runs and lists our components.
	bin := filepath.Join(out, "otelcol-acme")
	comps := exec.CommandContext(ctx, bin, "components")
	listed, err := comps.Output()
	require.NoError(t, err)
	for _, typ := range []string{"incidents", "incident_webhook", "incident_context", "evidence", "slo", "otlp", "debug"} {
		assert.Containsf(t, string(listed), "name: "+typ+"\n", "%s is a component of the build", typ)
	}
}

// TestEveryModuleAtThePinnedRelease checks each module of the repository,
// resolved on its own as its users resolve it: a `go get` or `go mod tidy`
// that took a newer collector module (tidy takes the latest of a module
// not yet required) fails here, not in a platform team's build.
func TestEveryModuleAtThePinnedRelease(t *testing.T) {
	root := harness.RepoRoot(t)
	var dirs []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".tools" || d.Name() == "testdata" || d.Name() == "var" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	}))
	require.GreaterOrEqual(t, len(dirs), 10, "the repository's modules: %v", dirs)
	for _, dir := range dirs {
		rel, err := filepath.Rel(root, dir)
		require.NoError(t, err)
		if rel == filepath.Join("internal", "tools") {
			continue // mdatagen's own release, outside the workspace
		}
		t.Run(rel, func(t *testing.T) {
			list := exec.CommandContext(t.Context(), "go", "list", "-m", "all")
			list.Dir, list.Env = dir, append(os.Environ(), "GOWORK=off", "GOFLAGS=")
			out, err := list.Output()
			require.NoError(t, err)
			for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
				f := strings.Fields(line)
				if len(f) < 2 {
					continue
				}
				path, version := f[0], f[1]
				switch {
				case strings.HasPrefix(path, "github.com/open-telemetry/opentelemetry-collector-contrib/"):
					assert.Equalf(t, contribVersion, version, "%s", path)
				case path == "go.opentelemetry.io/collector" || strings.HasPrefix(path, "go.opentelemetry.io/collector/"):
					assert.Containsf(t, []string{coreVersion, stableVersion}, version, "%s", path)
				}
			}
		})
	}
}
