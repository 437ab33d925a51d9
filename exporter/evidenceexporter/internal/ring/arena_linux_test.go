//go:build linux

package ring

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestArenaAsksForHugePages: where transparent huge pages are enabled only
// for regions that ask (the "madvise" mode), the arena is eligible for
// them, so that filling it takes one page fault per 2 MiB.
func TestArenaAsksForHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(mode), "[madvise]") {
		t.Skipf("transparent huge pages are not in madvise mode here (%q, %v)", strings.TrimSpace(string(mode)), err)
	}
	const size = 64 << 20
	b, unmap, err := osArena(size)
	require.NoError(t, err)
	defer func() { require.NoError(t, unmap()) }()
	start := uintptr(unsafe.Pointer(&b[0]))

	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	// The mapping holding the arena's first byte (it may have merged with
	// a neighbour of the same flags), then its THPeligible field.
	in, found, eligible := false, "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= start && start < hi
			if in {
				found = line
			}
			continue
		}
		if in && strings.HasPrefix(line, "THPeligible:") {
			eligible = strings.TrimSpace(strings.TrimPrefix(line, "THPeligible:"))
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, found, "no mapping holds the arena at %#x", start)
	require.Equal(t, "1", eligible, "THPeligible of the arena's mapping %s", found)
}
