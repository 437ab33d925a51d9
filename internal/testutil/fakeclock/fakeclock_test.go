package fakeclock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := New(t0)
	assert.Equal(t, t0, c.Now())
	c.Advance(time.Minute)
	assert.Equal(t, t0.Add(time.Minute), c.Now())
	c.Set(t0)
	assert.Equal(t, t0, c.Now())
}
