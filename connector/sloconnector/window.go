package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

// window keeps the good and bad event counts of one sliding window (for
// example the last 5m) as a ring of fixed buckets.
//
// Bucket k covers [k*width, (k+1)*width) in Unix nanoseconds, so bucket
// boundaries are the same for every window of that width, across restarts
// and across replicas. The window at time t is the buckets
// head-len+1 .. head, where head is t's bucket: its length lies between
// (len-1)*width and len*width, so with width = duration/(n-1) for a ring
// of n buckets it is never shorter than the configured duration and never
// longer by more than one bucket. Memory is fixed: two counters per bucket.
// Not safe for concurrent use; the owner holds its group's lock.
type window struct {
	width int64    // bucket width in ns (scaled)
	head  int64    // bucket index of the newest bucket
	good  []uint64 // by index mod len
	bad   []uint64
	// sums of the buckets in the ring
	sumGood, sumBad uint64
}

func newWindow(width int64, buckets int) *window {
	return &window{width: width, good: make([]uint64, buckets), bad: make([]uint64, buckets)}
}

// bucketOf returns the bucket index of Unix-nanosecond time t.
func (w *window) bucketOf(t int64) int64 {
	if t < 0 {
		return (t+1)/w.width - 1
	}
	return t / w.width
}

// advance moves the head to t's bucket, emptying the buckets that leave
// the window. Time never moves the head back: late calls count in the
// newest bucket.
func (w *window) advance(t int64) {
	k := w.bucketOf(t)
	if k <= w.head {
		return
	}
	n := int64(len(w.good))
	if k-w.head >= n {
		clear(w.good)
		clear(w.bad)
		w.sumGood, w.sumBad = 0, 0
		w.head = k
		return
	}
	for i := w.head + 1; i <= k; i++ {
		j := i % n
		w.sumGood -= w.good[j]
		w.sumBad -= w.bad[j]
		w.good[j], w.bad[j] = 0, 0
	}
	w.head = k
}

// add counts events at time t.
func (w *window) add(t int64, good, bad uint64) {
	w.advance(t)
	j := w.head % int64(len(w.good))
	w.good[j] += good
	w.bad[j] += bad
	w.sumGood += good
	w.sumBad += bad
}

// sums returns the counts of the window at time t.
func (w *window) sums(t int64) (good, bad uint64) {
	w.advance(t)
	return w.sumGood, w.sumBad
}

// bucketState is one non-empty bucket, as saved.
type bucketState struct {
	Index int64  `json:"i"`
	Good  uint64 `json:"g,omitempty"`
	Bad   uint64 `json:"b,omitempty"`
}

// export returns the non-empty buckets, oldest first.
func (w *window) export() []bucketState {
	n := int64(len(w.good))
	var out []bucketState
	for i := w.head - n + 1; i <= w.head; i++ {
		j := ((i % n) + n) % n
		if w.good[j] != 0 || w.bad[j] != 0 {
			out = append(out, bucketState{Index: i, Good: w.good[j], Bad: w.bad[j]})
		}
	}
	return out
}

// restore adds saved buckets that still lie in the window at time t.
func (w *window) restore(t int64, buckets []bucketState) {
	w.advance(t)
	n := int64(len(w.good))
	for _, b := range buckets {
		if b.Index > w.head || b.Index <= w.head-n {
			continue
		}
		j := ((b.Index % n) + n) % n
		w.good[j] += b.Good
		w.bad[j] += b.Bad
		w.sumGood += b.Good
		w.sumBad += b.Bad
	}
}
