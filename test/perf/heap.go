package perf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// HeapStats are the Go heap figures a collector's pprof extension reports
// after a forced garbage collection.
type HeapStats struct {
	// HeapAlloc is the bytes of live heap objects (runtime.MemStats).
	HeapAlloc int64
	// HeapInuse is the bytes in in-use heap spans.
	HeapInuse int64
}

// ParseHeapText reads the runtime.MemStats block that the heap profile's
// text form (/debug/pprof/heap?debug=1) ends with.
func ParseHeapText(data []byte) (HeapStats, error) {
	var h HeapStats
	found := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "HeapAlloc":
			dst = &h.HeapAlloc
		case "HeapInuse":
			dst = &h.HeapInuse
		default:
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return HeapStats{}, fmt.Errorf("heap profile: %s = %q: %w", k, v, err)
		}
		*dst = n
		found[k] = true
	}
	if err := sc.Err(); err != nil {
		return HeapStats{}, err
	}
	if !found["HeapAlloc"] || !found["HeapInuse"] {
		return HeapStats{}, errors.New("heap profile: no runtime.MemStats block (HeapAlloc, HeapInuse)")
	}
	return h, nil
}

// HeapAfterGC asks the pprof extension at addr for the heap profile after
// a garbage collection (gc=1) and returns its MemStats figures.
func HeapAfterGC(ctx context.Context, addr string) (HeapStats, error) {
	body, err := pprofGet(ctx, "http://"+addr+"/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return HeapStats{}, err
	}
	return ParseHeapText(body)
}

// HeapAfterGCMin is the smallest of samples HeapAfterGC figures taken
// every interval: a busy process allocates between the end of the forced
// collection and the reading of its statistics, and the smallest reading
// is the closest to what it keeps.
func HeapAfterGCMin(ctx context.Context, addr string, samples int, interval time.Duration) (HeapStats, error) {
	var low HeapStats
	for i := range samples {
		if i > 0 {
			select {
			case <-ctx.Done():
				return HeapStats{}, ctx.Err()
			case <-time.After(interval):
			}
		}
		h, err := HeapAfterGC(ctx, addr)
		if err != nil {
			return HeapStats{}, err
		}
		if i == 0 || h.HeapAlloc < low.HeapAlloc {
			low = h
		}
	}
	return low, nil
}

// pprofGet returns the body of a pprof endpoint on a loopback address.
func pprofGet(ctx context.Context, url string) ([]byte, error) {
	resp, err := getLoopback(ctx, url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	return io.ReadAll(resp.Body)
}
