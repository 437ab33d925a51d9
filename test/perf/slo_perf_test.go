//go:build perf

package perf

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// EnvSLORounds is the number of error bursts of the SLO detection run
// (default 3), each on a fresh rig; medians are reported.
const EnvSLORounds = "PERF_SLO_ROUNDS"

// TestPerfSLODetection measures, on the same telemetrygen traffic, how
// long after the page condition first holds in the spans the slo
// connector opens its incident, and how long after it the Prometheus ->
// Alertmanager chain (spanmetrics, prometheusremotewrite, Sloth-style
// rules) delivers its webhook: the rig of test/e2e's
// TestSLOConnectorBeforePrometheusChain, at time_scale 60.
func TestPerfSLODetection(t *testing.T) {
	page := startPerf(t)
	rounds := int(envFloat(t, EnvSLORounds, 3))
	require.Positive(t, rounds)
	const scale = 60
	var conn, chain []time.Duration
	table := Table{
		Title:  "Detection latency per round (from the moment the page condition first holds in the spans)",
		Header: []string{"round", "condition held after the errors started", "slo connector", "Prometheus -> Alertmanager webhook"},
	}
	for i := range rounds {
		t.Run(fmt.Sprintf("round%d", i+1), func(t *testing.T) {
			r := harness.StartSLORig(t, scale)
			healthy := r.StartHealthy()
			defer func() { _, _ = healthy.Stop(10 * time.Second) }()
			d := r.Burst(harness.BurstRate)
			defer func() { _, _ = d.Burst.Stop(10 * time.Second) }()
			conn = append(conn, d.Connector())
			chain = append(chain, d.Chain())
			table.Rows = append(table.Rows, []string{fmt.Sprint(i + 1), ms(d.Holds.Sub(d.ErrorsStart)), ms(d.Connector()), ms(d.Chain())})
			t.Logf("round %d: connector %s, chain %s after the condition held", i+1, d.Connector(), d.Chain())
		})
	}
	require.Len(t, conn, rounds, "a round failed")
	mc, mp := medianDuration(conn), medianDuration(chain)
	res := Result{
		Section: "4-slo",
		Title:   "SLO detection: slo connector vs Prometheus -> Alertmanager",
		Params: map[string]string{
			"SLO":      "99.9% of checkout's spans without an error status; default page policy (14.4x over 1h/5m, 6x over 6h/30m), windows divided by time_scale 60 on both sides",
			"traffic":  fmt.Sprintf("telemetrygen: %d spans/s healthy (batches of 10) from the start, then %d error spans/s beside them", harness.HealthyRate, harness.BurstRate),
			"chain":    "spanmetrics (flush 1s; in a traces pipeline of its own, without incident_context) -> prometheusremotewrite -> Prometheus 2.42 (Debian; Sloth-style recording and page alert rules, evaluation 1s) -> Alertmanager 0.25 (Debian; group_wait 0) -> incident_webhook",
			"moment":   "the first span end time at which the page condition holds, computed exactly from every span the collector received (sliding windows, no buckets)",
			"measured": "connector: the incident's started_at; chain: arrival of the first firing webhook (a forwarder in front of the receiver)",
			"rounds":   fmt.Sprint(rounds),
		},
		Figures: []Figure{{
			Name: "SLO detection latency after the page condition holds (median)", Value: float64(mc.Milliseconds()), Unit: "ms",
			Peer: "Prometheus -> Alertmanager webhook, same traffic and rules", PeerValue: float64(mp.Milliseconds()),
			Ratio: mc.Seconds() / mp.Seconds(), Target: "<= 1000 ms and before the chain",
			Met: Met(slices.Max(conn) <= time.Second && all(conn, chain)),
		}},
		Tables: []Table{table},
		Notes:  []string{"The chain's intervals are far shorter than usual (spanmetrics flush 15s-60s, rule evaluation 15s-1m, group_wait 30s are common): it is the fastest chain that still gives the scaled 5m window several samples. The machine was shared; treat the figures as indicative."},
	}
	page.write(res)
}

// all reports whether the connector was first in every round.
func all(conn, chain []time.Duration) bool {
	for i := range conn {
		if conn[i] >= chain[i] {
			return false
		}
	}
	return true
}

func medianDuration(ds []time.Duration) time.Duration {
	v := make([]float64, len(ds))
	for i, d := range ds {
		v[i] = float64(d)
	}
	return time.Duration(Median(v))
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
