package perf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHeapText(t *testing.T) {
	// The end of a heap profile's text form, as Go 1.25 writes it.
	text := "heap profile: 1: 2 [3: 4] @ heap/1048576\n" +
		"1: 2 [3: 4] @ 0x1 0x2\n#\t0x1\tmain.f+0x1\tf.go:1\n\n" +
		"# runtime.MemStats\n# Alloc = 123\n# TotalAlloc = 999\n# Sys = 5000\n" +
		"# HeapAlloc = 4194304\n# HeapSys = 8000000\n# HeapIdle = 100\n# HeapInuse = 5242880\n" +
		"# PauseNs = [1 2 3]\n# NumGC = 7\n"
	h, err := ParseHeapText([]byte(text))
	require.NoError(t, err)
	assert.Equal(t, HeapStats{HeapAlloc: 4194304, HeapInuse: 5242880}, h)

	_, err = ParseHeapText([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n"))
	require.ErrorContains(t, err, "no runtime.MemStats")
	_, err = ParseHeapText([]byte("# HeapAlloc = x\n# HeapInuse = 1\n"))
	require.ErrorContains(t, err, "HeapAlloc")
}
