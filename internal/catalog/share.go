package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// ErrNotShareable is what (errors.Is) Share returns for a store that cannot
// sign URLs: only S3 can.
var ErrNotShareable = errors.New("only an S3 store can share objects by presigned URL")

// Presigner is a store that signs download URLs: *storage.S3.
type Presigner interface {
	PresignGet(ctx context.Context, key string, expiry time.Duration) (*url.URL, error)
}

var _ Presigner = (*storage.S3)(nil)

// Shared is one object of an incident with a URL that downloads it
// without credentials until Expires.
type Shared struct {
	Key     string    `json:"key"`
	Size    int64     `json:"size"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// Objects lists the objects of an incident: its record, manifests, parts
// and notes. It wraps store.ErrNotFound when there are none.
func Objects(ctx context.Context, st store.Store, id string) ([]store.ObjectInfo, error) {
	prefix, err := bundle.IncidentPrefix(id)
	if err != nil {
		return nil, err
	}
	objs, err := storage.ListAll(ctx, st, prefix)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("incident %q has no objects in %s: %w", id, st, store.ErrNotFound)
	}
	return objs, nil
}

// Share presigns a download URL for every object of the incident, valid
// for expiry from now.
func Share(ctx context.Context, st store.Store, id string, expiry time.Duration, now time.Time) ([]Shared, error) {
	p, ok := st.(Presigner)
	if !ok {
		return nil, fmt.Errorf("%w; %s is not one", ErrNotShareable, st)
	}
	objs, err := Objects(ctx, st, id)
	if err != nil {
		return nil, err
	}
	out := make([]Shared, 0, len(objs))
	for _, o := range objs {
		u, err := p.PresignGet(ctx, o.Key, expiry)
		if err != nil {
			return nil, err
		}
		out = append(out, Shared{Key: o.Key, Size: o.Size, URL: u.String(), Expires: now.Add(expiry).UTC().Truncate(time.Second)})
	}
	return out, nil
}
