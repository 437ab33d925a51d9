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
	// The ring fills its arena front to back, so each page is first written
	// by an append, under the ring's lock: with 4 KiB pages that is a page
	// fault for every 4 KiB stored, costly on virtual machines. Huge pages
	// (where transparent huge pages are enabled, as "madvise" or "always")
	// take one fault per 2 MiB. Resident memory still grows only as the
	// ring fills, by at most one huge page more. Best effort: a kernel
	// without them keeps the small pages.
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
	return b, func() error {
		if err := syscall.Munmap(b); err != nil {
			return fmt.Errorf("ring: unmap the memory arena: %w", err)
		}
		return nil
	}, nil
}
