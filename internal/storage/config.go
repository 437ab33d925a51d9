package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otel-evidence/otel-evidence/pkg/store"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Backend names accepted in Config.Backend.
const (
	// BackendFilesystem stores objects as files under a local directory.
	BackendFilesystem = "filesystem"
	// BackendS3 stores objects in an S3 bucket.
	BackendS3 = "s3"
)

// Server-side encryption types accepted in SSEConfig.Type.
const (
	// SSES3 selects server-side encryption with S3-managed keys.
	SSES3 = "SSE-S3"
	// SSEKMS selects server-side encryption with KMS-managed keys.
	SSEKMS = "SSE-KMS"
)

// Object Lock retention modes accepted in ObjectLockConfig.Mode.
const (
	// ObjectLockGovernance lets users with special permissions shorten or
	// remove the retention.
	ObjectLockGovernance = "GOVERNANCE"
	// ObjectLockCompliance forbids anyone, including the root account, to
	// shorten or remove the retention.
	ObjectLockCompliance = "COMPLIANCE"
)

// Defaults and limits.
const (
	// DefaultDirectory is the default filesystem store directory.
	DefaultDirectory = "./var/evidence"
	// DefaultRegion is the default S3 region.
	DefaultRegion = "us-east-1"
	// DefaultPartSize is the default multipart upload part size (16 MiB).
	DefaultPartSize int64 = 16 << 20
	// MinPartSize is the smallest part size S3 accepts (5 MiB).
	MinPartSize int64 = 5 << 20
	// MaxPartSize is the largest part size S3 accepts (5 GiB).
	MaxPartSize int64 = 5 << 30
	// DefaultS3Endpoint is used when S3Config.Endpoint is empty.
	DefaultS3Endpoint = "s3.amazonaws.com"
)

// ErrInvalidConfig is wrapped by every error that Config.Validate returns.
var ErrInvalidConfig = errors.New("invalid evidence store config")

// Config selects and configures the evidence store backend.
type Config struct {
	// Backend is "filesystem" (the default) or "s3".
	Backend string `mapstructure:"backend"`
	// Filesystem configures the filesystem backend.
	Filesystem FilesystemConfig `mapstructure:"filesystem"`
	// S3 configures the S3 backend.
	S3 S3Config `mapstructure:"s3"`
}

// FilesystemConfig configures the filesystem backend.
type FilesystemConfig struct {
	// Directory is the root directory of the store; it is created if missing.
	Directory string `mapstructure:"directory"`
}

// S3Config configures the S3 backend.
type S3Config struct {
	// Endpoint is the S3 endpoint as host[:port] or as a URL
	// (http://host:port, https://host). Empty means AWS S3.
	Endpoint string `mapstructure:"endpoint"`
	// Bucket is the bucket that holds the evidence. Required.
	Bucket string `mapstructure:"bucket"`
	// Prefix is prepended to every key, e.g. "evidence/prod".
	Prefix string `mapstructure:"prefix"`
	// Region is the bucket's region.
	Region string `mapstructure:"region"`
	// AccessKeyID is the static access key. When empty, credentials come from
	// the standard chain: AWS environment variables, the shared credentials
	// file, then the instance or container IAM role.
	AccessKeyID configopaque.String `mapstructure:"access_key_id"`
	// SecretAccessKey is the static secret key; required with AccessKeyID.
	SecretAccessKey configopaque.String `mapstructure:"secret_access_key"`
	// SessionToken is an optional session token for temporary static credentials.
	SessionToken configopaque.String `mapstructure:"session_token"`
	// Insecure uses plain HTTP instead of HTTPS.
	Insecure bool `mapstructure:"insecure"`
	// TLS configures HTTPS connections, as every collector client does
	// (ca_file, insecure_skip_verify, cert_file and key_file for mutual TLS,
	// min_version, server_name_override, ...). Plain HTTP is 'insecure'
	// above, not 'tls.insecure'.
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// ForcePathStyle addresses the bucket as https://endpoint/bucket instead
	// of https://bucket.endpoint (needed by most S3-compatible servers).
	ForcePathStyle bool `mapstructure:"force_path_style"`
	// PartSize is the multipart upload part size in bytes (at least 5 MiB).
	// Objects up to this size are uploaded with a single PUT.
	PartSize int64 `mapstructure:"part_size"`
	// SSE configures server-side encryption.
	SSE SSEConfig `mapstructure:"sse"`
	// ObjectLock configures S3 Object Lock for immutable objects (bundle
	// parts and manifests). The bucket must have Object Lock enabled.
	ObjectLock ObjectLockConfig `mapstructure:"object_lock"`
	// StorageClass is the storage class of new objects, e.g. "STANDARD_IA".
	// Empty means the bucket's default.
	StorageClass string `mapstructure:"storage_class"`
}

// SSEConfig configures S3 server-side encryption.
type SSEConfig struct {
	// Type is "" (bucket default), "SSE-S3" or "SSE-KMS".
	Type string `mapstructure:"type"`
	// KMSKeyID is the KMS key for SSE-KMS; empty means the AWS managed key.
	KMSKeyID string `mapstructure:"kms_key_id"`
}

// ObjectLockConfig configures S3 Object Lock for immutable objects.
type ObjectLockConfig struct {
	// Mode is "" (no retention), "GOVERNANCE" or "COMPLIANCE".
	Mode string `mapstructure:"mode"`
	// Retention is how long immutable objects are retained; required with Mode.
	Retention time.Duration `mapstructure:"retention"`
	// LegalHold places a legal hold on immutable objects.
	LegalHold bool `mapstructure:"legal_hold"`
}

// Enabled reports whether immutable objects get any Object Lock protection.
func (c ObjectLockConfig) Enabled() bool { return c.Mode != "" || c.LegalHold }

// NewDefaultConfig returns the default configuration: a filesystem store in
// ./var/evidence, and S3 defaults (16 MiB parts, region us-east-1) for when
// the backend is switched to s3.
func NewDefaultConfig() Config {
	return Config{
		Backend:    BackendFilesystem,
		Filesystem: FilesystemConfig{Directory: DefaultDirectory},
		S3: S3Config{
			Region:   DefaultRegion,
			PartSize: DefaultPartSize,
			// ca_file adds to the system's certificate authorities.
			TLS: configtls.ClientConfig{Config: configtls.Config{IncludeSystemCACertsPool: true}},
		},
	}
}

var storageClassPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Validate checks the configuration of the selected backend. Every returned
// error wraps ErrInvalidConfig and names the offending YAML key.
func (c *Config) Validate() error {
	switch c.Backend {
	case BackendFilesystem:
		if strings.TrimSpace(c.Filesystem.Directory) == "" {
			return invalid("'filesystem.directory' is required when 'backend' is filesystem")
		}
		return nil
	case BackendS3:
		return c.S3.validate()
	default:
		return invalid("'backend' must be %q or %q, got %q", BackendFilesystem, BackendS3, c.Backend)
	}
}

func (c *S3Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, invalid(format, args...)) }

	if c.Bucket == "" {
		add("'s3.bucket' is required when 'backend' is s3")
	} else if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		add("'s3.bucket' %q is not a valid bucket name: %v", c.Bucket, err)
	}
	if _, _, err := c.endpoint(); err != nil {
		add("'s3.endpoint' %q is invalid: %v", c.Endpoint, err)
	}
	if c.TLS.Insecure {
		add("'s3.tls.insecure' is not used: set 's3.insecure: true' for plain HTTP")
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := store.ValidateKey(p); err != nil {
			add("'s3.prefix' %q is invalid: %v", c.Prefix, err)
		}
	}
	if c.AccessKeyID != "" && c.SecretAccessKey == "" {
		add("'s3.secret_access_key' is required when 's3.access_key_id' is set")
	}
	if c.AccessKeyID == "" && c.SecretAccessKey != "" {
		add("'s3.access_key_id' is required when 's3.secret_access_key' is set")
	}
	if c.AccessKeyID == "" && c.SessionToken != "" {
		add("'s3.access_key_id' is required when 's3.session_token' is set")
	}
	if c.PartSize < MinPartSize {
		add("'s3.part_size' must be at least 5 MiB (%d bytes), got %d", MinPartSize, c.PartSize)
	} else if c.PartSize > MaxPartSize {
		add("'s3.part_size' must be at most 5 GiB (%d bytes), got %d", MaxPartSize, c.PartSize)
	}
	switch c.SSE.Type {
	case "", SSES3:
		if c.SSE.KMSKeyID != "" {
			add("'s3.sse.kms_key_id' is only allowed when 's3.sse.type' is %s", SSEKMS)
		}
	case SSEKMS:
	default:
		add("'s3.sse.type' must be empty, %q or %q, got %q", SSES3, SSEKMS, c.SSE.Type)
	}
	switch c.ObjectLock.Mode {
	case "":
		if c.ObjectLock.Retention != 0 {
			add("'s3.object_lock.mode' is required when 's3.object_lock.retention' is set")
		}
	case ObjectLockGovernance, ObjectLockCompliance:
		if c.ObjectLock.Retention <= 0 {
			add("'s3.object_lock.retention' must be positive when 's3.object_lock.mode' is set")
		}
	default:
		add("'s3.object_lock.mode' must be empty, %q or %q, got %q",
			ObjectLockGovernance, ObjectLockCompliance, c.ObjectLock.Mode)
	}
	if c.StorageClass != "" && !storageClassPattern.MatchString(c.StorageClass) {
		add("'s3.storage_class' %q must be an upper-case storage class name such as STANDARD_IA", c.StorageClass)
	}
	return errors.Join(errs...)
}

// endpoint returns the host[:port] and whether to use TLS.
func (c *S3Config) endpoint() (host string, secure bool, err error) {
	ep := strings.TrimSpace(c.Endpoint)
	if ep == "" {
		return DefaultS3Endpoint, !c.Insecure, nil
	}
	if !strings.Contains(ep, "://") {
		if strings.ContainsAny(ep, "/?#@") {
			return "", false, errors.New("want host[:port] or a URL without path")
		}
		return ep, !c.Insecure, nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, err
	}
	if u.Host == "" {
		return "", false, errors.New("URL has no host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false, errors.New("URL must not have a path, query, fragment or user info")
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, nil
	case "https":
		if c.Insecure {
			return "", false, errors.New("https URL conflicts with 's3.insecure: true'")
		}
		return u.Host, true, nil
	default:
		return "", false, fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
}

// configError is a Validate error: its text names the YAML key and it
// matches ErrInvalidConfig with errors.Is.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func (e *configError) Unwrap() error { return ErrInvalidConfig }

func invalid(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// Open validates cfg and opens the selected backend. The filesystem backend
// creates its directory; the S3 backend does not contact the server (use
// (*S3).EnsureBucket to check or create the bucket).
func Open(ctx context.Context, cfg Config) (store.Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Backend {
	case BackendS3:
		return NewS3(cfg.S3)
	default:
		return NewFilesystem(cfg.Filesystem.Directory)
	}
}
