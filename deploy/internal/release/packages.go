package release

import (
	"bytes"
	"fmt"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// PackageFormats are the Linux package formats made from deploy/packaging/nfpm.yaml.
var PackageFormats = []string{"deb", "rpm"}

// Package builds the deb or rpm (format) of the collector binary for
// linux/arch from root's deploy/packaging/nfpm.yaml.
func Package(root, format, arch, binary string, m Meta) ([]byte, error) {
	vars := map[string]string{
		"VERSION": m.Version,
		"ARCH":    arch,
		"MTIME":   m.Created.UTC().Format(time.RFC3339),
		"ROOT":    root,
		"BINARY":  binary,
	}
	recipe := filepath.Join(root, "deploy", "packaging", "nfpm.yaml")
	cfg, err := nfpm.ParseFileWithEnvMapping(recipe, func(k string) string {
		v, ok := vars[k]
		if !ok {
			panic(fmt.Sprintf("%s uses ${%s}, which the builder does not set", recipe, k))
		}
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", recipe, err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return nil, err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return nil, fmt.Errorf("%s for %s: %w", format, arch, err)
	}
	pkger, err := nfpm.Get(format)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := pkger.Package(info, &buf); err != nil {
		return nil, fmt.Errorf("%s for %s: %w", format, arch, err)
	}
	return buf.Bytes(), nil
}
