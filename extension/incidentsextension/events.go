package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"bytes"
	"compress/flate"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// eventOverhead approximates the memory of an event besides its payload.
const eventOverhead = 512

// minPackedPayload is the smallest payload kept compressed.
const minPackedPayload = 128

// eventLog holds recorded events in (Time, key) order, each once, within
// maxEvents and maxEventBytes. Payloads (the received bodies, kept as
// evidence) are held deflated: they are most of an event's memory, and
// every open incident has at least one. Readers get them back byte for
// byte.
type eventLog struct {
	// entries point to the events, so that the list's spare capacity
	// costs a pointer per event, not an event.
	entries []*logEntry
	keys    map[string]struct{}
	bytes   int
	// mark counts the events added: each entry holds the count at its
	// addition (see incidentsapi.Registry.EventsSince).
	mark uint64
	// packer deflates the payloads of added events (add runs under the
	// write lock).
	packer *flate.Writer
	buf    bytes.Buffer
}

// logEntry is a stored event whose payload, when it was worth it, is held
// deflated (packed is then set and Event.Payload holds the deflated bytes).
type logEntry struct {
	storedEvent
	mark       uint64
	payloadLen int32 // as received; a request body is far below 2 GiB
	packed     bool
}

// eventSize is what an event counts against maxEventBytes: its payload
// counts at its received size.
func eventSize(e *logEntry) int { return eventOverhead + len(e.Key) + int(e.payloadLen) }

// inflaters are reused between readers (between runs under the read lock,
// possibly from several goroutines).
var inflaters sync.Pool

// event returns the entry's event with its payload as received.
func (e *logEntry) event() incident.Event {
	ev := e.Event
	if !e.packed {
		return ev
	}
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(bytes.NewReader(e.Event.Payload))
	} else if err := r.(flate.Resetter).Reset(bytes.NewReader(e.Event.Payload), nil); err != nil {
		panic("incidents: reset a deflate reader: " + err.Error()) // never fails without a dictionary
	}
	payload := make([]byte, e.payloadLen)
	if _, err := io.ReadFull(r, payload); err != nil {
		// Only this process wrote packed: it cannot be damaged.
		panic("incidents: inflate a recorded payload: " + err.Error())
	}
	inflaters.Put(r)
	ev.Payload = payload
	return ev
}

// pack returns the entry of ev, its payload deflated when that is
// smaller.
func (l *eventLog) pack(key string, ev incident.Event) *logEntry {
	e := &logEntry{storedEvent: storedEvent{Key: key, Event: ev}, payloadLen: int32(min(len(ev.Payload), math.MaxInt32))}
	if len(ev.Payload) < minPackedPayload || len(ev.Payload) > math.MaxInt32 {
		return e
	}
	l.buf.Reset()
	if l.packer == nil {
		l.packer, _ = flate.NewWriter(&l.buf, flate.BestSpeed) // a valid level: no error
	} else {
		l.packer.Reset(&l.buf)
	}
	_, werr := l.packer.Write(ev.Payload)
	cerr := l.packer.Close()
	if werr != nil || cerr != nil || l.buf.Len() >= len(ev.Payload) {
		return e
	}
	e.Event.Payload, e.packed = bytes.Clone(l.buf.Bytes()), true
	return e
}

func compareEntry(a *logEntry, t time.Time, key string) int {
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
	e := l.pack(key, ev)
	l.mark++
	e.mark = l.mark
	n := len(l.entries)
	if n == 0 || compareEntry(l.entries[n-1], ev.Time, key) < 0 {
		l.entries = append(l.entries, e)
	} else {
		i, _ := slices.BinarySearchFunc(l.entries, e, func(a, b *logEntry) int { return compareEntry(a, b.Event.Time, b.Key) })
		l.entries = slices.Insert(l.entries, i, e)
	}
	l.bytes += eventSize(e)
	if over := len(l.entries) - maxEvents; over > 0 {
		l.dropFirst(over)
	}
	// Over the byte budget: drop the oldest, keeping at least the newest.
	drop, freed := 0, 0
	for l.bytes-freed > maxEventBytes && drop < len(l.entries)-1 {
		freed += eventSize(l.entries[drop])
		drop++
	}
	l.dropFirst(drop)
}

// pruneBefore drops the events older than t.
func (l *eventLog) pruneBefore(t time.Time) {
	i, _ := slices.BinarySearchFunc(l.entries, t, func(a *logEntry, t time.Time) int {
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
		l.bytes -= eventSize(l.entries[i])
	}
	l.entries = slices.Delete(l.entries, 0, n)
}

// between returns copies of the events with from <= Time <= to, except
// those added up to mark with a Time at most had (had zero: none), and the
// mark of the newest event added. An event left out costs two comparisons:
// its payload is not inflated nor its event copied.
func (l *eventLog) between(from, to time.Time, mark uint64, had time.Time) ([]incident.Event, uint64) {
	lo, _ := slices.BinarySearchFunc(l.entries, from, func(a *logEntry, t time.Time) int {
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
		if e.mark <= mark && !had.IsZero() && !e.Event.Time.After(had) {
			continue
		}
		out = append(out, e.event())
	}
	return out, l.mark
}

// all returns the stored entries (shared; callers copy what they keep).
func (l *eventLog) all() []*logEntry { return l.entries }

// stored returns the events as the snapshot stores them, payloads as
// received.
func (l *eventLog) stored() []storedEvent {
	out := make([]storedEvent, len(l.entries))
	for i := range l.entries {
		out[i] = storedEvent{Key: l.entries[i].Key, Event: l.entries[i].event()}
	}
	return out
}
