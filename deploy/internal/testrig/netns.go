package testrig

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Netns is the network namespace of a running process, reached from the
// test through /proc/<pid>/ns/net.
type Netns struct {
	Path string
}

// NetnsOf returns the network namespace of process pid.
func NetnsOf(pid int) Netns { return Netns{Path: fmt.Sprintf("/proc/%d/ns/net", pid)} }

// inside runs fn on an OS thread that joined the namespace. The thread
// stays locked and so ends with fn's goroutine: no other goroutine ever
// runs in the namespace.
func (n Netns) inside(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open(n.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer func() { _ = unix.Close(fd) }()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// LoopbackUp brings up the namespace's loopback interface (a new network
// namespace starts with it down).
func (n Netns) LoopbackUp() error {
	return n.inside(func() error {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer func() { _ = unix.Close(s) }()
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
			return err
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		return unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
	})
}

// DialContext dials addr from inside the namespace.
func (n Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.inside(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient returns a client whose connections are made in the namespace.
func (n Netns) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: n.DialContext, DisableKeepAlives: true},
	}
}

// Get returns the status and body of GET url, from inside the namespace.
func (n Netns) Get(url string) (int, string, error) {
	resp, err := n.HTTPClient().Get(url)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// PostJSON posts body to url with an optional bearer token, from inside
// the namespace, and returns the status and response body.
func (n Netns) PostJSON(t testing.TB, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := n.HTTPClient().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Command returns a command that runs name with args inside the namespace
// (under nsenter).
func (n Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
	cmd.Env = os.Environ()
	return cmd
}
