package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"slices"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// eventOverhead approximates the memory of an event besides its payload.
const eventOverhead = 512

// eventLog holds recorded events in (Time, key) order, each once, within
// maxEvents and maxEventBytes.
type eventLog struct {
	entries []storedEvent
	keys    map[string]struct{}
	bytes   int
}

func eventSize(e *storedEvent) int { return eventOverhead + len(e.Key) + len(e.Event.Payload) }

func compareEntry(a storedEvent, t time.Time, key string) int {
	if c := a.Event.Time.Compare(t); c != 0 {
		return c
	}
	return strings.Compare(a.Key, key)
}

// add inserts ev under key unless that key is already present. Events
// mostly arrive in time order, so the insertion is usually an append.
func (l *eventLog) add(key string, ev incident.Event) {
	if l.keys == nil {
		l.keys = make(map[string]struct{})
	}
	if _, ok := l.keys[key]; ok {
		return
	}
	l.keys[key] = struct{}{}
	e := storedEvent{Key: key, Event: ev}
	n := len(l.entries)
	if n == 0 || compareEntry(l.entries[n-1], ev.Time, key) < 0 {
		l.entries = append(l.entries, e)
	} else {
		i, _ := slices.BinarySearchFunc(l.entries, e, func(a, b storedEvent) int { return compareEntry(a, b.Event.Time, b.Key) })
		l.entries = slices.Insert(l.entries, i, e)
	}
	l.bytes += eventSize(&e)
	if over := len(l.entries) - maxEvents; over > 0 {
		l.dropFirst(over)
	}
	// Over the byte budget: drop the oldest, keeping at least the newest.
	drop, freed := 0, 0
	for l.bytes-freed > maxEventBytes && drop < len(l.entries)-1 {
		freed += eventSize(&l.entries[drop])
		drop++
	}
	l.dropFirst(drop)
}

// pruneBefore drops the events older than t.
func (l *eventLog) pruneBefore(t time.Time) {
	i, _ := slices.BinarySearchFunc(l.entries, t, func(a storedEvent, t time.Time) int {
		if a.Event.Time.Before(t) {
			return -1
		}
		return 1
	})
	l.dropFirst(i)
}

func (l *eventLog) dropFirst(n int) {
	if n <= 0 {
		return
	}
	for i := range l.entries[:n] {
		delete(l.keys, l.entries[i].Key)
		l.bytes -= eventSize(&l.entries[i])
	}
	l.entries = slices.Delete(l.entries, 0, n)
}

// between returns copies of the events with from <= Time <= to.
func (l *eventLog) between(from, to time.Time) []incident.Event {
	lo, _ := slices.BinarySearchFunc(l.entries, from, func(a storedEvent, t time.Time) int {
		if a.Event.Time.Before(t) {
			return -1
		}
		return 1
	})
	var out []incident.Event
	for _, e := range l.entries[lo:] {
		if e.Event.Time.After(to) {
			break
		}
		out = append(out, e.Event)
	}
	return out
}

// all returns the stored entries (shared; callers copy what they keep).
func (l *eventLog) all() []storedEvent { return l.entries }
