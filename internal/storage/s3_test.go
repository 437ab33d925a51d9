package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/store/storetest"

	"github.com/otel-evidence/otel-evidence/pkg/store"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
)

// s3Config returns a store configuration for srv.
func s3Config(srv *s3server.Server, prefix string) S3Config {
	cfg := NewDefaultConfig().S3
	cfg.Endpoint = srv.Endpoint
	cfg.Insecure = true
	cfg.ForcePathStyle = true
	cfg.Bucket = srv.Bucket
	cfg.Prefix = prefix
	cfg.Region = s3server.Region
	cfg.AccessKeyID = configopaque.String(srv.AccessKey)
	cfg.SecretAccessKey = configopaque.String(srv.SecretKey)
	cfg.PartSize = MinPartSize
	return cfg
}

func newTestS3(t testing.TB, cfg S3Config) *S3 {
	t.Helper()
	s, err := NewS3(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestS3Conformance(t *testing.T) {
	srv := s3server.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		// Each subtest gets its own prefix in the shared bucket.
		return newTestS3(t, s3Config(srv, fmt.Sprintf("conformance/t%03d", n.Add(1))))
	})
}

func TestS3PrefixIsolation(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t)
	a := newTestS3(t, s3Config(srv, "/tenant/a/"))
	b := newTestS3(t, s3Config(srv, "tenant/ab"))
	root := newTestS3(t, s3Config(srv, ""))
	require.Equal(t, "s3://"+srv.Bucket+"/tenant/a", a.String())

	storetest.Put(t, a, "incidents/INC-1/incident.json", []byte("a"))
	storetest.Put(t, b, "incidents/INC-1/incident.json", []byte("b"))

	list, err := a.List(ctx, "", "")
	require.NoError(t, err)
	require.Equal(t, []string{"incidents/INC-1/incident.json"}, storetest.Keys(list), "prefix stripped, sibling prefix excluded")
	list, err = root.List(ctx, "tenant/", "")
	require.NoError(t, err)
	require.Equal(t, []string{"tenant/a/incidents/INC-1/incident.json", "tenant/ab/incidents/INC-1/incident.json"}, storetest.Keys(list))
	got, _ := storetest.Get(t, root, "tenant/ab/incidents/INC-1/incident.json")
	require.Equal(t, "b", string(got))
}

func TestS3Multipart(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t)
	s := newTestS3(t, s3Config(srv, "mp"))
	data := make([]byte, 2*MinPartSize+12345) // three parts of at most 5 MiB
	_, _ = rand.Read(data)
	client := srv.NewClient()

	tests := []struct {
		name string
		r    io.Reader
	}{
		{name: "stream", r: struct{ io.Reader }{bytes.NewReader(data)}},
		{name: "seekable", r: bytes.NewReader(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "big/" + tt.name
			require.NoError(t, s.Put(ctx, key, tt.r, int64(len(data)), store.PutOptions{Immutable: true}))
			got, info := storetest.Get(t, s, key)
			require.Equal(t, int64(len(data)), info.Size)
			require.True(t, bytes.Equal(data, got), "content differs")
			st, err := client.StatObject(ctx, srv.Bucket, "mp/"+key, minio.StatObjectOptions{})
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(st.ETag, "-3"), "want a 3-part multipart ETag, got %q", st.ETag)
		})
	}
	t.Run("short stream aborts", func(t *testing.T) {
		err := s.Put(ctx, "big/short", struct{ io.Reader }{bytes.NewReader(data[:len(data)-1])}, int64(len(data)), store.PutOptions{})
		require.ErrorIs(t, err, store.ErrSizeMismatch)
		_, err = s.Stat(ctx, "big/short")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("long stream aborts", func(t *testing.T) {
		err := s.Put(ctx, "big/long", struct{ io.Reader }{bytes.NewReader(data)}, int64(len(data)-1), store.PutOptions{})
		require.ErrorIs(t, err, store.ErrSizeMismatch)
		_, err = s.Stat(ctx, "big/long")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestS3ObjectLock(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t, s3server.WithObjectLock())
	client := srv.NewClient()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) // far enough ahead to be in the future

	tests := []struct {
		name      string
		lock      ObjectLockConfig
		size      int
		immutable bool
		wantMode  string // "" means no retention
		wantHold  bool
	}{
		{name: "governance and legal hold", lock: ObjectLockConfig{Mode: ObjectLockGovernance, Retention: 48 * time.Hour, LegalHold: true},
			size: 100, immutable: true, wantMode: ObjectLockGovernance, wantHold: true},
		{name: "compliance", lock: ObjectLockConfig{Mode: ObjectLockCompliance, Retention: time.Hour},
			size: 100, immutable: true, wantMode: ObjectLockCompliance},
		{name: "legal hold only", lock: ObjectLockConfig{LegalHold: true}, size: 100, immutable: true, wantHold: true},
		{name: "multipart", lock: ObjectLockConfig{Mode: ObjectLockGovernance, Retention: time.Hour, LegalHold: true},
			size: int(MinPartSize) + 1, immutable: true, wantMode: ObjectLockGovernance, wantHold: true},
		{name: "mutable object", lock: ObjectLockConfig{Mode: ObjectLockCompliance, Retention: time.Hour, LegalHold: true}, size: 100},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s3Config(srv, fmt.Sprintf("lock%d", i))
			cfg.ObjectLock = tt.lock
			s := newTestS3(t, cfg)
			s.now = func() time.Time { return now }
			data := bytes.Repeat([]byte{'p'}, tt.size)
			require.NoError(t, s.Put(ctx, "part-000001.tar.zst", bytes.NewReader(data), int64(len(data)), store.PutOptions{Immutable: tt.immutable}))
			objectKey := cfg.Prefix + "/part-000001.tar.zst"

			// minio-go's GetObjectRetention cannot parse versitygw's
			// <ObjectLockRetention> reply, so read the HEAD headers.
			st, err := client.StatObject(ctx, srv.Bucket, objectKey, minio.StatObjectOptions{})
			require.NoError(t, err)
			require.Equal(t, tt.wantMode, st.Metadata.Get("X-Amz-Object-Lock-Mode"))
			if tt.wantMode != "" {
				until, err := time.Parse(time.RFC3339, st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
				require.NoError(t, err)
				require.True(t, until.Equal(now.Add(tt.lock.Retention)), "retain until %v", until)
			}
			hold, err := client.GetObjectLegalHold(ctx, srv.Bucket, objectKey, minio.GetObjectLegalHoldOptions{})
			if tt.wantHold {
				require.NoError(t, err)
				require.Equal(t, minio.LegalHoldEnabled, *hold)
				require.Equal(t, "ON", st.Metadata.Get("X-Amz-Object-Lock-Legal-Hold"))
			} else {
				require.True(t, err != nil || hold == nil || *hold != minio.LegalHoldEnabled, "want no legal hold, got %v %v", hold, err)
			}

			// Delete hides the object behind a delete marker; a locked
			// version itself cannot be removed.
			require.NoError(t, s.Delete(ctx, "part-000001.tar.zst"))
			_, err = s.Stat(ctx, "part-000001.tar.zst")
			require.ErrorIs(t, err, store.ErrNotFound)
			var versionID string
			for v := range client.ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: objectKey, WithVersions: true}) {
				require.NoError(t, v.Err)
				if !v.IsDeleteMarker {
					versionID = v.VersionID
				}
			}
			require.NotEmpty(t, versionID, "the locked version must survive Delete")
			err = client.RemoveObject(ctx, srv.Bucket, objectKey, minio.RemoveObjectOptions{VersionID: versionID})
			if tt.wantMode != "" || tt.wantHold {
				require.Error(t, err, "removing a locked version must fail")
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestS3ServerOutage(t *testing.T) {
	srv := s3server.Start(t)
	s := newTestS3(t, s3Config(srv, "outage"))
	storetest.Put(t, s, "before", []byte("1"))

	srv.Stop()
	// minio-go retries refused connections, so bound each call.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.Put(ctx, "during", strings.NewReader("2"), 1, store.PutOptions{})
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrNotFound)
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = s.Stat(ctx, "before")
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrNotFound, "an unreachable server is not a missing object")

	srv.Restart()
	storetest.Put(t, s, "after", []byte("3"))
	list, err := s.List(context.Background(), "", "")
	require.NoError(t, err)
	require.Equal(t, []string{"after", "before"}, storetest.Keys(list))
}

func TestS3Errors(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t)

	t.Run("missing bucket is not store.ErrNotFound", func(t *testing.T) {
		cfg := s3Config(srv, "")
		cfg.Bucket = "no-such-bucket"
		s := newTestS3(t, cfg)
		_, err := s.Stat(ctx, "k")
		require.Error(t, err)
		require.NotErrorIs(t, err, store.ErrNotFound)
		_, _, err = s.Get(ctx, "k")
		require.Error(t, err)
		require.NotErrorIs(t, err, store.ErrNotFound)

		require.Error(t, s.Delete(ctx, "k"))

		require.NoError(t, s.EnsureBucket(ctx))
		require.NoError(t, s.EnsureBucket(ctx), "idempotent")
		_, err = s.Stat(ctx, "k")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("wrong credentials", func(t *testing.T) {
		cfg := s3Config(srv, "")
		cfg.SecretAccessKey = "wrong"
		s := newTestS3(t, cfg)
		err := s.Put(ctx, "k", strings.NewReader("x"), 1, store.PutOptions{})
		require.ErrorContains(t, err, "signature")
		_, err = s.Stat(ctx, "k")
		require.Error(t, err)
		require.NotErrorIs(t, err, store.ErrNotFound)
	})
}

func TestS3CredentialChain(t *testing.T) {
	srv := s3server.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	cfg := s3Config(srv, "chain")
	cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
	cfg.Endpoint, cfg.Insecure = "http://"+srv.Endpoint, false // the scheme selects plain HTTP
	s := newTestS3(t, cfg)
	storetest.Put(t, s, "k", []byte("from env credentials"))
	got, _ := storetest.Get(t, s, "k")
	require.Equal(t, "from env credentials", string(got))
}

// TestS3OptionsAccepted checks that SSE and storage class headers are sent
// and accepted. versitygw's posix backend accepts them but neither encrypts
// nor tiers (it reports STANDARD), so only acceptance can be checked here.
func TestS3OptionsAccepted(t *testing.T) {
	srv := s3server.Start(t)
	for _, sse := range []SSEConfig{{Type: SSES3}, {Type: SSEKMS, KMSKeyID: "key-1"}} {
		t.Run(sse.Type, func(t *testing.T) {
			cfg := s3Config(srv, "opts-"+strings.ToLower(sse.Type))
			cfg.SSE = sse
			cfg.StorageClass = "STANDARD_IA"
			s := newTestS3(t, cfg)
			require.NotNil(t, s.sse)
			po := s.putOptions(store.PutOptions{ContentType: "application/zstd"})
			require.Equal(t, "STANDARD_IA", po.StorageClass)
			require.Equal(t, "application/zstd", po.ContentType)
			storetest.Put(t, s, "k", []byte("x"))
			got, _ := storetest.Get(t, s, "k")
			require.Equal(t, "x", string(got))
		})
	}
}

func TestS3TLS(t *testing.T) {
	srv := s3server.Start(t, s3server.WithTLS())
	tls := func(mutate func(*S3Config)) S3Config {
		cfg := s3Config(srv, "tls")
		cfg.Insecure = false
		mutate(&cfg)
		return cfg
	}
	tests := []struct {
		name    string
		cfg     S3Config
		wantErr string
	}{
		{name: "ca file", cfg: tls(func(c *S3Config) { c.TLS.CAFile = srv.CAFile })},
		{name: "https URL with ca file", cfg: tls(func(c *S3Config) { c.Endpoint = srv.URL(); c.TLS.CAFile = srv.CAFile })},
		{name: "skip verify", cfg: tls(func(c *S3Config) { c.TLS.InsecureSkipVerify = true })},
		{name: "untrusted", cfg: tls(func(*S3Config) {}), wantErr: "certificate signed by unknown authority (is 's3.tls.ca_file'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestS3(t, tt.cfg)
			// minio-go retries certificate errors (it misses Go's
			// *tls.CertificateVerificationError), so bound the call.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := s.Put(ctx, "k", strings.NewReader("over tls"), 8, store.PutOptions{})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			got, _ := storetest.Get(t, s, "k")
			require.Equal(t, "over tls", string(got))
		})
	}
	t.Run("bad ca file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "bad.pem")
		require.NoError(t, os.WriteFile(p, []byte("not a certificate"), 0o600))
		_, err := NewS3(tls(func(c *S3Config) { c.TLS.CAFile = p }))
		require.ErrorContains(t, err, "holds no PEM certificate")
	})
}

// TestS3GetVerifiesChecksum corrupts an object on the server's disk: reading
// it must fail instead of returning bad evidence.
func TestS3GetVerifiesChecksum(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t)
	s := newTestS3(t, s3Config(srv, "sum"))
	data := bytes.Repeat([]byte("evidence"), 1000)
	storetest.Put(t, s, "part", data)
	got, _ := storetest.Get(t, s, "part")
	require.Equal(t, data, got)

	file := filepath.Join(srv.Dir, srv.Bucket, "sum", "part")
	onDisk, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, data, onDisk)
	onDisk[100] ^= 0xff
	require.NoError(t, os.WriteFile(file, onDisk, 0o600))

	rc, _, err := s.Get(ctx, "part")
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	_, err = io.ReadAll(rc)
	require.ErrorContains(t, err, "checksum")
}

// slowDownProxy is a reverse proxy to srv that answers 503 SlowDown to the
// first PUT of every key, after reading its whole body, as an overloaded S3
// server does; later requests are forwarded.
type slowDownProxy struct {
	mu sync.Mutex
	// puts counts the PUTs the proxy received, by path and part number.
	puts map[string]int
}

func startSlowDownProxy(t *testing.T, srv *s3server.Server) (string, *slowDownProxy) {
	t.Helper()
	target, err := url.Parse("http://" + srv.Endpoint)
	require.NoError(t, err)
	p := &slowDownProxy{puts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			// Part uploads share their object's path; tell them apart.
			key := r.URL.Path + "?" + r.URL.Query().Get("partNumber")
			p.mu.Lock()
			p.puts[key]++
			first := p.puts[key] == 1
			p.mu.Unlock()
			if first {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://"), p
}

// putsOf returns how many PUTs of key (all its parts) the proxy received.
func (p *slowDownProxy) putsOf(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, v := range p.puts {
		if strings.HasPrefix(k, key+"?") {
			n += v
		}
	}
	return n
}

// TestS3PutRetriesAfterSlowDown has every PUT refused once after its body
// was sent: the upload must go through on minio-go's retry, and the object
// keep the CRC32C that downloads are verified against.
func TestS3PutRetriesAfterSlowDown(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t)
	endpoint, proxy := startSlowDownProxy(t, srv)
	cfg := s3Config(srv, "slow")
	cfg.Endpoint = endpoint
	s := newTestS3(t, cfg)

	for _, c := range []struct {
		name string
		size int
	}{
		{"small", 1000},
		{"single PUT of a whole part", int(MinPartSize)},
		{"multipart", int(MinPartSize) + 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := strings.ReplaceAll(c.name, " ", "-")
			data := make([]byte, c.size)
			_, _ = rand.Read(data)
			require.NoError(t, s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
			require.Greater(t, proxy.putsOf("/"+srv.Bucket+"/slow/"+key), 1, "the proxy refused a PUT")
			got, _ := storetest.Get(t, s, key)
			require.Equal(t, data, got)

			obj, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{Checksum: true})
			require.NoError(t, err)
			require.NotEmpty(t, obj.ChecksumCRC32C, "the object keeps its CRC32C")
		})
	}
}
