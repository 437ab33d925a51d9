// Command release builds otel-evidence's release artifacts (see
// deploy/internal/release). The Makefile runs it:
//
//	release image   -root .. -out ../dist/image     # make image
//	release release -root .. -out ../dist           # make release
//	release check   -root .. -out ../dist           # make release-check: build twice, compare
//
// check builds the release, then builds it again from a copy of the source
// tree at another path with an empty GOCACHE, and fails unless both
// sha256sums.txt are identical.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otel-evidence/otel-evidence/deploy/internal/release"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: release image|release|check -root DIR -out DIR")
	}
	verb := args[0]
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	root := fs.String("root", "..", "the repository")
	out := fs.String("out", "../dist", "output directory (replaced)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	b := release.Builder{Root: absRoot, Log: logf}
	switch verb {
	case "image":
		_, err := timed("image", func() (string, error) { return release.Run(ctx, b, absOut, true) })
		return err
	case "release":
		sums, err := timed("release", func() (string, error) { return release.Run(ctx, b, absOut, false) })
		fmt.Print(sums)
		return err
	case "check":
		return check(ctx, b, absOut)
	default:
		return fmt.Errorf("unknown verb %q: image, release or check", verb)
	}
}

func check(ctx context.Context, b release.Builder, out string) error {
	first, err := timed("release build 1 (shared GOCACHE)", func() (string, error) { return release.Run(ctx, b, out, false) })
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "otel-evidence-release-check-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	src := filepath.Join(tmp, "src")
	if err := copyTree(ctx, b.Root, src); err != nil {
		return err
	}
	b2 := release.Builder{Root: src, GoCache: filepath.Join(tmp, "gocache"), Log: logf}
	second, err := timed("release build 2 (copy of the tree at "+src+", empty GOCACHE)", func() (string, error) {
		return release.Run(ctx, b2, filepath.Join(tmp, "dist"), false)
	})
	if err != nil {
		return err
	}
	fmt.Print(first)
	if first != second {
		return fmt.Errorf("the two builds differ:\n--- first\n%s--- second\n%s", first, second)
	}
	fmt.Printf("release-check: both builds gave the same %d artifacts\n", strings.Count(first, "\n"))
	return nil
}

// copyTree copies the files git knows of (tracked, and untracked but not
// ignored) from root to dst, with git's own metadata for ReadMeta.
func copyTree(ctx context.Context, root, dst string) error {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	list, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files in %s: %w", root, err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
	}
	// The copy has no git metadata: its revision and time are the
	// original's commit's.
	m, err := release.ReadMeta(ctx, root)
	if err != nil {
		return err
	}
	if err := os.Setenv("SOURCE_REVISION", m.Revision); err != nil {
		return err
	}
	return os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(m.Created.Unix(), 10))
}

func copyFile(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // deleted in the work tree, not yet in the index
		}
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	o, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		_ = o.Close()
		return err
	}
	return o.Close()
}

func timed(what string, fn func() (string, error)) (string, error) {
	start := time.Now()
	s, err := fn()
	logf("%s took %s", what, time.Since(start).Round(time.Second))
	return s, err
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "release: "+format+"\n", args...)
}
