//go:build linux

package threadcpu

import (
	"time"

	"golang.org/x/sys/unix"
)

// Now returns the CPU time used so far by the calling OS thread, and false
// (with the wall clock instead) where the thread's CPU clock cannot be read.
func Now() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return time.Duration(time.Now().UnixNano()), false
	}
	return time.Duration(ts.Nano()), true
}
