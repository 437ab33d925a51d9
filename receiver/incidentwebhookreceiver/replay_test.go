package incidentwebhookreceiver

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadatatest"
)

const pdSecret = "pd-signing-secret"

// pdBody is a PagerDuty v3 webhook about PagerDuty incident pdID.
func pdBody(eventID, eventType, pdID string, occurred time.Time) []byte {
	return fmt.Appendf(nil, `{"event":{"id":%q,"event_type":%q,"resource_type":"incident","occurred_at":%q,`+
		`"data":{"id":%q,"type":"incident","title":"Checkout error rate above 5%%","urgency":"high"}}}`,
		eventID, eventType, occurred.UTC().Format(time.RFC3339Nano), pdID)
}

// pdSigned returns the signature header of body.
func pdSigned(body []byte) http.Header {
	return http.Header{"X-Pagerduty-Signature": {"v1=" + hmacHex(pdSecret, body)}}
}

func newPagerDutyEnv(t *testing.T, mutate func(*Config)) *testEnv {
	return newTestEnv(t, func(c *Config) {
		c.PagerDuty.Secrets = []configopaque.String{pdSecret}
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestReplayCache(t *testing.T) {
	k := func(s string) replayKey { return newReplayKey("test", s) }
	t0 := fixedNow

	c := newReplayCache(3)
	require.Equal(t, replayNew, c.begin(k("a"), t0, nil))
	require.Equal(t, replayInFlight, c.begin(k("a"), t0, nil))
	c.commit(k("a"), t0.Add(time.Minute), t0, replayKey{})
	require.Equal(t, replayDuplicate, c.begin(k("a"), t0.Add(59*time.Second), nil))
	// Expired: new again.
	require.Equal(t, replayNew, c.begin(k("a"), t0.Add(time.Minute), nil))
	c.release(k("a"))
	require.Equal(t, replayNew, c.begin(k("a"), t0, nil))
	c.release(k("a"))
	assert.Zero(t, c.len())

	// A released event is not remembered; an event already expired at
	// commit is not either.
	require.Equal(t, replayNew, c.begin(k("b"), t0, nil))
	c.commit(k("b"), t0, t0, replayKey{})
	require.Equal(t, replayNew, c.begin(k("b"), t0, nil))
	c.release(k("b"))

	// Full: the entry expiring first is forgotten.
	for i, exp := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute} {
		key := k(strconv.Itoa(i))
		require.Equal(t, replayNew, c.begin(key, t0, nil))
		c.commit(key, t0.Add(exp), t0, replayKey{})
	}
	assert.Equal(t, 3, c.len())
	assert.Equal(t, replayNew, c.begin(k("1"), t0, nil), "the entry expiring first was evicted")
	c.release(k("1"))
	for _, s := range []string{"0", "2", "3"} {
		assert.Equal(t, replayDuplicate, c.begin(k(s), t0, nil), s)
	}
	// Expired entries are swept on commit.
	require.Equal(t, replayNew, c.begin(k("x"), t0.Add(150*time.Second), nil))
	c.commit(k("x"), t0.Add(time.Hour), t0.Add(150*time.Second), replayKey{})
	assert.Equal(t, 3, c.len())
	assert.Equal(t, replayDuplicate, c.begin(k("x"), t0, nil))
}

// TestPagerDutyReplay replays signed PagerDuty requests: a redelivery is
// answered 200 without a second change, and a replay of an old resolve
// never resolves the reopened incident, within the window (duplicate) or
// after it (stale_event).
func TestPagerDutyReplay(t *testing.T) {
	env := newPagerDutyEnv(t, nil)
	clock := env.useClock()
	const id = "pd-Q1"
	post := func(body []byte) []byte {
		t.Helper()
		return env.do(http.MethodPost, "/v1/pagerduty", body, pdSigned(body)).Body.Bytes()
	}
	isOpen := func() bool {
		inc, ok := env.reg.Incident(id)
		return ok && inc.Status == incident.StatusOpen
	}

	triggered := pdBody("E1", "incident.triggered", "Q1", clock.Now().Add(-time.Second))
	resp := decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", triggered, pdSigned(triggered)))
	assert.Equal(t, []string{id}, resp.Opened)
	assert.False(t, resp.Duplicate)

	// PagerDuty redelivers (or someone replays) the same event.
	dup := decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", triggered, pdSigned(triggered)))
	assert.Equal(t, response{Opened: []string{}, Resolved: []string{}, Unchanged: []string{}, Deploys: []string{}, Duplicate: true}, dup)

	clock.Advance(time.Minute)
	resolved := pdBody("E2", "incident.resolved", "Q1", clock.Now())
	post(resolved)
	require.False(t, isOpen())
	clock.Advance(time.Minute)
	reopened := pdBody("E3", "incident.reopened", "Q1", clock.Now())
	post(reopened)
	require.True(t, isOpen())

	// The old resolve, replayed within max_age: a duplicate.
	clock.Advance(time.Minute)
	dup = decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", resolved, pdSigned(resolved)))
	assert.True(t, dup.Duplicate)
	assert.True(t, isOpen(), "a replayed resolve must not resolve the reopened incident")

	// After max_age the event is forgotten, but refused as stale.
	clock.Advance(10 * time.Minute)
	e := decodeError(t, env.do(http.MethodPost, "/v1/pagerduty", resolved, pdSigned(resolved)), http.StatusForbidden)
	assert.Equal(t, "stale_event", e.Error)
	assert.Equal(t, "event.occurred_at", e.Field)
	assert.Contains(t, e.Message, "more than 'pagerduty.max_age' (10m0s)")
	assert.True(t, isOpen())

	// Each event changed the registry once.
	assert.Equal(t, []string{"open:" + id, "resolve:" + id, "open:" + id}, env.reg.Calls())
	assert.Equal(t, []string{"incident.opened", "incident.resolved", "incident.opened"}, eventNames(env.sink))

	src := attribute.String("source", "pagerduty")
	metadatatest.AssertEqualReceiverIncidentWebhookRequestsDuplicate(t, env.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(src), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverIncidentWebhookRequestsRefused(t, env.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(src, attribute.String("reason", "stale_event")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestPagerDutyMaxAge(t *testing.T) {
	tests := []struct {
		name    string
		maxAge  time.Duration
		body    []byte
		status  int
		reason  string
		message string
	}{
		{name: "recent", maxAge: 10 * time.Minute, body: pdBody("E", "incident.triggered", "Q", fixedNow.Add(-9*time.Minute)), status: http.StatusOK},
		{name: "slightly ahead", maxAge: 10 * time.Minute, body: pdBody("E", "incident.triggered", "Q", fixedNow.Add(time.Minute)), status: http.StatusOK},
		{
			name: "old", maxAge: 10 * time.Minute, body: pdBody("E", "incident.triggered", "Q", fixedNow.Add(-11*time.Minute)),
			status: http.StatusForbidden, reason: "stale_event", message: "the event occurred 11m0s ago",
		},
		{
			name: "far future", maxAge: 10 * time.Minute, body: pdBody("E", "incident.triggered", "Q", fixedNow.Add(time.Hour)),
			status: http.StatusForbidden, reason: "stale_event", message: "the event occurred 1h0m0s in the future",
		},
		{
			name: "no occurred_at", maxAge: 10 * time.Minute,
			body:   []byte(`{"event":{"id":"E","event_type":"incident.triggered","data":{"id":"Q","type":"incident"}}}`),
			status: http.StatusBadRequest, reason: "missing_field", message: "'pagerduty.max_age'",
		},
		{name: "check off", maxAge: 0, body: pdBody("E", "incident.triggered", "Q", fixedNow.Add(-240*time.Hour)), status: http.StatusOK},
		{
			name: "check off, no occurred_at", maxAge: 0,
			body: []byte(`{"event":{"id":"E","event_type":"incident.triggered","data":{"id":"Q","type":"incident"}}}`), status: http.StatusOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newPagerDutyEnv(t, func(c *Config) { c.PagerDuty.MaxAge = tt.maxAge })
			rec := env.do(http.MethodPost, "/v1/pagerduty", tt.body, pdSigned(tt.body))
			if tt.status == http.StatusOK {
				decodeOK(t, rec)
				// The event is remembered, with or without the age check.
				assert.True(t, decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", tt.body, pdSigned(tt.body))).Duplicate)
				return
			}
			e := decodeError(t, rec, tt.status)
			assert.Equal(t, tt.reason, e.Error)
			assert.Equal(t, "event.occurred_at", e.Field)
			assert.Contains(t, e.Message, tt.message)
			assert.Empty(t, env.reg.Calls())
			assert.Zero(t, env.r.replays.len())
		})
	}
}

// TestReplayAfterFailure checks that an event whose recording failed is
// not remembered: the sender's retry is applied.
func TestReplayAfterFailure(t *testing.T) {
	env := newPagerDutyEnv(t, nil)
	env.reg.FailWrites(0, errors.New("store unavailable"))
	body := pdBody("E1", "incident.triggered", "Q1", fixedNow)
	decodeError(t, env.do(http.MethodPost, "/v1/pagerduty", body, pdSigned(body)), http.StatusInternalServerError)

	env.reg.FailWrites(-1, nil)
	resp := decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", body, pdSigned(body)))
	assert.Equal(t, []string{"pd-Q1"}, resp.Opened)
	assert.True(t, decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", body, pdSigned(body))).Duplicate)
}

// TestReplayRateLimitedIsNotRemembered checks that a refused event can be
// delivered again once the refusal is lifted.
func TestReplayRateLimitedIsNotRemembered(t *testing.T) {
	env := newPagerDutyEnv(t, func(c *Config) { c.Limits.MaxOpenIncidents = 1 })
	first := pdBody("E1", "incident.triggered", "Q1", fixedNow)
	decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", first, pdSigned(first)))
	second := pdBody("E2", "incident.triggered", "Q2", fixedNow)
	e := decodeError(t, env.do(http.MethodPost, "/v1/pagerduty", second, pdSigned(second)), http.StatusTooManyRequests)
	assert.Equal(t, reasonTooManyOpenIncidents, e.Error)

	resolve := pdBody("E3", "incident.resolved", "Q1", fixedNow)
	decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", resolve, pdSigned(resolve)))
	resp := decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", second, pdSigned(second)))
	assert.Equal(t, []string{"pd-Q2"}, resp.Opened)
}

func TestReplayInFlight(t *testing.T) {
	env := newPagerDutyEnv(t, nil)
	body := pdBody("E1", "incident.triggered", "Q1", fixedNow)
	// Another request is recording E1 right now.
	require.Equal(t, replayNew, env.r.replays.begin(newReplayKey("pagerduty", "E1"), fixedNow, nil))

	rec := env.do(http.MethodPost, "/v1/pagerduty", body, pdSigned(body))
	e := decodeError(t, rec, http.StatusConflict)
	assert.Equal(t, "event_in_progress", e.Error)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Empty(t, env.reg.Calls())

	env.r.replays.release(newReplayKey("pagerduty", "E1"))
	decodeOK(t, env.do(http.MethodPost, "/v1/pagerduty", body, pdSigned(body)))
}

// TestGrafanaReplay replays a signed Grafana request with a timestamp.
func TestGrafanaReplay(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Grafana.Secret = "gs"
		c.Grafana.MaxAge = 5 * time.Minute
	})
	clock := env.useClock()
	body := fixture(t, "grafana_firing.json")
	signed := func(ts time.Time) http.Header {
		s := strconv.FormatInt(ts.Unix(), 10)
		return http.Header{
			"X-Grafana-Alerting-Signature":           {hmacHex("gs", []byte(s+":"), body)},
			"X-Grafana-Alerting-Signature-Timestamp": {s},
		}
	}
	h := signed(clock.Now())
	resp := decodeOK(t, env.do(http.MethodPost, "/v1/grafana", body, h))
	require.Len(t, resp.Opened, 1)

	clock.Advance(4 * time.Minute)
	assert.True(t, decodeOK(t, env.do(http.MethodPost, "/v1/grafana", body, h)).Duplicate)
	// Grafana's next notification carries a new timestamp and signature.
	resp = decodeOK(t, env.do(http.MethodPost, "/v1/grafana", body, signed(clock.Now())))
	assert.False(t, resp.Duplicate)
	assert.Len(t, resp.Unchanged, 1)
	// Past max_age the signature check refuses the replay.
	clock.Advance(2 * time.Minute)
	e := decodeError(t, env.do(http.MethodPost, "/v1/grafana", body, h), http.StatusForbidden)
	assert.Equal(t, "bad_signature", e.Error)
	assert.Len(t, env.reg.Calls(), 2)
}

// TestGrafanaWithoutMaxAgeIsNotDeduplicated: without a timestamp bound, a
// Grafana signature says nothing about when it was made, so identical
// notifications are applied (idempotently) as before.
func TestGrafanaWithoutMaxAgeIsNotDeduplicated(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Grafana.Secret = "gs" })
	body := fixture(t, "grafana_firing.json")
	h := http.Header{"X-Grafana-Alerting-Signature": {hmacHex("gs", body)}}
	clock := env.useClock()
	decodeOK(t, env.do(http.MethodPost, "/v1/grafana", body, h))
	// Within the retry window, the same body is a retry (TestRetriedDeliveryIsIdempotent).
	clock.Advance(retryWindow)
	resp := decodeOK(t, env.do(http.MethodPost, "/v1/grafana", body, h))
	assert.False(t, resp.Duplicate)
	assert.Len(t, resp.Unchanged, 1)
}
