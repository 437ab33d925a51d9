package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/otel-evidence/otel-evidence/deploy/internal/image"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

// promtool is Debian's, from the prometheus package that .ci/run installs.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool not found: install Debian's prometheus package (bash .ci/run does)")
	return p
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `json:"alert"`
			Expr  string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

func alertRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	require.NoError(t, yaml.Unmarshal(read(t, "monitoring/alerts.yaml"), &rf))
	return rf
}

// TestAlertRules: promtool checks the rules and runs their unit tests; every
// alert has a test case where it fires and a runbook section in the README.
func TestAlertRules(t *testing.T) {
	pt := promtool(t)
	testrig.Run(t, time.Minute, pt, "check", "rules", "monitoring/alerts.yaml")
	testrig.Run(t, time.Minute, pt, "test", "rules", "monitoring/alerts_test.yaml")

	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	require.NoError(t, yaml.Unmarshal(read(t, "monitoring/alerts_test.yaml"), &tests))
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	readme := string(read(t, filepath.Join(testrig.RepoRoot(t), "README.md")))
	n := 0
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			n++
			require.Truef(t, fires[r.Alert], "alerts_test.yaml has no case where %s fires", r.Alert)
			require.Containsf(t, readme, "\n#### "+r.Alert+"\n", "README.md has no runbook section (#### %s)", r.Alert)
		}
	}
	require.Equal(t, 6, n)
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// dashboardExprs returns every query of the dashboard with Grafana's
// variables filled in as Grafana would.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	var d dashboard
	require.NoError(t, json.Unmarshal(read(t, "monitoring/dashboard.json"), &d))
	fill := strings.NewReplacer("$__rate_interval", "2m", "$job", ".*", "$instance", ".*")
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, fill.Replace(tg.Expr))
		}
	}
	require.NotEmpty(t, exprs)
	return exprs
}

// TestDashboardQueriesParse hands every dashboard query to promtool (as
// recording rules) so that PromQL mistakes fail here, not in Grafana.
func TestDashboardQueriesParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range dashboardExprs(t) {
		q, err := json.Marshal(e)
		require.NoError(t, err)
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	testrig.Run(t, time.Minute, promtool(t), "check", "rules", path)
}

var metricName = regexp.MustCompile(`\botelcol_[a-z0-9_]+`)

// TestMonitoringUsesExposedMetrics runs real collectors on
// deploy/config.yaml (on loopback ports and temporary directories) through
// what makes each self-metric appear - traffic, a ring too small for it,
// late items, refused and accepted webhook calls, an incident that
// freezes, an unreachable store and a disk ring that cannot grow - and
// requires every metric name the dashboard and the alert rules query to be
// on a /metrics page.
func TestMonitoringUsesExposedMetrics(t *testing.T) {
	want := map[string]bool{}
	for _, e := range dashboardExprs(t) {
		for _, m := range metricName.FindAllString(e, -1) {
			want[m] = true
		}
	}
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				want[m] = true
			}
		}
	}

	testrig.Root(t)
	tg := testrig.Tool(t, "telemetrygen")
	traffic := func(c *monitored) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := c.ns.Command(ctx, tg, "traces", "--otlp-endpoint", testrig.OTLPGRPC, "--otlp-insecure", "--rate", "0", "--traces", "3000").CombinedOutput()
		require.NoErrorf(t, err, "telemetrygen:\n%s", out)
	}

	// A healthy collector with a ring too small for its traffic (64 KiB):
	// evictions, a late item, a refused and accepted webhook calls, a
	// freeze that is stored.
	healthy := startMonitored(t, 64<<10, nil)
	traffic(healthy)
	healthy.lateLog(t)
	require.Equal(t, http.StatusUnauthorized, healthy.post(t, "/v1/incidents", "", `{"id":"INC-m"}`))
	require.Equal(t, http.StatusOK, healthy.post(t, "/v1/incidents", "t0ken", `{"id":"INC-m","title":"metrics"}`))
	require.Equal(t, http.StatusOK, healthy.post(t, "/v1/incidents/resolve", "t0ken", `{"id":"INC-m"}`))

	// A collector that may not write a file past 16 KiB (its disk ring
	// drops), and whose store becomes unusable while an incident is open
	// (its directory is moved away, at once, and a file takes its name):
	// failed uploads, store and sync errors.
	failing := startMonitored(t, 4<<20, []string{"prlimit", "--fsize=16384", "--"})
	require.Equal(t, http.StatusOK, failing.post(t, "/v1/incidents", "t0ken", `{"id":"INC-f","title":"store down"}`))
	require.NoError(t, os.Rename(failing.evidence, failing.evidence+".moved"))
	require.NoError(t, os.WriteFile(failing.evidence, []byte("not a directory"), 0o600))
	traffic(failing)

	var missing []string
	require.Eventually(t, func() bool {
		have := map[string]bool{}
		for _, c := range []*monitored{healthy, failing} {
			_, body, err := c.ns.Get(testrig.MetricsURL)
			if err != nil {
				return false
			}
			for _, line := range strings.Split(body, "\n") {
				if m := regexp.MustCompile(`^(otelcol_[a-z0-9_]+)[{ ]`).FindStringSubmatch(line); m != nil {
					have[m[1]] = true
				}
			}
		}
		missing = missing[:0]
		for m := range want {
			if !have[m] {
				missing = append(missing, m)
			}
		}
		sort.Strings(missing)
		return len(missing) == 0
	}, 90*time.Second, 500*time.Millisecond, "metric names queried but not exposed: %v", &missing)
	t.Logf("all %d metric names the dashboard and the alerts query are exposed", len(want))
}

// monitored is a collector on deploy/config.yaml in a network namespace
// of its own, so that it listens on the configuration's own ports.
type monitored struct {
	ns       testrig.Netns
	evidence string // the filesystem store's directory
}

// lateLog sends a log record an hour old over OTLP/HTTP: counted as skewed
// (past).
func (m *monitored) lateLog(t *testing.T) {
	t.Helper()
	old := time.Now().Add(-time.Hour).UnixNano()
	body := fmt.Sprintf(`{"resourceLogs":[{"resource":{},"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","body":{"stringValue":"late"}}]}]}]}`, old)
	resp, err := m.ns.HTTPClient().Post("http://127.0.0.1:4318/v1/logs", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func (m *monitored) post(t *testing.T, path, token, body string) int {
	t.Helper()
	code, _ := m.ns.PostJSON(t, testrig.WebhookURL+path, token, body)
	return code
}

// startMonitored starts the collector on deploy/config.yaml, unchanged but
// for its state in a temporary directory, a disk ring of maxBytes and a 1s
// flush interval, in a network namespace of its own; wrap prefixes the
// command.
func startMonitored(t *testing.T, maxBytes int, wrap []string) *monitored {
	t.Helper()
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(read(t, "config.yaml"), &cfg))
	state := t.TempDir()
	sub := func(path ...string) map[string]any {
		cur := cfg
		for _, p := range path {
			cur = cur[p].(map[string]any)
		}
		return cur
	}
	// Every path under the production state directory (store, ring, spool,
	// journal and any added later) moves under the test's own: the test
	// runs as root, and a directory it left in /var/lib/otelcol-evidence
	// would belong to root when the deb's service user later needs it.
	moveState(cfg, state)
	m := &monitored{evidence: filepath.Join(state, "evidence")}
	require.Equal(t, m.evidence, sub("extensions", "incidents", "store", "filesystem")["directory"])
	sub("exporters", "evidence", "buffer")["max_bytes"] = maxBytes
	sub("exporters", "evidence")["flush_interval"] = "1s"
	b, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(state, "config.yaml")
	require.NoError(t, os.WriteFile(path, b, 0o600))

	if _, err := os.Stat(prodState); os.IsNotExist(err) {
		t.Cleanup(func() {
			_, err := os.Stat(prodState)
			require.Truef(t, os.IsNotExist(err), "the collector under test created %s on the host", prodState)
		})
	}
	args := append(append([]string{}, wrap...), testrig.Collector(t), "--config="+path, image.ComponentStatusGate)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "OTEL_EVIDENCE_WEBHOOK_TOKEN=t0ken")
	proc, ns, _ := testrig.StartIsolated(t, cmd)
	m.ns = ns
	require.Eventuallyf(t, func() bool {
		code, _, err := ns.Get(testrig.HealthURL)
		return err == nil && code == http.StatusOK && !proc.Exited()
	}, 60*time.Second, 100*time.Millisecond, "collector not healthy")
	return m
}

// prodState is the state directory of the production configuration.
const prodState = "/var/lib/otelcol-evidence"

// moveState returns cfg with every string under prodState rewritten to the
// same path under dir; maps and lists are rewritten in place.
func moveState(cfg any, dir string) any {
	switch v := cfg.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = moveState(e, dir)
		}
	case []any:
		for i, e := range v {
			v[i] = moveState(e, dir)
		}
	case string:
		if rest, ok := strings.CutPrefix(v, prodState+"/"); ok {
			return filepath.Join(dir, rest)
		}
	}
	return cfg
}
