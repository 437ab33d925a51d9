// Package threadcpu reads the CPU time of the calling OS thread, for
// benchmarks that compare contenders on a shared machine: unlike wall time,
// it does not grow while the thread waits for a CPU that another process
// holds. Callers lock their goroutine to its thread (Lock) around the
// measured code.
package threadcpu

import (
	"runtime"
	"testing"
	"time"
)

// Lock locks the calling goroutine to its OS thread and returns the
// function that unlocks it.
func Lock() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// Interleave runs every contender once per iteration of b.Loop, on the
// calling goroutine locked to its thread, in an order that rotates from one
// iteration to the next so that none always runs on caches another has
// cooled. Each contender gets the iteration number. It returns the thread
// CPU time each contender took in total (wall time where the thread's CPU
// clock cannot be read, see Now) and the number of iterations.
func Interleave(b *testing.B, contenders ...func(iter int)) ([]time.Duration, int) {
	b.Helper()
	return InterleavePrepared(b, nil, contenders...)
}

// InterleavePrepared is Interleave with an untimed step: when prepare is
// not nil, it runs right before each contender's turn, outside that turn's
// timing, for instance to hand every contender a fresh copy of its input.
func InterleavePrepared(b *testing.B, prepare func(iter int), contenders ...func(iter int)) ([]time.Duration, int) {
	b.Helper()
	defer Lock()()
	cpu := make([]time.Duration, len(contenders))
	i := 0
	for b.Loop() {
		for k := range contenders {
			c := (i + k) % len(contenders)
			if prepare != nil {
				prepare(i)
			}
			start, _ := Now()
			contenders[c](i)
			end, _ := Now()
			cpu[c] += end - start
		}
		i++
	}
	return cpu, i
}
