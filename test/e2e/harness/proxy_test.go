package harness

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoBackend answers every request with "METHOD PATH HOST BODY" and counts
// the requests it got.
func echoBackend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Host+" "+string(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func testClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// do sends one request and returns the status and body, or the error.
func do(ctx context.Context, c *http.Client, method, url, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestProxyForwardsUnchanged(t *testing.T) {
	backend, n := echoBackend(t)
	p := StartProxy(t, backend.URL)
	code, body, err := do(t.Context(), testClient(t), http.MethodPut, p.URL()+"/bucket/a/b.json", "payload")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	// The Host header is the one the client sent (S3 signs it).
	assert.Equal(t, "PUT /bucket/a/b.json "+p.Addr+" payload", body)
	assert.EqualValues(t, 1, n.Load())
	assert.Equal(t, ProxyStats{Connections: 1, Requests: 1, Forwarded: 1}, p.Stats())
}

func TestProxyFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		// want is the outcome of six requests in a row: a status code, or
		// 0 for a transport error.
		want      []int
		wantStats ProxyStats
	}{
		{
			name:      "every third request fails",
			faults:    Faults{FailEvery: 3},
			want:      []int{200, 200, 503, 200, 200, 503},
			wantStats: ProxyStats{Connections: 6, Requests: 6, Failed: 2, Forwarded: 4},
		},
		{
			name:      "every request fails",
			faults:    Faults{FailEvery: 1},
			want:      []int{503, 503, 503, 503, 503, 503},
			wantStats: ProxyStats{Connections: 6, Requests: 6, Failed: 6},
		},
		{
			name:      "every second connection is reset",
			faults:    Faults{ResetEvery: 2, CloseConnections: true},
			want:      []int{200, 0, 200, 0, 200, 0},
			wantStats: ProxyStats{Connections: 6, Resets: 3, Requests: 3, Forwarded: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend, n := echoBackend(t)
			p := StartProxy(t, backend.URL)
			p.SetFaults(tt.faults)
			// A client that never retries by itself and uses a new
			// connection per request, so the outcomes line up.
			tr := &http.Transport{DisableKeepAlives: true}
			t.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			var got []int
			for range tt.want {
				code, body, err := do(t.Context(), c, http.MethodPost, p.URL()+"/k", "x")
				if code == http.StatusServiceUnavailable {
					assert.Contains(t, body, "<Code>SlowDown</Code>")
				}
				if err != nil {
					code = 0
				}
				got = append(got, code)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantStats, p.Stats())
			assert.EqualValues(t, tt.wantStats.Forwarded, n.Load())
		})
	}
}

func TestProxyLatency(t *testing.T) {
	backend, _ := echoBackend(t)
	p := StartProxy(t, backend.URL)
	p.SetFaults(Faults{Latency: 150 * time.Millisecond})
	start := time.Now()
	code, _, err := do(t.Context(), testClient(t), http.MethodGet, p.URL()+"/k", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
}

func TestProxyHold(t *testing.T) {
	isManifest := func(r ProxyRequest) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.Path, "manifest.json") &&
			strings.Contains(string(r.Body), `"complete": true`)
	}
	tests := []struct {
		name string
		// end ends the hold: Release, Drop, or the client giving up.
		end         func(p *Proxy, cancel context.CancelFunc)
		wantCode    int // 0: the request failed
		wantBackend int64
	}{
		{"release forwards", func(p *Proxy, _ context.CancelFunc) { p.Release() }, http.StatusOK, 2},
		{"drop abandons", func(p *Proxy, _ context.CancelFunc) { p.Drop() }, 0, 1},
		{"the client leaves", func(_ *Proxy, cancel context.CancelFunc) { cancel() }, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend, n := echoBackend(t)
			p := StartProxy(t, backend.URL)
			c := testClient(t)
			p.Hold(isManifest)

			// Requests the predicate does not match go through.
			code, _, err := do(t.Context(), c, http.MethodPut, p.URL()+"/b/manifest.json", `{"complete": false}`)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			type result struct {
				code int
				err  error
			}
			done := make(chan result, 1)
			go func() {
				code, _, err := do(ctx, c, http.MethodPut, p.URL()+"/b/manifest.json", `{"complete": true}`)
				done <- result{code, err}
			}()
			held := p.WaitHeld(5 * time.Second)
			assert.Equal(t, "PUT /b/manifest.json", held.String())
			assert.EqualValues(t, 1, n.Load(), "a held request does not reach the target")

			tt.end(p, cancel)
			var res result
			select {
			case res = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the held request did not end")
			}
			if tt.wantCode == 0 {
				assert.Error(t, res.err)
			} else {
				require.NoError(t, res.err)
				assert.Equal(t, tt.wantCode, res.code)
			}
			require.Eventually(t, func() bool { return len(p.Held()) == 0 }, 5*time.Second, 5*time.Millisecond)
			assert.Equal(t, tt.wantBackend, n.Load())
			st := p.Stats()
			assert.Equal(t, 1, st.Held)
			assert.Equal(t, int(2-tt.wantBackend), st.Abandoned)
		})
	}
}
