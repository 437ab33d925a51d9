package perf

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// countingServer is an OTLP/gRPC trace server that counts spans, and
// rejects some when told to.
type countingServer struct {
	ptraceotlp.UnimplementedGRPCServer
	spans  atomic.Int64
	reject atomic.Int64
}

func (s *countingServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans.Add(int64(req.Traces().SpanCount()))
	resp := ptraceotlp.NewExportResponse()
	if n := s.reject.Load(); n > 0 {
		resp.PartialSuccess().SetRejectedSpans(n)
		resp.PartialSuccess().SetErrorMessage("full")
	}
	return resp, nil
}

func startServer(t *testing.T) (*countingServer, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	cs := &countingServer{}
	ptraceotlp.RegisterGRPCServer(srv, cs)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return cs, l.Addr().String()
}

func TestBuildBatches(t *testing.T) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	bs, err := BuildBatches(3, 100, 7, func(b, i int) time.Time { return base.Add(time.Duration(b*100+i) * time.Second) })
	require.NoError(t, err)
	require.Len(t, bs, 3)
	for b, batch := range bs {
		assert.Equal(t, 100, batch.Spans)
		first := batch.Request.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		assert.Equal(t, base.Add(time.Duration(b*100)*time.Second), first.StartTimestamp().AsTime())
		assert.True(t, batch.Request.Traces().IsReadOnly())
	}
	raw0, err := bs[0].Request.MarshalProto()
	require.NoError(t, err)
	raw1, err := bs[1].Request.MarshalProto()
	require.NoError(t, err)
	assert.NotEqual(t, raw0, raw1, "batches must be distinct")
}

func TestSendAtRate(t *testing.T) {
	cs, addr := startServer(t)
	s, err := Dial(addr)
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()
	bs, err := BuildBatches(2, 100, 1, func(_, i int) time.Time { return time.Unix(int64(i), 0) })
	require.NoError(t, err)

	// 2,000 spans/s for 250ms = 5 batches of 100, one every 50ms.
	start := time.Now()
	st, err := s.SendAtRate(context.Background(), bs, RateOptions{SpansPerSecond: 2000, Duration: 250 * time.Millisecond, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 5, st.Batches)
	assert.Equal(t, 500, st.Spans)
	assert.Zero(t, st.Errors)
	assert.Equal(t, int64(500), cs.spans.Load())
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "batch 5 is due 200ms after the first")
	assert.Positive(t, st.Rate())

	cs.reject.Store(3)
	st, err = s.SendAtRate(context.Background(), bs, RateOptions{SpansPerSecond: 1000, Duration: 100 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Errors)
	require.ErrorContains(t, st.FirstError, "rejected 3 of 100 spans")

	_, err = s.SendAtRate(context.Background(), nil, RateOptions{SpansPerSecond: 1, Duration: time.Second})
	require.Error(t, err)
	_, err = s.SendAtRate(context.Background(), bs, RateOptions{})
	require.ErrorContains(t, err, "must be positive")
}

func TestSendAll(t *testing.T) {
	cs, addr := startServer(t)
	s, err := Dial(addr)
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()
	st, err := s.SendAll(context.Background(), 8, 3, time.Minute, func(k int) (Batch, error) {
		return BuildBatch(int64(k), 50, func(i int) time.Time { return time.Unix(int64(k*50+i), 0) })
	})
	require.NoError(t, err)
	assert.Equal(t, 8, st.Batches)
	assert.Equal(t, int64(400), cs.spans.Load())

	boom := errors.New("boom")
	_, err = s.SendAll(context.Background(), 8, 1, time.Minute, func(k int) (Batch, error) {
		if k == 2 {
			return Batch{}, boom
		}
		return BuildBatch(int64(k), 10, func(i int) time.Time { return time.Unix(int64(i), 0) })
	})
	require.ErrorIs(t, err, boom)
}

func TestCheckLoopback(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		ok       bool
	}{
		{"127.0.0.1:4317", true},
		{"[::1]:4317", true},
		{"localhost:4317", false}, // names are not resolved: only literal loopback IPs
		{"10.0.0.1:4317", false},
		{"0.0.0.0:4317", false},
		{"127.0.0.1", false},
	} {
		t.Run(tt.endpoint, func(t *testing.T) {
			err := CheckLoopback(tt.endpoint)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
	_, err := Dial("192.0.2.1:4317")
	require.ErrorContains(t, err, "loopback")
}
