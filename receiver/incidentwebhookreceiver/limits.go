package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// Reasons of the refusals the limits make.
const (
	reasonRateLimited               = "rate_limited"
	reasonTooManyOpenIncidents      = "too_many_open_incidents"
	reasonTooManyConcurrentRequests = "too_many_concurrent_requests"
	reasonTooManyEvents             = "too_many_events"
)

// openLimitRetryAfter is the Retry-After of too_many_open_incidents:
// incidents close when resolved or when they expire, not within seconds.
const openLimitRetryAfter = time.Minute

// budget names the rate budget a request draws from.
type budget int

const (
	// budgetIncidents: requests that open incidents or record alerts.
	budgetIncidents budget = iota
	// budgetUpdates: requests that record deploys or resolve incidents
	// that are not open.
	budgetUpdates
	// budgetExempt: requests that only resolve open incidents. Each open
	// incident can be resolved once, and max_open_incidents bounds them,
	// so these need no budget; they are never starved by a flood.
	budgetExempt
)

// limiter enforces LimitsConfig. It is safe for concurrent use.
type limiter struct {
	cfg LimitsConfig
	// rates holds the token buckets of budgetIncidents and budgetUpdates;
	// nil when rate limiting is off.
	rates [2]*rate.Limiter
	// slots is a semaphore of max_concurrent_requests; nil when off.
	slots chan struct{}

	mu sync.Mutex
	// pendingOpens counts the new incidents that requests in flight are
	// opening, which the registry snapshot does not show yet.
	pendingOpens int
}

func newLimiter(cfg LimitsConfig) *limiter {
	l := &limiter{cfg: cfg}
	if cfg.EventsPerSecond > 0 {
		for i := range l.rates {
			l.rates[i] = rate.NewLimiter(rate.Limit(cfg.EventsPerSecond), max(cfg.Burst, 1))
		}
	}
	if cfg.MaxConcurrentRequests > 0 {
		l.slots = make(chan struct{}, cfg.MaxConcurrentRequests)
	}
	return l
}

// acquire takes a request slot without waiting. It returns a release
// func, or a refusal when every slot is taken.
func (l *limiter) acquire() (release func(), refusal *triggers.Error) {
	if l.slots == nil {
		return func() {}, nil
	}
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	default:
		return nil, &triggers.Error{Status: http.StatusTooManyRequests, Reason: reasonTooManyConcurrentRequests,
			Msg: fmt.Sprintf("%d requests are being handled, the limit 'limits.max_concurrent_requests'; retry later",
				l.cfg.MaxConcurrentRequests)}
	}
}

// classify returns the budget of a parsed request.
func classify(res *triggers.Result, snap *incidentsapi.Snapshot) budget {
	if len(res.Open) > 0 {
		return budgetIncidents
	}
	if len(res.Deploys) > 0 || (len(res.Events) > 0 && res.Events[0].Kind == incident.EventNote) {
		return budgetUpdates
	}
	if len(res.Resolve) == 0 {
		return budgetIncidents // alert events only
	}
	for _, rs := range res.Resolve {
		if inc := snap.Incidents[rs.ID]; inc == nil || inc.Status != incident.StatusOpen {
			return budgetUpdates
		}
	}
	return budgetExempt
}

// checkEvents refuses a request that records more events than
// max_events_per_request, or than a budget's burst could ever hold.
func (l *limiter) checkEvents(n int) *triggers.Error {
	if l.cfg.MaxEventsPerRequest > 0 && n > l.cfg.MaxEventsPerRequest {
		return &triggers.Error{Status: http.StatusRequestEntityTooLarge, Reason: reasonTooManyEvents,
			Msg: fmt.Sprintf("the request carries %d events (alerts), more than 'limits.max_events_per_request' (%d); nothing was recorded: "+
				"send them in smaller requests (Alertmanager: set max_alerts on the webhook, or group by more labels)", n, l.cfg.MaxEventsPerRequest)}
	}
	if l.rates[0] != nil && n > max(l.cfg.Burst, 1) {
		return &triggers.Error{Status: http.StatusRequestEntityTooLarge, Reason: reasonTooManyEvents,
			Msg: fmt.Sprintf("the request carries %d events (alerts), more than 'limits.burst' (%d) ever lets through; nothing was recorded: "+
				"send them in smaller requests or raise 'limits.burst'", n, l.cfg.Burst)}
	}
	return nil
}

// allow takes n tokens (one per event the request records) of budget b at
// now. When the budget holds too few it takes none and returns the time
// until it will hold n.
func (l *limiter) allow(b budget, n int, now time.Time) (retryAfter time.Duration, ok bool) {
	if b == budgetExempt || l.rates[b] == nil {
		return 0, true
	}
	lim := l.rates[b]
	r := lim.ReserveN(now, max(n, 1))
	if !r.OK() {
		return time.Second, false
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return 0, true
	}
	r.CancelAt(now)
	return d, false
}

// rateLimited is the refusal of a request over its budget.
func (l *limiter) rateLimited(b budget, n int) *triggers.Error {
	what := "opening incidents and recording alerts"
	if b == budgetUpdates {
		what = "recording deploys and resolving incidents that are not open"
	}
	return &triggers.Error{Status: http.StatusTooManyRequests, Reason: reasonRateLimited,
		Msg: fmt.Sprintf("the %d events (alerts) of this request are more than the budget for %s holds now "+
			"('limits.events_per_second' %g, burst %d); retry later", n, what, l.cfg.EventsPerSecond, l.cfg.Burst)}
}

// reserveOpens checks that opening the incidents of res keeps the open
// incidents within max_open_incidents, counting those that requests in
// flight are opening. On success the caller must call release once the
// registry has recorded (or failed to record) the request.
func (l *limiter) reserveOpens(res *triggers.Result, snap *incidentsapi.Snapshot) (release func(), refusal *triggers.Error) {
	if l.cfg.MaxOpenIncidents <= 0 || len(res.Open) == 0 {
		return func() {}, nil
	}
	seen := make(map[string]struct{}, len(res.Open))
	for i := range res.Open {
		id := res.Open[i].ID
		if inc := snap.Incidents[id]; inc != nil && inc.Status == incident.StatusOpen {
			continue // an update of an open incident
		}
		seen[id] = struct{}{}
	}
	n := len(seen)
	if n == 0 {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	open := len(snap.Open) + l.pendingOpens
	if open+n > l.cfg.MaxOpenIncidents {
		return nil, &triggers.Error{Status: http.StatusTooManyRequests, Reason: reasonTooManyOpenIncidents,
			Msg: fmt.Sprintf("%d incidents are open, opening %d more would exceed 'limits.max_open_incidents' (%d); "+
				"resolve incidents or raise the limit", open, n, l.cfg.MaxOpenIncidents)}
	}
	l.pendingOpens += n
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.pendingOpens -= n
			l.mu.Unlock()
		})
	}, nil
}

// retryAfterSeconds renders d as a Retry-After value: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := math.Ceil(d.Seconds())
	if s < 1 || math.IsNaN(s) {
		s = 1
	}
	if s > math.MaxInt32 {
		s = math.MaxInt32
	}
	return strconv.Itoa(int(s))
}
