package ring

import "fmt"

// newArena allocates the payload arena of a memory ring, size bytes used as
// a circular byte buffer, and returns it with the function that releases it.
// On Linux it maps anonymous memory outside the Go heap (arena_linux.go);
// elsewhere it falls back to the heap (arena_other.go). Tests swap it for
// heapArena to let the race detector see the arena's accesses (it does not
// track memory outside the Go heap).
var newArena = osArena

// heapArena is an arena on the Go heap.
func heapArena(size int) ([]byte, func() error, error) {
	return make([]byte, size), func() error { return nil }, nil
}

// arenaSize checks that MaxBytes can be the size of an arena.
func arenaSize(maxBytes int64) (int, error) {
	if int64(int(maxBytes)) != maxBytes {
		return 0, fmt.Errorf("ring: MaxBytes %d is too large for a memory ring on this platform", maxBytes)
	}
	return int(maxBytes), nil
}
