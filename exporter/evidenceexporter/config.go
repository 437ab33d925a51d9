package evidenceexporter // import "github.com/otel-evidence/otel-evidence/exporter/evidenceexporter"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// Config is the configuration of the evidence exporter.
type Config struct {
	// Incidents is the ID of the incidents extension that supplies the
	// incident registry and the evidence store.
	Incidents component.ID `mapstructure:"incidents"`
	// Window sets how much telemetry around an incident is frozen.
	Window WindowConfig `mapstructure:"window"`
	// Buffer configures the ring of recent telemetry.
	Buffer BufferConfig `mapstructure:"buffer"`
	// LateData keeps a complete bundle open for items of its window that
	// arrive late.
	LateData LateDataConfig `mapstructure:"late_data"`
	// ItemTime bounds the item times the recorder selects items by.
	ItemTime ItemTimeConfig `mapstructure:"item_time"`
	// FlushInterval is how often the parts of open windows are written, and
	// the grace period for late data after a window has ended.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Encoding of the signal files in a part: "otlp_proto" (length-prefixed
	// protobuf, the default) or "otlp_json" (OTLP File format, JSON Lines).
	Encoding string `mapstructure:"encoding"`
	// PartMaxBytes bounds the size of a part object: a part is cut before
	// its data would take the object past it, and a batch that does not fit
	// in an empty part is split by items. Only a single item larger than
	// the bound makes a larger part (of its own).
	PartMaxBytes int64 `mapstructure:"part_max_bytes"`
	// Spool is the local directory where finished parts wait until the
	// store has them, with the freezing state of every incident.
	Spool SpoolConfig `mapstructure:"spool"`
	// RetryOnFailure controls the retries of uploads from the spool to the
	// store. max_elapsed_time 0 retries for ever; parts never leave the
	// spool before the store has them, whatever this says.
	RetryOnFailure configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// Signing signs every part.json and manifest. Without a key, bundles
	// are unsigned (and verify says so).
	Signing SigningConfig `mapstructure:"signing"`
}

// SigningConfig names the Ed25519 private key (PEM, PKCS #8: what
// `evidencectl keygen` or `openssl genpkey -algorithm ed25519` writes) the
// exporter signs with. Set at most one of the two.
type SigningConfig struct {
	// KeyFile is the path of the key file.
	KeyFile string `mapstructure:"key_file"`
	// KeyEnv is the name of an environment variable holding the key.
	KeyEnv string `mapstructure:"key_env"`
}

// signer loads the configured key; nil when none is configured. Errors
// name the key.
func (c SigningConfig) signer() (*bundle.Signer, error) {
	var pemData []byte
	switch {
	case c.KeyFile != "" && c.KeyEnv != "":
		return nil, errors.New("set one of 'signing.key_file' and 'signing.key_env', not both")
	case c.KeyFile != "":
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("'signing.key_file': %w", err)
		}
		pemData = b
	case c.KeyEnv != "":
		v, ok := os.LookupEnv(c.KeyEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("'signing.key_env': the environment variable %q is not set", c.KeyEnv)
		}
		pemData = []byte(v)
	default:
		return nil, nil
	}
	s, err := bundle.NewSigner(pemData)
	if err != nil {
		key := "'signing.key_file' " + c.KeyFile
		if c.KeyEnv != "" {
			key = "'signing.key_env' " + c.KeyEnv
		}
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return s, nil
}

// WindowConfig sets the evidence window of an incident opened at T:
// [T - before, T + after], extended while the incident stays open.
type WindowConfig struct {
	// Before is how far before the incident start the window begins.
	Before time.Duration `mapstructure:"before"`
	// After is how long after the start (or, with ExtendUntilResolved,
	// after the resolution) the window ends.
	After time.Duration `mapstructure:"after"`
	// ExtendUntilResolved keeps the window open until the incident is
	// resolved (plus After), capped at T + Max.
	ExtendUntilResolved bool `mapstructure:"extend_until_resolved"`
	// Max caps the end of an extended window at T + Max.
	Max time.Duration `mapstructure:"max"`
}

// BufferConfig configures the ring buffer of recent telemetry.
type BufferConfig struct {
	// MaxBytes bounds the (compressed) bytes the ring holds; the oldest
	// data is dropped first.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// MaxAge drops data that arrived longer ago than this. It must cover
	// window.before, plus how late incidents are typically signalled.
	MaxAge time.Duration `mapstructure:"max_age"`
	// Directory keeps the ring on disk, so it survives restarts. Empty
	// keeps it in memory.
	Directory string `mapstructure:"directory"`
	// Compression of the ring's blocks: "zstd" or "s2".
	Compression string `mapstructure:"compression"`
}

// LateDataConfig sets how long a complete bundle takes late parts: items
// whose time is inside the window but that arrive after the bundle is
// complete (the window's end plus one flush_interval) are frozen into
// parts marked late, and the manifest (still complete) lists them, for
// Period after completion. Then the manifest is written immutable.
type LateDataConfig struct {
	// Period is how long after completion late parts are added; 0 makes
	// the complete manifest final at once.
	Period time.Duration `mapstructure:"period"`
}

// ItemTimeConfig bounds usable item times. An item whose own time is zero,
// at or beyond 2^63 ns since the epoch, more than MaxPast before its
// arrival or more than MaxFuture after it belongs to no window by that
// time: it is kept in the ring, never frozen, counted in
// otelcol_exporter_evidence_items_unusable_time, and named as an
// 'unusable_time' loss in the bundle of every incident whose window holds
// its arrival. The other items of its batch are not affected.
type ItemTimeConfig struct {
	// MaxPast is how long before its arrival an item's time may lie; 0
	// means no bound.
	MaxPast time.Duration `mapstructure:"max_past"`
	// MaxFuture is how long after its arrival an item's time may lie; 0
	// means no bound.
	MaxFuture time.Duration `mapstructure:"max_future"`
}

// SpoolConfig configures the local spool of finished parts.
type SpoolConfig struct {
	// Directory holds parts not yet in the store and the per-incident
	// freezing state. It must be on a persistent volume and private to
	// this collector.
	Directory string `mapstructure:"directory"`
}

var _ component.Config = (*Config)(nil)

// errInvalidConfig is wrapped by every error of Config.Validate.
var errInvalidConfig = errors.New("invalid evidence exporter config")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalidConfig, fmt.Sprintf(format, args...))
}

// maxPartMaxBytes keeps each part file well inside what bundle readers
// accept; minPartMaxBytes leaves room for data beside bundle.PartOverhead.
const (
	maxPartMaxBytes = 512 << 20
	minPartMaxBytes = 2 * bundle.PartOverhead
)

// Validate checks the configuration. Every error names the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, invalid(format, args...)) }

	w := cfg.Window
	if w.Before <= 0 {
		add("'window.before' must be positive, got %s", w.Before)
	}
	if w.After < 0 {
		add("'window.after' must not be negative, got %s", w.After)
	}
	if w.Max <= 0 {
		add("'window.max' must be positive, got %s", w.Max)
	} else if w.Max < w.After {
		add("'window.max' (%s) must not be less than 'window.after' (%s)", w.Max, w.After)
	}
	if cfg.Buffer.MaxBytes <= 0 {
		add("'buffer.max_bytes' must be positive, got %d", cfg.Buffer.MaxBytes)
	}
	if cfg.Buffer.MaxAge <= 0 {
		add("'buffer.max_age' must be positive, got %s", cfg.Buffer.MaxAge)
	} else if w.Before > 0 && cfg.Buffer.MaxAge < w.Before {
		add("'buffer.max_age' (%s) must not be less than 'window.before' (%s): the ring could never hold the start of a window",
			cfg.Buffer.MaxAge, w.Before)
	}
	if cfg.LateData.Period < 0 {
		add("'late_data.period' must not be negative, got %s", cfg.LateData.Period)
	}
	if cfg.ItemTime.MaxPast < 0 {
		add("'item_time.max_past' must not be negative, got %s", cfg.ItemTime.MaxPast)
	}
	if cfg.ItemTime.MaxFuture < 0 {
		add("'item_time.max_future' must not be negative, got %s", cfg.ItemTime.MaxFuture)
	}
	if !validCompression(cfg.Buffer.Compression) {
		add("'buffer.compression' must be %q or %q, got %q", ring.CompressionZstd, ring.CompressionS2, cfg.Buffer.Compression)
	}
	if cfg.FlushInterval <= 0 {
		add("'flush_interval' must be positive, got %s", cfg.FlushInterval)
	}
	if !bundle.ValidEncoding(cfg.Encoding) {
		add("'encoding' must be %q or %q, got %q", bundle.EncodingJSON, bundle.EncodingProto, cfg.Encoding)
	}
	if cfg.PartMaxBytes < minPartMaxBytes || cfg.PartMaxBytes > maxPartMaxBytes {
		add("'part_max_bytes' must be between %d and %d, got %d", minPartMaxBytes, maxPartMaxBytes, cfg.PartMaxBytes)
	}
	if strings.TrimSpace(cfg.Spool.Directory) == "" {
		add("'spool.directory' is required")
	}
	if cfg.Buffer.Directory != "" && cfg.Spool.Directory != "" && sameDir(cfg.Buffer.Directory, cfg.Spool.Directory) {
		add("'buffer.directory' and 'spool.directory' must be different directories")
	}
	if _, err := cfg.Signing.signer(); err != nil {
		add("%v", err)
	}
	return errors.Join(errs...)
}

func validCompression(c string) bool {
	return c == ring.CompressionZstd || c == ring.CompressionS2
}

// sameDir reports whether two configured directories name the same path.
func sameDir(a, b string) bool {
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}
