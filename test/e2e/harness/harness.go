// Package harness runs the real otel-evidence collector binary and its real
// peers (telemetrygen, versitygw, Alertmanager) on loopback for end-to-end
// tests. Everything it starts is stopped by t.Cleanup, also when a test fails.
package harness // import "github.com/otel-evidence/otel-evidence/test/e2e/harness"

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testutil/freeport"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "builder-config.yaml")); err == nil {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found above the working directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// Binary returns the path of the collector binary: $OTEL_EVIDENCE_BINARY, or
// bin/otelcol-evidence, built once per test process with `go build -trimpath`
// so that tests always run the current code (an up-to-date binary builds in
// about a second).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OTEL_EVIDENCE_BINARY"); p != "" {
		return p
	}
	root := RepoRoot(t)
	bin := filepath.Join(root, "bin", "otelcol-evidence")
	buildOnce.Do(func() { buildOut, buildErr = buildModule(root, "cmd/otelcol-evidence", bin) })
	require.NoErrorf(t, buildErr, "building the collector failed:\n%s", buildOut)
	return bin
}

// BuildCommand builds the main package of the module in dir (relative to
// the repository root) into out with `go build -trimpath`, from that
// module's own go.mod as `make build` does, and fails the test on error.
func BuildCommand(t testing.TB, dir, out string) {
	t.Helper()
	b, err := buildModule(RepoRoot(t), dir, out)
	require.NoErrorf(t, err, "building %s failed:\n%s", dir, b)
}

func buildModule(root, dir, out string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = filepath.Join(root, dir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	return cmd.CombinedOutput()
}

// Tool returns the path of a pinned tool installed by `make tools` into
// .tools/bin, or found on PATH. It fails the test, saying how to install it,
// when the tool is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), ".tools", "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in .tools/bin or PATH: run `make tools` (or `bash .ci/run`) to install the pinned version", name)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// below the ephemeral range (see internal/testutil/freeport).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Port()
	require.NoError(t, err)
	return port
}

// FreeAddr returns "127.0.0.1:PORT" for a free port.
func FreeAddr(t testing.TB) string {
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
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

// Process is a child process whose output is captured and printed when the
// test fails.
type Process struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// StartProcess starts name with args in dir, with extra environment
// variables, and registers its stop (SIGTERM, then SIGKILL after 10 s) with
// t.Cleanup.
func StartProcess(t testing.TB, dir string, env []string, name string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: filepath.Base(name), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	require.NoErrorf(t, p.cmd.Start(), "starting %s", name)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_, _ = p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s", p.name, p.Output())
		}
	})
	return p
}

// Output returns everything the process wrote so far.
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

// Stop sends SIGTERM and waits up to timeout for the process to exit; then
// it kills it. It returns how long the exit took and the process's exit error.
func (p *Process) Stop(timeout time.Duration) (time.Duration, error) {
	if p.Exited() {
		return 0, p.err
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(terminateSignal)
	select {
	case <-p.done:
		return time.Since(start), p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to go.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitForOutput waits until the process output contains substr.
func (p *Process) WaitForOutput(substr string, timeout time.Duration) {
	p.t.Helper()
	require.Eventuallyf(p.t, func() bool { return strings.Contains(p.Output(), substr) },
		timeout, 50*time.Millisecond, "%s did not print %q within %s", p.name, substr, timeout)
}

// Run runs a command to completion with a timeout and returns its combined
// output, failing the test on a non-zero exit.
func Run(t testing.TB, timeout time.Duration, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, err, "%s %s failed:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// WaitHTTP waits until GET url answers 200.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	require.Eventuallyf(t, func() bool { return healthy(url) }, timeout, 50*time.Millisecond, "%s did not answer 200 within %s", url, timeout)
}

// PostJSON posts body to url with an optional bearer token and returns the
// status code and response body.
func PostJSON(t testing.TB, url, token string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := net.LookupPort("tcp", port)
	require.NoError(t, err)
	return n
}
