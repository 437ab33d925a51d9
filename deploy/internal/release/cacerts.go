package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// The image's CA certificates are Debian's Mozilla bundle as the
// ca-certificates package ships it, concatenated in name order (what
// update-ca-certificates does with the default selection, but without the
// machine's local additions in /etc/ssl/certs). The bundle is pinned by the
// checksum of that concatenation for this package version; .ci/run
// installs the version.
const (
	CACertsPackage = "ca-certificates=20230311+deb12u1"
	CACertsDir     = "/usr/share/ca-certificates/mozilla"
	CACertsSHA256  = "a3413a37a8e09cc21b2c11c9ffb23d92d2fc9d1933c9e7617f5c4fba4f72d37d"
)

// DebianCACerts returns the concatenated *.crt files of dir, failing when
// their sha256 is not want.
func DebianCACerts(dir, want string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no CA certificates in %s: install Debian's %s (bash .ci/run does)", dir, CACertsPackage)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		if !bytes.HasSuffix(b, []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("the CA certificates in %s have sha256 %s, want %s (Debian's %s): install that version, or update CACertsPackage and CACertsSHA256 in deploy/internal/release/cacerts.go together", dir, got, want, CACertsPackage)
	}
	return buf.Bytes(), nil
}
