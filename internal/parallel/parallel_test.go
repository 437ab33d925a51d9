package parallel

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestForEach(t *testing.T) {
	ctx := context.Background()
	seen := make([]bool, 50)
	assert.NoError(t, ForEach(ctx, len(seen), 4, func(_ context.Context, i int) error {
		seen[i] = true
		return nil
	}))
	for i, s := range seen {
		assert.True(t, s, i)
	}
	boom := errors.New("boom")
	err := ForEach(ctx, 100, 3, func(ctx context.Context, i int) error {
		if i == 5 {
			return boom
		}
		return ctx.Err()
	})
	assert.ErrorIs(t, err, boom)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, ForEach(cancelled, 10, 2, func(context.Context, int) error { return nil }), context.Canceled)
	assert.NoError(t, ForEach(ctx, 0, 2, func(context.Context, int) error { return boom }))
}
