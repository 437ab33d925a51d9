package storage

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otel-evidence/otel-evidence/pkg/store"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// S3 is the S3 backend (minio-go). Every key is stored under the configured
// prefix. Uploads carry a CRC32C checksum that the server verifies; objects
// larger than the part size are uploaded in parts. Immutable objects get the
// configured Object Lock retention and legal hold.
type S3 struct {
	client     *minio.Client
	transport  *http.Transport
	bucket     string
	prefix     string // "" or ending in "/"
	region     string
	partSize   int64
	sse        encrypt.ServerSide
	class      string
	objectLock ObjectLockConfig
	now        func() time.Time
	bucketSeen atomic.Bool
}

var _ store.Store = (*S3)(nil)

// NewS3 validates cfg and creates an S3 store. It does not contact the
// server.
func NewS3(cfg S3Config) (*S3, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	host, secure, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	transport, err := s3Transport(cfg, secure)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds:           s3Credentials(cfg),
		Secure:          secure,
		Transport:       unknownAuthorityTransport{transport},
		Region:          cfg.Region,
		BucketLookup:    lookup,
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 store: create client for %q: %w", host, err)
	}
	var sse encrypt.ServerSide
	switch cfg.SSE.Type {
	case SSES3:
		sse = encrypt.NewSSE()
	case SSEKMS:
		sse, err = encrypt.NewSSEKMS(cfg.SSE.KMSKeyID, nil)
		if err != nil {
			return nil, fmt.Errorf("s3 store: 's3.sse': %w", err)
		}
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{
		client:     client,
		transport:  transport,
		bucket:     cfg.Bucket,
		prefix:     prefix,
		region:     cfg.Region,
		partSize:   cfg.PartSize,
		sse:        sse,
		class:      cfg.StorageClass,
		objectLock: cfg.ObjectLock,
		now:        time.Now,
	}, nil
}

// s3Credentials returns the static credentials from cfg or, when none are
// set, the standard chain: AWS_* environment variables, the shared
// credentials file, then the EC2/ECS/EKS IAM role.
func s3Credentials(cfg S3Config) *credentials.Credentials {
	if cfg.AccessKeyID != "" {
		return credentials.NewStaticV4(string(cfg.AccessKeyID), string(cfg.SecretAccessKey), string(cfg.SessionToken))
	}
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
}

// s3Transport is minio-go's transport with cfg.TLS applied over HTTPS.
func s3Transport(cfg S3Config, secure bool) (*http.Transport, error) {
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("s3 store: transport: %w", err)
	}
	if !secure {
		return tr, nil
	}
	tlsCfg, err := cfg.TLS.LoadTLSConfig(context.Background())
	if err != nil {
		return nil, tlsError(cfg.TLS, err)
	}
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	return tr, nil
}

// tlsError names the key behind a TLS set-up failure: an unreadable
// ca_file, a ca_file without a certificate, or another 's3.tls' setting.
func tlsError(c configtls.ClientConfig, err error) error {
	if c.CAFile != "" {
		pem, rerr := os.ReadFile(c.CAFile)
		if rerr != nil {
			return fmt.Errorf("s3 store: 's3.tls.ca_file': %w", rerr)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("s3 store: 's3.tls.ca_file' %q holds no PEM certificate", c.CAFile)
		}
	}
	return fmt.Errorf("s3 store: 's3.tls': %w", err)
}

// unknownAuthorityTransport unwraps "certificate signed by unknown
// authority" errors: minio-go recognises x509.UnknownAuthorityError as
// permanent, but not inside Go's *tls.CertificateVerificationError, and
// would retry a missing 's3.tls.ca_file' for seconds.
type unknownAuthorityTransport struct{ http.RoundTripper }

func (t unknownAuthorityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	var ua x509.UnknownAuthorityError
	if err != nil && errors.As(err, &ua) {
		return nil, ua // must stay unwrapped for minio-go to see it
	}
	return resp, err
}

// String names the store, e.g. "s3://bucket/prefix".
func (s *S3) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Close releases the store's idle connections. The store stays usable.
func (s *S3) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// Bucket returns the bucket name.
func (s *S3) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket when it does not exist, with Object Lock
// enabled when the store is configured to lock immutable objects.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 store: check bucket %q: %w", s.bucket, err)
	}
	if ok {
		s.bucketSeen.Store(true)
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{
		Region:        s.region,
		ObjectLocking: s.objectLock.Enabled(),
	})
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && (er.Code == "BucketAlreadyOwnedByYou" || er.Code == "BucketAlreadyExists") {
			return nil
		}
		return fmt.Errorf("s3 store: create bucket %q: %w", s.bucket, err)
	}
	return nil
}

// checkBucket returns an error when the bucket does not exist. After the
// bucket has been seen once, it returns nil without asking the server.
func (s *S3) checkBucket(ctx context.Context) error {
	if s.bucketSeen.Load() {
		return nil
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket: %w", err)
	}
	if !ok {
		return fmt.Errorf("bucket %q does not exist", s.bucket)
	}
	s.bucketSeen.Store(true)
	return nil
}

// Put uploads the object: one PUT up to the part size, a multipart upload
// above it. It fails with store.ErrSizeMismatch, storing nothing, when r does not
// hold exactly size bytes.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opts store.PutOptions) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		// minio-go would take -1 as "unknown" and plan for a 5 TiB object.
		return fmt.Errorf("put %q: negative size %d", key, size)
	}
	body, xr, err := s3Body(ctx, r, size)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	po := s.putOptions(opts)
	if xr == nil {
		if body, err = s.retrySafe(body.(io.ReadSeeker), size, &po); err != nil {
			return fmt.Errorf("put %q: %w", key, err)
		}
	}
	_, err = s.client.PutObject(ctx, s.bucket, s.prefix+key, body, size, po)
	if xr != nil {
		if ferr := xr.failure(); ferr != nil {
			return fmt.Errorf("put %q to %s: %w", key, s, ferr)
		}
	}
	if err != nil {
		return s.mapErr("put", key, err)
	}
	return nil
}

// s3Body returns the reader to upload. A seekable reader is checked up front
// and passed as is, so minio-go can retry its requests (see retrySafe);
// other readers are wrapped to enforce the size.
func s3Body(ctx context.Context, r io.Reader, size int64) (io.Reader, *exactReader, error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if cur, err := rs.Seek(0, io.SeekCurrent); err == nil {
			end, err := rs.Seek(0, io.SeekEnd)
			if err != nil {
				return nil, nil, err
			}
			if _, err := rs.Seek(cur, io.SeekStart); err != nil {
				return nil, nil, err
			}
			if end-cur != size {
				return nil, nil, fmt.Errorf("%w: reader holds %d bytes, size is %d", store.ErrSizeMismatch, end-cur, size)
			}
			return r, nil, nil
		}
	}
	xr := newExactReader(ctx, r, size)
	if size == 0 {
		// An empty body is never read, so check for content here.
		if _, err := xr.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		return bytes.NewReader(nil), nil, nil
	}
	return xr, xr, nil
}

// retrySafe prepares a seekable body so that minio-go's retries of it
// (after a 503 SlowDown or a broken connection) succeed. minio-go v7.4.1
// gets both cases wrong with a trailing checksum:
//   - A single PUT hashes the body as it is sent, and the hash is not reset
//     when the request is retried. The retry's trailer then covers the bytes
//     of both attempts and the server refuses it (BadDigest). So the CRC32C
//     is computed here and sent as a header, which is right on every attempt.
//   - A multipart upload from an io.ReaderAt sends each part through a
//     hashing reader that cannot seek, so a part is never retried. Hiding
//     ReaderAt makes minio-go read each part into a buffer and checksum it
//     up front, and then a part can be retried.
func (s *S3) retrySafe(r io.ReadSeeker, size int64, po *minio.PutObjectOptions) (io.Reader, error) {
	if size > s.partSize {
		return struct{ io.Reader }{r}, nil
	}
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	if _, err := io.CopyN(h, r, size); err != nil {
		return nil, fmt.Errorf("checksum the body: %w", err)
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	po.Checksum = minio.ChecksumNone
	po.UserMetadata = map[string]string{"X-Amz-Checksum-Crc32c": base64.StdEncoding.EncodeToString(h.Sum(nil))}
	return r, nil
}

func (s *S3) putOptions(opts store.PutOptions) minio.PutObjectOptions {
	po := minio.PutObjectOptions{
		ContentType: opts.ContentType,
		PartSize:    uint64(s.partSize),
		// CRC32C over an unsigned payload (what AWS SDKs send over HTTPS),
		// which the server verifies. A body that cannot seek streams with
		// it in a trailer, without a second pass; a seekable body gets it
		// up front instead (see retrySafe). versitygw v1.8.0 rejects
		// trailers on signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)
		// uploads.
		Checksum:             minio.ChecksumCRC32C,
		DisableContentSha256: true,
		ServerSideEncryption: s.sse,
		StorageClass:         s.class,
	}
	if opts.Immutable {
		if s.objectLock.Mode != "" {
			po.Mode = minio.RetentionMode(s.objectLock.Mode)
			po.RetainUntilDate = s.now().Add(s.objectLock.Retention).UTC()
		}
		if s.objectLock.LegalHold {
			po.LegalHold = minio.LegalHoldEnabled
		}
	}
	return po
}

// Get opens the object for reading.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	// One GET whose body is the reader. minio.Client.GetObject would send a
	// HEAD for the size and then a GET with If-Match on the HEAD's ETag, so
	// an object replaced in between (a manifest being extended while it is
	// polled) failed with "At least one of the pre-conditions you
	// specified did not hold" instead of reading the version opened.
	// Checksum: a download of a single-PUT object is verified against its
	// full-object CRC32C; reading to EOF then fails on a mismatch.
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{Checksum: true})
	if err != nil {
		return nil, store.ObjectInfo{}, s.lookupErr(ctx, "get", key, err)
	}
	return body, store.ObjectInfo{Key: key, Size: info.Size, Modified: info.LastModified}, nil
}

// MaxPresignExpiry is the longest validity of a presigned URL: S3's limit
// for Signature Version 4.
const MaxPresignExpiry = 7 * 24 * time.Hour

// PresignGet returns a URL that downloads the object at key without
// credentials until expiry (at most MaxPresignExpiry) has passed, as
// `mc share download` does. It signs locally: the object's existence is
// not checked.
func (s *S3) PresignGet(ctx context.Context, key string, expiry time.Duration) (*url.URL, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, err
	}
	if expiry < time.Second || expiry > MaxPresignExpiry {
		return nil, fmt.Errorf("a presigned URL is valid for 1s to %s, not %s", MaxPresignExpiry, expiry)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.prefix+key, expiry, nil)
	if err != nil {
		return nil, s.mapErr("presign", key, err)
	}
	return u, nil
}

// Stat returns the object's info or store.ErrNotFound.
func (s *S3) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return store.ObjectInfo{}, s.lookupErr(ctx, "stat", key, err)
	}
	return store.ObjectInfo{Key: key, Size: info.Size, Modified: info.LastModified}, nil
}

// List returns the objects whose key starts with prefix and sorts after
// startAfter, in lexical key order.
func (s *S3) List(ctx context.Context, prefix, startAfter string) ([]store.ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine on early return
	opts := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}
	if startAfter != "" {
		opts.StartAfter = s.prefix + startAfter
	}
	var out []store.ObjectInfo
	for obj := range s.client.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %q in %s: %w", prefix, s, obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || strings.HasSuffix(key, "/") || key <= startAfter {
			continue // directory markers; defensive against odd servers
		}
		out = append(out, store.ObjectInfo{Key: key, Size: obj.Size, Modified: obj.LastModified})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q in %s: %w", prefix, s, err)
	}
	return out, nil
}

// Delete removes the object; a missing key is not an error. In a bucket with
// versioning (always the case with Object Lock) this adds a delete marker and
// locked versions stay.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(s.mapErr("delete", key, err), store.ErrNotFound) {
		return s.mapErr("delete", key, err)
	}
	return nil
}

// lookupErr is mapErr for reads: some servers answer a missing bucket with a
// plain 404 (always so for HEAD, which has no body), so before reporting
// store.ErrNotFound it checks once that the bucket exists.
func (s *S3) lookupErr(ctx context.Context, op, key string, err error) error {
	err = s.mapErr(op, key, err)
	if errors.Is(err, store.ErrNotFound) {
		if berr := s.checkBucket(ctx); berr != nil {
			return fmt.Errorf("%s %q in %s: %w", op, key, s, berr)
		}
	}
	return err
}

// mapErr wraps err with the operation and key, mapping a missing key to
// store.ErrNotFound. A missing bucket is a configuration error, not store.ErrNotFound.
func (s *S3) mapErr(op, key string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		if er.Code == "NoSuchKey" || (er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket") {
			return fmt.Errorf("%s %q in %s: %w", op, key, s, store.ErrNotFound)
		}
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("%s %q in %s: %w (is 's3.tls.ca_file' set to the CA of the endpoint?)", op, key, s, err)
	}
	return fmt.Errorf("%s %q in %s: %w", op, key, s, err)
}
