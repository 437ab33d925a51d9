package release

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/CycloneDX/cyclonedx-gomod/pkg/generate/bin"
	"github.com/rs/zerolog"
)

// SBOM returns the CycloneDX SBOM (JSON) of a Go binary, from the module
// list the Go toolchain embedded in it, with the standard library. The
// timestamp is the build's time and the serial number derives from the
// binary's digest, so the same binary gives the same SBOM.
func SBOM(binary string, m Meta) ([]byte, error) {
	gen, err := bin.NewGenerator(binary,
		bin.WithLogger(zerolog.Nop()),
		bin.WithIncludeStdlib(true),
		bin.WithVersionOverride("v"+m.Version))
	if err != nil {
		return nil, err
	}
	bom, err := gen.Generate()
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", binary, err)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	// An RFC 4122 version 5 style UUID from the digest: stable per binary.
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	bom.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	if bom.Metadata == nil {
		bom.Metadata = &cdx.Metadata{}
	}
	bom.Metadata.Timestamp = m.Created.UTC().Format(time.RFC3339)
	bom.Metadata.Tools = &cdx.ToolsChoice{Components: &[]cdx.Component{{
		Type:    cdx.ComponentTypeApplication,
		Name:    "cyclonedx-gomod",
		Group:   "github.com/CycloneDX",
		Version: moduleVersion("github.com/CycloneDX/cyclonedx-gomod"),
	}}}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.Encode(bom); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// moduleVersion returns the version of module path this program was built
// with, "unknown" when the build carries no module information.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}
