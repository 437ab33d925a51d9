package cli

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Limits on the small JSON objects read whole into memory.
const (
	maxIncidentJSON = 16 << 20
	maxManifestJSON = 64 << 20
)

// listAll returns every object under prefix, following the store's
// pagination.
func listAll(ctx context.Context, st store.Store, prefix string) ([]store.ObjectInfo, error) {
	var out []store.ObjectInfo
	after := ""
	for {
		objs, err := st.List(ctx, prefix, after)
		if err != nil {
			return nil, storeError(err, fmt.Sprintf("the list of %q in %s", prefix, st))
		}
		if len(objs) == 0 {
			return out, nil
		}
		out = append(out, objs...)
		next := objs[len(objs)-1].Key
		if next <= after {
			return nil, newError(ErrStoreUnreachable, nil, "the store returned keys out of order; check the S3 endpoint",
				"listing %q in %s went back from %q to %q", prefix, st, after, next)
		}
		after = next
	}
}

// readObject reads a whole object of at most limit bytes.
func readObject(ctx context.Context, st store.Store, key string, limit int64) ([]byte, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, storeError(err, fmt.Sprintf("%s in %s", key, st))
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, storeError(err, fmt.Sprintf("%s in %s", key, st))
	}
	if int64(len(data)) > limit {
		return nil, newError(ErrVerifyFailed, nil, "the object is not what the collector writes; check the store",
			"%s in %s is larger than the limit of %d bytes", key, st, limit)
	}
	return data, nil
}

// forEach calls fn(ctx, i) for every i in [0, n) on up to parallel
// goroutines. The first error cancels the context passed to the other
// calls and is returned once all calls have ended.
func forEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int) error) error {
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
