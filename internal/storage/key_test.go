package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/otel-evidence/otel-evidence/pkg/store"

	"github.com/stretchr/testify/require"
)

func TestExactReader(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		size    int64
		want    string
		wantErr error
	}{
		{name: "exact", r: strings.NewReader("hello"), size: 5, want: "hello"},
		{name: "exact one byte reads", r: iotest.OneByteReader(strings.NewReader("hello")), size: 5, want: "hello"},
		{name: "exact with data and EOF together", r: iotest.DataErrReader(strings.NewReader("hello")), size: 5, want: "hello"},
		{name: "empty", r: strings.NewReader(""), size: 0, want: ""},
		{name: "short", r: strings.NewReader("hell"), size: 5, wantErr: store.ErrSizeMismatch},
		{name: "long", r: strings.NewReader("hello!"), size: 5, wantErr: store.ErrSizeMismatch},
		{name: "long at zero", r: strings.NewReader("x"), size: 0, wantErr: store.ErrSizeMismatch},
		{name: "error", r: io.MultiReader(strings.NewReader("he"), iotest.ErrReader(boom)), size: 5, wantErr: boom},
		{name: "error at probe", r: io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(boom)), size: 5, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xr := newExactReader(context.Background(), tt.r, tt.size)
			got, err := io.ReadAll(xr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, xr.failure(), tt.wantErr)
				require.Less(t, int64(len(got)), max(tt.size, 1), "a bad stream never yields all bytes")
				return
			}
			require.NoError(t, err)
			require.NoError(t, xr.failure())
			require.Equal(t, tt.want, string(got))
		})
	}
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		xr := newExactReader(ctx, bytes.NewReader(make([]byte, 10)), 10)
		_, err := xr.Read(make([]byte, 4))
		require.NoError(t, err)
		cancel()
		_, err = xr.Read(make([]byte, 4))
		require.ErrorIs(t, err, context.Canceled)
	})
}
