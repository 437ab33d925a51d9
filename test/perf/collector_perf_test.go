//go:build perf

package perf

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// collector is one running otelcol-evidence process.
type collector struct {
	t     testing.TB
	cmd   *exec.Cmd
	pid   int
	dir   string
	ports Ports
	log   string
	done  chan struct{}
}

func newPorts(t testing.TB) Ports {
	return Ports{
		OTLPGRPC:    harness.FreeAddr(t),
		Webhook:     harness.FreeAddr(t),
		Health:      harness.FreeAddr(t),
		MetricsPort: harness.FreePort(t),
	}
}

// startCollector starts the binary on config in a fresh directory and
// waits until health_check reports it ready. It is stopped (SIGTERM, then
// SIGKILL) when the test ends; its output is printed if the test failed.
func startCollector(t testing.TB, p Ports, config string) *collector {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	c := &collector{t: t, dir: dir, ports: p, log: filepath.Join(dir, "collector.log"), done: make(chan struct{})}
	logFile, err := os.Create(c.log)
	require.NoError(t, err)
	defer func() { _ = logFile.Close() }() // the child has its own descriptor
	c.cmd = exec.Command(harness.Binary(t), "--config", cfgPath)
	c.cmd.Dir = dir
	c.cmd.Env = withGCTrace(os.Environ())
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	require.NoError(t, c.cmd.Start())
	c.pid = c.cmd.Process.Pid
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			out, _ := os.ReadFile(c.log)
			t.Logf("---- collector output ----\n%s", tail(string(out), 8000))
		}
	})

	url := "http://" + p.Health + "/"
	deadline := time.Now().Add(90 * time.Second)
	for !healthy(url) {
		select {
		case <-c.done:
			out, _ := os.ReadFile(c.log)
			t.Fatalf("collector exited before it was healthy:\n%s", tail(string(out), 8000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not healthy within 90s")
		}
	}
	return c
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func healthy(url string) bool {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c *collector) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *collector) cpu() time.Duration {
	c.t.Helper()
	d, err := ProcCPU(c.pid)
	require.NoError(c.t, err)
	return d
}

// withGCTrace adds GCTraceEnv to the GODEBUG of env, so that the runs can
// report how often the collector's heap is collected (one short line per
// collection on its output).
func withGCTrace(env []string) []string {
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			out := slices.Clone(env)
			out[i] = "GODEBUG=" + GCTraceEnv
			if v != "" {
				out[i] += "," + v
			}
			return out
		}
	}
	return append(slices.Clone(env), "GODEBUG="+GCTraceEnv)
}

// gc returns the number of the collector's last garbage collection and
// the live heap it left, from its gctrace output.
func (c *collector) gc() (cycle, liveMB int) {
	c.t.Helper()
	out, err := os.ReadFile(c.log)
	require.NoError(c.t, err)
	cycle, liveMB, _ = GCTrace(out)
	return cycle, liveMB
}

// profile records the collector's CPU profile for d (rounded down to whole
// seconds, at least one) from the pprof extension into path.
func (c *collector) profile(path string, d time.Duration) error {
	secs := max(1, int(d/time.Second))
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.ports.Pprof, secs))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof profile: %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func (c *collector) memory() Memory {
	c.t.Helper()
	m, err := ProcMemory(c.pid)
	require.NoError(c.t, err)
	return m
}

func (c *collector) metricsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", c.ports.MetricsPort)
}

// metric sums the collector's own metric name over the samples whose
// labels include match.
func (c *collector) metric(name string, match map[string]string) (float64, bool) {
	c.t.Helper()
	return c.metricFor(c.t, name, match)
}

// metricFor is metric reporting a failed scrape to t, which may be the
// collector of an EventuallyWithT condition.
func (c *collector) metricFor(t require.TestingT, name string, match map[string]string) (float64, bool) {
	samples, err := ScrapeMetrics(context.Background(), c.metricsURL())
	require.NoError(t, err)
	if v, ok := Sum(samples, name, match); ok {
		return v, true
	}
	// Counters carry a _total suffix unless the exporter is told otherwise.
	return Sum(samples, name+"_total", match)
}

// post sends a JSON body to a path of the incident_webhook receiver.
func (c *collector) post(path, body string) {
	c.t.Helper()
	code, resp := harness.PostJSON(c.t, "http://"+c.ports.Webhook+path, WebhookToken, body)
	require.Equalf(c.t, http.StatusOK, code, "POST %s: %s", path, resp)
}

// fixtureVersions are testgen's service.version values.
var fixtureVersions = []string{"1.4.2", "1.5.0", "2.0.1", "2.1.0-rc.1"}

// postFixtures records a deploy for every testgen service and version, and
// (with incidents) three open incidents with scopes like real ones: one
// service, one region, a namespace and SDK language. The incidents started
// three hours ago, so their evidence windows (30m before, at most 2h
// after) are closed: the processor tags telemetry with them, the evidence
// exporter does not freeze what arrives now.
func postFixtures(c *collector, incidents bool) {
	now := time.Now().UTC()
	n := 0
	for _, svc := range testgen.DefaultServices {
		for _, v := range fixtureVersions {
			n++
			c.post("/v1/deploys", fmt.Sprintf(
				`{"id":"deploy-%s-%s","service":%q,"version":%q,"environment":"production","commit":"%040d","name":"%s %s","status":"succeeded","started_at":%q}`,
				svc, strings.ReplaceAll(v, ".", "-"), svc, v, n, svc, v, now.Add(-time.Duration(48-n)*time.Hour).Format(time.RFC3339)))
		}
	}
	if !incidents {
		return
	}
	started := now.Add(-3 * time.Hour).Format(time.RFC3339)
	for _, inc := range []struct{ id, scope string }{
		{"INC-PERF-1", `{"service.name":"checkout"}`},
		{"INC-PERF-2", `{"cloud.region":"eu-west-1"}`},
		{"INC-PERF-3", `{"service.namespace":"shop","telemetry.sdk.language":"go"}`},
	} {
		c.post("/v1/incidents", fmt.Sprintf(`{"id":%q,"title":"perf fixture","severity":"critical","scope":%s,"started_at":%q}`,
			inc.id, inc.scope, started))
	}
}

// dial connects the load generator to the collector's OTLP/gRPC receiver.
func (c *collector) dial() *Sender {
	c.t.Helper()
	s, err := Dial(c.ports.OTLPGRPC)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = s.Close() })
	return s
}

// cases runs a perf test's cases and keeps the names of those that fail,
// for Result.Failed: a failed case has no row or figure, and the report
// names it instead.
type cases struct{ failed []string }

// run runs f as t's subtest name and reports whether it passed.
func (c *cases) run(t *testing.T, name string, f func(t *testing.T)) bool {
	if t.Run(name, f) {
		return true
	}
	c.failed = append(c.failed, name)
	return false
}

// perfRun is one perf test's run: when it began and the machine's load
// then, for its Result.
type perfRun struct {
	t     *testing.T
	began time.Time
	load  string
}

// startPerf begins a perf test's run.
func startPerf(t *testing.T) perfRun {
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	return perfRun{t: t, began: time.Now(), load: LoadAvg()}
}

// write completes res with the load before and after the run and its
// length, and writes it where PERF_OUT says.
func (r perfRun) write(res Result) {
	res.LoadBefore, res.LoadAfter = r.load, LoadAvg()
	res.Seconds = time.Since(r.began).Seconds()
	require.NoError(r.t, res.Write(outDir(r.t)))
}

func outDir(t *testing.T) string {
	if d := os.Getenv(EnvOut); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

func envFloat(t *testing.T, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	require.NoErrorf(t, err, "%s=%q", name, v)
	require.Positivef(t, f, "%s must be positive", name)
	return f
}

func envInt(t *testing.T, name string, def int) int {
	return int(envFloat(t, name, float64(def)))
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	require.NoErrorf(t, err, "%s=%q", name, v)
	require.Positivef(t, d, "%s must be positive", name)
	return d
}

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func maxOf(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}
