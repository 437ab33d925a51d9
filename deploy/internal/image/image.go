// Package image builds the otelcol-evidence container image from local
// files only, with go-containerregistry: the static collector binary on an
// empty base, with CA certificates, the packaged configuration, a non-root
// user and a state directory, in one layer. Every byte derives from its
// inputs and the given creation time, so two builds of the same inputs are
// identical.
package image // import "github.com/otel-evidence/otel-evidence/deploy/internal/image"

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image. The binary sits at the root, where the
// upstream opentelemetry-collector Helm chart starts it (/<command.name>).
const (
	Binary     = "/otelcol-evidence"
	ConfigFile = "/etc/otelcol-evidence/config.yaml"
	// ComponentStatusGate makes health_check (v0.161.0) report the
	// components' status, such as an evidence store that refuses writes;
	// the configuration's http and component_health settings need it.
	ComponentStatusGate = "--feature-gates=+extension.healthcheck.useComponentStatus"
	StateDir            = "/var/lib/otelcol-evidence"
	CAFile              = "/etc/ssl/certs/ca-certificates.crt"
	DocDir              = "/usr/share/doc/otelcol-evidence"
	UID                 = 10001
	GID                 = 10001
	User                = "otelcol-evidence"
)

// Cmd is the image's default command line after the binary.
var Cmd = []string{"--config=" + ConfigFile, ComponentStatusGate}

// Ports the image declares: OTLP gRPC and HTTP, the incident webhook,
// self-metrics and health_check.
var Ports = []string{"4317/tcp", "4318/tcp", "8088/tcp", "8888/tcp", "13133/tcp"}

// Spec is what one image is made of.
type Spec struct {
	// Version is the release version without "v" (builder-config.yaml's dist.version).
	Version string
	// Revision is the source commit.
	Revision string
	// Source is the repository URL.
	Source string
	// Created is the creation time of the image and of every file in it
	// (the commit time, as SOURCE_DATE_EPOCH).
	Created time.Time
	// OS and Arch are the platform of Collector.
	OS, Arch string
	// Collector is the static otelcol-evidence binary for the platform.
	Collector []byte
	// Config is the configuration installed at ConfigFile.
	Config []byte
	// CACerts is the PEM bundle installed at CAFile.
	CACerts []byte
	// License and Notice go to DocDir.
	License, Notice []byte
}

// Labels returns the image's org.opencontainers.image.* labels.
func (s Spec) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":         "otelcol-evidence",
		"org.opencontainers.image.description":   "otel-evidence: an OpenTelemetry Collector that records evidence around incidents",
		"org.opencontainers.image.version":       s.Version,
		"org.opencontainers.image.revision":      s.Revision,
		"org.opencontainers.image.source":        s.Source,
		"org.opencontainers.image.url":           s.Source,
		"org.opencontainers.image.documentation": s.Source + "#readme",
		"org.opencontainers.image.licenses":      "Apache-2.0",
		"org.opencontainers.image.created":       s.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.base.name":     "scratch",
	}
}

// Build returns the image for s.
func Build(s Spec) (v1.Image, error) {
	layerTar, err := rootfs(s)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.Created.UTC()}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "otel-evidence release builder (deploy/internal/image)",
			Comment:   "otelcol-evidence " + s.Version,
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture = s.OS, s.Arch
	cf.Author = "The otel-evidence Authors"
	exposed := map[string]struct{}{}
	for _, p := range Ports {
		exposed[p] = struct{}{}
	}
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint:   []string{Binary},
		Cmd:          Cmd,
		Env:          []string{"SSL_CERT_FILE=" + CAFile},
		WorkingDir:   StateDir,
		ExposedPorts: exposed,
		Volumes:      map[string]struct{}{StateDir: {}},
		Labels:       s.Labels(),
		StopSignal:   "SIGTERM",
	}
	return mutate.ConfigFile(img, cf)
}

// entry is one file or directory of the root filesystem.
type entry struct {
	path     string // absolute, without a trailing slash
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
}

// rootfs returns the image's single layer, an uncompressed tar: parents
// before children, sorted, every time set to s.Created, no user or group
// names, so that it is the same bytes for the same inputs.
func rootfs(s Spec) ([]byte, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:otel-evidence collector:%s:/sbin/nologin\n", User, UID, GID, StateDir)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", User, GID)
	files := []entry{
		{path: Binary, mode: 0o755, data: s.Collector},
		{path: ConfigFile, mode: 0o644, data: s.Config},
		{path: CAFile, mode: 0o644, data: s.CACerts},
		{path: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, data: []byte(group)},
		{path: DocDir + "/LICENSE", mode: 0o644, data: s.License},
		{path: DocDir + "/NOTICE", mode: 0o644, data: s.Notice},
		{path: StateDir, mode: 0o750, uid: UID, gid: GID},
		{path: "/tmp", mode: 0o1777},
	}
	for _, f := range files {
		if f.data == nil && (f.path == Binary || f.path == ConfigFile || f.path == CAFile) {
			return nil, fmt.Errorf("image: %s has no content", f.path)
		}
	}
	// Parent directories, root-owned, 0755.
	have := map[string]bool{}
	for _, f := range files {
		have[f.path] = true
	}
	for _, f := range files {
		for dir := parent(f.path); dir != "/"; dir = parent(dir) {
			if !have[dir] {
				have[dir] = true
				files = append(files, entry{path: dir, mode: 0o755})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    strings.TrimPrefix(f.path, "/"),
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: s.Created.UTC(),
			Format:  tar.FormatPAX,
		}
		if f.data == nil {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func parent(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Platform returns the OCI platform of an image built by Build.
func Platform(img v1.Image) (v1.Platform, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Platform{}, err
	}
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture}, nil
}

// WriteLayout writes imgs (one per platform) as one multi-platform index
// into an OCI image layout at dir, named ref in the index.json annotations.
func WriteLayout(dir string, ref name.Tag, imgs []v1.Image) error {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		p, err := Platform(img)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		"io.containerd.image.name":          ref.Name(),
	}))
}

// WriteTarball writes img as a `docker load`/`podman load` tarball tagged ref.
func WriteTarball(path string, ref name.Tag, img v1.Image) error {
	return tarball.WriteToFile(path, ref, img)
}
