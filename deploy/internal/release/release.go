package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/otel-evidence/otel-evidence/deploy/internal/image"
)

// Names of the release's artifacts.
func archiveName(m Meta, p Platform) string {
	return fmt.Sprintf("otelcol-evidence_%s_%s_%s.tar.gz", m.Version, p.OS, p.Arch)
}

// PackageName is the file name of the deb or rpm for linux/arch.
func PackageName(m Meta, arch, format string) string {
	return fmt.Sprintf("otelcol-evidence_%s_linux_%s.%s", m.Version, arch, format)
}

// ImageTarballName is the docker/podman-loadable image for linux/arch.
func ImageTarballName(m Meta, arch string) string {
	return fmt.Sprintf("otelcol-evidence_%s_linux_%s.image.tar", m.Version, arch)
}

// OCIArchiveName is the multi-platform OCI image layout, as a tar.
func OCIArchiveName(m Meta) string {
	return fmt.Sprintf("otelcol-evidence_%s_image.oci.tar", m.Version)
}

func sbomName(m Meta, command string) string {
	return fmt.Sprintf("%s_%s_sbom.cdx.json", command, m.Version)
}

// ImageRef is the image's name and tag.
func ImageRef(m Meta) (name.Tag, error) {
	return name.NewTag(ImageName + ":" + m.Version)
}

// Run builds into out: with images only, the container image (linux
// platforms) as an OCI layout in out/oci and a loadable tarball per
// platform; otherwise the whole release: archives, packages, image, SBOMs
// and sha256sums.txt. Binaries go to out/build. It returns the checksum
// list (empty for images only).
func Run(ctx context.Context, b Builder, out string, imagesOnly bool) (string, error) {
	m, err := ReadMeta(ctx, b.Root)
	if err != nil {
		return "", err
	}
	if err := os.RemoveAll(out); err != nil {
		return "", err
	}
	buildDir := filepath.Join(out, "build")
	artifacts := out
	if !imagesOnly {
		artifacts = filepath.Join(out, "release")
	}
	for _, d := range []string{buildDir, artifacts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	binary := func(command string, p Platform) string {
		return filepath.Join(buildDir, p.OS+"_"+p.Arch, command)
	}
	for _, p := range Platforms {
		for _, c := range Commands {
			if imagesOnly && (p.OS != "linux" || c != "otelcol-evidence") {
				continue
			}
			if err := b.Build(ctx, c, p, binary(c, p)); err != nil {
				return "", err
			}
		}
	}

	ref, err := ImageRef(m)
	if err != nil {
		return "", err
	}
	imgs, err := images(b.Root, m, func(p Platform) string { return binary("otelcol-evidence", p) })
	if err != nil {
		return "", err
	}
	layoutDir := filepath.Join(out, "oci")
	if err := image.WriteLayout(layoutDir, ref, imgs); err != nil {
		return "", err
	}
	for _, img := range imgs {
		p, err := image.Platform(img)
		if err != nil {
			return "", err
		}
		if err := image.WriteTarball(filepath.Join(artifacts, ImageTarballName(m, p.Architecture)), ref, img); err != nil {
			return "", err
		}
	}
	if imagesOnly {
		return "", nil
	}

	layoutFiles, err := DirFiles(layoutDir, "")
	if err != nil {
		return "", err
	}
	if err := writeArchiveFile(filepath.Join(artifacts, OCIArchiveName(m)), layoutFiles, m, false); err != nil {
		return "", err
	}
	for _, p := range Platforms {
		if err := writeArchive(b.Root, artifacts, m, p, binary); err != nil {
			return "", err
		}
		if p.OS != "linux" {
			continue
		}
		for _, format := range PackageFormats {
			pkg, err := Package(b.Root, format, p.Arch, binary("otelcol-evidence", p), m)
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(artifacts, PackageName(m, p.Arch, format)), pkg, 0o644); err != nil {
				return "", err
			}
		}
	}
	for _, c := range Commands {
		sbom, err := SBOM(binary(c, Platform{"linux", "amd64"}), m)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(artifacts, sbomName(m, c)), sbom, 0o644); err != nil {
			return "", err
		}
	}
	return WriteChecksums(artifacts)
}

// images builds the image for every linux platform.
func images(root string, m Meta, binary func(Platform) string) ([]v1.Image, error) {
	ca, err := DebianCACerts(CACertsDir, CACertsSHA256)
	if err != nil {
		return nil, err
	}
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(root, rel)) }
	config, err := read("deploy/config.yaml")
	if err != nil {
		return nil, err
	}
	license, err := read("LICENSE")
	if err != nil {
		return nil, err
	}
	notice, err := read("NOTICE")
	if err != nil {
		return nil, err
	}
	var imgs []v1.Image
	for _, p := range Platforms {
		if p.OS != "linux" {
			continue
		}
		collector, err := os.ReadFile(binary(p))
		if err != nil {
			return nil, err
		}
		img, err := image.Build(image.Spec{
			Version: m.Version, Revision: m.Revision, Source: Source, Created: m.Created,
			OS: p.OS, Arch: p.Arch, Collector: collector, Config: config, CACerts: ca,
			License: license, Notice: notice,
		})
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// writeArchive writes the archive of platform p: both commands, the
// packaged configuration, README, LICENSE and NOTICE, in a top directory
// named after the archive.
func writeArchive(root, dir string, m Meta, p Platform, binary func(string, Platform) string) error {
	top := fmt.Sprintf("otelcol-evidence_%s_%s_%s/", m.Version, p.OS, p.Arch)
	var files []File
	for _, c := range Commands {
		b, err := os.ReadFile(binary(c, p))
		if err != nil {
			return err
		}
		files = append(files, File{Name: top + c, Mode: 0o755, Data: b})
	}
	for _, f := range [][2]string{{"LICENSE", "LICENSE"}, {"NOTICE", "NOTICE"}, {"README.md", "README.md"}, {"deploy/config.yaml", "config.yaml"}} {
		b, err := os.ReadFile(filepath.Join(root, f[0]))
		if err != nil {
			return err
		}
		files = append(files, File{Name: top + f[1], Mode: 0o644, Data: b})
	}
	return writeArchiveFile(filepath.Join(dir, archiveName(m, p)), files, m, true)
}

func writeArchiveFile(path string, files []File, m Meta, gz bool) error {
	var data []byte
	var err error
	if gz {
		data, err = TarGz(files, m.Created)
	} else {
		data, err = Tar(files, m.Created)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
