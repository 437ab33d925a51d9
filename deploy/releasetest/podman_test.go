package releasetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/deploy/internal/image"
	"github.com/otel-evidence/otel-evidence/deploy/internal/release"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

// podman runs Debian's podman the way these machines run containers: with
// runc and cgroupfs (crun fails here on rlimits and hybrid cgroups).
func podman(t *testing.T, args ...string) string {
	t.Helper()
	return testrig.Run(t, 3*time.Minute, "podman", append([]string{"--runtime", "runc", "--cgroup-manager=cgroupfs"}, args...)...)
}

// TestImageUnderPodman loads the image tarball into podman and runs it
// with its own entrypoint, user and configuration, without network
// (--network none), the state directory on a host directory; the rig
// reaches the container's ports from inside its network namespace.
func TestImageUnderPodman(t *testing.T) {
	testrig.Root(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed: this machine cannot run the image itself (bash .ci/run installs Debian's podman and runc)")
	}
	dir, m := artifacts(t)
	ref, err := release.ImageRef(m)
	require.NoError(t, err)
	out := podman(t, "load", "-i", filepath.Join(dir, release.ImageTarballName(m, "amd64")))
	name := "localhost/" + ref.RepositoryStr() + ":" + ref.TagStr()
	require.Containsf(t, out, name, "podman load names the image %s", name)
	t.Cleanup(func() { _, _ = testrig.RunErr(time.Minute, "podman", "rmi", "--force", name) })

	state := t.TempDir()
	require.NoError(t, os.Chown(state, image.UID, image.GID))
	require.NoError(t, os.Chmod(state, 0o750))
	container := fmt.Sprintf("otel-evidence-releasetest-%d", os.Getpid())
	podman(t, "run", "--detach", "--name", container,
		"--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--env", "OTEL_EVIDENCE_WEBHOOK_TOKEN="+Token,
		"--volume", state+":/var/lib/otelcol-evidence",
		name)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := testrig.RunErr(time.Minute, "podman", "logs", container)
			t.Logf("---- podman logs %s ----\n%s", container, logs)
		}
		_, _ = testrig.RunErr(time.Minute, "podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "rm", "--force", container)
	})
	inspect := func(format string) string {
		out, err := testrig.RunErr(time.Minute, "podman", "inspect", "--format", format, container)
		if err != nil {
			return "podman inspect: " + err.Error() + ": " + out
		}
		return strings.TrimSpace(out)
	}
	pid, err := strconv.Atoi(inspect("{{.State.Pid}}"))
	require.NoError(t, err)
	alive := func() error {
		if s := inspect("{{.State.Status}}"); s != "running" {
			return fmt.Errorf("container %s is %s", container, s)
		}
		return nil
	}
	part := testrig.Exercise(t, testrig.NetnsOf(pid), alive, Token, filepath.Join(state, "evidence"))
	t.Logf("the image under podman froze part-000001 of %s as collector %s: %d spans", part.IncidentID, part.CollectorID, part.Counts.Spans)
	require.EqualValues(t, image.UID, procUID(t, pid), "the container runs as the image's user")

	podman(t, "stop", "--time", "30", container)
	require.Equal(t, "0", inspect("{{.State.ExitCode}}"), "a clean exit on the image's stop signal")
}
