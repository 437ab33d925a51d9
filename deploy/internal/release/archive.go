package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one entry of an archive.
type File struct {
	Name string // path inside the archive
	Mode int64
	Data []byte
}

// TarGz returns a gzip-compressed tar of files in the given order, with
// every time set to mtime and no owner names: the same bytes for the same
// files.
func TarGz(files []File, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if err := writeTar(zw, files, mtime); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Tar returns an uncompressed tar of files, made as TarGz makes its tar.
func Tar(files []File, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeTar(&buf, files, mtime); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeTar(w interface{ Write([]byte) (int, error) }, files []File, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: mtime.UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// DirFiles returns every regular file under dir as archive entries named
// prefix + the path below dir, sorted.
func DirFiles(dir, prefix string) ([]File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = root.Close() }()
	var files []File
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := fs.ReadFile(root.FS(), p)
		if err != nil {
			return err
		}
		files = append(files, File{Name: prefix + p, Mode: 0o644, Data: b})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, err
}

// WriteChecksums writes sha256sums.txt in dir for every other file in it,
// in name order, in the format `sha256sum -c` reads.
func WriteChecksums(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		if e.IsDir() || e.Name() == ChecksumsFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), e.Name())
	}
	path := filepath.Join(dir, ChecksumsFile)
	return b.String(), os.WriteFile(path, []byte(b.String()), 0o644)
}

// ChecksumsFile is the name of the release's checksum list.
const ChecksumsFile = "sha256sums.txt"
