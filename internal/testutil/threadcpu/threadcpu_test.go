package threadcpu

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNowCountsOnlyThisThreadsWork(t *testing.T) {
	defer Lock()()
	start, ok := Now()
	if runtime.GOOS == "linux" {
		require.True(t, ok, "the thread CPU clock must be readable on Linux")
	}
	// Spin ~20ms of CPU, then sleep 100ms: only the spin counts.
	spinUntil := time.Now().Add(20 * time.Millisecond)
	x := 0
	for time.Now().Before(spinUntil) {
		x++
	}
	time.Sleep(100 * time.Millisecond)
	end, _ := Now()
	used := end - start
	assert.Positive(t, x)
	if ok {
		assert.Greater(t, used, 5*time.Millisecond, "the spin must be counted")
		assert.Less(t, used, 90*time.Millisecond, "the sleep must not be counted")
	}
}
