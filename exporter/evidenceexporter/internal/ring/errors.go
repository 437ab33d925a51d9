package ring

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by operations on a closed ring.
	ErrClosed = errors.New("ring: closed")
	// ErrEvicted is returned by Block.Payload when the block's storage was
	// evicted before the payload was read. A payload read inside the Scan
	// callback never fails this way.
	ErrEvicted = errors.New("ring: block evicted")
)

// CorruptionError describes a bad record found in a segment file when a disk
// ring is opened. Open repairs the damage (truncating the segment at
// Offset and dropping later segments) and reports it through the logger and
// Ring.Corruptions; it never fails because of corruption.
type CorruptionError struct {
	// Segment is the number of the segment file ("%08d" in the directory).
	Segment int
	// Offset is the byte offset of the first bad record in the segment; the
	// segment was truncated there.
	Offset int64
	// Reason says what was wrong with the record.
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("ring: corrupt record in segment %08d at offset %d: %s", e.Segment, e.Offset, e.Reason)
}
