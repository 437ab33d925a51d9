// Package threadcpu reads the CPU time of the calling OS thread, for
// benchmarks that compare contenders on a shared machine: unlike wall time,
// it does not grow while the thread waits for a CPU that another process
// holds. Callers lock their goroutine to its thread (Lock) around the
// measured code.
package threadcpu

import "runtime"

// Lock locks the calling goroutine to its OS thread and returns the
// function that unlocks it.
func Lock() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
