//go:build !windows

package harness

import "syscall"

var terminateSignal = syscall.SIGTERM
