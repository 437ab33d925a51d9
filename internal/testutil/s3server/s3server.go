// Package s3server runs a real S3 server (versitygw with its posix backend)
// on loopback for tests. Each server has its own port, credentials and
// directory, and a bucket ready to use; it can be stopped and started again on
// the same port and directory to test outages.
//
// The versitygw binary is found through the OTEL_EVIDENCE_VERSITYGW
// environment variable, then <repo>/.tools/bin/versitygw (installed by
// `make tools`), then PATH.
package s3server // import "github.com/otel-evidence/otel-evidence/internal/testutil/s3server"

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/otel-evidence/otel-evidence/internal/testutil/freeport"
)

// EnvBinary names the environment variable that points at a versitygw binary.
const EnvBinary = "OTEL_EVIDENCE_VERSITYGW"

// Region is the region the server runs in.
const Region = "us-east-1"

// Timeouts for starting and stopping the server.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	pollInterval = 10 * time.Millisecond
	healthPath   = "/health"
	startRetries = 3
)

// Server is a running (or stopped) versitygw instance. Its methods must be
// called from the test's goroutines, not after the test has finished.
type Server struct {
	// Endpoint is the "127.0.0.1:PORT" address of the S3 API (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey string
	SecretKey string
	// Bucket is the bucket created at start.
	Bucket string
	// Dir is the posix backend's root directory: each bucket is a
	// subdirectory and each object a file below it.
	Dir string
	// ObjectLock reports whether Bucket was created with Object Lock.
	ObjectLock bool
	// CAFile is the PEM certificate that signs the server's TLS certificate
	// when the server runs with WithTLS; empty for plain HTTP.
	CAFile string

	t        testing.TB
	bin      string
	versions string
	logPath  string
	keyFile  string
	rootCAs  *x509.CertPool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

type options struct {
	bucket     string
	objectLock bool
	tls        bool
	access     string
	secret     string
}

// Option configures Start.
type Option func(*options)

// WithBucket sets the name of the bucket created at start (default "evidence").
func WithBucket(name string) Option { return func(o *options) { o.bucket = name } }

// WithObjectLock creates the bucket with S3 Object Lock enabled (which also
// enables versioning), so retention and legal holds can be set on objects.
func WithObjectLock() Option { return func(o *options) { o.objectLock = true } }

// WithTLS serves HTTPS with a fresh self-signed certificate for 127.0.0.1;
// Server.CAFile holds it for clients to trust.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// WithCredentials sets the root credentials instead of random ones.
func WithCredentials(accessKey, secretKey string) Option {
	return func(o *options) { o.access, o.secret = accessKey, secretKey }
}

// Start starts versitygw on a free loopback port over a fresh temporary
// directory, waits until it answers and creates the bucket. The server is
// stopped when the test ends; its output is printed if the test failed.
// Start fails the test when versitygw cannot be found or does not start.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{
		bucket: "evidence",
		access: "test-" + strings.ToLower(rand.Text()[:12]),
		secret: rand.Text(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := Binary()
	if err != nil {
		t.Fatalf("s3server: %v", err)
	}
	base := t.TempDir()
	s := &Server{
		AccessKey:  o.access,
		SecretKey:  o.secret,
		Bucket:     o.bucket,
		Dir:        filepath.Join(base, "data"),
		ObjectLock: o.objectLock,
		t:          t,
		bin:        bin,
		versions:   filepath.Join(base, "versions"),
		logPath:    filepath.Join(base, "versitygw.log"),
	}
	for _, d := range []string{s.Dir, s.versions} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatalf("s3server: %v", err)
		}
	}
	if o.tls {
		s.CAFile = filepath.Join(base, "cert.pem")
		s.keyFile = filepath.Join(base, "key.pem")
		pool, err := writeCert(s.CAFile, s.keyFile)
		if err != nil {
			t.Fatalf("s3server: create TLS certificate: %v", err)
		}
		s.rootCAs = pool
	}
	// Cleanups run last-in first-out: stop first, then print the output.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("versitygw output (%s):\n%s", s.logPath, s.Logs())
		}
	})
	t.Cleanup(s.Stop)

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3server: pick a free port: %v", err)
		}
		s.Endpoint = net.JoinHostPort("127.0.0.1", port)
		err = s.start()
		if err == nil {
			break
		}
		// Another process may have taken the port between our probe and
		// the server's bind; try a new one.
		if attempt == startRetries {
			t.Fatalf("s3server: start versitygw: %v\noutput:\n%s", err, s.Logs())
		}
		t.Logf("s3server: start attempt %d failed, retrying: %v", attempt, err)
	}
	s.createBucket()
	return s
}

// Binary returns the path of the versitygw binary: $OTEL_EVIDENCE_VERSITYGW,
// else .tools/bin/versitygw in the repository (found by walking up from the
// working directory to a go.mod), else versitygw on PATH.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".tools", "bin", "versitygw")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw not found: run `make tools` (installs versitygw v1.8.0 into .tools/bin)")
}

// freePort picks a port below the ephemeral range, so that no outgoing
// connection takes it while the server is stopped for an outage test.
func freePort() (string, error) {
	port, err := freeport.Port()
	return strconv.Itoa(port), err
}

// URL returns the server's base URL, "http://127.0.0.1:PORT" (https with
// WithTLS).
func (s *Server) URL() string {
	if s.CAFile != "" {
		return "https://" + s.Endpoint
	}
	return "http://" + s.Endpoint
}

// Logs returns everything the server has written so far.
func (s *Server) Logs() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	return string(b)
}

// Running reports whether the server process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Restart starts the server again on the same port and directory, stopping it
// first if it runs. Objects and buckets written before survive.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("s3server: restart versitygw on %s: %v\noutput:\n%s", s.Endpoint, err, s.Logs())
	}
}

// Stop shuts the server down gracefully (SIGTERM, then SIGKILL after a
// timeout) and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill ends the server abruptly with SIGKILL, like a crash, and waits for it
// to exit.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// start launches the process and waits until it answers on /health.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logFile, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	// The child keeps its own descriptor; this one is only for the header.
	defer func() { _ = logFile.Close() }()
	if _, err := fmt.Fprintf(logFile, "=== %s: starting versitygw on %s\n", time.Now().Format(time.RFC3339Nano), s.Endpoint); err != nil {
		return fmt.Errorf("writing the versitygw log %s: %w", s.logPath, err)
	}

	args := []string{
		"--port", s.Endpoint,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", Region,
		"--health", healthPath,
	}
	if s.CAFile != "" {
		args = append(args, "--cert", s.CAFile, "--key", s.keyFile)
	}
	args = append(args, "posix", "--versioning-dir", s.versions, s.Dir)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	if err := s.waitHealthy(exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		s.cmd = nil
		return err
	}
	return nil
}

func (s *Server) waitHealthy(exited <-chan struct{}) error {
	client := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12},
		},
	}
	url := s.URL() + healthPath
	deadline := time.Now().Add(startTimeout)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		lastErr = err
		select {
		case <-exited:
			return errors.New("versitygw exited before it answered")
		case <-ticker.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer within %v: %w", startTimeout, lastErr)
		}
	}
}

// cleanEnv returns the environment without variables that would change how
// versitygw runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_") ||
			name == "LOGFILE" || name == "WEBHOOK" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// NewClient returns a minio-go client for the server with the root
// credentials. Its idle connections are closed when the test ends.
func (s *Server) NewClient() *minio.Client {
	s.t.Helper()
	secure := s.CAFile != ""
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		s.t.Fatalf("s3server: %v", err)
	}
	if secure {
		tr.TLSClientConfig.RootCAs = s.rootCAs
	}
	s.t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       secure,
		Region:       Region,
		Transport:    tr,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		s.t.Fatalf("s3server: create client: %v", err)
	}
	return c
}

func (s *Server) createBucket() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := s.NewClient().MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{
		Region:        Region,
		ObjectLocking: s.ObjectLock,
	})
	if err != nil {
		s.t.Fatalf("s3server: create bucket %q: %v\noutput:\n%s", s.Bucket, err, s.Logs())
	}
}
