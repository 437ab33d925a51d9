// Package release builds otel-evidence's release artifacts from a source
// tree: static binaries for every platform, archives, the container image,
// deb and rpm packages, CycloneDX SBOMs and sha256sums.txt. Every artifact
// is a function of the source tree alone (the commit's time stands in for
// "now"), so two builds give the same bytes.
package release // import "github.com/otel-evidence/otel-evidence/deploy/internal/release"

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Platform is a GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Platforms are the release's platforms; the image and the packages are
// made for the linux ones.
var Platforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}}

// Commands are the binaries every archive holds, by their directory under
// cmd/.
var Commands = []string{"otelcol-evidence", "evidencectl"}

// Source is the repository's URL, for labels and package metadata.
const Source = "https://github.com/otel-evidence/otel-evidence"

// ImageName is the image's repository name; its tag is the version.
const ImageName = "otel-evidence/otelcol-evidence"

// Meta identifies a build of a source tree.
type Meta struct {
	// Version is builder-config.yaml's dist.version, without "v".
	Version string
	// Revision is the commit: $SOURCE_REVISION when set (a tree without
	// git metadata, such as a source archive or release-check's copy),
	// else git rev-parse HEAD, else "unknown".
	Revision string
	// Created is SOURCE_DATE_EPOCH when set, else the commit's time.
	Created time.Time
}

// ReadMeta reads the version from root's builder-config.yaml and the
// revision and time from the environment or git.
func ReadMeta(ctx context.Context, root string) (Meta, error) {
	b, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	if err != nil {
		return Meta{}, err
	}
	var bc struct {
		Dist struct {
			Version string `json:"version"`
		} `json:"dist"`
	}
	if err := yaml.Unmarshal(b, &bc); err != nil {
		return Meta{}, fmt.Errorf("builder-config.yaml: %w", err)
	}
	if bc.Dist.Version == "" {
		return Meta{}, fmt.Errorf("builder-config.yaml has no dist.version")
	}
	m := Meta{Version: strings.TrimPrefix(bc.Dist.Version, "v"), Revision: os.Getenv("SOURCE_REVISION")}
	if m.Revision == "" {
		m.Revision = "unknown"
		if out, err := git(ctx, root, "rev-parse", "HEAD"); err == nil {
			m.Revision = out
		}
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		out, err := git(ctx, root, "log", "-1", "--format=%ct")
		if err != nil {
			return Meta{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no commit time from git: %w", err)
		}
		epoch = out
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return Meta{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	m.Created = time.Unix(secs, 0).UTC()
	return m, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// Builder compiles the commands of a source tree.
type Builder struct {
	// Root is the source tree.
	Root string
	// GoCache, when set, is the GOCACHE of every compilation (a fresh one
	// proves a build does not depend on cached results).
	GoCache string
	// Log receives one line per compilation.
	Log func(format string, args ...any)
}

// Build compiles cmd/<command> for p into out from the command's own
// module (GOWORK=off: what its go.mod pins, as a user's build resolves it):
// static (CGO_ENABLED=0), -trimpath, no VCS stamp, no build ID and no
// symbol tables, so that the binary depends on the sources and the
// toolchain only.
func (b Builder) Build(ctx context.Context, command string, p Platform, out string) error {
	if b.Log != nil {
		b.Log("go build %s for %s", command, p)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, ".")
	cmd.Dir = filepath.Join(b.Root, "cmd", command)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=", "GOWORK=off")
	if b.GoCache != "" {
		cmd.Env = append(cmd.Env, "GOCACHE="+b.GoCache)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", command, p, err, stderr.String())
	}
	return nil
}
