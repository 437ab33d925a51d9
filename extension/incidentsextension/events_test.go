package incidentsextension

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestEventLog(t *testing.T) {
	var l eventLog
	base := time.Unix(1700000000, 0).UTC()
	for _, c := range []struct {
		key string
		min int
	}{{"k3", 3}, {"k1", 1}, {"k2", 2}, {"k1", 1}, {"k0", 3}} {
		l.add(c.key, incident.Event{Time: base.Add(time.Duration(c.min) * time.Minute), Source: c.key})
	}
	var got []string
	for _, ev := range l.window(base, base.Add(time.Hour)) {
		got = append(got, ev.Source)
	}
	assert.Equal(t, []string{"k1", "k2", "k0", "k3"}, got, "time order, then key order; duplicates dropped")

	l.pruneBefore(base.Add(2 * time.Minute))
	assert.Len(t, l.all(), 3)
	assert.Len(t, l.keys, 3)
	assert.Empty(t, l.window(base.Add(4*time.Minute), base.Add(time.Hour)))
}

// window is between with nothing left out.
func (l *eventLog) window(from, to time.Time) []incident.Event {
	evs, _ := l.between(from, to, 0, time.Time{})
	return evs
}

// TestEventLogSince: a reader that reads a window again gets only what it
// has not had: events added after its mark, and those with a time after
// the bound it read up to.
func TestEventLogSince(t *testing.T) {
	var l eventLog
	base := time.Unix(1700000000, 0).UTC()
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	sources := func(evs []incident.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Source)
		}
		return out
	}
	l.add("a", incident.Event{Time: at(1), Source: "a"})
	l.add("b", incident.Event{Time: at(2), Source: "b"})
	l.add("c", incident.Event{Time: at(8), Source: "c"}) // after the first read's bound
	evs, mark := l.between(at(0), at(5), 0, time.Time{})
	assert.Equal(t, []string{"a", "b"}, sources(evs))
	assert.Equal(t, uint64(3), mark)

	l.add("late", incident.Event{Time: at(1), Source: "late"}) // a time already read
	l.add("b", incident.Event{Time: at(2), Source: "b"})       // a duplicate adds nothing
	l.add("d", incident.Event{Time: at(9), Source: "d"})
	evs, next := l.between(at(0), at(10), mark, at(5))
	assert.Equal(t, []string{"late", "c", "d"}, sources(evs), "new events, and the old ones after the bound read")
	assert.Equal(t, uint64(5), next)

	evs, _ = l.between(at(0), at(10), next, at(10))
	assert.Empty(t, evs, "nothing new")
	evs, _ = l.between(at(0), at(10), next, time.Time{})
	assert.Len(t, evs, 5, "a zero bound leaves nothing out")
}

func TestEventLogByteBound(t *testing.T) {
	var l eventLog
	payload := make([]byte, 1<<20) // shared by every event: cheap to hold
	n := maxEventBytes/len(payload) + 10
	for i := range n {
		l.add(fmt.Sprintf("k%04d", i), incident.Event{Time: time.Unix(int64(i), 0), Payload: payload})
	}
	require.LessOrEqual(t, l.bytes, maxEventBytes)
	assert.Less(t, len(l.all()), n)
	assert.Len(t, l.keys, len(l.all()))
	assert.Equal(t, fmt.Sprintf("k%04d", n-1), l.all()[len(l.all())-1].Key, "the newest is kept")
	total := 0
	for i := range l.all() {
		total += eventSize(l.all()[i])
	}
	assert.Equal(t, total, l.bytes)
}

// TestEventLogPayloads: payloads are held deflated when that is smaller and
// come back byte for byte, from between and in the stored snapshot.
func TestEventLogPayloads(t *testing.T) {
	var l eventLog
	base := time.Unix(1700000000, 0).UTC()
	body := []byte(`{"version":"4","status":"firing","alerts":[` + strings.Repeat(`{"labels":{"alertname":"HighErrorRate","severity":"critical"}},`, 20) + `{}]}`)
	noise := make([]byte, 4096)
	_, err := rand.Read(noise)
	require.NoError(t, err)
	payloads := map[string][]byte{
		"a-json":  body,
		"b-small": []byte(`{"a":1}`),
		"c-noise": noise,
		"d-none":  nil,
	}
	for key, p := range payloads {
		l.add(key, incident.Event{Time: base, Source: key, Payload: bytes.Clone(p)})
	}
	for _, e := range l.all() {
		assert.Equal(t, eventOverhead+len(e.Key)+len(payloads[e.Key]), eventSize(e), e.Key)
		if e.Key == "a-json" {
			assert.True(t, e.packed, "a compressible payload is held deflated")
			assert.Less(t, len(e.Event.Payload), len(body)/2)
		} else {
			assert.False(t, e.packed, "%s is held as received", e.Key)
			assert.Equal(t, payloads[e.Key], []byte(e.Event.Payload), e.Key)
		}
	}
	for range 2 { // the second time through reused inflaters
		evs := l.window(base, base)
		require.Len(t, evs, len(payloads))
		for _, ev := range evs {
			assert.Equal(t, payloads[ev.Source], []byte(ev.Payload), ev.Source)
		}
	}
	for _, se := range l.stored() {
		assert.Equal(t, payloads[se.Key], []byte(se.Event.Payload), se.Key)
	}
	// A reader owns what it gets.
	evs := l.window(base, base)
	evs[0].Payload[0] = 'X'
	assert.Equal(t, body, []byte(l.window(base, base)[0].Payload))
}
