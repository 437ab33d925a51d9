package sloconnector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowSlides(t *testing.T) {
	sec := int64(time.Second)
	w := newWindow(sec, 5+1) // 5s window of 1s buckets (+1 for the open one)
	base := int64(1_700_000_000) * sec
	for i := range int64(10) {
		w.add(base+i*sec, 10, uint64(i))
	}
	g, b := w.sums(base + 9*sec)
	// Buckets 4..9 (6 buckets): good 60, bad 4+5+...+9 = 39.
	assert.Equal(t, uint64(60), g)
	assert.Equal(t, uint64(39), b)
	g, b = w.sums(base + 12*sec)
	assert.Equal(t, uint64(30), g) // 7, 8, 9 remain
	assert.Equal(t, uint64(24), b)
	g, b = w.sums(base + 100*sec)
	assert.Zero(t, g+b)
	// Late data counts in the newest bucket; time never goes back.
	w.add(base, 1, 1)
	g, b = w.sums(base + 100*sec)
	assert.Equal(t, uint64(1), g)
	assert.Equal(t, uint64(1), b)
}

func TestWindowExportRestore(t *testing.T) {
	sec := int64(time.Second)
	w := newWindow(sec, 4)
	base := int64(1_700_000_000) * sec
	w.add(base, 1, 0)
	w.add(base+2*sec, 2, 1)
	w.add(base+3*sec, 3, 0)
	saved := w.export()
	assert.Equal(t, []bucketState{{Index: base/sec + 0, Good: 1}, {Index: base/sec + 2, Good: 2, Bad: 1}, {Index: base/sec + 3, Good: 3}}, saved)

	r := newWindow(sec, 4)
	r.restore(base+5*sec, saved) // buckets 2..5 remain in the window
	g, b := r.sums(base + 5*sec)
	assert.Equal(t, uint64(5), g)
	assert.Equal(t, uint64(1), b)
}

func TestDurationName(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", time.Hour: "1h", 30 * time.Minute: "30m", 24 * time.Hour: "1d", 72 * time.Hour: "3d",
		720 * time.Hour: "30d", 90 * time.Second: "90s", 1500 * time.Millisecond: "1.5s", 36 * time.Hour: "36h",
	} {
		assert.Equal(t, want, durationName(d), d.String())
	}
}
