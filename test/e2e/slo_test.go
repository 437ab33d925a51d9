package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// sloScale divides the policy's windows on both sides: 1h lasts 60s, 5m
// 5s, 30m 30s, 6h 6m. The decisions depend only on the counts in the
// windows, so this run is the unscaled run of a service whose traffic has
// the same shape over 60 times the duration (1000 spans/s here are 1000
// spans a minute there), and its 10 s of healthy traffic are that
// service's 10 minutes.
const sloScale = 60

// TestSLOConnectorBeforePrometheusChain evaluates one SLO (99.9% of
// checkout's spans without an error status, the default page policy) by
// the slo connector and by spanmetrics -> Prometheus (Sloth-style rules) ->
// Alertmanager -> incident_webhook, on the same telemetrygen traffic:
//
//  1. ten (scaled) minutes of healthy traffic at 0.05% errors: neither
//     side fires, though both evaluate (the connector emits burn rates,
//     Prometheus records ratios);
//  2. 5% errors: the connector opens its incident within 1s of the moment
//     the page condition first holds in the spans (computed here, exactly,
//     from the spans' own times), and before Alertmanager's webhook
//     arrives; that webhook joins the connector's incident, so there is one
//     incident, with both sides' labels;
//  3. errors stop: the incident resolves, and its evidence bundle holds the
//     error spans and the connector's burn-rate series.
func TestSLOConnectorBeforePrometheusChain(t *testing.T) {
	r := harness.StartSLORig(t, sloScale)
	healthy := r.StartHealthy()
	defer func() { _, _ = healthy.Stop(10 * time.Second) }()

	// 1. Ten scaled minutes (10s) with 0.05% errors: 0.5 error spans a second.
	phase := 10 * time.Minute / sloScale
	background := r.Traffic(0.5, true, phase)
	require.Eventually(t, background.Exited, phase+30*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return len(r.PromQuery(`slo:sli_error:ratio_rate5m`)) > 0 },
		30*time.Second, 100*time.Millisecond, "Prometheus records no SLI ratio: the chain is not evaluating")
	var burn5m []float64
	require.Eventually(t, func() bool {
		burn5m = burnRates(r, "5m")
		return len(burn5m) > 0
	}, 30*time.Second, 100*time.Millisecond, "the connector emits no burn rate")
	for _, b := range burn5m {
		assert.Less(t, b, 14.4, "healthy burn rate over 5m")
	}
	assert.Empty(t, r.Incidents(), "the connector fired on healthy traffic")
	assert.Empty(t, r.Webhooks(), "the Prometheus chain fired on healthy traffic")
	assert.Empty(t, r.PromQuery(`ALERTS{alertname="CheckoutAvailabilityErrorBudgetBurn"}`))
	_, held := r.PageConditionHolds()
	require.False(t, held, "the healthy phase must not meet the page condition")

	// 2. 5% errors (50 error spans a second beside the 1000).
	d := r.Burst(harness.BurstRate)
	conn, webhook, holds := d.Incident, d.Webhook, d.Holds
	t.Logf("errors started %s; page condition first held %s later; connector opened %s after that; Alertmanager's webhook %s after that",
		d.ErrorsStart.Format(time.RFC3339Nano), holds.Sub(d.ErrorsStart), d.Connector(), d.Chain())
	assert.True(t, holds.After(d.ErrorsStart), "the condition held before the errors started")
	assert.LessOrEqual(t, d.Connector().Abs(), time.Second, "the connector opened %s from the moment the condition held", d.Connector())
	assert.True(t, conn.StartedAt.Before(webhook.At), "the connector (%s) must open before the webhook arrives (%s)", conn.StartedAt, webhook.At)

	// The webhook joined the connector's incident: one incident, with the
	// alert's labels.
	assert.Equal(t, 200, webhook.Answer)
	assert.Equal(t, harness.SLOName, webhook.Labels["sloth_slo"])
	require.Eventually(t, func() bool {
		incs := r.Incidents()
		return len(incs) == 1 && incs[0].Labels["sloth_slo"] == harness.SLOName
	}, 10*time.Second, 50*time.Millisecond, "the Alertmanager alert did not join the connector's incident: %+v", r.Incidents())
	inc := r.Incidents()[0]
	assert.Equal(t, conn.ID, inc.ID)
	assert.Equal(t, "slo", inc.Source)
	assert.Equal(t, harness.SLOName, inc.Labels["slo"])
	assert.Equal(t, "page", inc.Labels["slo_level"])
	assert.NotEmpty(t, inc.Labels["burn_rate"])
	assert.NotEmpty(t, inc.Labels["windows"])
	assert.NotEmpty(t, inc.Labels["error_budget_consumed"])
	assert.Equal(t, "CheckoutAvailabilityErrorBudgetBurn", inc.Labels["alertname"])

	// The chain still counts the error spans while the incident is open:
	// the incident's tags on the resources must not freeze spanmetrics'
	// series in Prometheus.
	errorCalls := func() float64 {
		v := r.PromQuery(`sum(traces_span_metrics_calls_total{service_name="checkout",status_code="STATUS_CODE_ERROR"})`)
		if len(v) == 0 {
			return 0
		}
		return v[0]
	}
	counted := errorCalls()
	require.Eventually(t, func() bool { return errorCalls() > counted }, 10*time.Second, 100*time.Millisecond,
		"Prometheus stopped counting checkout's error spans once the incident opened (%v)", counted)

	// 3. Errors stop: the connector resolves its incident.
	_, _ = d.Burst.Stop(10 * time.Second)
	require.Eventually(t, func() bool {
		incs := r.Incidents()
		return len(incs) == 1 && incs[0].Status == "resolved"
	}, 2*time.Minute, 100*time.Millisecond, "the incident did not resolve after the errors stopped: %+v", r.Incidents())

	st, err := storage.NewFilesystem(r.Collector.Dir + "/var/evidence")
	require.NoError(t, err)
	harness.WaitBundleComplete(t, st, conn.ID, 2*time.Minute)
	b := harness.ReadBundle(t, st, conn.ID, harness.SLOCollectorID)
	var errorSpans int
	b.Spans(t, func(_ pcommon.Resource, s ptrace.Span) {
		if s.Status().Code() == ptrace.StatusCodeError {
			errorSpans++
		}
	})
	assert.Positive(t, errorSpans, "the bundle holds no error span")
	windows := map[string]bool{}
	for _, p := range b.Parts {
		require.NoError(t, p.Metrics(func(md pmetric.Metrics) error {
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						if m.Name() != "slo.burn_rate" {
							continue
						}
						for _, dp := range m.Gauge().DataPoints().All() {
							w, _ := dp.Attributes().Get("slo.window")
							windows[w.Str()] = true
						}
					}
				}
			}
			return nil
		}))
	}
	assert.True(t, windows["5m"] && windows["1h"], "the bundle holds no burn-rate series of the page windows: %v", windows)
}

// burnRates returns the latest slo.burn_rate values over window that the
// collector exported to the sink.
func burnRates(r *harness.SLORig, window string) []float64 {
	var out []float64
	for _, md := range r.Sink.Metrics() {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != "slo.burn_rate" {
						continue
					}
					for _, dp := range m.Gauge().DataPoints().All() {
						if w, _ := dp.Attributes().Get("slo.window"); w.Str() == window {
							out = append(out, dp.DoubleValue())
						}
					}
				}
			}
		}
	}
	return out
}
