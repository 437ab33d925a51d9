package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"container/heap"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// Reasons of the replay checks' refusals.
const (
	reasonStaleEvent      = "stale_event"
	reasonEventInProgress = "event_in_progress"
)

const (
	// replayCacheSize bounds the remembered events (about 100 bytes each).
	// When it is full of unexpired events, the one expiring first is
	// forgotten: a replay of it within its window would then be applied.
	replayCacheSize = 10000
	// replayWindowWithoutMaxAge is how long a PagerDuty event.id is
	// remembered when pagerduty.max_age is 0.
	replayWindowWithoutMaxAge = time.Hour
	// inProgressRetryAfter is the Retry-After of event_in_progress.
	inProgressRetryAfter = time.Second
)

// replayKey identifies a delivered event: a hash, so that an event ID of
// any length costs the same memory.
type replayKey [sha256.Size]byte

func newReplayKey(source, id string) replayKey {
	return sha256.Sum256([]byte(source + "\x00" + id))
}

// replayState is what the cache knows of a key.
type replayState int

const (
	// replayNew: the event was not seen; the caller now holds it in flight
	// and must call commit or release.
	replayNew replayState = iota + 1
	// replayDuplicate: the event was recorded within its window.
	replayDuplicate
	// replayInFlight: another request is recording the same event now.
	replayInFlight
)

// replayCache remembers the events recorded recently, so that a
// redelivered or replayed event changes nothing a second time. It is
// bounded by replayCacheSize and safe for concurrent use.
type replayCache struct {
	capacity int

	mu       sync.Mutex
	inFlight map[replayKey]struct{}
	seen     map[replayKey]*replayEntry
	byExpiry replayHeap
}

type replayEntry struct {
	key     replayKey
	expires time.Time
	// guard, when set, is the state the delivery left the registry in: a
	// redelivery is a duplicate only while the registry still holds it.
	guard replayKey
	index int // in byExpiry
}

func newReplayCache(capacity int) *replayCache {
	return &replayCache{
		capacity: max(capacity, 1),
		inFlight: map[replayKey]struct{}{},
		seen:     map[replayKey]*replayEntry{},
	}
}

// begin looks k up at now and, when the event is new, marks it in flight.
// When holds is set, a remembered delivery is a duplicate only if holds
// accepts the guard it was committed with.
func (c *replayCache) begin(k replayKey, now time.Time, holds func(guard replayKey) bool) replayState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.inFlight[k]; ok {
		return replayInFlight
	}
	if e, ok := c.seen[k]; ok {
		if now.Before(e.expires) && (holds == nil || holds(e.guard)) {
			return replayDuplicate
		}
		c.remove(e)
	}
	c.inFlight[k] = struct{}{}
	return replayNew
}

// commit records that the event in flight under k was recorded; it is a
// duplicate until expires.
func (c *replayCache) commit(k replayKey, expires, now time.Time, guard replayKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inFlight, k)
	if !now.Before(expires) {
		return
	}
	for len(c.byExpiry) > 0 && !now.Before(c.byExpiry[0].expires) {
		c.remove(c.byExpiry[0])
	}
	if e, ok := c.seen[k]; ok {
		c.remove(e)
	}
	for len(c.byExpiry) >= c.capacity {
		c.remove(c.byExpiry[0])
	}
	e := &replayEntry{key: k, expires: expires, guard: guard}
	c.seen[k] = e
	heap.Push(&c.byExpiry, e)
}

// release forgets the event in flight under k, which was not recorded:
// a retry must be applied.
func (c *replayCache) release(k replayKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inFlight, k)
}

// len returns the number of remembered events.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *replayCache) remove(e *replayEntry) {
	heap.Remove(&c.byExpiry, e.index)
	delete(c.seen, e.key)
}

// replayHeap orders entries by expiry, earliest first.
type replayHeap []*replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h replayHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *replayHeap) Push(x any) {
	e := x.(*replayEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *replayHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}

// deliveredEvent identifies one delivery of a sender's event for the
// replay checks.
type deliveredEvent struct {
	key replayKey
	// expires is when a replay of it is refused as stale anyway (or, for
	// PagerDuty without max_age, the end of the remembered window).
	expires time.Time
	// guarded: the identity is the body itself, which a sender may send
	// again as a new delivery (an incident opened again after its
	// resolution): it is a duplicate only while the incidents it named are
	// as it left them.
	guarded bool
}

// retryWindow is how long a delivery without an identity of its own is
// recognised by its body: long enough for a sender's retries after an
// answer it did not get (write_timeout and the sender's backoff), short
// enough that a genuinely new notification with the same body, such as
// an Alertmanager repeat_interval notification, is recorded again.
const retryWindow = 5 * time.Minute

// retryIdentity identifies a delivery by its endpoint and body, so that a
// sender retrying a request whose answer it did not get (a timeout, a lost
// connection) records nothing twice.
func retryIdentity(ep endpoint, body []byte, now time.Time) *deliveredEvent {
	h := sha256.New()
	h.Write([]byte("body\x00" + ep.path + "\x00"))
	h.Write(body)
	var k replayKey
	h.Sum(k[:0])
	return &deliveredEvent{key: k, expires: now.Add(retryWindow), guarded: true}
}

// stateGuard is the state of the incidents res names, as snap holds them:
// a redelivery of res is a duplicate only while it is unchanged.
func stateGuard(res *triggers.Result, snap *incidentsapi.Snapshot) replayKey {
	h := sha256.New()
	one := func(id string) {
		h.Write([]byte(id))
		if inc := snap.Incidents[id]; inc != nil {
			_, _ = fmt.Fprintf(h, "|%s|%d", inc.Status, inc.StartedAt.UnixNano())
			if inc.ResolvedAt != nil {
				_, _ = fmt.Fprintf(h, "|%d", inc.ResolvedAt.UnixNano())
			}
		}
		h.Write([]byte{0})
	}
	for i := range res.Open {
		one(res.Open[i].ID)
	}
	for _, rs := range res.Resolve {
		one(rs.ID)
	}
	var k replayKey
	h.Sum(k[:0])
	return k
}

// pdEventIdentity is the part of a PagerDuty v3 webhook the replay check
// reads; the body has been parsed by triggers.ParsePagerDuty already.
type pdEventIdentity struct {
	Event *struct {
		ID         string `json:"id"`
		OccurredAt string `json:"occurred_at"`
	} `json:"event"`
}

// identify returns the identity of the event a request delivers, for the
// endpoints whose events have one: PagerDuty (event.id, with the max_age
// check of event.occurred_at) and Grafana with a secret and max_age (the
// signature, which covers the timestamp and the body). Others return nil.
func (r *incidentWebhookReceiver) identify(ep endpoint, body []byte, header http.Header, now time.Time) (*deliveredEvent, *triggers.Error) {
	switch ep.kind {
	case kindPagerDuty:
		return r.identifyPagerDuty(body, now)
	case kindGrafana:
		if r.grafana.Secret == "" || r.grafana.MaxAge <= 0 {
			return nil, nil
		}
		// Verify has checked the signature and the timestamp's age.
		tsHeader := r.grafana.TimestampHeader
		if tsHeader == "" {
			tsHeader = triggers.GrafanaTimestampHeader
		}
		sigHeader := r.grafana.Header
		if sigHeader == "" {
			sigHeader = triggers.GrafanaSignatureHeader
		}
		secs, err := strconv.ParseInt(strings.TrimSpace(header.Get(tsHeader)), 10, 64)
		if err != nil {
			return nil, &triggers.Error{Status: http.StatusForbidden, Reason: triggers.ReasonBadSignature,
				Field: tsHeader, Msg: "the timestamp is not Unix seconds"}
		}
		sig := strings.ToLower(strings.TrimSpace(header.Get(sigHeader)))
		if sig == "" && r.grafana.Header == "" {
			sig = strings.ToLower(strings.TrimSpace(header.Get("X-Grafana-Alert-Signature")))
		}
		return &deliveredEvent{
			key:     newReplayKey("grafana", sig),
			expires: time.Unix(secs, 0).Add(r.grafana.MaxAge),
		}, nil
	}
	return nil, nil
}

func (r *incidentWebhookReceiver) identifyPagerDuty(body []byte, now time.Time) (*deliveredEvent, *triggers.Error) {
	var w pdEventIdentity
	if err := json.Unmarshal(body, &w); err != nil || w.Event == nil || w.Event.ID == "" {
		// ParsePagerDuty accepted the body, so this cannot happen.
		return nil, &triggers.Error{Status: http.StatusBadRequest, Reason: triggers.ReasonMissingField, Field: "event.id", Msg: "is required"}
	}
	maxAge := r.cfg.PagerDuty.MaxAge
	key := newReplayKey("pagerduty", w.Event.ID)
	if maxAge <= 0 {
		return &deliveredEvent{key: key, expires: now.Add(replayWindowWithoutMaxAge)}, nil
	}
	const field = "event.occurred_at"
	if w.Event.OccurredAt == "" {
		return nil, &triggers.Error{Status: http.StatusBadRequest, Reason: triggers.ReasonMissingField, Field: field,
			Msg: "is required when 'pagerduty.max_age' is set"}
	}
	occurred, err := time.Parse(time.RFC3339Nano, w.Event.OccurredAt)
	if err != nil {
		return nil, &triggers.Error{Status: http.StatusBadRequest, Reason: triggers.ReasonInvalidField, Field: field,
			Msg: "must be an RFC 3339 timestamp"}
	}
	switch age := now.Sub(occurred); {
	case age > maxAge:
		return nil, &triggers.Error{Status: http.StatusForbidden, Reason: reasonStaleEvent, Field: field,
			Msg: fmt.Sprintf("the event occurred %s ago, more than 'pagerduty.max_age' (%s): a replay or a late delivery",
				age.Round(time.Second), maxAge)}
	case age < -maxAge:
		return nil, &triggers.Error{Status: http.StatusForbidden, Reason: reasonStaleEvent, Field: field,
			Msg: fmt.Sprintf("the event occurred %s in the future, more than 'pagerduty.max_age' (%s)",
				(-age).Round(time.Second), maxAge)}
	}
	return &deliveredEvent{key: key, expires: occurred.Add(maxAge)}, nil
}
