// Package retry turns a configretry.BackOffConfig (a component's
// retry_on_failure, or a client's retry settings) into waits between
// attempts, computed by cenkalti/backoff's exponential backoff as the
// collector's exporterhelper does. Callers keep their own loop, so that a
// wait ends with their context and tests can stand in for the clock.
package retry // import "github.com/otel-evidence/otel-evidence/internal/retry"

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.opentelemetry.io/collector/config/configretry"
)

// minWait is the shortest wait returned, so that a zero initial interval
// never spins.
const minWait = time.Millisecond

// Backoff hands out the waits of one run of retries.
type Backoff struct {
	enabled    bool
	maxElapsed time.Duration
	start      time.Time
	exp        *backoff.ExponentialBackOff
}

// New starts a run of retries at now, configured by cfg: waits start at
// initial_interval, grow by multiplier up to max_interval, are randomized
// by randomization_factor, and end once max_elapsed_time (when positive)
// has passed since now, or at once when retrying is disabled.
func New(cfg configretry.BackOffConfig, now time.Time) *Backoff {
	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval = cfg.InitialInterval
	exp.RandomizationFactor = cfg.RandomizationFactor
	exp.Multiplier = max(cfg.Multiplier, 1)
	exp.MaxInterval = cfg.MaxInterval
	if exp.MaxInterval <= 0 {
		exp.MaxInterval = time.Duration(1<<63 - 1)
	}
	exp.Reset()
	return &Backoff{enabled: cfg.Enabled, maxElapsed: cfg.MaxElapsedTime, start: now, exp: exp}
}

// Next returns the wait before the next attempt, or false when retrying is
// disabled or max_elapsed_time has passed by now.
func (b *Backoff) Next(now time.Time) (time.Duration, bool) {
	if !b.enabled {
		return 0, false
	}
	if b.maxElapsed > 0 && now.Sub(b.start) >= b.maxElapsed {
		return 0, false
	}
	return max(b.exp.NextBackOff(), minWait), true
}

// Sleep waits d, or until ctx is done (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
