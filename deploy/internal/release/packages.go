package release

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

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
		"ROOT":    root,
		"BINARY":  binary,
	}
	recipe := filepath.Join(root, "deploy", "packaging", "nfpm.yaml")
	text, err := os.ReadFile(recipe)
	if err != nil {
		return nil, err
	}
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(text), -1) {
		if _, ok := vars[m[1]]; !ok {
			return nil, fmt.Errorf("%s uses ${%s}, which the builder does not set", recipe, m[1])
		}
	}
	// The recipe's variables are filled in here, for every field (nfpm
	// expands the environment in a few fields only); nfpm's own (signing
	// passphrases) stay empty.
	expanded := os.Expand(string(text), func(k string) string { return vars[k] })
	cfg, err := nfpm.ParseWithEnvMapping(strings.NewReader(expanded), func(string) string { return "" })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", recipe, err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return nil, err
	}
	info = nfpm.WithDefaults(info)
	info.MTime = m.Created
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
