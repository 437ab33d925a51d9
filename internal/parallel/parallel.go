// Package parallel runs indexed work on a bounded number of goroutines.
package parallel // import "github.com/otel-evidence/otel-evidence/internal/parallel"

import (
	"context"
	"sync"
)

// ForEach calls fn(ctx, i) for every i in [0, n) on up to parallel
// goroutines. The first error cancels the context passed to the other
// calls and is returned once all calls have ended.
func ForEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int) error) error {
	if parallel < 1 {
		parallel = 1
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range min(parallel, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return parent.Err()
}
