package incidentwebhookreceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/fakeclock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// useClock gives the receiver a settable clock starting at fixedNow.
func (e *testEnv) useClock() *fakeclock.Clock {
	c := fakeclock.New(fixedNow)
	e.r.now = c.Now
	return c
}

func openBody(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"title":"flood","severity":"critical"}`, id)
}

func resolveBody(id string) []byte { return fmt.Appendf(nil, `{"id":%q}`, id) }

func deployBody(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"service":"checkout","version":"1.0.%s"}`, id, id)
}

func TestClassify(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, []incident.Incident{
		{ID: "open-1", Status: incident.StatusOpen},
		{ID: "open-2", Status: incident.StatusOpen},
		{ID: "closed", Status: incident.StatusResolved},
	}, nil)
	tests := []struct {
		name string
		res  triggers.Result
		want budget
	}{
		{name: "open", res: triggers.Result{Open: []incident.Incident{{ID: "new"}}}, want: budgetIncidents},
		{name: "update of an open incident", res: triggers.Result{Open: []incident.Incident{{ID: "open-1"}}}, want: budgetIncidents},
		{name: "alert events only", res: triggers.Result{Events: []incident.Event{{Kind: incident.EventAlert}}}, want: budgetIncidents},
		{name: "deploy", res: triggers.Result{Deploys: []incident.Deploy{{ID: "d"}}}, want: budgetUpdates},
		{name: "resolve of open incidents", res: triggers.Result{Resolve: []triggers.Resolution{{ID: "open-1"}, {ID: "open-2"}}}, want: budgetExempt},
		{name: "resolve of a resolved incident", res: triggers.Result{Resolve: []triggers.Resolution{{ID: "closed"}}}, want: budgetUpdates},
		{name: "resolve of an unknown incident", res: triggers.Result{Resolve: []triggers.Resolution{{ID: "open-1"}, {ID: "nope"}}}, want: budgetUpdates},
		{name: "open and resolve", res: triggers.Result{
			Open: []incident.Incident{{ID: "new"}}, Resolve: []triggers.Resolution{{ID: "open-1"}},
		}, want: budgetIncidents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, classify(&tt.res, snap))
		})
	}
}

func TestLimiterAllow(t *testing.T) {
	l := newLimiter(LimitsConfig{EventsPerSecond: 2, Burst: 3})
	now := fixedNow
	for i := range 3 {
		_, ok := l.allow(budgetIncidents, 1, now)
		require.True(t, ok, "request %d of the burst", i)
	}
	wait, ok := l.allow(budgetIncidents, 1, now)
	require.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait)
	// A refusal takes no token: half a second later one is there.
	_, ok = l.allow(budgetIncidents, 1, now.Add(500*time.Millisecond))
	require.True(t, ok)
	// The other budget is untouched, and exempt requests take none.
	for range 3 {
		_, ok = l.allow(budgetUpdates, 1, now)
		require.True(t, ok)
	}
	_, ok = l.allow(budgetUpdates, 1, now)
	require.False(t, ok)
	for range 100 {
		_, ok = l.allow(budgetExempt, 1, now)
		require.True(t, ok)
	}

	off := newLimiter(LimitsConfig{})
	for range 1000 {
		_, ok = off.allow(budgetIncidents, 1, now)
		require.True(t, ok)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1"}, {-time.Second, "1"}, {time.Millisecond, "1"}, {time.Second, "1"},
		{1500 * time.Millisecond, "2"}, {time.Minute, "60"}, {1 << 62, "2147483647"},
	} {
		assert.Equal(t, tt.want, retryAfterSeconds(tt.d), tt.d.String())
	}
}

func TestReserveOpens(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, []incident.Incident{
		{ID: "a", Status: incident.StatusOpen},
		{ID: "b", Status: incident.StatusOpen},
		{ID: "c", Status: incident.StatusResolved},
	}, nil)
	opens := func(ids ...string) *triggers.Result {
		res := &triggers.Result{}
		for _, id := range ids {
			res.Open = append(res.Open, incident.Incident{ID: id})
		}
		return res
	}
	l := newLimiter(LimitsConfig{MaxOpenIncidents: 4})

	// Updates of open incidents need no room.
	rel, refusal := l.reserveOpens(opens("a", "b", "a"), snap)
	require.Nil(t, refusal)
	rel()
	// Two open, room for two: reopening c and opening d (d twice) fits.
	rel1, refusal := l.reserveOpens(opens("c", "d", "d"), snap)
	require.Nil(t, refusal)
	// While that request is in flight, there is no room for e.
	_, refusal = l.reserveOpens(opens("e"), snap)
	require.NotNil(t, refusal)
	assert.Equal(t, http.StatusTooManyRequests, refusal.Status)
	assert.Equal(t, reasonTooManyOpenIncidents, refusal.Reason)
	assert.Contains(t, refusal.Msg, "4 incidents are open, opening 1 more would exceed 'limits.max_open_incidents' (4)")
	rel1()
	rel1() // idempotent
	rel2, refusal := l.reserveOpens(opens("e"), snap)
	require.Nil(t, refusal)
	rel2()

	off := newLimiter(LimitsConfig{})
	_, refusal = off.reserveOpens(opens("x", "y", "z", "w", "v"), snap)
	require.Nil(t, refusal)
}

// TestFloodOfDistinctIncidents posts 10,000 distinct incidents as fast as
// the handler takes them: the incidents opened are bounded by the limits,
// every other request gets 429 with a JSON body and Retry-After, the heap
// stays bounded, and resolutions and deploys still succeed afterwards.
func TestFloodOfDistinctIncidents(t *testing.T) {
	const flood = 10000
	tests := []struct {
		name       string
		mutate     func(*Config)
		wantOpened int
		reason     string
		retryAfter string
	}{
		{
			name:       "open incidents limit",
			mutate:     func(c *Config) { c.Limits.EventsPerSecond = 0 },
			wantOpened: 1000, reason: reasonTooManyOpenIncidents, retryAfter: "60",
		},
		{
			name:       "rate limit",
			mutate:     func(c *Config) { c.Limits.Burst = 100 },
			wantOpened: 100, reason: reasonRateLimited, retryAfter: "1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, tt.mutate)
			reg := newFloodRegistry()
			env.r.registry = reg
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)

			opened, refused := 0, 0
			for i := range flood {
				rec := env.post("/v1/incidents", openBody(fmt.Sprintf("flood-%05d", i)))
				switch rec.Code {
				case http.StatusOK:
					opened++
				case http.StatusTooManyRequests:
					refused++
					if refused == 1 || i == flood-1 {
						e := decodeError(t, rec, http.StatusTooManyRequests)
						assert.Equal(t, tt.reason, e.Error)
						assert.Equal(t, tt.retryAfter, rec.Header().Get("Retry-After"))
					}
				default:
					t.Fatalf("request %d: status %d: %s", i, rec.Code, rec.Body.String())
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)

			assert.Equal(t, tt.wantOpened, opened)
			assert.Equal(t, flood-tt.wantOpened, refused)
			assert.Len(t, reg.Snapshot().Open, tt.wantOpened)
			assert.Len(t, reg.Snapshot().Incidents, tt.wantOpened)
			assert.Equal(t, tt.wantOpened, env.sink.LogRecordCount())
			// What the opened incidents hold (registry, log records, the
			// replay cache) is a few MB; a leak per refused request would
			// show in tens.
			growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			assert.Less(t, growth, int64(32<<20), "heap grew by %d bytes", growth)
			metadatatest.AssertEqualReceiverIncidentWebhookRequestsRefused(t, env.tel, []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(attribute.String("source", "generic"), attribute.String("reason", tt.reason)), Value: int64(refused)},
			}, metricdatatest.IgnoreTimestamp())

			// Resolutions and deploys are not starved.
			resp := decodeOK(t, env.post("/v1/incidents/resolve", resolveBody("flood-00000")))
			assert.Equal(t, []string{"flood-00000"}, resp.Resolved)
			resp = decodeOK(t, env.post("/v1/deploys", deployBody("d-1")))
			assert.Equal(t, []string{"d-1"}, resp.Deploys)
		})
	}
}

// floodRegistry is a registry for sequential floods: its snapshot is
// updated in place instead of rebuilt on every change, which would make
// the test quadratic. Only for use from one goroutine.
type floodRegistry struct {
	*fakeRegistry
	snap *incidentsapi.Snapshot
}

func newFloodRegistry() *floodRegistry {
	return &floodRegistry{
		fakeRegistry: newFakeRegistry(),
		snap:         incidentsapi.NewSnapshot(0, nil, nil),
	}
}

func (f *floodRegistry) Snapshot() *incidentsapi.Snapshot { return f.snap }

func (f *floodRegistry) OpenIncident(_ context.Context, inc incident.Incident, _ incident.Event) (bool, error) {
	if old := f.snap.Incidents[inc.ID]; old != nil && old.Status == incident.StatusOpen {
		return false, nil
	}
	f.snap.Incidents[inc.ID] = &inc
	f.snap.Open = append(f.snap.Open, &inc)
	f.snap.Version++
	return true, nil
}

func (f *floodRegistry) ResolveIncident(_ context.Context, id string, at time.Time, _ incident.Event) (bool, error) {
	inc := f.snap.Incidents[id]
	if inc == nil || inc.Status != incident.StatusOpen {
		return false, nil
	}
	inc.Status, inc.ResolvedAt = incident.StatusResolved, &at
	f.snap.Open = slices.DeleteFunc(f.snap.Open, func(o *incident.Incident) bool { return o.ID == id })
	f.snap.Version++
	return true, nil
}

func (*floodRegistry) RecordDeploy(context.Context, incident.Deploy, incident.Event) error {
	return nil
}

func (*floodRegistry) RecordEvent(context.Context, incident.Event) error { return nil }

// TestResolvesAndDeploysNotStarved walks the budgets step by step with a
// test clock.
func TestResolvesAndDeploysNotStarved(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Limits.EventsPerSecond = 1
		c.Limits.Burst = 2
	})
	clock := env.useClock()
	type step struct {
		path    string
		body    []byte
		advance time.Duration
		status  int
	}
	steps := []step{
		{path: "/v1/incidents", body: openBody("a"), status: http.StatusOK},
		{path: "/v1/incidents", body: openBody("b"), status: http.StatusOK},
		{path: "/v1/incidents", body: openBody("c"), status: http.StatusTooManyRequests},
		// Updating an open incident draws from the same budget.
		{path: "/v1/incidents", body: []byte(`{"id":"a","title":"updated"}`), status: http.StatusTooManyRequests},
		{path: "/v1/deploys", body: deployBody("d1"), status: http.StatusOK},
		{path: "/v1/deploys", body: deployBody("d2"), status: http.StatusOK},
		{path: "/v1/deploys", body: deployBody("d3"), status: http.StatusTooManyRequests},
		// Both budgets are empty; resolving open incidents still works.
		{path: "/v1/incidents/resolve", body: resolveBody("a"), status: http.StatusOK},
		{path: "/v1/incidents/resolve", body: resolveBody("b"), status: http.StatusOK},
		// A resolved incident is no longer exempt.
		{path: "/v1/incidents/resolve", body: []byte(`{"id":"a","at":"2026-03-10T12:30:00Z"}`), status: http.StatusTooManyRequests},
		{path: "/v1/incidents/resolve", body: resolveBody("never-opened"), status: http.StatusTooManyRequests},
		// Budgets refill.
		{path: "/v1/incidents", body: openBody("c"), advance: time.Second, status: http.StatusOK},
		{path: "/v1/deploys", body: deployBody("d3"), status: http.StatusOK},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		rec := env.post(s.path, s.body)
		require.Equal(t, s.status, rec.Code, "step %d %s %s: %s", i, s.path, s.body, rec.Body.String())
		if s.status == http.StatusTooManyRequests {
			e := decodeError(t, rec, s.status)
			assert.Equal(t, reasonRateLimited, e.Error)
			assert.Contains(t, e.Message, "'limits.events_per_second' 1, burst 2")
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
		}
	}
	assert.Equal(t, []string{
		"open:a", "open:b", "deploy:d1", "deploy:d2", "resolve:a", "resolve:b", "open:c", "deploy:d3",
	}, env.reg.Calls())
}

// TestOpenLimitLeavesUpdates checks that at the open incidents limit,
// updates of open incidents, resolutions and deploys go on, and that a
// resolution makes room.
func TestOpenLimitLeavesUpdates(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Limits.MaxOpenIncidents = 2
		c.Limits.EventsPerSecond = 0
	})
	decodeOK(t, env.post("/v1/incidents", openBody("a")))
	decodeOK(t, env.post("/v1/incidents", openBody("b")))
	e := decodeError(t, env.post("/v1/incidents", openBody("c")), http.StatusTooManyRequests)
	assert.Equal(t, reasonTooManyOpenIncidents, e.Error)
	assert.Contains(t, e.Message, "2 incidents are open, opening 1 more would exceed 'limits.max_open_incidents' (2)")

	// Re-sent (after the retry window) and updated open incidents are fine.
	env.useClock().Advance(retryWindow)
	resp := decodeOK(t, env.post("/v1/incidents", openBody("a")))
	assert.Equal(t, []string{"a"}, resp.Unchanged)
	resp = decodeOK(t, env.post("/v1/incidents", []byte(`{"id":"b","title":"new title"}`)))
	assert.Equal(t, []string{"b"}, resp.Opened)
	decodeOK(t, env.post("/v1/deploys", deployBody("d1")))

	// A firing Alertmanager group that would open a third is refused as a
	// whole: nothing recorded, not even its alert events.
	calls := len(env.reg.Calls())
	e = decodeError(t, env.post("/v1/alertmanager", fixture(t, "alertmanager_firing.json")), http.StatusTooManyRequests)
	assert.Equal(t, reasonTooManyOpenIncidents, e.Error)
	assert.Len(t, env.reg.Calls(), calls)

	decodeOK(t, env.post("/v1/incidents/resolve", resolveBody("a")))
	resp = decodeOK(t, env.post("/v1/incidents", openBody("c")))
	assert.Equal(t, []string{"c"}, resp.Opened)
}

// TestMaxConcurrentRequests holds one request in its body read and checks
// that the next is refused before its body is read, and that the slot is
// freed afterwards.
func TestMaxConcurrentRequests(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Limits.MaxConcurrentRequests = 1 })
	pr, pw := io.Pipe()
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/v1/incidents", pr)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		env.r.ServeHTTP(rec, req)
		done <- rec
	}()
	require.Eventually(t, func() bool { return len(env.r.limits.slots) == 1 }, 10*time.Second, time.Millisecond)

	rec := env.post("/v1/deploys", deployBody("d1"))
	e := decodeError(t, rec, http.StatusTooManyRequests)
	assert.Equal(t, reasonTooManyConcurrentRequests, e.Error)
	assert.Contains(t, e.Message, "'limits.max_concurrent_requests'")
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))

	_, err := pw.Write(openBody("slow"))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	decodeOK(t, <-done)
	decodeOK(t, env.post("/v1/deploys", deployBody("d1")))
	assert.Empty(t, env.r.limits.slots)
}

// TestLimitsRefusalBodies checks the JSON of each limit refusal.
func TestLimitsRefusalBodies(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Limits.MaxOpenIncidents = 1
		c.Limits.EventsPerSecond = 0
	})
	decodeOK(t, env.post("/v1/incidents", openBody("a")))
	rec := env.post("/v1/incidents", openBody("b"))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, map[string]any{
		"error":   "too_many_open_incidents",
		"message": "1 incidents are open, opening 1 more would exceed 'limits.max_open_incidents' (1); resolve incidents or raise the limit",
	}, body)
}
