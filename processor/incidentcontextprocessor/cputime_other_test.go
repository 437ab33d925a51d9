//go:build !linux

package incidentcontextprocessor

// threadCPUTime is only implemented on Linux.
func threadCPUTime() (int64, bool) { return 0, false }
