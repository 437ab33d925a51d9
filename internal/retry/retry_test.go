package retry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBackoffGrowsToTheCap(t *testing.T) {
	cfg := configretry.BackOffConfig{Enabled: true, InitialInterval: 250 * time.Millisecond, Multiplier: 2, MaxInterval: time.Second}
	now := time.Unix(1000, 0)
	b := New(cfg, now)
	var got []time.Duration
	for range 5 {
		d, ok := b.Next(now)
		require.True(t, ok)
		got = append(got, d)
	}
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, time.Second}, got)
}

func TestBackoffRandomizes(t *testing.T) {
	cfg := configretry.BackOffConfig{Enabled: true, InitialInterval: time.Second, RandomizationFactor: 0.5, Multiplier: 1, MaxInterval: time.Second}
	now := time.Unix(1000, 0)
	b := New(cfg, now)
	for range 50 {
		d, ok := b.Next(now)
		require.True(t, ok)
		assert.GreaterOrEqual(t, d, 500*time.Millisecond)
		assert.LessOrEqual(t, d, 1500*time.Millisecond)
	}
}

func TestBackoffEnds(t *testing.T) {
	now := time.Unix(1000, 0)
	_, ok := New(configretry.BackOffConfig{Enabled: false, InitialInterval: time.Second}, now).Next(now)
	assert.False(t, ok, "disabled")

	cfg := configretry.BackOffConfig{Enabled: true, InitialInterval: time.Second, Multiplier: 1.5, MaxElapsedTime: time.Minute}
	b := New(cfg, now)
	_, ok = b.Next(now.Add(59 * time.Second))
	assert.True(t, ok)
	_, ok = b.Next(now.Add(time.Minute))
	assert.False(t, ok, "max_elapsed_time passed")

	d, ok := New(configretry.BackOffConfig{Enabled: true}, now).Next(now)
	assert.True(t, ok)
	assert.Equal(t, minWait, d, "a zero interval never spins")
}

func TestSleep(t *testing.T) {
	require.NoError(t, Sleep(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
}
