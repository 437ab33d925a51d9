package harness

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Proxy is a fault-injecting HTTP reverse proxy on loopback, for putting a
// slow, flaky or stuck network between the collector and its store
// (versitygw). Clients talk to URL() instead of the target; every request is
// forwarded unchanged, Host header included, so S3 signatures stay valid.
//
// Faults are set with SetFaults and can change at any time. Each request
// is, in order: read whole (so that predicates can look at the body),
// counted, answered with 503 SlowDown if it is the FailEvery-th, delayed by
// Latency, held while it matches the Hold predicate, then forwarded. Every
// ResetEvery-th accepted connection is reset (TCP RST) before it is read.
//
// The proxy stops when the test ends; held requests are then abandoned.
type Proxy struct {
	// Addr is the proxy's "127.0.0.1:PORT".
	Addr string

	t         testing.TB
	srv       *http.Server
	transport *http.Transport
	rp        *httputil.ReverseProxy
	done      chan struct{}
	handlers  sync.WaitGroup

	mu     sync.Mutex
	closed bool
	faults Faults
	conns  int
	reqs   int
	match  func(ProxyRequest) bool
	gate   *holdGate
	held   map[*ProxyRequest]struct{}
	stats  ProxyStats
}

// Faults are the proxy's knobs. The zero value forwards every request at
// once.
type Faults struct {
	// Latency delays every request before it is forwarded.
	Latency time.Duration
	// ResetEvery resets every Nth accepted connection (counting from the
	// first connection the proxy accepted) with a TCP RST before reading
	// anything from it; 0 never does.
	ResetEvery int
	// FailEvery answers every Nth request (counting from the first
	// request the proxy received) with 503 SlowDown instead of forwarding
	// it; 0 never does. 1 fails every request: the store is up but
	// refuses to work.
	FailEvery int
	// CloseConnections disables keep-alive, so that each request comes on
	// a new connection (then ResetEvery counts requests too).
	CloseConnections bool
}

// ProxyRequest is what a Hold predicate sees of a request.
type ProxyRequest struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path, for S3 "/<bucket>/<key>".
	Path string
	// Body is the whole request body as the client sent it (an S3 upload
	// may carry aws-chunked framing around the object's bytes).
	Body []byte
}

// String returns "METHOD PATH".
func (r ProxyRequest) String() string { return r.Method + " " + r.Path }

// ProxyStats counts what the proxy did since it started.
type ProxyStats struct {
	// Connections were accepted; Resets of them were reset.
	Connections, Resets int
	// Requests were received; Failed were answered 503, Held were held,
	// Forwarded reached the target.
	Requests, Failed, Held, Forwarded int
	// Abandoned requests were never forwarded: their client went away
	// while they were delayed or held, they were dropped (Drop), or the
	// proxy stopped.
	Abandoned int
	// UpstreamErrors are forwarded requests the target did not answer.
	UpstreamErrors int
}

// holdGate is closed when the requests held under it may go on (or must be
// dropped).
type holdGate struct {
	open chan struct{}
	drop bool
}

// StartProxy starts a proxy on a free loopback port in front of target, a
// base URL such as "http://127.0.0.1:7070". It stops when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoErrorf(t, err, "proxy target %q", target)
	require.Truef(t, u.Scheme == "http" && u.Host != "", "proxy target %q must be an http:// URL", target)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &Proxy{
		Addr: l.Addr().String(),
		t:    t,
		done: make(chan struct{}),
		held: make(map[*ProxyRequest]struct{}),
		transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableCompression:  true, // pass bodies through untouched
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     10 * time.Second,
		},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The client signed the Host it sent (S3 SigV4).
			pr.Out.Host = pr.In.Host
		},
		Transport: p.transport,
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				p.count(func(s *ProxyStats) { s.Abandoned++ })
				return
			}
			p.count(func(s *ProxyStats) { s.UpstreamErrors++ })
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = p.srv.Serve(&resetListener{Listener: l, p: p}) }()
	t.Cleanup(p.Close)
	return p
}

// URL returns the proxy's base URL, "http://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "http://" + p.Addr }

// SetFaults replaces the fault knobs; requests already delayed keep their
// delay.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
	p.srv.SetKeepAlivesEnabled(!f.CloseConnections)
}

// Hold holds every later request that match accepts until Release or
// Drop. Calling Hold again replaces the predicate; requests already held
// stay held.
func (p *Proxy) Hold(match func(ProxyRequest) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match = match
	if p.gate == nil {
		p.gate = &holdGate{open: make(chan struct{})}
	}
}

// Release stops holding and forwards the requests held so far whose client
// is still waiting.
func (p *Proxy) Release() { p.endHold(false) }

// Drop stops holding and abandons the requests held so far: they are never
// forwarded and their connections are closed without an answer.
func (p *Proxy) Drop() { p.endHold(true) }

func (p *Proxy) endHold(drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match = nil
	if p.gate != nil {
		p.gate.drop = drop
		close(p.gate.open)
		p.gate = nil
	}
}

// Held returns the requests held right now.
func (p *Proxy) Held() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProxyRequest, 0, len(p.held))
	for r := range p.held {
		out = append(out, *r)
	}
	return out
}

// WaitHeld waits until at least one request is held and returns one of
// them.
func (p *Proxy) WaitHeld(timeout time.Duration) ProxyRequest {
	p.t.Helper()
	var held []ProxyRequest
	require.Eventuallyf(p.t, func() bool {
		held = p.Held()
		return len(held) > 0
	}, timeout, 5*time.Millisecond, "no request was held within %s (stats %+v)", timeout, p.Stats())
	return held[0]
}

// Stats returns the counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func (p *Proxy) count(fn func(*ProxyStats)) {
	p.mu.Lock()
	fn(&p.stats)
	p.mu.Unlock()
}

// Close stops the proxy: held and delayed requests are abandoned, every
// connection is closed, and Close waits for the handlers to return.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	_ = p.srv.Close()
	p.handlers.Wait()
	p.transport.CloseIdleConnections()
}

// enter registers a running handler; false once the proxy is closed.
func (p *Proxy) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.handlers.Add(1)
	return true
}

// maxBody bounds the request bodies the proxy reads into memory.
const maxBody = 256 << 20

// ServeHTTP applies the faults to one request and forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.enter() {
		panic(http.ErrAbortHandler)
	}
	defer p.handlers.Done()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		p.count(func(s *ProxyStats) { s.Requests++; s.Abandoned++ })
		panic(http.ErrAbortHandler)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := &ProxyRequest{Method: r.Method, Path: r.URL.Path, Body: body}

	p.mu.Lock()
	p.reqs++
	p.stats.Requests++
	f := p.faults
	fail := f.FailEvery > 0 && p.reqs%f.FailEvery == 0
	if fail {
		p.stats.Failed++
	}
	p.mu.Unlock()
	if fail {
		slowDown(w, r)
		return
	}

	if f.Latency > 0 && !p.wait(r, f.Latency) {
		p.count(func(s *ProxyStats) { s.Abandoned++ })
		return
	}

	p.mu.Lock()
	gate := p.gate
	hold := p.match != nil && p.match(*req)
	if hold {
		p.held[req] = struct{}{}
		p.stats.Held++
	}
	p.mu.Unlock()
	if hold {
		forward := false
		select {
		case <-gate.open:
			forward = !gate.drop
		case <-r.Context().Done():
		case <-p.done:
		}
		p.mu.Lock()
		delete(p.held, req)
		if !forward || r.Context().Err() != nil {
			p.stats.Abandoned++
			forward = false
		}
		p.mu.Unlock()
		if !forward {
			panic(http.ErrAbortHandler)
		}
	}

	p.count(func(s *ProxyStats) { s.Forwarded++ })
	p.rp.ServeHTTP(w, r)
}

// wait sleeps for d; false if the client left or the proxy stopped first.
func (p *Proxy) wait(r *http.Request, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	case <-p.done:
		return false
	}
}

// slowDown answers like an S3 server that is overloaded.
func slowDown(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Retry-After", "0")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<Error><Code>SlowDown</Code><Message>Please reduce your request rate (injected by the test proxy).</Message>`+
		`<Resource>%s</Resource></Error>`, xmlEscape(r.URL.Path))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// resetListener resets every Faults.ResetEvery-th accepted connection.
type resetListener struct {
	net.Listener
	p *Proxy
}

func (l *resetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.p.mu.Lock()
		l.p.conns++
		l.p.stats.Connections++
		every := l.p.faults.ResetEvery
		reset := every > 0 && l.p.conns%every == 0
		if reset {
			l.p.stats.Resets++
		}
		l.p.mu.Unlock()
		if !reset {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends RST
		}
		_ = c.Close()
	}
}
