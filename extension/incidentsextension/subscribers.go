package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"sync"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// maxPendingChanges bounds the changes queued for one subscriber that does
// not keep up. Writers never wait for subscribers; past this bound the
// oldest undelivered changes are dropped (and logged).
const maxPendingChanges = 10000

// subscriber delivers changes to one callback, in order, from its own
// goroutine.
type subscriber struct {
	fn     func(incidentsapi.Change)
	logger *zap.Logger

	mu      sync.Mutex
	queue   []incidentsapi.Change
	dropped int
	stopped bool
	wake    chan struct{}
	stop    chan struct{}
}

// subscribers is the set of live subscriptions.
type subscribers struct {
	logger *zap.Logger

	mu     sync.Mutex
	closed bool
	next   uint64
	subs   map[uint64]*subscriber
	wg     sync.WaitGroup
}

func newSubscribers(logger *zap.Logger) *subscribers {
	return &subscribers{logger: logger, subs: make(map[uint64]*subscriber)}
}

// add starts a subscription; after close it returns a no-op cancel.
func (s *subscribers) add(fn func(incidentsapi.Change)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || fn == nil {
		return func() {}
	}
	sub := &subscriber{
		fn:     fn,
		logger: s.logger,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	id := s.next
	s.next++
	s.subs[id] = sub
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sub.run()
	}()
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
		sub.cancel()
	}
}

// publish queues changes for every subscriber. It never blocks on a
// subscriber's callback.
func (s *subscribers) publish(changes []incidentsapi.Change) {
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		sub.enqueue(changes)
	}
}

// close cancels every subscription and waits for their goroutines (and so
// for any callback still running).
func (s *subscribers) close() {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = map[uint64]*subscriber{}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.cancel()
	}
	s.wg.Wait()
}

func (sub *subscriber) enqueue(changes []incidentsapi.Change) {
	sub.mu.Lock()
	if sub.stopped {
		sub.mu.Unlock()
		return
	}
	sub.queue = append(sub.queue, changes...)
	if over := len(sub.queue) - maxPendingChanges; over > 0 {
		sub.queue = append(sub.queue[:0], sub.queue[over:]...)
		sub.dropped += over
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *subscriber) cancel() {
	sub.mu.Lock()
	if !sub.stopped {
		sub.stopped = true
		sub.queue = nil
		close(sub.stop)
	}
	sub.mu.Unlock()
}

func (sub *subscriber) run() {
	for {
		select {
		case <-sub.stop:
			return
		case <-sub.wake:
		}
		for {
			sub.mu.Lock()
			if sub.stopped {
				sub.mu.Unlock()
				return
			}
			if sub.dropped > 0 {
				sub.logger.Error("Incident change subscriber too slow; dropped the oldest changes",
					zap.Int("dropped", sub.dropped), zap.Int("max_pending", maxPendingChanges))
				sub.dropped = 0
			}
			if len(sub.queue) == 0 {
				sub.mu.Unlock()
				break
			}
			c := sub.queue[0]
			sub.queue[0] = incidentsapi.Change{}
			sub.queue = sub.queue[1:]
			sub.mu.Unlock()
			sub.deliver(c)
		}
	}
}

// deliver calls the callback, containing a panic so that one faulty
// subscriber cannot take the collector down.
func (sub *subscriber) deliver(c incidentsapi.Change) {
	defer func() {
		if r := recover(); r != nil {
			sub.logger.Error("Incident change subscriber panicked", zap.Any("panic", r),
				zap.String("incident.id", c.Incident.ID), zap.Stringer("change", c.Kind))
		}
	}()
	sub.fn(c)
}
