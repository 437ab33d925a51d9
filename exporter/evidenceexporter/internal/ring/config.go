package ring

import (
	"fmt"
	"time"
)

// Segment size bounds used when Config.SegmentSize is zero: MaxBytes/16,
// clamped to [minDefaultSegmentSize, maxDefaultSegmentSize] and to MaxBytes.
const (
	maxDefaultSegmentSize = 64 << 20
	minDefaultSegmentSize = 256 << 10
)

// Config configures a ring.
type Config struct {
	// MaxBytes bounds the stored bytes; it must be positive. In memory it
	// counts compressed payload bytes and is the size of the payload arena
	// (mapped at Open, resident as it fills): a new block that does not fit
	// before the arena's end goes to its start, and the oldest blocks whose
	// bytes it overwrites are evicted, so a memory ring can hold up to about
	// two blocks' size less than MaxBytes. On disk it counts segment file
	// bytes (framing included) and eviction deletes whole segments, so a
	// disk ring holds between MaxBytes-SegmentSize and MaxBytes. The newest
	// block is always kept, even if it alone exceeds MaxBytes (in memory, it
	// is then held on the heap).
	MaxBytes int64
	// MaxAge evicts blocks that arrived more than MaxAge ago (checked on
	// Append and Scan). Zero means no age limit.
	MaxAge time.Duration
	// Directory holds the segment files; "" keeps the ring in memory.
	Directory string
	// Compression of new blocks: "s2" or "zstd" (zstd at its fastest
	// level); "" means DefaultCompression. Blocks already on disk keep the
	// compression they were written with.
	Compression string
	// SegmentSize is the size at which a disk segment is cut; zero picks
	// MaxBytes/16 clamped to 256 KiB..64 MiB. It must not exceed MaxBytes.
	SegmentSize int64
	// Now is the clock for arrival times and age eviction; nil means
	// time.Now.
	Now func() time.Time
	// MaxPast and MaxFuture bound the usable item times of a block, from
	// arrival-MaxPast to arrival+MaxFuture; zero means no bound (only zero
	// and times at or beyond 2^63 ns are then unusable). See Usable.
	MaxPast, MaxFuture time.Duration
}

func (c *Config) validate() (codec, error) {
	if c.MaxBytes <= 0 {
		return 0, fmt.Errorf("ring: MaxBytes must be positive, got %d", c.MaxBytes)
	}
	if c.MaxPast < 0 || c.MaxFuture < 0 {
		return 0, fmt.Errorf("ring: MaxPast and MaxFuture must not be negative, got %s and %s", c.MaxPast, c.MaxFuture)
	}
	if c.MaxAge < 0 {
		return 0, fmt.Errorf("ring: MaxAge must not be negative, got %s", c.MaxAge)
	}
	cd, err := parseCompression(c.Compression)
	if err != nil {
		return 0, err
	}
	switch {
	case c.SegmentSize < 0:
		return 0, fmt.Errorf("ring: SegmentSize must not be negative, got %d", c.SegmentSize)
	case c.SegmentSize == 0:
		c.SegmentSize = min(max(c.MaxBytes/16, minDefaultSegmentSize), maxDefaultSegmentSize, c.MaxBytes)
	case c.SegmentSize > c.MaxBytes:
		return 0, fmt.Errorf("ring: SegmentSize (%d) must not exceed MaxBytes (%d)", c.SegmentSize, c.MaxBytes)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return cd, nil
}
