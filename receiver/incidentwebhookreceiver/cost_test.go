package incidentwebhookreceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// alertGroup returns an Alertmanager webhook (version 4) of one group of
// n firing alerts, each with its own labels, as Alertmanager sends it.
func alertGroup(t testing.TB, group string, n int, severity ...string) []byte {
	t.Helper()
	type alert struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     string            `json:"startsAt"`
		EndsAt       string            `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	}
	sev := "critical"
	if len(severity) > 0 {
		sev = severity[0]
	}
	alerts := make([]alert, n)
	for i := range alerts {
		alerts[i] = alert{
			Status: "firing",
			Labels: map[string]string{
				"alertname": "HighErrorRate", "service": "checkout", "severity": sev,
				"instance": fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256), "group": group,
			},
			Annotations:  map[string]string{"summary": "Error rate above 5%"},
			StartsAt:     "2026-03-10T12:00:00Z",
			EndsAt:       "0001-01-01T00:00:00Z",
			GeneratorURL: "http://prometheus.example.com:9090/graph",
			Fingerprint:  fmt.Sprintf("%016x", i),
		}
	}
	b, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": fmt.Sprintf(`{}:{group=%q}`, group), "truncatedAlerts": 0,
		"status": "firing", "receiver": "otel-evidence",
		"groupLabels":  map[string]string{"group": group},
		"commonLabels": map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": sev, "group": group},
		"externalURL":  "http://alertmanager.example.com:9093",
		"alerts":       alerts,
	})
	require.NoError(t, err)
	return b
}

// tinyAlertGroup is an Alertmanager webhook of n firing alerts of a few
// labels each: 15,000 of them take about 1 MB, as in the wild.
func tinyAlertGroup(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"version":"4","groupKey":"{}:{alertname=\"Flood\"}","status":"firing","receiver":"r",` +
		`"groupLabels":{"alertname":"Flood"},"commonLabels":{"alertname":"Flood","severity":"critical"},"alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"Flood","severity":"critical","i":"%d"},"startsAt":"2026-03-10T12:00:00Z"}`, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// TestTooManyEventsIsRefusedWhole: a group over max_events_per_request,
// such as one of 15k alerts, is refused with 413 before anything is
// recorded; one at the cap is recorded whole.
func TestTooManyEventsIsRefusedWhole(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxRequestBodySize = 4 << 20 })
	for n, body := range map[int][]byte{1001: alertGroup(t, "big", 1001), 15000: tinyAlertGroup(15000)} {
		e := decodeError(t, env.post("/v1/alertmanager", body), http.StatusRequestEntityTooLarge)
		assert.Equal(t, reasonTooManyEvents, e.Error)
		assert.Contains(t, e.Message, fmt.Sprintf("carries %d events (alerts), more than 'limits.max_events_per_request' (1000)", n))
	}
	assert.Empty(t, env.reg.Calls())
	assert.Zero(t, env.sink.LogRecordCount())

	resp := decodeOK(t, env.post("/v1/alertmanager", alertGroup(t, "cap", 1000)))
	assert.Len(t, resp.Opened, 1)
	assert.Equal(t, 1, env.sink.LogRecordCount()) // the opening, which keeps the body

	// Alerts that open nothing are one event each; they count the same.
	e := decodeError(t, env.post("/v1/alertmanager", alertGroup(t, "warn", 1001, "warning")), http.StatusRequestEntityTooLarge)
	assert.Equal(t, reasonTooManyEvents, e.Error)
	resp = decodeOK(t, env.post("/v1/alertmanager", alertGroup(t, "warn", 1000, "warning")))
	assert.Equal(t, 1000, resp.Events)
}

// TestRateLimitCountsEvents: a budget of 10 events lets one request of 6
// alerts through and refuses the next, although it is only the second
// request; single events still pass once the budget refills.
func TestRateLimitCountsEvents(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Limits.EventsPerSecond = 1
		c.Limits.Burst = 10
		c.Limits.MaxEventsPerRequest = 10
	})
	clock := env.useClock()
	decodeOK(t, env.post("/v1/alertmanager", alertGroup(t, "a", 6)))
	rec := env.post("/v1/alertmanager", alertGroup(t, "b", 6))
	e := decodeError(t, rec, http.StatusTooManyRequests)
	assert.Equal(t, reasonRateLimited, e.Error)
	assert.Contains(t, e.Message, "the 6 events (alerts) of this request")
	assert.Equal(t, "2", rec.Header().Get("Retry-After")) // 4 tokens left, 6 needed at 1/s
	clock.Advance(2 * time.Second)
	decodeOK(t, env.post("/v1/alertmanager", alertGroup(t, "b", 6)))
}

// TestRetriedDeliveryIsIdempotent: a sender retrying a request it got no
// answer for records nothing twice; the same body sent again after the
// incident changed (opened again after its resolution) is a new delivery.
func TestRetriedDeliveryIsIdempotent(t *testing.T) {
	env := newTestEnv(t, nil)
	clock := env.useClock()
	body := alertGroup(t, "retry", 3)
	warnings := alertGroup(t, "retry-warnings", 3, "warning")
	first := decodeOK(t, env.post("/v1/alertmanager", body))
	require.Len(t, first.Opened, 1)
	id := first.Opened[0]
	for range 3 {
		clock.Advance(10 * time.Second)
		again := decodeOK(t, env.post("/v1/alertmanager", body))
		assert.True(t, again.Duplicate)
		assert.Zero(t, again.Events)
	}
	for range 2 {
		decodeOK(t, env.post("/v1/alertmanager", warnings))
	}
	assert.Equal(t, 4, env.sink.LogRecordCount(), "the opening and 3 alert events, once")
	assert.Equal(t, []string{"open:" + id, "event:alert", "event:alert", "event:alert"}, env.reg.Calls())

	// Resolved, then the same group fires again with the same body: the
	// incident's state changed, so this is a new notification.
	decodeOK(t, env.post("/v1/incidents/resolve", resolveBody(id)))
	again := decodeOK(t, env.post("/v1/alertmanager", body))
	assert.False(t, again.Duplicate)
	assert.Equal(t, []string{id}, again.Opened)
}

// blockingRegistry holds every write until release is closed or the
// write's context ends, as a registry whose store hangs would.
type blockingRegistry struct {
	*fakeRegistry
	release chan struct{}
	mu      sync.Mutex
	started int
}

func (b *blockingRegistry) OpenIncident(ctx context.Context, inc incident.Incident, ev incident.Event) (bool, error) {
	b.mu.Lock()
	b.started++
	b.mu.Unlock()
	select {
	case <-b.release:
		return b.fakeRegistry.OpenIncident(ctx, inc, ev)
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

var _ incidentsapi.Registry = (*blockingRegistry)(nil)

// TestAnswerBeforeWriteTimeout: with a registry that hangs, a real client
// gets 503 registry_slow (with Retry-After) before write_timeout, not a
// closed connection, and nothing is recorded; its retry then succeeds once
// the registry recovers, recording the incident once.
func TestAnswerBeforeWriteTimeout(t *testing.T) {
	const writeTimeout = 2 * time.Second
	reg := &blockingRegistry{fakeRegistry: newFakeRegistry(), release: make(chan struct{})}
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	cfg.WriteTimeout = writeTimeout
	_, _, base := startReceiver(t, cfg, newTestHost(reg, nil))

	body := alertGroup(t, "hang", 2)
	start := time.Now()
	status, resp := postStatus(t, base+"/v1/alertmanager", body)
	elapsed := time.Since(start)
	require.Equal(t, http.StatusServiceUnavailable, status, string(resp))
	assert.Contains(t, string(resp), `"error":"registry_slow"`)
	assert.Less(t, elapsed, writeTimeout)
	assert.Empty(t, reg.Calls())

	close(reg.release)
	status, resp = postStatus(t, base+"/v1/alertmanager", body)
	require.Equal(t, http.StatusOK, status, string(resp))
	status, resp = postStatus(t, base+"/v1/alertmanager", body)
	require.Equal(t, http.StatusOK, status, string(resp))
	assert.Contains(t, string(resp), `"duplicate":true`)
	assert.Len(t, reg.Calls(), 1, "the opening, once: %v", reg.Calls())
}
