package incidentsextension

import (
	"fmt"
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
	for _, ev := range l.between(base, base.Add(time.Hour)) {
		got = append(got, ev.Source)
	}
	assert.Equal(t, []string{"k1", "k2", "k0", "k3"}, got, "time order, then key order; duplicates dropped")

	l.pruneBefore(base.Add(2 * time.Minute))
	assert.Len(t, l.all(), 3)
	assert.Len(t, l.keys, 3)
	assert.Empty(t, l.between(base.Add(4*time.Minute), base.Add(time.Hour)))
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
		total += eventSize(&l.all()[i])
	}
	assert.Equal(t, total, l.bytes)
}
