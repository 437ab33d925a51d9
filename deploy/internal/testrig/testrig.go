// Package testrig runs the shipped artifacts (the image's root filesystem,
// the image under podman, the installed deb) the way a platform would, and
// exercises them: health, OTLP traffic from the real telemetrygen, an
// incident through the webhook, and the bundle it freezes.
//
// The artifacts' own configuration listens on fixed ports on every
// interface. So that tests never bind those on the machine itself, each
// collector runs in a network namespace of its own (a new one for the
// rootfs and the package, podman's for the image), and the rig reaches it
// from inside that namespace: its HTTP client dials from an OS thread that
// joined the namespace, and telemetrygen runs under nsenter.
package testrig // import "github.com/otel-evidence/otel-evidence/deploy/internal/testrig"

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RepoRoot returns the repository root: the directory above the deploy
// module that holds builder-config.yaml.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "builder-config.yaml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (builder-config.yaml) not found above the working directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// Collector returns the collector binary: $OTEL_EVIDENCE_BINARY (make test
// sets it to the one `make build` made), or bin/otelcol-evidence built once
// per test process from the distribution's own module, static as the image
// and the packages ship it.
func Collector(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OTEL_EVIDENCE_BINARY"); p != "" {
		return p
	}
	root := RepoRoot(t)
	bin := filepath.Join(root, "bin", "otelcol-evidence")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
		cmd.Dir = filepath.Join(root, "cmd", "otelcol-evidence")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	require.NoErrorf(t, buildErr, "building the collector failed:\n%s", buildOut)
	return bin
}

// Tool returns a pinned tool from .tools/bin (installed by `make tools`) or
// PATH, and fails the test saying how to get it when it is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), ".tools", "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in .tools/bin or PATH: run `make tools` (or `bash .ci/run`)", name)
	return ""
}

// Root skips the test unless it runs as root: installing packages, chroot,
// network namespaces and podman need it. CI runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
}

// Run runs a command to completion and returns its combined output,
// failing the test on a non-zero exit.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(timeout, name, args...)
	require.NoErrorf(t, err, "%s %s failed:\n%s", name, strings.Join(args, " "), out)
	return out
}

// RunErr runs a command to completion and returns its combined output and
// error.
func RunErr(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// syncBuffer collects a process's output for one writer and any readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Process is a started child process; its output is logged when the test
// fails, and it is stopped (SIGTERM, then SIGKILL) when the test ends; an
// unclean exit then fails the test.
type Process struct {
	Cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// Start starts cmd with its output captured and registers its stop.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoErrorf(t, cmd.Start(), "starting %s", cmd.Path)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.Stop(20 * time.Second); err != nil && !t.Failed() {
			t.Errorf("%s: %v", filepath.Base(cmd.Path), err)
		}
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s", filepath.Base(cmd.Path), p.Output())
		}
	})
	return p
}

// Output returns what the process wrote so far.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to timeout, then kills; it returns the
// process's exit error (nil for a clean exit).
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.err
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM", filepath.Base(p.Cmd.Path), timeout)
	}
}

// StartIsolated starts cmd in a network namespace of its own (added to
// whatever cmd.SysProcAttr asks for), brings up its loopback interface, and
// returns the process, the namespace, and a check that fails once the
// process has exited, for Exercise.
func StartIsolated(t testing.TB, cmd *exec.Cmd) (*Process, Netns, func() error) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
	proc := Start(t, cmd)
	ns := NetnsOf(cmd.Process.Pid)
	require.NoError(t, ns.LoopbackUp())
	alive := func() error {
		if proc.Exited() {
			return fmt.Errorf("exited:\n%s", proc.Output())
		}
		return nil
	}
	return proc, ns, alive
}
