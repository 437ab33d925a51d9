package perf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const benchText = `goos: linux
goarch: amd64
pkg: github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring
cpu: AMD EPYC
BenchmarkIngestVsFloor/memory-s2-2         	     200	   1000000 ns/op	         1.80 x-floor	  500000 B/op	      12 allocs/op
BenchmarkIngestVsFloor/memory-s2-2         	     200	   1100000 ns/op	         2.00 x-floor	  500000 B/op	      12 allocs/op
BenchmarkIngestVsFloor/memory-s2-2         	     200	   1200000 ns/op	         2.60 x-floor	  500000 B/op	      12 allocs/op
BenchmarkSomething-2 some log line the benchmark printed
PASS
ok  	github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring	3.1s
pkg: github.com/otel-evidence/otel-evidence/pkg/bundle
BenchmarkPartWriter/otlp_json-2   	      10	 100 ns/op	 120.5 bytes/span	 900.0 raw-bytes/span	 50.00 MB/s
BenchmarkPartWriter/otlp_json-2   	      10	 300 ns/op	 121.5 bytes/span	 900.0 raw-bytes/span	 50.00 MB/s
`

func TestParseBench(t *testing.T) {
	set, err := ParseBench(strings.NewReader(benchText))
	require.NoError(t, err)
	require.Len(t, set.Results, 2)

	ring := set.Get("github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring", "BenchmarkIngestVsFloor/memory-s2")
	require.NotNil(t, ring)
	assert.Equal(t, 3, ring.Runs)
	tests := []struct {
		name string
		res  *BenchResult
		unit string
		want float64
		ok   bool
	}{
		{"odd count median", ring, "x-floor", 2.0, true},
		{"ns/op", ring, "ns/op", 1100000, true},
		{"even count median", set.Get("github.com/otel-evidence/otel-evidence/pkg/bundle", "BenchmarkPartWriter/otlp_json"), "ns/op", 200, true},
		{"missing unit", ring, "bytes/span", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotNil(t, tt.res)
			got, ok := tt.res.Median(tt.unit)
			assert.Equal(t, tt.ok, ok)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
	assert.Nil(t, set.Get("github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring", "BenchmarkNope"))
}

func TestParseBenchBadValue(t *testing.T) {
	_, err := ParseBench(strings.NewReader("BenchmarkX-2 10 abc ns/op\n"))
	require.ErrorContains(t, err, "BenchmarkX")
}

func FuzzParseBench(f *testing.F) {
	f.Add(benchText)
	f.Add("BenchmarkX-2 1 1 ns/op 2")
	f.Fuzz(func(_ *testing.T, in string) {
		_, _ = ParseBench(strings.NewReader(in)) // must not panic
	})
}
