package releasetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/deploy/internal/release"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

// TestRPM reads the rpm with Debian's rpm tools: its digests verify, its
// metadata, scripts and file list are what the deb has, and it installs
// into an empty root (without dependencies or scripts: this Debian machine
// has no RPM-based system to install it into).
func TestRPM(t *testing.T) {
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed: the rpm is built but not inspected (bash .ci/run installs Debian's rpm)")
	}
	dir, m := artifacts(t)
	pkg := filepath.Join(dir, release.PackageName(m, "amd64", "rpm"))

	testrig.Run(t, time.Minute, "rpm", "--checksig", "--nosignature", pkg)
	info := testrig.Run(t, time.Minute, "rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}", pkg)
	require.Equal(t, "otelcol-evidence "+m.Version+" 1 x86_64 Apache-2.0", info)
	files := strings.Fields(testrig.Run(t, time.Minute, "rpm", "-qlp", pkg))
	require.Subset(t, files, []string{
		"/usr/bin/otelcol-evidence",
		"/etc/otelcol-evidence/config.yaml",
		"/etc/otelcol-evidence/otelcol-evidence.conf",
		"/lib/systemd/system/otelcol-evidence.service",
		"/usr/share/doc/otelcol-evidence/LICENSE",
	})
	configs := strings.Fields(testrig.Run(t, time.Minute, "rpm", "-qcp", pkg))
	require.ElementsMatch(t, []string{"/etc/otelcol-evidence/config.yaml", "/etc/otelcol-evidence/otelcol-evidence.conf"}, configs)
	scripts := testrig.Run(t, time.Minute, "rpm", "-qp", "--scripts", pkg)
	for _, s := range []string{"useradd --system", "install -d -o otelcol-evidence"} {
		require.Contains(t, scripts, s)
	}

	testrig.Root(t)
	root := t.TempDir()
	testrig.Run(t, time.Minute, "rpm", "--root", root, "--initdb")
	testrig.Run(t, 2*time.Minute, "rpm", "--root", root, "--install", "--nodeps", "--noscripts", "--ignorearch", pkg)
	for _, f := range []string{"usr/bin/otelcol-evidence", "etc/otelcol-evidence/config.yaml", "lib/systemd/system/otelcol-evidence.service"} {
		_, err := os.Stat(filepath.Join(root, f))
		require.NoErrorf(t, err, "%s after rpm --install", f)
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/otelcol-evidence.service"))
	require.NoError(t, err)
	deployed, err := os.ReadFile(filepath.Join(testrig.RepoRoot(t), "deploy/packaging/otelcol-evidence.service"))
	require.NoError(t, err)
	require.Equal(t, string(deployed), string(unit))
}
