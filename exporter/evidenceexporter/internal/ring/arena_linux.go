//go:build linux

package ring

import (
	"fmt"
	"syscall"
)

// osArena maps an anonymous private region of size bytes. Pages cost
// resident memory only once written. MAP_NORESERVE keeps a large, mostly
// untouched ring from failing under the kernel's overcommit heuristics.
func osArena(size int) ([]byte, func() error, error) {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, nil, fmt.Errorf("ring: map a memory arena of %d bytes (MaxBytes): %w", size, err)
	}
	return b, func() error {
		if err := syscall.Munmap(b); err != nil {
			return fmt.Errorf("ring: unmap the memory arena: %w", err)
		}
		return nil
	}, nil
}
