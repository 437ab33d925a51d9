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
	// A fixed amount of work (about 20ms of CPU here), then a 100ms sleep:
	// only the work counts. The work is counted in iterations, not wall
	// time, so a loaded machine that gives this thread less of each
	// millisecond does not shrink the CPU time it costs.
	x := uint64(1)
	for range 10_000_000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	time.Sleep(100 * time.Millisecond)
	end, _ := Now()
	used := end - start
	assert.Positive(t, x)
	if ok {
		t.Logf("the work cost %s of this thread's CPU", used)
		assert.Greater(t, used, 5*time.Millisecond, "the work must be counted")
		assert.Less(t, used, 90*time.Millisecond, "the sleep must not be counted")
	}
}

var sink int

func TestInterleaveRotatesAndCountsEveryContender(t *testing.T) {
	var (
		calls  [3]int
		firsts [3]int
		iters  int
		cpu    []time.Duration
		last   = -1
	)
	contender := func(k int) func(int) {
		return func(i int) {
			calls[k]++
			if i != last {
				firsts[k]++ // the first contender of iteration i
				last = i
			}
			if k == 2 {
				// Only the third one works, so only it has CPU time to
				// speak of.
				for x := range 200_000 {
					sink += x * x
				}
			}
		}
	}
	testing.Benchmark(func(b *testing.B) {
		calls, firsts, last = [3]int{}, [3]int{}, -1
		cpu, iters = Interleave(b, contender(0), contender(1), contender(2))
	})
	require.Positive(t, iters)
	require.Len(t, cpu, 3)
	for k := range 3 {
		assert.Equal(t, iters, calls[k], "contender %d runs once per iteration", k)
		assert.InDelta(t, iters/3, firsts[k], 1, "contender %d goes first in a third of the iterations", k)
	}
	if runtime.GOOS == "linux" {
		assert.Greater(t, cpu[2], cpu[0], "each contender's time is its own")
	}
}

func TestInterleavePreparedRunsPrepareUntimedBeforeEveryTurn(t *testing.T) {
	var (
		prepared, unprepared, calls int
		ready                       bool
		prepCPU                     time.Duration
		cpu                         []time.Duration
		iters                       int
	)
	prepare := func(int) {
		prepared++
		start, _ := Now()
		for x := range 200_000 {
			sink += x * x
		}
		end, _ := Now()
		prepCPU += end - start
		ready = true
	}
	contender := func(int) {
		calls++
		if !ready {
			unprepared++
		}
		ready = false
	}
	testing.Benchmark(func(b *testing.B) {
		prepared, unprepared, calls, prepCPU = 0, 0, 0, 0
		cpu, iters = InterleavePrepared(b, prepare, contender, contender)
	})
	require.Positive(t, iters)
	assert.Equal(t, 2*iters, calls)
	assert.Equal(t, calls, prepared, "prepare runs once per turn")
	assert.Zero(t, unprepared, "every turn starts right after prepare")
	if runtime.GOOS == "linux" {
		assert.Less(t, cpu[0]+cpu[1], prepCPU/4, "prepare's work is not charged to the contenders")
	}
}
