package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Store addressing defaults and environment variables.
const (
	// defaultStoreURL is the collector's default filesystem store.
	defaultStoreURL = "file://./var/evidence"
	// envStore addresses the store when neither --store nor --config is given.
	envStore = "EVIDENCECTL_STORE"
	// incidentsType is the component type of the incidents extension.
	incidentsType = "incidents"
)

// storeFlagHint is the advice every store addressing error ends with.
const storeFlagHint = "use --store file:///path or --store s3://bucket/prefix (or EVIDENCECTL_STORE), or --config with a collector configuration"

// storeOptions address the evidence store: --store (or EVIDENCECTL_STORE),
// or --config with a collector configuration, refined by the --s3-* flags.
type storeOptions struct {
	url         string
	configFile  string
	s3Endpoint  string
	s3Region    string
	s3CAFile    string
	s3AccessKey string
	s3SecretKey string
	s3Insecure  bool
	s3PathStyle bool

	flags *pflag.FlagSet
}

// s3FlagNames are the flags that only apply to an S3 store.
var s3FlagNames = []string{"s3-endpoint", "s3-region", "s3-ca-file", "s3-access-key", "s3-secret-key", "s3-insecure", "s3-path-style"}

func (o *storeOptions) addFlags(fs *pflag.FlagSet) {
	o.flags = fs
	fs.StringVar(&o.url, "store", "", "evidence store: file:///path, a directory, or s3://bucket/prefix (env "+envStore+"; default "+defaultStoreURL+")")
	fs.StringVar(&o.configFile, "config", "", "collector configuration file: use the store of its incidents extension")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", "", "S3 endpoint as host:port or URL (env AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; default AWS)")
	fs.StringVar(&o.s3Region, "s3-region", "", "S3 region (env AWS_REGION or AWS_DEFAULT_REGION; default "+storage.DefaultRegion+")")
	fs.BoolVar(&o.s3Insecure, "s3-insecure", false, "talk to the S3 endpoint over plain HTTP")
	fs.BoolVar(&o.s3PathStyle, "s3-path-style", false, "address the bucket as endpoint/bucket (most S3-compatible servers need this)")
	fs.StringVar(&o.s3CAFile, "s3-ca-file", "", "PEM file with extra certificate authorities for the S3 endpoint")
	fs.StringVar(&o.s3AccessKey, "s3-access-key", "", "S3 access key (default: AWS_ACCESS_KEY_ID, the shared credentials file, then the instance role)")
	fs.StringVar(&o.s3SecretKey, "s3-secret-key", "", "S3 secret key; prefer AWS_SECRET_ACCESS_KEY, command lines are visible to other users")
}

func (o *storeOptions) changed(name string) bool { return o.flags != nil && flagChanged(o.flags, name) }

// config resolves the store configuration from the flags, the collector
// configuration or the environment, in that order of precedence.
func (o *storeOptions) config(ctx context.Context, getenv func(string) string) (storage.Config, error) {
	var cfg storage.Config
	var err error
	fromURL := true
	switch {
	case o.changed("store") && o.configFile != "":
		return cfg, usageError("address the store one way", "--store and --config are both given")
	case o.changed("store"):
		cfg, err = parseStoreURL(o.url)
		if err != nil {
			return cfg, usageError(storeFlagHint, "invalid --store %q: %v", o.url, err)
		}
	case o.configFile != "":
		fromURL = false
		cfg, err = storeConfigFromFile(ctx, o.configFile)
		if err != nil {
			return cfg, err
		}
	case getenv(envStore) != "":
		v := getenv(envStore)
		cfg, err = parseStoreURL(v)
		if err != nil {
			return cfg, usageError(storeFlagHint, "invalid %s %q: %v", envStore, v, err)
		}
	default:
		cfg, _ = parseStoreURL(defaultStoreURL)
	}
	if err := o.applyS3(&cfg, fromURL, getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyS3 applies the --s3-* flags and, for a store given as a URL, the
// standard AWS environment variables for the endpoint and region.
func (o *storeOptions) applyS3(cfg *storage.Config, fromURL bool, getenv func(string) string) error {
	if cfg.Backend != storage.BackendS3 {
		for _, name := range s3FlagNames {
			if o.changed(name) {
				return usageError("give an s3:// store, or drop the --s3-* flags", "--%s applies only to an S3 store, but the store is a directory", name)
			}
		}
		return nil
	}
	s3 := &cfg.S3
	if fromURL {
		s3.Endpoint = firstNonEmpty(getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL"))
		s3.Region = firstNonEmpty(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), storage.DefaultRegion)
	}
	if o.changed("s3-endpoint") {
		s3.Endpoint = o.s3Endpoint
	}
	if o.changed("s3-region") {
		s3.Region = o.s3Region
	}
	if o.changed("s3-insecure") {
		s3.Insecure = o.s3Insecure
	}
	if o.changed("s3-path-style") {
		s3.ForcePathStyle = o.s3PathStyle
	}
	if o.changed("s3-ca-file") {
		s3.TLS.CAFile = o.s3CAFile
	}
	switch {
	case o.s3AccessKey != "" && o.s3SecretKey == "":
		return usageError("give both, or neither to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "--s3-access-key is given without --s3-secret-key")
	case o.s3AccessKey == "" && o.s3SecretKey != "":
		return usageError("give both, or neither to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "--s3-secret-key is given without --s3-access-key")
	case o.s3AccessKey != "":
		s3.AccessKeyID = configopaque.String(o.s3AccessKey)
		s3.SecretAccessKey = configopaque.String(o.s3SecretKey)
		s3.SessionToken = ""
	}
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseStoreURL parses a store address: file:///abs/path, file://rel/path,
// a plain directory path, or s3://bucket/prefix.
func parseStoreURL(s string) (storage.Config, error) {
	cfg := storage.NewDefaultConfig()
	if strings.TrimSpace(s) == "" {
		return cfg, errors.New("empty store address")
	}
	scheme, rest, hasScheme := strings.Cut(s, "://")
	if !hasScheme {
		cfg.Filesystem.Directory = s
		return cfg, nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if r, ok := strings.CutPrefix(rest, "localhost/"); ok {
			rest = "/" + r
		}
		if strings.ContainsAny(rest, "?#") {
			return cfg, errors.New("a file store address takes no query or fragment")
		}
		dir, err := url.PathUnescape(rest)
		if err != nil {
			return cfg, fmt.Errorf("bad escape in path: %w", err)
		}
		if dir == "" {
			return cfg, errors.New("file:// needs a directory, as in file:///var/evidence or file://./var/evidence")
		}
		cfg.Filesystem.Directory = dir
		return cfg, nil
	case "s3":
		u, err := url.Parse("s3://" + rest)
		if err != nil {
			return cfg, err
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
			return cfg, errors.New("an s3 store address is s3://bucket/prefix; give the endpoint, region and credentials with the --s3-* flags")
		}
		if u.Host == "" {
			return cfg, errors.New("s3:// needs a bucket, as in s3://evidence-bucket/prod")
		}
		cfg.Backend = storage.BackendS3
		cfg.S3.Bucket = u.Host
		cfg.S3.Prefix = strings.Trim(u.Path, "/")
		return cfg, nil
	default:
		return cfg, fmt.Errorf("unsupported scheme %q", scheme)
	}
}

// storeConfigFromFile reads the store of the incidents extension from a
// collector configuration, resolving ${env:...} and ${file:...} the way
// the collector does.
func storeConfigFromFile(ctx context.Context, path string) (storage.Config, error) {
	conf, err := resolveConfig(ctx, path, "give the collector's configuration file, or address the store with --store")
	if err != nil {
		return storage.NewDefaultConfig(), err
	}
	return storeConfigFromConf(conf, path)
}

// resolveConfig reads a collector configuration, resolving ${env:...} and
// ${file:...} the way the collector does.
func resolveConfig(ctx context.Context, path, hint string) (*confmap.Conf, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usageError(hint, "cannot read --config %s: %v", path, err)
	}
	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              []string{"file:" + path},
		ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory(), yamlprovider.NewFactory()},
		DefaultScheme:     "env",
		ProviderSettings:  confmap.ProviderSettings{Logger: zap.NewNop()},
	})
	if err != nil {
		return nil, fmt.Errorf("reading --config %s: %w", path, err)
	}
	conf, err := resolver.Resolve(ctx)
	_ = resolver.Shutdown(ctx)
	if err != nil {
		return nil, usageError(hint, "cannot parse --config %s: %v", path, err)
	}
	return conf, nil
}

// storeConfigFromConf picks the incidents extension's store section out of
// a resolved collector configuration.
func storeConfigFromConf(conf *confmap.Conf, path string) (storage.Config, error) {
	cfg := storage.NewDefaultConfig()
	hint := "address the store with --store instead"
	exts, err := conf.Sub("extensions")
	if err != nil {
		return cfg, usageError(hint, "--config %s: 'extensions': %v", path, err)
	}
	var names []string
	for name := range exts.ToStringMap() {
		if name == incidentsType || strings.HasPrefix(name, incidentsType+"/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) > 1 {
		// Prefer the extensions the service actually runs.
		var enabled []string
		if list, ok := conf.Get("service::extensions").([]any); ok {
			for _, n := range names {
				if slices.Contains(list, any(n)) {
					enabled = append(enabled, n)
				}
			}
		}
		if len(enabled) > 0 {
			names = enabled
		}
	}
	switch len(names) {
	case 0:
		return cfg, usageError(hint, "--config %s has no incidents extension under 'extensions'", path)
	case 1:
	default:
		return cfg, usageError(hint, "--config %s has several incidents extensions (%s)", path, strings.Join(names, ", "))
	}
	ext, err := exts.Sub(names[0])
	if err != nil {
		return cfg, usageError(hint, "--config %s: 'extensions::%s': %v", path, names[0], err)
	}
	sub, err := ext.Sub("store")
	if err != nil {
		return cfg, usageError(hint, "--config %s: 'extensions::%s::store': %v", path, names[0], err)
	}
	if err := sub.Unmarshal(&cfg); err != nil {
		return cfg, usageError(hint, "--config %s: 'extensions::%s::store': %v", path, names[0], err)
	}
	return cfg, nil
}

// open resolves the configuration and opens the store. A filesystem store
// must exist: a read-only tool must not create directories on a typo.
func (o *storeOptions) open(ctx context.Context, getenv func(string) string) (store.Store, func(), error) {
	cfg, err := o.config(ctx, getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Backend == storage.BackendFilesystem {
		dir := cfg.Filesystem.Directory
		info, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, newError(ErrStoreUnreachable, err,
				"check --store (the collector's incidents.store.filesystem.directory, relative to where it runs)",
				"store directory %s does not exist", dir)
		case err != nil:
			return nil, nil, newError(ErrStoreUnreachable, err, "check --store and the directory's permissions", "cannot open store directory %s: %v", dir, err)
		case !info.IsDir():
			return nil, nil, newError(ErrStoreUnreachable, nil, "check --store", "store path %s is not a directory", dir)
		}
	}
	st, err := storage.Open(ctx, cfg)
	if err != nil {
		if errors.Is(err, storage.ErrInvalidConfig) {
			return nil, nil, usageError(storeFlagHint, "invalid store configuration: %v", err)
		}
		return nil, nil, newError(ErrStoreUnreachable, err, storeFlagHint, "cannot open the store: %v", err)
	}
	release := func() {}
	if s3, ok := st.(*storage.S3); ok {
		release = func() { _ = s3.Close() }
	}
	return st, release, nil
}
