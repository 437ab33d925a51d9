package replay

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestShiftBy(t *testing.T) {
	assert.Equal(t, pcommon.Timestamp(0), ShiftBy(10)(0), "unset stays unset")
	assert.Equal(t, pcommon.Timestamp(110), ShiftBy(10)(100))
	assert.Equal(t, pcommon.Timestamp(1), ShiftBy(-1000)(100), "clamped above zero")
	assert.Equal(t, pcommon.Timestamp(math.MaxInt64), ShiftBy(10)(math.MaxInt64-5), "clamped at the top")
}

func TestShiftAndLatest(t *testing.T) {
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetStartTimestamp(100)
	s.SetEndTimestamp(300)
	s.Events().AppendEmpty().SetTimestamp(200)
	var l Latest
	l.Traces(td)
	assert.Equal(t, pcommon.Timestamp(300), l.Timestamp())
	ShiftTraces(td, 1000)
	assert.Equal(t, []pcommon.Timestamp{1100, 1300, 1200}, []pcommon.Timestamp{s.StartTimestamp(), s.EndTimestamp(), s.Events().At(0).Timestamp()})
}

// statusServer answers OTLP/HTTP trace requests with the given statuses in
// turn, then 200.
func statusServer(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		if int(n) <= len(statuses) {
			http.Error(w, "no", statuses[n-1])
			return
		}
		b, _ := ptraceotlp.NewExportResponse().MarshalProto()
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func httpClient(t *testing.T, endpoint string) (*Client, *[]time.Duration) {
	cfg := DefaultClientConfig()
	cfg.Protocol, cfg.Endpoint, cfg.TLS.Insecure = ProtocolHTTP, endpoint, true
	c, err := NewClient(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return c, &waits
}

func oneSpan() ptrace.Traces {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("s")
	return td
}

func TestClientRetriesWhileUnavailable(t *testing.T) {
	srv, calls := statusServer(t, http.StatusServiceUnavailable, http.StatusTooManyRequests)
	c, waits := httpClient(t, srv.Listener.Addr().String())
	rejected, err := c.Traces(t.Context(), oneSpan())
	require.NoError(t, err)
	assert.Zero(t, rejected)
	assert.Equal(t, int64(3), calls.Load())
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, *waits)
}

func TestClientGivesUp(t *testing.T) {
	srv, calls := statusServer(t, http.StatusBadRequest)
	c, _ := httpClient(t, srv.Listener.Addr().String())
	_, err := c.Traces(t.Context(), oneSpan())
	var xe *ExportError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 1, xe.Attempts, "a 400 is not retried")
	assert.Equal(t, int64(1), calls.Load())

	srv, calls = statusServer(t, 503, 503, 503, 503, 503, 503)
	c, waits := httpClient(t, srv.Listener.Addr().String())
	_, err = c.Traces(t.Context(), oneSpan())
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 5, xe.Attempts)
	assert.Equal(t, int64(5), calls.Load())
	assert.Len(t, *waits, 4)
}

func TestNewClientRefusesBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*ClientConfig){
		"grpc URL":       func(c *ClientConfig) { c.Endpoint, c.TLS.Insecure = "http://localhost:4317", true },
		"plain http TLS": func(c *ClientConfig) { c.Protocol, c.Endpoint = ProtocolHTTP, "http://localhost:4318" },
		"protocol":       func(c *ClientConfig) { c.Protocol = "udp" },
		"timeout":        func(c *ClientConfig) { c.Timeout = 0 },
		"CA file":        func(c *ClientConfig) { c.TLS.CAFile = "/nonexistent/ca.pem" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultClientConfig()
			cfg.Endpoint = "localhost:4317"
			mutate(&cfg)
			_, err := NewClient(t.Context(), cfg)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
}
