//go:build !linux

package ring

// osArena falls back to the Go heap outside Linux: the ring works the same,
// but the garbage collector counts its bytes (resident memory can reach
// about twice MaxBytes under the default GOGC).
func osArena(size int) ([]byte, func() error, error) { return heapArena(size) }
