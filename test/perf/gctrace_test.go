package perf

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGCTrace(t *testing.T) {
	out := []byte("2026-11-26T19:00:00Z info starting\n" +
		"gc 1 @0.019s 1%: 0.015+1.2+0.003 ms clock, 0.031+0.20/1.0/0.45+0.007 ms cpu, 3->3->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"2026-11-26T19:00:01Z info Everything is ready\n" +
		"gc 27 @12.5s 3%: 0.02+2.1+0.01 ms clock, 0.05+0.3/1.9/0.8+0.02 ms cpu, 9->10->4 MB, 9 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"2026-11-26T19:00:02Z info a log line that mentions gc 99 @ but is no trace\n")
	cycle, live, ok := GCTrace(out)
	assert.True(t, ok)
	assert.Equal(t, 27, cycle)
	assert.Equal(t, 4, live)

	// A trace line at the very start of the output counts too.
	cycle, live, ok = GCTrace([]byte("gc 3 @1s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 5->6->2 MB, 8 MB goal, 2 P\n"))
	assert.True(t, ok)
	assert.Equal(t, 3, cycle)
	assert.Equal(t, 2, live)

	_, _, ok = GCTrace([]byte("no trace here\n"))
	assert.False(t, ok)
}
