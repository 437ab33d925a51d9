package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// alertmanagerBody is Alertmanager's webhook (version 4) for one firing
// alert naming incident id (the policy's incident_id label), as
// Alertmanager sends it; note varies an annotation, so that each body is a
// new notification of the same group.
func alertmanagerBody(id string, startsAt time.Time, note int) string {
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"CheckoutDown\"}","truncatedAlerts":0,"status":"firing",`+
		`"receiver":"otel-evidence","groupLabels":{"alertname":"CheckoutDown"},`+
		`"commonLabels":{"alertname":"CheckoutDown","incident_id":%[1]q,"service":"checkout","severity":"critical"},`+
		`"commonAnnotations":{"summary":"Checkout is down"},"externalURL":"http://alertmanager.example.com:9093",`+
		`"alerts":[{"status":"firing","labels":{"alertname":"CheckoutDown","incident_id":%[1]q,"service":"checkout","severity":"critical"},`+
		`"annotations":{"summary":"Checkout is down","attempt":"%[3]d"},"startsAt":%[2]q,"endsAt":"0001-01-01T00:00:00Z",`+
		`"generatorURL":"http://prometheus.example.com:9090/graph","fingerprint":"5f1a9e2c3b4d6e7f"}]}`,
		id, startsAt.Format(time.RFC3339Nano), note)
}

// TestStoreDownOpensLocally stops versitygw before the incident exists: an
// Alertmanager webhook to replica A opens it at once (2xx, answered from
// the local journal; the latency of every request is measured and
// logged), A freezes its window into the spool, and when versitygw comes
// back the incident and A's bundle reach the store, and replica B, which
// had been syncing all along, learns of the incident and freezes its own
// window. Both bundles hold every in-window item exactly once.
func TestStoreDownOpensLocally(t *testing.T) {
	r := startFreezeRig(t, "INC-STORE-DOWN", nil)
	b := startRig(t, r.id, rigOptions{srv: r.srv, collector: "e2e-replica-b", noWebhook: true})
	b.T = r.T
	T := r.T

	past := append(every(T.Add(-3*time.Minute), T.Add(-time.Second), time.Second),
		T.Add(-freezeBefore-time.Nanosecond), T.Add(-freezeBefore))
	r.send(past...)
	b.send(past...)
	r.waitInRing(10 * time.Second)
	b.waitInRing(10 * time.Second)

	r.srv.Stop()
	r.logf("stopped versitygw")
	const requests = 20
	latencies := make([]time.Duration, 0, requests)
	for i := range requests {
		start := time.Now()
		code, resp := harness.PostJSON(t, r.ports.WebhookURL("/v1/alertmanager"), harness.Token, alertmanagerBody(r.id, T, i))
		latencies = append(latencies, time.Since(start))
		require.Equal(t, 200, code, "request %d: %s", i, resp)
		if i == 0 {
			assert.Contains(t, resp, fmt.Sprintf(`"opened":[%q]`, r.id))
		} else {
			assert.Contains(t, resp, fmt.Sprintf(`"unchanged":[%q]`, r.id))
		}
	}
	slices.Sort(latencies)
	r.logf("webhook latency with the store down over %d requests: min %s, median %s, p90 %s, max %s", requests,
		latencies[0], latencies[requests/2], latencies[requests*9/10], latencies[requests-1])

	// Acted on at once: A freezes its past window into the spool.
	require.Eventually(t, func() bool { return r.spoolState() != nil }, 10*time.Second, 50*time.Millisecond,
		"the part covering the past was not committed to the spool")
	r.logf("the past is committed to A's spool")
	now := every(T, T.Add(5*time.Second), time.Second)
	r.send(now...)
	b.send(now...)
	r.waitSpooled(10 * time.Second)
	rest := append(every(T.Add(6*time.Second), T.Add(20*time.Second), time.Second), T.Add(freezeAfter), T.Add(freezeAfter+time.Nanosecond))
	r.send(rest...)
	b.send(rest...)
	r.waitSpooled(10 * time.Second)
	b.waitInRing(10 * time.Second)
	incidentKey, err := bundle.IncidentKey(r.id)
	require.NoError(t, err)

	r.srv.Restart()
	r.logf("versitygw is up again")
	require.Eventually(t, func() bool { return harness.HasObject(r.st, incidentKey) }, 30*time.Second, 100*time.Millisecond,
		"incident.json never reached the store")
	var rep bundle.Report
	require.Eventually(t, func() bool {
		rep = harness.WaitBundleComplete(t, r.st, r.id, 60*time.Second)
		return len(rep.Collectors) == 2
	}, 90*time.Second, 500*time.Millisecond, "replica B never froze its window")
	r.logf("both bundles are complete")
	r.checkExactlyTheWindow(rep)
	b.checkExactlyTheWindow(rep)
	b.c.WaitForOutput(fmt.Sprintf(`"incident.id": %q`, r.id), 5*time.Second)
}
