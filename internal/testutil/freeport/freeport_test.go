package freeport

import (
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPortIsFreeDistinctAndBelowEphemeral(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p, err := Port()
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, Low)
		require.Less(t, p, High)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		require.NoError(t, err, "the port must be free")
		require.NoError(t, l.Close())
	}
}

func TestPortSkipsTakenPorts(t *testing.T) {
	mu.Lock()
	taken := next
	mu.Unlock()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", taken))
	if err != nil {
		t.Skipf("port %d is in use by another process: %v", taken, err)
	}
	defer func() { require.NoError(t, l.Close()) }()
	p, err := Port()
	require.NoError(t, err)
	require.NotEqual(t, taken, p)
}
