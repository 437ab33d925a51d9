// Package freeport hands out loopback TCP ports for tests that start
// servers, below Linux's ephemeral range (32768-60999 by default), so that
// the local port of an outgoing connection cannot take one between the
// probe and the server's bind, or while a server is stopped for an outage
// test and about to restart on the same port. Each port is handed out once
// per test process (until the range wraps).
package freeport // import "github.com/otel-evidence/otel-evidence/internal/testutil/freeport"

import (
	"fmt"
	"net"
	"os"
	"sync"
)

// The range ports are handed out from.
const (
	Low  = 20000
	High = 32768
)

var (
	mu   sync.Mutex
	next = Low + os.Getpid()%(High-Low)
)

// Port returns a TCP port on 127.0.0.1 that was free a moment ago.
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for range High - Low {
		port := next
		next++
		if next >= High {
			next = Low
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			return 0, err
		}
		return port, nil
	}
	return 0, fmt.Errorf("no free port on 127.0.0.1 in [%d, %d)", Low, High)
}
