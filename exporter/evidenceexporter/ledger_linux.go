//go:build linux

package evidenceexporter

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// mapLedger maps size bytes of f shared, so that a record written into the
// mapping is in the file's page cache at once.
func mapLedger(f *os.File, size int) ([]byte, func() error, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return mem, func() error { return syscall.Munmap(mem) }, nil
}

// bootTime is a variable for tests.
var bootTime = func() time.Time {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano())).UTC()
}
