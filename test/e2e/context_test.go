package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/otlpsink"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// contextKeys are the attributes incident_context writes (default keys).
var contextKeys = []string{"deployment.id", "deployment.name", "deployment.environment.name", "vcs.ref.head.revision", "incident.id"}

// contextTags returns the incident_context attributes of m.
func contextTags(m pcommon.Map) map[string]string {
	out := map[string]string{}
	for _, k := range contextKeys {
		if v, ok := m.Get(k); ok {
			out[k] = v.AsString()
		}
	}
	return out
}

// taggedItem is one exported span, log record or data point with the
// incident_context attributes of its resource and of itself.
type taggedItem struct {
	signal, phase, service, version string
	resource, item                  map[string]string
}

// collectTagged flattens what the sink received, keeping the telemetry sent
// by this test (resources with an e2e.phase attribute).
func collectTagged(sink *otlpsink.Sink) []taggedItem {
	var out []taggedItem
	add := func(signal string, res pcommon.Map, item pcommon.Map) {
		phase, ok := res.Get("e2e.phase")
		if !ok {
			return
		}
		svc, _ := res.Get("service.name")
		ver, _ := res.Get("service.version")
		out = append(out, taggedItem{
			signal: signal, phase: phase.Str(), service: svc.Str(), version: ver.Str(),
			resource: contextTags(res), item: contextTags(item),
		})
	}
	for _, td := range sink.Traces() {
		for i := range td.ResourceSpans().Len() {
			rs := td.ResourceSpans().At(i)
			for j := range rs.ScopeSpans().Len() {
				spans := rs.ScopeSpans().At(j).Spans()
				for k := range spans.Len() {
					add("traces", rs.Resource().Attributes(), spans.At(k).Attributes())
				}
			}
		}
	}
	for _, ld := range sink.Logs() {
		for i := range ld.ResourceLogs().Len() {
			rl := ld.ResourceLogs().At(i)
			for j := range rl.ScopeLogs().Len() {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := range lrs.Len() {
					add("logs", rl.Resource().Attributes(), lrs.At(k).Attributes())
				}
			}
		}
	}
	for _, md := range sink.Metrics() {
		for i := range md.ResourceMetrics().Len() {
			rm := md.ResourceMetrics().At(i)
			for j := range rm.ScopeMetrics().Len() {
				ms := rm.ScopeMetrics().At(j).Metrics()
				for k := range ms.Len() {
					harness.EachDataPoint(ms.At(k), func(attrs pcommon.Map, _ pcommon.Timestamp) {
						add("metrics", rm.Resource().Attributes(), attrs)
					})
				}
			}
		}
	}
	return out
}

// TestIncidentContext runs the real collector with incident_context at
// level record: deploys and incidents are recorded through the webhook
// receiver, telemetrygen sends traces, logs and metrics of a service whose
// two versions are live at once (a rolling deploy), and the test's OTLP sink
// checks every exported resource and item: each version carries its own
// deployment.id and the open incidents whose scope matches it, joined in
// opening order; another service carries neither; once the incidents are
// resolved, new telemetry has deployment.id but no incident.id.
func TestIncidentContext(t *testing.T) {
	p := harness.NewPorts(t)
	sink := otlpsink.Start(t)
	cfg := harness.Config(t, p, harness.Options{
		SinkEndpoint: sink.Endpoint,
		Override: map[string]any{"processors": map[string]any{
			"incident_context": map[string]any{"level": "record"},
		}},
	})
	c := harness.StartCollector(t, "", cfg, p.Health)

	post := func(path, body string) {
		t.Helper()
		code, resp := harness.PostJSON(t, p.WebhookURL(path), harness.Token, body)
		require.Equal(t, http.StatusOK, code, "%s answered %d: %s", path, code, resp)
	}
	ago := func(d time.Duration) string { return time.Now().UTC().Add(-d).Format(time.RFC3339Nano) }

	post("/v1/deploys", fmt.Sprintf(`{"id":"deploy-checkout-142","service":"checkout","version":"1.4.2",
		"environment":"e2e","commit":"9fceb02","name":"checkout 1.4.2","status":"succeeded","started_at":%q}`, ago(20*time.Minute)))
	post("/v1/deploys", fmt.Sprintf(`{"id":"deploy-checkout-150","service":"checkout","version":"1.5.0",
		"environment":"e2e","commit":"a1b2c3d","status":"started","started_at":%q}`, ago(2*time.Minute)))
	// INC-CTX-1 covers checkout; INC-CTX-2, opened later, only its canary.
	post("/v1/incidents", fmt.Sprintf(`{"id":"INC-CTX-1","title":"checkout errors","severity":"critical",
		"scope":{"service.name":"checkout"},"started_at":%q}`, ago(90*time.Second)))
	post("/v1/incidents", fmt.Sprintf(`{"id":"INC-CTX-2","title":"checkout canary latency","severity":"critical",
		"scope":["service.name=checkout","service.version=1.5.0"],"started_at":%q}`, ago(60*time.Second)))

	// send runs telemetrygen for every signal with the given resource.
	send := func(phase, service, version string) {
		attrs := []string{
			"--otlp-attributes", fmt.Sprintf("service.name=%q", service),
			"--otlp-attributes", fmt.Sprintf("e2e.phase=%q", phase),
		}
		if version != "" {
			attrs = append(attrs, "--otlp-attributes", fmt.Sprintf("service.version=%q", version))
		}
		for _, sig := range []string{"traces", "logs", "metrics"} {
			harness.Telemetrygen(t, sig, p.OTLPGRPC, append([]string{"--" + sig, "3"}, attrs...)...)
		}
	}
	send("open", "checkout", "1.4.2")
	send("open", "checkout", "1.5.0")
	send("open", "cart", "3.1.0")

	// telemetrygen sends 3 traces of 2 spans, 3 log records, 3 data points
	// per run: 12 items per service and phase.
	count := func(phase string) int {
		n := 0
		for _, it := range collectTagged(sink) {
			if it.phase == phase {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return count("open") >= 36 }, 30*time.Second, 50*time.Millisecond,
		"items exported while the incidents were open: %d of 36", count("open"))

	wantOpen := map[string]map[string]string{
		"checkout/1.4.2": {
			"deployment.id": "deploy-checkout-142", "deployment.name": "checkout 1.4.2",
			"deployment.environment.name": "e2e", "vcs.ref.head.revision": "9fceb02",
			"incident.id": "INC-CTX-1",
		},
		"checkout/1.5.0": {
			"deployment.id": "deploy-checkout-150", "deployment.environment.name": "e2e",
			"vcs.ref.head.revision": "a1b2c3d", "incident.id": "INC-CTX-1,INC-CTX-2",
		},
		"cart/3.1.0": {},
	}
	perSignal := map[string]int{}
	for _, it := range collectTagged(sink) {
		if it.phase != "open" {
			continue
		}
		perSignal[it.signal]++
		want := wantOpen[it.service+"/"+it.version]
		assert.Equal(t, want, it.resource, "%s resource of %s %s", it.signal, it.service, it.version)
		assert.Equal(t, want, it.item, "%s item of %s %s (level record)", it.signal, it.service, it.version)
	}
	assert.Equal(t, map[string]int{"traces": 18, "logs": 9, "metrics": 9}, perSignal)

	// The processor counts the spans it tagged in its own metrics, read when
	// the collector's Prometheus endpoint is scraped: every span has passed
	// the processor before it reaches the sink, so the counts are final.
	const items = "otelcol_processor_incident_context_items"
	spans := func(match, incident string) float64 {
		return metricValue(t, p.Metrics, items, map[string]string{"signal": "traces", "match": match, "incident": incident})
	}
	assert.Equal(t, 12.0, spans("version", "yes"), "checkout's spans")
	assert.Equal(t, 6.0, spans("none", "no"), "cart's spans")
	assert.Equal(t, 6.0, metricValue(t, p.Metrics, items+"_unmatched", map[string]string{"signal": "traces"}), "cart's spans, without a deploy")

	// Resolving the incidents takes incident.id off the next batches.
	post("/v1/incidents/resolve", `{"id":"INC-CTX-1"}`)
	post("/v1/incidents/resolve", `{"id":"INC-CTX-2"}`)
	send("resolved", "checkout", "1.4.2")
	send("resolved", "checkout", "1.5.0")
	require.Eventually(t, func() bool { return count("resolved") >= 24 }, 30*time.Second, 50*time.Millisecond,
		"items exported after the incidents were resolved: %d of 24", count("resolved"))
	for _, it := range collectTagged(sink) {
		if it.phase != "resolved" {
			continue
		}
		want := map[string]string{}
		for k, v := range wantOpen[it.service+"/"+it.version] {
			if k != "incident.id" {
				want[k] = v
			}
		}
		assert.Equal(t, want, it.resource, "%s resource of %s %s after resolve", it.signal, it.service, it.version)
		assert.Equal(t, want, it.item, "%s item of %s %s after resolve", it.signal, it.service, it.version)
	}
	assert.Equal(t, 12.0, spans("version", "no"), "checkout's spans after resolve")
	assert.Equal(t, 12.0, spans("version", "yes"), "checkout's spans while the incidents were open")

	_, err := c.Stop(5 * time.Second)
	require.NoError(t, err, "collector must exit 0 within 5 s of SIGTERM")
}
