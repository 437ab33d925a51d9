package s3server

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartStopRestart(t *testing.T) {
	s := Start(t, WithBucket("restart-test"))
	require.True(t, s.Running())
	require.Equal(t, "restart-test", s.Bucket)
	host, _, err := net.SplitHostPort(s.Endpoint)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)

	ctx := context.Background()
	c := s.NewClient()
	payload := []byte("survives restarts")
	_, err = c.PutObject(ctx, s.Bucket, "a/b.txt", bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(s.Dir, s.Bucket, "a", "b.txt"))

	endpoint := s.Endpoint
	s.Stop()
	require.False(t, s.Running())
	_, err = net.DialTimeout("tcp", s.Endpoint, time.Second)
	require.Error(t, err, "the port must be closed while the server is stopped")
	s.Stop() // idempotent

	s.Restart()
	require.True(t, s.Running())
	require.Equal(t, endpoint, s.Endpoint)
	require.Equal(t, payload, getObject(t, c, s.Bucket, "a/b.txt"))

	s.Kill()
	require.False(t, s.Running())
	s.Restart()
	require.Equal(t, payload, getObject(t, c, s.Bucket, "a/b.txt"))
	require.Contains(t, s.Logs(), "starting versitygw on "+endpoint)
}

func TestObjectLockBucket(t *testing.T) {
	s := Start(t, WithObjectLock(), WithCredentials("lock-access-key", "lock-secret-key"))
	require.True(t, s.ObjectLock)
	require.Equal(t, "lock-access-key", s.AccessKey)
	status, _, _, _, err := s.NewClient().GetObjectLockConfig(context.Background(), s.Bucket)
	require.NoError(t, err)
	require.Equal(t, "Enabled", status)
}

func TestBinary(t *testing.T) {
	t.Run("env wins", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "fake-versitygw")
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		t.Setenv(EnvBinary, p)
		got, err := Binary()
		require.NoError(t, err)
		require.Equal(t, p, got)
	})
	t.Run("env pointing nowhere is an error", func(t *testing.T) {
		t.Setenv(EnvBinary, filepath.Join(t.TempDir(), "missing"))
		_, err := Binary()
		require.ErrorContains(t, err, EnvBinary)
	})
	t.Run("not found", func(t *testing.T) {
		t.Setenv(EnvBinary, "")
		t.Setenv("PATH", t.TempDir())
		t.Chdir(t.TempDir())
		_, err := Binary()
		require.ErrorContains(t, err, "versitygw not found: run `make tools`")
	})
}

func getObject(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer func() { _ = obj.Close() }()
	b, err := io.ReadAll(obj)
	require.NoError(t, err)
	return b
}

func TestTLS(t *testing.T) {
	s := Start(t, WithTLS())
	require.FileExists(t, s.CAFile)
	require.Equal(t, "https://"+s.Endpoint, s.URL())
	ctx := context.Background()
	c := s.NewClient()
	_, err := c.PutObject(ctx, s.Bucket, "k", bytes.NewReader([]byte("tls")), 3, minio.PutObjectOptions{})
	require.NoError(t, err)
	require.Equal(t, []byte("tls"), getObject(t, c, s.Bucket, "k"))
	s.Restart()
	require.Equal(t, []byte("tls"), getObject(t, c, s.Bucket, "k"))
}
