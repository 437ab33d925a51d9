package ring

// deque is a growable circular buffer: O(1) push at the back, pop at both
// ends and indexed access, so the block index never shifts its elements.
type deque[T any] struct {
	buf  []T // len(buf) is zero or a power of two
	head int
	n    int
}

func (d *deque[T]) len() int { return d.n }

// at returns a pointer to the i-th element from the front.
func (d *deque[T]) at(i int) *T { return &d.buf[(d.head+i)&(len(d.buf)-1)] }

func (d *deque[T]) front() *T { return d.at(0) }

func (d *deque[T]) back() *T { return d.at(d.n - 1) }

func (d *deque[T]) pushBack(v T) {
	if d.n == len(d.buf) {
		grown := make([]T, max(16, 2*len(d.buf)))
		for i := range d.n {
			grown[i] = *d.at(i)
		}
		d.buf, d.head = grown, 0
	}
	*d.at(d.n) = v
	d.n++
}

func (d *deque[T]) popFront() T {
	p := d.at(0)
	v := *p
	var zero T
	*p = zero // drop references held by the slot
	d.head = (d.head + 1) & (len(d.buf) - 1)
	d.n--
	return v
}

func (d *deque[T]) popBack() T {
	p := d.at(d.n - 1)
	v := *p
	var zero T
	*p = zero
	d.n--
	return v
}

// search returns the smallest index i in [0, n) for which f(i) is true,
// assuming f is monotonic, or n.
func (d *deque[T]) search(f func(*T) bool) int {
	lo, hi := 0, d.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !f(d.at(mid)) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
