package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"

	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Permissions of the directories and files the filesystem backend creates
// (before the umask). Evidence may hold sensitive telemetry, so "other" users
// get nothing.
const (
	dirPerm  os.FileMode = 0o750
	filePerm os.FileMode = 0o640
)

// Filesystem is the filesystem backend: each object is a file under one
// root directory, at the path given by its key. Writes are atomic and
// durable (temporary file, fsync, rename, fsync of the directory). Every
// operation goes through an os.Root, so no key can reach outside the
// directory, not even through symbolic links.
type Filesystem struct {
	dir string
}

var _ store.Store = (*Filesystem)(nil)

// NewFilesystem opens (creating it if needed) a filesystem store rooted at dir.
func NewFilesystem(dir string) (*Filesystem, error) {
	if dir == "" {
		return nil, errors.New("filesystem store: directory is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filesystem store: resolve directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("filesystem store: create directory: %w", err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("filesystem store: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("filesystem store: %q is not a directory", abs)
	}
	return &Filesystem{dir: abs}, nil
}

// Dir returns the absolute root directory of the store.
func (f *Filesystem) Dir() string { return f.dir }

// String returns the store's file URL, e.g. "file:///var/evidence".
func (f *Filesystem) String() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.dir)}).String()
}

func (f *Filesystem) openRoot() (*os.Root, error) {
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, fmt.Errorf("filesystem store: open %s: %w", f.dir, err)
	}
	return root, nil
}

// Put writes the object atomically and durably. It fails with
// store.ErrSizeMismatch, leaving nothing behind, when r does not hold exactly size
// bytes.
func (f *Filesystem) Put(ctx context.Context, key string, r io.Reader, size int64, _ store.PutOptions) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %q: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	root, err := f.openRoot()
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()

	dir := path.Dir(key)
	if err := mkdirAllSync(root, dir); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	file, err := atomicfile.Create(root, key, atomicfile.Options{TempPrefix: store.ReservedPrefix, Perm: filePerm})
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	defer file.Abort()
	xr := newExactReader(ctx, r, size)
	n, err := io.Copy(file, xr)
	if err == nil {
		err = xr.failure()
	}
	if err == nil && n != size {
		err = fmt.Errorf("%w: wrote %d of %d bytes", store.ErrSizeMismatch, n, size)
	}
	if err == nil {
		err = file.Commit()
	}
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// mkdirAllSync creates dir and its missing parents inside root, fsyncing the
// parent of every directory it creates so the new entries survive a crash.
func mkdirAllSync(root *os.Root, dir string) error {
	if dir == "." {
		return nil
	}
	cur := "."
	for seg := range strings.SplitSeq(dir, "/") {
		parent := cur
		cur = path.Join(cur, seg)
		err := root.Mkdir(cur, dirPerm)
		switch {
		case err == nil:
			if err := atomicfile.SyncDir(root, parent); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			info, serr := root.Stat(cur)
			if serr != nil {
				return serr
			}
			if !info.IsDir() {
				return fmt.Errorf("%q exists and is not a directory", cur)
			}
		default:
			return err
		}
	}
	return nil
}

// fileKind names a file type that is not a regular file.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "non-regular file"
}

// isNotFound reports whether a filesystem error means the key does not exist.
func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get opens the object's file.
func (f *Filesystem) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, store.ObjectInfo{}, fmt.Errorf("get %q: %w", key, err)
	}
	root, err := f.openRoot()
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	defer func() { _ = root.Close() }()
	// A symbolic link (even to another object), a device or a directory
	// where an object belongs is never something this store wrote: it is
	// reported as such, and never followed.
	if li, err := root.Lstat(key); err == nil && !li.Mode().IsRegular() && !li.IsDir() {
		return nil, store.ObjectInfo{}, fmt.Errorf("get %q in %s: a %s: %w", key, f, fileKind(li.Mode()), store.ErrNotRegular)
	}
	file, err := root.Open(key)
	if err != nil {
		return nil, store.ObjectInfo{}, f.mapErr("get", key, err)
	}
	info, err := file.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		_ = file.Close()
		return nil, store.ObjectInfo{}, f.mapErr("get", key, err)
	}
	return file, store.ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()}, nil
}

// Stat returns the object's info or store.ErrNotFound.
func (f *Filesystem) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat %q: %w", key, err)
	}
	root, err := f.openRoot()
	if err != nil {
		return store.ObjectInfo{}, err
	}
	defer func() { _ = root.Close() }()
	info, err := root.Stat(key)
	if err == nil && !info.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return store.ObjectInfo{}, f.mapErr("stat", key, err)
	}
	return store.ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()}, nil
}

func (f *Filesystem) mapErr(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %q in %s: %w", op, key, f, store.ErrNotFound)
	}
	return fmt.Errorf("%s %q in %s: %w", op, key, f, err)
}

// List returns the objects whose key starts with prefix and sorts after
// startAfter, in lexical key order. Temporary files are never listed.
func (f *Filesystem) List(ctx context.Context, prefix, startAfter string) ([]store.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
		if store.ValidateKey(start) != nil {
			// No valid key lies below an invalid directory.
			return nil, nil
		}
	}
	root, err := f.openRoot()
	if err != nil {
		return nil, err
	}
	defer func() { _ = root.Close() }()

	var out []store.ObjectInfo
	err = fs.WalkDir(root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), store.ReservedPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != "." && skipDir(p+"/", prefix, startAfter) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || p <= startAfter {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if isNotFound(err) { // deleted while listing
				return nil
			}
			return err
		}
		out = append(out, store.ObjectInfo{Key: p, Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q in %s: %w", prefix, f, err)
	}
	slices.SortFunc(out, func(a, b store.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// skipDir reports whether no key starting with dirPrefix (a directory path
// ending in '/') can start with prefix and sort after startAfter.
func skipDir(dirPrefix, prefix, startAfter string) bool {
	if !strings.HasPrefix(dirPrefix, prefix) && !strings.HasPrefix(prefix, dirPrefix) {
		return true
	}
	// Every key below dirPrefix is smaller than startAfter when startAfter
	// is greater than dirPrefix but does not extend it.
	return startAfter > dirPrefix && !strings.HasPrefix(startAfter, dirPrefix)
}

// Delete removes the object's file; a missing key is not an error.
func (f *Filesystem) Delete(ctx context.Context, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	root, err := f.openRoot()
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	info, err := root.Lstat(key)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("delete %q in %s: %w", key, f, err)
	}
	if info.IsDir() {
		return nil // a directory of other keys, not an object
	}
	if err := root.Remove(key); err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("delete %q in %s: %w", key, f, err)
	}
	if err := atomicfile.SyncDir(root, path.Dir(key)); err != nil {
		return fmt.Errorf("delete %q in %s: %w", key, f, err)
	}
	return nil
}
