package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"
)

// This file runs one SLO two ways on the same telemetrygen traffic: by the
// slo connector inside the collector, and by the chain many teams run
// today: the spanmetrics connector -> prometheusremotewrite -> a real
// Prometheus (Debian package) with Sloth-style recording and alert rules ->
// a real Alertmanager -> the incident_webhook receiver. test/e2e asserts on
// the run; test/perf reports its latencies in BENCHMARKS.md.

// SLOName is the SLO both sides evaluate: 99.9% of checkout's spans
// without an error status, over 30 days.
const (
	SLOName      = "checkout-availability"
	SLOService   = "checkout"
	SLOObjective = 99.9
)

// sloWindows are the default policy's page windows (the SRE workbook's):
// 14.4x over 1h and 5m, 6x over 6h and 30m.
var sloPagePairs = []struct {
	long, short time.Duration
	factor      float64
}{
	{time.Hour, 5 * time.Minute, 14.4},
	{6 * time.Hour, 30 * time.Minute, 6},
}

// PrometheusBinary returns the real Prometheus from the Debian package
// prometheus. A missing binary fails the test: it is a required peer.
func PrometheusBinary(t testing.TB) string {
	t.Helper()
	if path, err := exec.LookPath("prometheus"); err == nil {
		return path
	}
	t.Fatal("Prometheus not found: `bash .ci/run` installs the Debian package prometheus (apt-get install -y prometheus)")
	return ""
}

// AlertmanagerBinary returns the real Alertmanager from the Debian package
// prometheus-alertmanager (or an alertmanager on PATH).
func AlertmanagerBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("Alertmanager not found (/usr/bin/prometheus-alertmanager): `bash .ci/run` installs the Debian package " +
		"prometheus-alertmanager (apt-get install -y prometheus-alertmanager)")
	return ""
}

// StartAlertmanager runs Alertmanager on a free loopback port with one
// webhook receiver at webhookURL (behind the bearer token, when set),
// grouping by groupBy with the shortest waits. Gossip is off. It is
// stopped by t.Cleanup. It returns Alertmanager's URL.
func StartAlertmanager(t testing.TB, webhookURL, token string, groupBy []string, groupWait time.Duration) string {
	t.Helper()
	bin := AlertmanagerBinary(t)
	dir := t.TempDir()
	auth := ""
	if token != "" {
		auth = fmt.Sprintf("\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: %q", token)
	}
	gb, err := json.Marshal(groupBy)
	require.NoError(t, err)
	cfg := fmt.Sprintf(`route:
  receiver: otel-evidence
  group_by: %s
  group_wait: %s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: otel-evidence
    webhook_configs:
      - url: %q
        send_resolved: true%s
`, gb, groupWait, webhookURL, auth)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	addr := FreeAddr(t)
	StartProcess(t, dir, nil, bin,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	WaitHTTP(t, "http://"+addr+"/-/ready", 30*time.Second)
	return "http://" + addr
}

// StartPrometheus runs Prometheus on a free loopback port with the remote
// write receiver on, the given rule file content, rule evaluation every
// evalInterval, and alerts sent to alertmanagerURL. It returns its URL
// once Prometheus knows that Alertmanager: its notifier learns its
// Alertmanagers from service discovery, which hands over targets at most
// every 5s, and until then drops every alert it is given; a firing alert
// is not sent again before the resend delay (1m). An alert that fired in
// those first seconds would reach Alertmanager a minute late, or only as
// resolved.
func StartPrometheus(t testing.TB, rules string, evalInterval time.Duration, alertmanagerURL string) string {
	t.Helper()
	bin := PrometheusBinary(t)
	dir := t.TempDir()
	am, err := url.Parse(alertmanagerURL)
	require.NoError(t, err)
	cfg := fmt.Sprintf(`global:
  evaluation_interval: %s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
`, evalInterval, am.Host)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o600))
	out := Run(t, time.Minute, dir, filepath.Join(filepath.Dir(bin), "promtool"), "check", "rules", "rules.yml")
	require.Contains(t, out, "SUCCESS")
	addr := FreeAddr(t)
	StartProcess(t, dir, nil, bin,
		"--config.file=prometheus.yml",
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.enable-remote-write-receiver",
		"--storage.tsdb.retention.time=1h",
		"--log.level=info",
	)
	WaitHTTP(t, "http://"+addr+"/-/ready", 60*time.Second)
	promURL := "http://" + addr
	amAPI := alertmanagerURL + "/api/v2/alerts"
	require.Eventually(t, func() bool { return slices.Contains(activeAlertmanagers(promURL), amAPI) },
		30*time.Second, 50*time.Millisecond, "Prometheus did not discover Alertmanager %s", amAPI)
	return promURL
}

// activeAlertmanagers returns the Alertmanager URLs Prometheus sends alerts
// to (GET /api/v1/alertmanagers), none on any error.
func activeAlertmanagers(promURL string) []string {
	resp, err := http.Get(promURL + "/api/v1/alertmanagers")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	var out []string
	for _, a := range body.Data.Active {
		out = append(out, a.URL)
	}
	return out
}

// promDuration renders a scaled window for PromQL, in milliseconds.
func promDuration(d time.Duration, scale float64) string {
	return strconv.FormatInt(int64(float64(d)/scale/float64(time.Millisecond)), 10) + "ms"
}

// SlothRules returns Sloth-style recording and page alert rules for
// SLOName on spanmetrics' calls counter (as remote-written by the
// prometheusremotewrite exporter), with every window divided by scale, as
// the connector's time_scale divides its own. The alert is Sloth's
// multi-window multi-burn-rate page alert, with its labels (sloth_slo,
// sloth_service, sloth_severity).
func SlothRules(scale float64) string {
	const (
		id     = SLOService + "-" + SLOName
		calls  = "traces_span_metrics_calls_total"
		budget = "0.001" // 1 - 99.9/100
	)
	var b bytes.Buffer
	fmt.Fprintf(&b, "groups:\n  - name: sloth-slo-sli-recordings-%s\n    rules:\n", id)
	windows := []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour}
	for _, w := range windows {
		name := map[time.Duration]string{5 * time.Minute: "5m", 30 * time.Minute: "30m", time.Hour: "1h", 6 * time.Hour: "6h"}[w]
		d := promDuration(w, scale)
		fmt.Fprintf(&b, `      - record: slo:sli_error:ratio_rate%s
        expr: |
          (sum(rate(%s{service_name=%q,status_code="STATUS_CODE_ERROR"}[%s])) or vector(0))
          /
          (sum(rate(%s{service_name=%q}[%s])))
        labels:
          sloth_id: %s
          sloth_service: %s
          sloth_slo: %s
          sloth_window: %s
`, name, calls, SLOService, d, calls, SLOService, d, id, SLOService, SLOName, name)
	}
	fmt.Fprintf(&b, `  - name: sloth-slo-alerts-%s
    rules:
      - alert: CheckoutAvailabilityErrorBudgetBurn
        expr: |
          (
            max(slo:sli_error:ratio_rate5m{sloth_id=%q} > (14.4 * %s)) without (sloth_window)
            and
            max(slo:sli_error:ratio_rate1h{sloth_id=%q} > (14.4 * %s)) without (sloth_window)
          )
          or
          (
            max(slo:sli_error:ratio_rate30m{sloth_id=%q} > (6 * %s)) without (sloth_window)
            and
            max(slo:sli_error:ratio_rate6h{sloth_id=%q} > (6 * %s)) without (sloth_window)
          )
        labels:
          sloth_severity: page
          severity: critical
        annotations:
          summary: High error budget burn for SLO %s
`, id, id, budget, id, budget, id, budget, id, budget, SLOName)
	return b.String()
}

// Webhook is one notification Alertmanager sent, as the forwarder saw it.
type Webhook struct {
	At     time.Time
	Status string
	Answer int // the receiver's status code
	Labels map[string]string
}

// webhookForwarder stands between Alertmanager and the collector's
// incident_webhook receiver: it records when each notification arrives and
// passes it on unchanged (Authorization included).
type webhookForwarder struct {
	target string
	mu     sync.Mutex
	got    []Webhook
}

func (f *webhookForwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Status       string            `json:"status"`
		CommonLabels map[string]string `json:"commonLabels"`
	}
	_ = json.Unmarshal(body, &p)
	req, _ := http.NewRequest(http.MethodPost, f.target, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	status := http.StatusBadGateway
	if resp, err := http.DefaultClient.Do(req); err == nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	f.mu.Lock()
	f.got = append(f.got, Webhook{At: at, Status: p.Status, Answer: status, Labels: p.CommonLabels})
	f.mu.Unlock()
	w.WriteHeader(status)
}

func (f *webhookForwarder) webhooks() []Webhook {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// SLORig is the collector (with the slo connector, spanmetrics and
// prometheusremotewrite), Prometheus, Alertmanager and the forwarder.
type SLORig struct {
	t         testing.TB
	Scale     float64
	Ports     Ports
	Collector *Collector
	Sink      *otlpsink.Sink
	PromURL   string
	AMURL     string
	fwd       *webhookForwarder
}

// SLOCollectorID names the rig's collector in the store.
const SLOCollectorID = "slo-e2e"

// StartSLORig starts everything on loopback, with the policy's windows
// divided by scale on both sides.
func StartSLORig(t testing.TB, scale float64) *SLORig {
	t.Helper()
	r := &SLORig{t: t, Scale: scale, Ports: NewPorts(t), Sink: otlpsink.Start(t)}
	r.fwd = &webhookForwarder{target: r.Ports.WebhookURL("/v1/alertmanager")}
	fwd := httptest.NewServer(r.fwd)
	t.Cleanup(fwd.Close)
	// The chain runs with intervals far shorter than the usual ones
	// (spanmetrics flushes every 1s, not 15s-60s; Prometheus evaluates
	// every 1s, not every 15s-1m; Alertmanager's group_wait is 0, not 30s):
	// the comparison is with the fastest chain that still gives the
	// scaled 5m window (5s at time_scale 60) several samples.
	r.AMURL = StartAlertmanager(t, fwd.URL, Token, []string{"sloth_slo"}, 0)
	const eval = time.Second
	r.PromURL = StartPrometheus(t, SlothRules(scale), eval, r.AMURL)

	override := map[string]any{
		"connectors": map[string]any{
			"slo": map[string]any{
				"time_scale":          scale,
				"evaluation_interval": "100ms",
				"metrics_interval":    "500ms",
				"slos": []any{map[string]any{
					"name":      SLOName,
					"selector":  map[string]any{"resource": map[string]any{"service.name": SLOService}},
					"sli":       map[string]any{"bad": []any{"status.code == STATUS_CODE_ERROR"}},
					"objective": SLOObjective,
				}},
			},
			"spanmetrics": map[string]any{"metrics_flush_interval": eval.String()},
		},
		"exporters": map[string]any{
			"prometheusremotewrite": map[string]any{
				"endpoint":           r.PromURL + "/api/v1/write",
				"remote_write_queue": map[string]any{"enabled": true, "num_consumers": 1},
			},
			"evidence": map[string]any{"window": map[string]any{"before": "5m", "after": "2s"}},
		},
		"service": map[string]any{"pipelines": map[string]any{
			"traces": map[string]any{
				"receivers":  []any{"otlp"},
				"processors": []any{"incident_context"},
				"exporters":  []any{"slo", "evidence", "otlp_grpc/sink"},
			},
			// spanmetrics reads the spans before incident_context: once an
			// incident is open, incident_context writes incident.id on
			// every matching resource, spanmetrics (which keys its series
			// by all resource attributes) starts a second set of counters
			// for the tagged resource, and prometheusremotewrite maps both
			// sets to the same Prometheus series (incident.id is not a
			// label; it goes to target_info), two samples per timestamp.
			// Prometheus keeps one of them, the untagged counter's, which
			// no longer grows: the chain stopped seeing spans the moment
			// the connector's incident opened, and its alert, if it had
			// fired at all, resolved once the scaled 30m window had passed.
			"traces/spanmetrics": map[string]any{
				"receivers": []any{"otlp"},
				"exporters": []any{"spanmetrics"},
			},
			"metrics/spanmetrics": map[string]any{
				"receivers": []any{"spanmetrics"},
				"exporters": []any{"prometheusremotewrite"},
			},
			"metrics/slo": map[string]any{
				"receivers": []any{"slo"},
				"exporters": []any{"evidence", "otlp_grpc/sink"},
			},
		}},
	}
	cfg := Config(t, r.Ports, Options{CollectorID: SLOCollectorID, SinkEndpoint: r.Sink.Endpoint, Override: override})
	r.Collector = StartCollector(t, "", cfg, r.Ports.Health)
	return r
}

// Traffic starts telemetrygen sending spans of service checkout at rate
// spans/s (status Error when errors) for d, in the background. Batches of
// 10 spans keep the client's own batching delay (a batch leaves when full,
// or after 1s) well under the detection times measured.
func (r *SLORig) Traffic(rate float64, errors bool, d time.Duration) *Process {
	r.t.Helper()
	args := []string{"traces", "--otlp-endpoint", r.Ports.OTLPGRPC, "--otlp-insecure",
		"--service", SLOService, "--child-spans", "0", "--workers", "1", "--batch-size", "10",
		"--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--duration", d.String()}
	if errors {
		args = append(args, "--status-code", "Error")
	}
	return StartProcess(r.t, RepoRoot(r.t), nil, Tool(r.t, "telemetrygen"), args...)
}

// Webhooks returns the Alertmanager notifications so far.
func (r *SLORig) Webhooks() []Webhook { return r.fwd.webhooks() }

// StoreIncident is incidents/<id>/incident.json as the store holds it.
type StoreIncident struct {
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Status     string            `json:"status"`
	Severity   string            `json:"severity"`
	StartedAt  time.Time         `json:"started_at"`
	ResolvedAt *time.Time        `json:"resolved_at"`
	Labels     map[string]string `json:"labels"`
}

// Incidents reads every incident.json of the collector's filesystem store.
func (r *SLORig) Incidents() []StoreIncident {
	dir := filepath.Join(r.Collector.Dir, "var", "evidence", "incidents")
	entries, _ := os.ReadDir(dir)
	var out []StoreIncident
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "incident.json"))
		if err != nil {
			continue
		}
		var inc StoreIncident
		if json.Unmarshal(b, &inc) == nil {
			out = append(out, inc)
		}
	}
	return out
}

// PromQuery runs an instant query and returns the values of the result.
func (r *SLORig) PromQuery(q string) []float64 {
	r.t.Helper()
	resp, err := http.Get(r.PromURL + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(r.t, err)
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
		Error string `json:"error"`
	}
	require.NoError(r.t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(r.t, "success", body.Status, body.Error)
	var out []float64
	for _, res := range body.Data.Result {
		s, _ := res.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(r.t, err)
		out = append(out, v)
	}
	return out
}

// spanEvent is one span of the traffic: its end time and whether it failed.
type spanEvent struct {
	at  time.Time
	bad bool
}

// PageConditionHolds returns the first moment at which the page
// condition holds over the spans the collector received (and passed to
// the sink), computed exactly from each span's own end time with sliding
// windows (the policy's, divided by the scale), and whether it ever does.
// It is an independent implementation of the policy: no buckets.
func (r *SLORig) PageConditionHolds() (time.Time, bool) {
	var evs []spanEvent
	for _, td := range r.Sink.Traces() {
		for _, rs := range td.ResourceSpans().All() {
			if v, ok := rs.Resource().Attributes().Get("service.name"); !ok || v.Str() != SLOService {
				continue
			}
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					evs = append(evs, spanEvent{at: s.EndTimestamp().AsTime(), bad: s.Status().Code() == ptrace.StatusCodeError})
				}
			}
		}
	}
	return pageConditionHolds(evs, r.Scale)
}

func pageConditionHolds(evs []spanEvent, scale float64) (time.Time, bool) {
	slices.SortFunc(evs, func(a, b spanEvent) int { return a.at.Compare(b.at) })
	type win struct {
		d        time.Duration
		lo       int // first event inside the window
		bad, all int
	}
	var wins []*win
	byDur := map[time.Duration]*win{}
	for _, p := range sloPagePairs {
		for _, d := range []time.Duration{p.long, p.short} {
			if byDur[d] == nil {
				w := &win{d: time.Duration(float64(d) / scale)}
				byDur[d] = w
				wins = append(wins, w)
			}
		}
	}
	budget := 1 - SLOObjective/100
	burn := func(w *win) float64 {
		if w.all == 0 {
			return 0
		}
		return float64(w.bad) / float64(w.all) / budget
	}
	for i, e := range evs {
		for _, w := range wins {
			w.all++
			if e.bad {
				w.bad++
			}
			for w.lo <= i && !evs[w.lo].at.After(e.at.Add(-w.d)) {
				w.all--
				if evs[w.lo].bad {
					w.bad--
				}
				w.lo++
			}
		}
		if i+1 < len(evs) && evs[i+1].at.Equal(e.at) {
			continue // evaluate once all spans of this instant are in
		}
		for _, p := range sloPagePairs {
			if burn(byDur[p.long]) > p.factor && burn(byDur[p.short]) > p.factor {
				return e.at, true
			}
		}
	}
	return time.Time{}, false
}

// Detection is what one error burst produced on both sides.
type Detection struct {
	// ErrorsStart is when the burst's telemetrygen started.
	ErrorsStart time.Time
	// Holds is when the page condition first held in the spans.
	Holds time.Time
	// Incident is the connector's incident as first seen in the store;
	// its StartedAt is when the connector opened it.
	Incident StoreIncident
	// Webhook is Alertmanager's first firing notification.
	Webhook Webhook
	// Burst is the running error traffic.
	Burst *Process
}

// Connector is how long after the condition held the connector opened
// its incident; Chain is how long after it Alertmanager's webhook arrived.
func (d Detection) Connector() time.Duration { return d.Incident.StartedAt.Sub(d.Holds) }

// Chain is how long after the condition held the webhook arrived.
func (d Detection) Chain() time.Duration { return d.Webhook.At.Sub(d.Holds) }

// The traffic of the SLO runs: checkout's healthy spans, and the error
// spans of a burst beside them (about 5% of all spans, a 48x burn rate of
// the 99.9% objective).
const (
	HealthyRate = 1000 // spans/s
	BurstRate   = 50   // error spans/s
)

// StartHealthy starts checkout's healthy traffic (HealthyRate spans/s for
// up to 5m, stopped by t.Cleanup at the latest) and waits until two
// seconds of it reached the collector: a first error span among a handful
// of spans is a 100% error ratio, to both sides.
func (r *SLORig) StartHealthy() *Process {
	r.t.Helper()
	p := r.Traffic(HealthyRate, false, 5*time.Minute)
	require.Eventually(r.t, func() bool { return r.Sink.SpanCount() >= 2*HealthyRate }, 60*time.Second, 50*time.Millisecond,
		"no healthy traffic reached the collector")
	return p
}

// Burst starts error spans at rate spans/s and waits until both the
// connector's incident and Alertmanager's webhook are there.
func (r *SLORig) Burst(rate float64) Detection {
	r.t.Helper()
	d := Detection{ErrorsStart: time.Now()}
	d.Burst = r.Traffic(rate, true, 10*time.Minute)
	require.Eventually(r.t, func() bool {
		for _, inc := range r.Incidents() {
			if inc.Source == "slo" {
				d.Incident = inc
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "the connector opened no incident")
	require.Eventually(r.t, func() bool {
		for _, w := range r.Webhooks() {
			if w.Status == "firing" {
				d.Webhook = w
				return true
			}
		}
		return false
	}, 90*time.Second, 20*time.Millisecond, "Alertmanager sent no webhook")
	var ok bool
	d.Holds, ok = r.PageConditionHolds()
	require.True(r.t, ok, "the page condition never held in the spans")
	return d
}
