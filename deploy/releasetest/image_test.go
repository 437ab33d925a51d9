package releasetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/deploy/internal/image"
	"github.com/otel-evidence/otel-evidence/deploy/internal/release"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

func loadImage(t *testing.T) (v1.Image, string, release.Meta) {
	t.Helper()
	dir, m := artifacts(t)
	path := filepath.Join(dir, release.ImageTarballName(m, "amd64"))
	img, err := tarball.ImageFromPath(path, nil)
	require.NoError(t, err)
	return img, path, m
}

// TestImageConfig asserts what a runtime reads from the image: entrypoint,
// user, ports, labels, environment, volume, working directory, platform,
// and the files of its root filesystem.
func TestImageConfig(t *testing.T) {
	img, _, m := loadImage(t)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cf.OS)
	require.Equal(t, "amd64", cf.Architecture)
	require.Equal(t, m.Created, cf.Created.UTC())
	c := cf.Config
	require.Equal(t, "10001:10001", c.User)
	require.Equal(t, []string{"/otelcol-evidence"}, c.Entrypoint)
	require.Equal(t, []string{"--config=/etc/otelcol-evidence/config.yaml", "--feature-gates=+extension.healthcheck.useComponentStatus"}, c.Cmd)
	require.Equal(t, []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}, c.Env)
	require.Equal(t, "/var/lib/otelcol-evidence", c.WorkingDir)
	require.Equal(t, map[string]struct{}{"/var/lib/otelcol-evidence": {}}, c.Volumes)
	require.Equal(t, map[string]struct{}{"4317/tcp": {}, "4318/tcp": {}, "8088/tcp": {}, "8888/tcp": {}, "13133/tcp": {}}, c.ExposedPorts)
	require.Equal(t, "SIGTERM", c.StopSignal)
	require.Equal(t, map[string]string{
		"org.opencontainers.image.title":         "otelcol-evidence",
		"org.opencontainers.image.description":   "otel-evidence: an OpenTelemetry Collector that records evidence around incidents",
		"org.opencontainers.image.version":       m.Version,
		"org.opencontainers.image.revision":      m.Revision,
		"org.opencontainers.image.source":        release.Source,
		"org.opencontainers.image.url":           release.Source,
		"org.opencontainers.image.documentation": release.Source + "#readme",
		"org.opencontainers.image.licenses":      "Apache-2.0",
		"org.opencontainers.image.created":       m.Created.Format(time.RFC3339),
		"org.opencontainers.image.base.name":     "scratch",
	}, c.Labels)

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "one layer on an empty base")

	files := map[string]*tar.Header{}
	content := map[string][]byte{}
	require.NoError(t, walk(img, func(h *tar.Header, r io.Reader) error {
		name := "/" + strings.TrimSuffix(h.Name, "/")
		files[name] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(r)
			content[name] = b
			return err
		}
		return nil
	}))
	for name, h := range files {
		require.Zerof(t, h.Mode&(syscall.S_ISUID|syscall.S_ISGID), "%s is setuid or setgid", name)
		require.Equalf(t, m.Created, h.ModTime.UTC(), "%s has the build's time", name)
	}
	root, err := os.ReadFile(filepath.Join(testrig.RepoRoot(t), "deploy", "config.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(root), string(content["/etc/otelcol-evidence/config.yaml"]), "the image ships deploy/config.yaml")
	sum := sha256.Sum256(content["/etc/ssl/certs/ca-certificates.crt"])
	require.Equal(t, release.CACertsSHA256, hex.EncodeToString(sum[:]), "Debian's CA bundle, pinned")
	require.EqualValues(t, 0o755, files["/otelcol-evidence"].Mode&0o7777)
	state := files["/var/lib/otelcol-evidence"]
	require.Equal(t, byte(tar.TypeDir), state.Typeflag)
	require.Equal(t, image.UID, state.Uid)
	require.Equal(t, image.GID, state.Gid)
	require.Contains(t, string(content["/etc/passwd"]), "otelcol-evidence:x:10001:10001:")
	require.Contains(t, content, "/usr/share/doc/otelcol-evidence/LICENSE")
	for name, h := range files {
		if name != "/var/lib/otelcol-evidence" {
			require.Zerof(t, h.Uid, "%s is owned by root", name)
		}
	}
}

// TestImageRootfsRuns extracts the image's root filesystem and runs the
// image's own entrypoint and command in it - chrooted, as the image's user,
// with the image's environment and working directory, in a network
// namespace of its own - then checks health, OTLP traffic from
// telemetrygen and the bundle an incident freezes, and a clean stop.
func TestImageRootfsRuns(t *testing.T) {
	testrig.Root(t)
	img, _, _ := loadImage(t)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	rootfs := t.TempDir()
	require.NoError(t, extract(img, rootfs))
	// What a container runtime provides: /proc, and /sys with the cgroup
	// tree that the memory_limiter sizes itself from.
	mount(t, "proc", filepath.Join(rootfs, "proc"), "proc", 0)
	mount(t, "/sys", filepath.Join(rootfs, "sys"), "", syscall.MS_BIND|syscall.MS_REC)

	uid, gid := userOf(t, cf.Config.User)
	argv := append(append([]string{}, cf.Config.Entrypoint...), cf.Config.Cmd...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Path = argv[0] // resolved inside the chroot
	cmd.Env = append(append([]string{}, cf.Config.Env...), "OTEL_EVIDENCE_WEBHOOK_TOKEN="+Token)
	cmd.Dir = cf.Config.WorkingDir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     rootfs,
		Credential: &syscall.Credential{Uid: uid, Gid: gid},
	}
	proc, ns, alive := testrig.StartIsolated(t, cmd)
	part := testrig.Exercise(t, ns, alive, Token, filepath.Join(rootfs, "var/lib/otelcol-evidence/evidence"))
	t.Logf("the image's rootfs froze part-000001 of %s as collector %s: %d spans, %d log records, %d data points",
		part.IncidentID, part.CollectorID, part.Counts.Spans, part.Counts.LogRecords, part.Counts.DataPoints)
	require.Equal(t, uid, procUID(t, cmd.Process.Pid), "the collector runs as the image's user")
	require.NoError(t, proc.Stop(30*time.Second), "a clean exit on SIGTERM")
}

// mount mounts source at target (created) until the test ends.
func mount(t *testing.T, source, target, fstype string, flags uintptr) {
	t.Helper()
	require.NoError(t, os.MkdirAll(target, 0o555))
	require.NoErrorf(t, syscall.Mount(source, target, fstype, flags, ""), "mount %s on %s", source, target)
	t.Cleanup(func() {
		require.NoErrorf(t, syscall.Unmount(target, syscall.MNT_DETACH), "unmount %s", target)
	})
}

// walk calls fn for every entry of the image's flattened filesystem, with
// a reader of the entry's content.
func walk(img v1.Image, fn func(*tar.Header, io.Reader) error) error {
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}

// extract writes the image's flattened filesystem under dir, with its
// modes and owners.
func extract(img v1.Image, dir string) error {
	return walk(img, func(h *tar.Header, r io.Reader) error {
		path := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, r); err != nil {
				_ = f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected entry type %c for %s", h.Typeflag, h.Name)
		}
		if err := os.Chown(path, h.Uid, h.Gid); err != nil {
			return err
		}
		return os.Chmod(path, os.FileMode(h.Mode&0o777)|modeBits(h.Mode))
	})
}

func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

// userOf parses an image's "uid:gid" user.
func userOf(t *testing.T, user string) (uint32, uint32) {
	t.Helper()
	u, g, ok := strings.Cut(user, ":")
	require.Truef(t, ok, "image user %q is not uid:gid", user)
	uid, err := strconv.ParseUint(u, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(g, 10, 32)
	require.NoError(t, err)
	return uint32(uid), uint32(gid)
}

// procUID returns the real user ID of process pid.
func procUID(t *testing.T, pid int) uint32 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			n, err := strconv.ParseUint(f[1], 10, 32)
			require.NoError(t, err)
			return uint32(n)
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return 0
}
