// Package atomicfile writes files so that readers see the old content or
// the whole new one, never part of it, and a crash leaves one or the
// other: the data goes to a temporary file in the target's directory,
// which is fsynced, renamed over the target, and the directory fsynced.
//
// The filesystem store, the exporter's spool and evidencectl's downloads
// all write this way; they differ only in how the temporary file is named
// (so that each can recognise its leftovers) and in where names are
// resolved (a plain path, or inside an *os.Root that no name can leave).
package atomicfile // import "github.com/otel-evidence/otel-evidence/internal/atomicfile"

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir resolves names: OS for plain paths, or an *os.Root.
type Dir interface {
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Open(name string) (*os.File, error)
	Rename(oldname, newname string) error
	Remove(name string) error
}

type osDir struct{}

func (osDir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (osDir) Open(name string) (*os.File, error)   { return os.Open(name) }
func (osDir) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osDir) Remove(name string) error             { return os.Remove(name) }

// OS resolves names as plain paths.
var OS Dir = osDir{}

var _ Dir = (*os.Root)(nil)

// DefaultPerm is the mode of new files when Options.Perm is zero.
const DefaultPerm fs.FileMode = 0o640

// Options name and create the temporary file.
type Options struct {
	// TempPrefix names the temporary file <TempPrefix><base>-<random>,
	// created exclusively: several writers of one name do not meet. The
	// default is ".tmp-".
	TempPrefix string
	// TempSuffix, when set instead, names the temporary file
	// <name><TempSuffix>, truncated if it exists: for a single writer
	// that replaces what an interrupted run left.
	TempSuffix string
	// Perm is the new file's mode (DefaultPerm when zero).
	Perm fs.FileMode
}

// File is a file being written in place of its target. Write to it, then
// Commit it or Abort it.
type File struct {
	d         Dir
	name, tmp string
	f         *os.File
	done      bool
}

// Create starts writing name in d.
func Create(d Dir, name string, opts Options) (*File, error) {
	perm := opts.Perm
	if perm == 0 {
		perm = DefaultPerm
	}
	var tmp string
	flag := os.O_WRONLY | os.O_CREATE
	if opts.TempSuffix != "" {
		tmp = name + opts.TempSuffix
		flag |= os.O_TRUNC
	} else {
		prefix := opts.TempPrefix
		if prefix == "" {
			prefix = ".tmp-"
		}
		tmp = filepath.Join(filepath.Dir(name), prefix+filepath.Base(name)+"-"+rand.Text())
		flag |= os.O_EXCL
	}
	f, err := d.OpenFile(tmp, flag, perm)
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file for %s: %w", name, err)
	}
	return &File{d: d, name: name, tmp: tmp, f: f}, nil
}

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) { return f.f.Write(p) }

// Commit syncs and closes the temporary file, renames it over the target
// and syncs the directory. On error nothing is left but the old target.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: commit after commit or abort")
	}
	f.done = true
	err := f.f.Sync()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.d.Rename(f.tmp, f.name)
	}
	if err != nil {
		_ = f.d.Remove(f.tmp)
		return fmt.Errorf("writing %s: %w", f.name, err)
	}
	return SyncDir(f.d, filepath.Dir(f.name))
}

// Abort closes and removes the temporary file; the target is untouched. It
// does nothing after Commit or Abort, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	_ = f.f.Close()
	_ = f.d.Remove(f.tmp)
}

// WriteFile writes data as name in d, atomically and durably.
func WriteFile(d Dir, name string, data []byte, opts Options) error {
	f, err := Create(d, name, opts)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return f.Commit()
}

// SyncDir fsyncs directory dir, so that the entries created, renamed or
// removed in it survive a crash.
func SyncDir(d Dir, dir string) error {
	f, err := d.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
