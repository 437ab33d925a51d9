// Package releasetest tests the release's artifacts as they are run: the
// container image (its config, its root filesystem running the collector,
// and the image itself under podman) and the deb (installed with dpkg, its
// systemd unit verified and its ExecStart run as the packaged user). `make
// release-check` runs it on the artifacts of `make release`
// (OTEL_EVIDENCE_RELEASE_DIR); run alone it builds the image tarball and
// the packages from the current sources first. It needs root, as CI has.
package releasetest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/deploy/internal/image"
	"github.com/otel-evidence/otel-evidence/deploy/internal/release"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

// Token is the webhook token the tests give the collector.
const Token = "release-test-token"

var (
	artifactsOnce sync.Once
	artifactsDir  string
	artifactsErr  error
)

// artifacts returns the directory holding the release's linux/amd64 image
// tarball and packages, and the build's Meta.
func artifacts(t *testing.T) (string, release.Meta) {
	t.Helper()
	root := testrig.RepoRoot(t)
	m, err := release.ReadMeta(context.Background(), root)
	require.NoError(t, err)
	if dir := os.Getenv("OTEL_EVIDENCE_RELEASE_DIR"); dir != "" {
		return dir, m
	}
	bin := testrig.Collector(t)
	artifactsOnce.Do(func() {
		artifactsDir, artifactsErr = os.MkdirTemp("", "otel-evidence-releasetest-")
		if artifactsErr != nil {
			return
		}
		artifactsErr = buildArtifacts(root, artifactsDir, bin, m)
	})
	require.NoError(t, artifactsErr)
	return artifactsDir, m
}

// buildArtifacts makes the linux/amd64 image tarball and packages from bin,
// as `make release` does from its own build.
func buildArtifacts(root, dir, bin string, m release.Meta) error {
	ca, err := release.DebianCACerts(release.CACertsDir, release.CACertsSHA256)
	if err != nil {
		return err
	}
	read := func(rel string) []byte {
		b, _ := os.ReadFile(filepath.Join(root, rel))
		return b
	}
	collector, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	img, err := image.Build(image.Spec{
		Version: m.Version, Revision: m.Revision, Source: release.Source, Created: m.Created,
		OS: "linux", Arch: "amd64", Collector: collector, Config: read("deploy/config.yaml"),
		CACerts: ca, License: read("LICENSE"), Notice: read("NOTICE"),
	})
	if err != nil {
		return err
	}
	ref, err := release.ImageRef(m)
	if err != nil {
		return err
	}
	if err := image.WriteTarball(filepath.Join(dir, release.ImageTarballName(m, "amd64")), ref, img); err != nil {
		return err
	}
	for _, format := range release.PackageFormats {
		pkg, err := release.Package(root, format, "amd64", bin, m)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, release.PackageName(m, "amd64", format)), pkg, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if artifactsDir != "" {
		_ = os.RemoveAll(artifactsDir)
	}
	os.Exit(code)
}
