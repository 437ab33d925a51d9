package ring

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// TestScratchBuffersSurviveGC: an append after garbage collections reuses
// the scratch buffers of the appends before it instead of allocating and
// growing new ones (megabytes each for a large batch).
func TestScratchBuffersSurviveGC(t *testing.T) {
	for _, cfg := range []Config{
		{MaxBytes: 64 << 20, Compression: CompressionS2},
		{MaxBytes: 64 << 20, SegmentSize: 8 << 20, Directory: t.TempDir(), Compression: CompressionS2},
	} {
		r, err := Open(cfg, zap.NewNop())
		require.NoError(t, err)
		// 8,000 spans: a payload of megabytes, far beyond a new buffer's
		// 64 KiB; without kept buffers, the append after the collections
		// allocates about 17 MB growing new ones.
		td := testgen.Traces(1, 8000, testgen.DefaultResources, testgen.DefaultStart, time.Millisecond)
		_, err = r.AppendTraces(td)
		require.NoError(t, err)
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.GC() // a sync.Pool keeps its buffers for one collection
		runtime.ReadMemStats(&ms0)
		_, err = r.AppendTraces(td)
		require.NoError(t, err)
		runtime.ReadMemStats(&ms1)
		assert.Less(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(256<<10), "bytes allocated by an append after two collections (directory %q)", cfg.Directory)
		require.NoError(t, r.Close())
	}
}
