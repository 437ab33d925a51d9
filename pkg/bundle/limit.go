package bundle

import "errors"

// ErrPartFull is returned by the Add methods of a PartWriter with a limit
// (see SetLimit) when the record would take the part's data past it, or
// is larger than Limits.MaxRecordSize; the record is not added, and no
// part of the batch is. The caller finishes the part and adds the record to
// the next one, or, when even an empty part cannot take it (Size is 0),
// splits it.
var ErrPartFull = errors.New("part writer: the part is full")

// PartOverhead is what a part object holds beyond its data files and its
// incident record at most in practice: the tar headers and padding,
// part.json and its signature, and the zstd frame.
// A writer limited to maxObject-PartOverhead data bytes gives a part
// object of at most maxObject bytes, since the data files never grow when
// compressed by more than the slack this leaves.
const PartOverhead = 32 << 10

// SetLimit makes the Add methods refuse (ErrPartFull) a record that would
// take Size, plus the frozen incident record (SetIncident), past limit
// bytes; zero means no limit.
func (w *PartWriter) SetLimit(limit int64) { w.limit = limit }
