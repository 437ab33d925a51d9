package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// maxChildRSS is the peak resident memory every reading command must stay
// under, whatever a part claims or contains.
const maxChildRSS = 256 << 20

// bombFile is a data file of a crafted part: size bytes of a repeated
// pattern, generated twice (to hash it, then to compress it), never held.
type bombFile struct {
	name    string
	size    int64
	pattern []byte
}

func (f bombFile) reader() io.Reader {
	return io.LimitReader(&repeater{p: f.pattern}, f.size)
}

type repeater struct {
	p []byte
	i int
}

func (r *repeater) Read(b []byte) (int, error) {
	for n := range b {
		b[n] = r.p[r.i]
		r.i = (r.i + 1) % len(r.p)
	}
	return len(b), nil
}

// bombPart writes a part whose part.json declares each file's true size
// and SHA-256: valid-looking, and tiny compressed.
func bombPart(t *testing.T, info bundle.PartInfo, files ...bombFile) ([]byte, bundle.PartInfo) {
	t.Helper()
	info.Files = map[string]bundle.FileInfo{}
	for _, f := range files {
		h := sha256.New()
		_, err := io.Copy(h, f.reader())
		require.NoError(t, err)
		info.Files[f.name] = bundle.FileInfo{Size: f.size, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	infoJSON, err := json.Marshal(info)
	require.NoError(t, err)
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	require.NoError(t, err)
	tw := tar.NewWriter(enc)
	add := func(name string, size int64, r io.Reader) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}))
		_, err := io.Copy(tw, r)
		require.NoError(t, err)
	}
	add(bundle.PartInfoFile, int64(len(infoJSON)), bytes.NewReader(infoJSON))
	for _, f := range files {
		add(f.name, f.size, f.reader())
	}
	require.NoError(t, tw.Close())
	require.NoError(t, enc.Close())
	return out.Bytes(), info
}

// bombStore writes incident id into a store directory: incident.json, one
// bomb part and a manifest listing it with its true size and SHA-256.
func bombStore(t *testing.T, id string, files ...bombFile) string {
	t.Helper()
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	inc := incident.Incident{ID: id, Title: "bomb", Source: incident.SourceGeneric, Status: incident.StatusOpen, StartedAt: now, UpdatedAt: now}
	b, err := json.Marshal(inc)
	require.NoError(t, err)
	write := func(key string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(key))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		require.NoError(t, os.WriteFile(p, data, 0o600))
	}
	key, _ := bundle.IncidentKey(id)
	write(key, b)
	info := bundle.PartInfo{Format: bundle.FormatVersion, IncidentID: id, CollectorID: "c1", Seq: 1, Encoding: bundle.EncodingJSON,
		CreatedAt: now, Window: bundle.Window{Start: now.Add(-time.Minute), End: now}}
	// part.json counts an item in every file present and misses nothing, as
	// a writer would say.
	info.Lossless = true
	for _, f := range files {
		switch bundle.SignalOf(f.name) {
		case "traces":
			info.Counts.Spans = 1
		case "logs":
			info.Counts.LogRecords = 1
		case "events":
			info.Counts.Events = 1
		}
	}
	data, info := bombPart(t, info, files...)
	t.Logf("%s: a part of %d bytes declaring %v", id, len(data), info.Files)
	pk, _ := bundle.PartKey(id, "c1", 1)
	write(pk, data)
	m, err := bundle.NewManifest(id, "c1", info.Window)
	require.NoError(t, err)
	ref, err := bundle.NewPartRef(info, data)
	require.NoError(t, err)
	require.NoError(t, m.AddPart(ref))
	m.Complete = true
	m.UpdatedAt = now
	mb, err := m.Marshal()
	require.NoError(t, err)
	mk, _ := bundle.ManifestKey(id, "c1")
	write(mk, mb)
	return dir
}

type childRun struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // bytes
}

// runChild runs evidencectl as a child process and reports its peak RSS
// from the kernel's rusage.
func runChild(t *testing.T, bin string, args ...string) childRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running evidencectl %s: %v", strings.Join(args, " "), err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	require.True(t, ok)
	r := childRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), maxRSS: ru.Maxrss << 10}
	t.Logf("evidencectl %s: exit %d, peak RSS %d MiB", strings.Join(args, " "), r.code, r.maxRSS>>20)
	return r
}

// TestDecompressionBombs crafts parts whose SHA-256s and sizes are right
// and whose content is hostile, and runs every reading command on them as a
// child process: peak RSS stays under 256 MiB, and each ends with a clear
// error or a correct result.
func TestDecompressionBombs(t *testing.T) {
	bin := evidencectlBinary(t)
	bombs := []struct {
		name  string
		files []bombFile
		// want is in the error of every command that reads the content
		// (verify included: what readers refuse is not sound evidence).
		want string
	}{
		{
			// 384 MiB of blank lines: valid JSON Lines, nothing to hold.
			name:  "blank lines",
			files: []bombFile{{name: bundle.TracesJSONFile, size: 384 << 20, pattern: []byte("\n")}},
		},
		{
			// One line of 384 MiB: refused at the record limit.
			name: "one long line",
			files: []bombFile{
				{name: bundle.LogsJSONFile, size: 384 << 20, pattern: []byte("a")},
			},
			want: "longer than",
		},
		{
			name:  "long event",
			files: []bombFile{{name: bundle.EventsFile, size: 256 << 20, pattern: []byte(`{"kind":"x"`)}},
			want:  "longer than",
		},
	}
	for i, b := range bombs {
		t.Run(b.name, func(t *testing.T) {
			id := "INC-BOMB-" + string(rune('A'+i))
			dir := bombStore(t, id, b.files...)
			store := "file://" + dir
			out := filepath.Join(t.TempDir(), "out")
			runs := map[string]childRun{
				"verify":              runChild(t, bin, "--store", store, "verify", id, "--in-store"),
				"get":                 runChild(t, bin, "--store", store, "get", id, "-o", out),
				"timeline --in-store": runChild(t, bin, "--store", store, "timeline", id, "--in-store"),
				"timeline raw":        runChild(t, bin, "timeline", filepath.Join(dir, "incidents")),
			}
			for name, r := range runs {
				assert.Lessf(t, r.maxRSS, int64(maxChildRSS), "%s: peak RSS %d MiB", name, r.maxRSS>>20)
				if b.want != "" {
					assert.NotEqualf(t, 0, r.code, "%s: %s%s", name, r.stdout, r.stderr)
					assert.Containsf(t, r.stdout+r.stderr, b.want, "%s", name)
				}
			}
			if b.want == "" {
				assert.Equalf(t, 0, runs["verify"].code, "verify: %s%s", runs["verify"].stdout, runs["verify"].stderr)
			}
		})
	}

	// replay reads merged files: one line of 64 MiB is refused before it
	// is held or sent.
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, bundle.TracesJSONFile))
	require.NoError(t, err)
	_, err = io.Copy(f, bombFile{size: 64 << 20, pattern: []byte("{")}.reader())
	require.NoError(t, err)
	require.NoError(t, f.Close())
	for _, args := range [][]string{
		{"replay", dir, "--endpoint", "127.0.0.1:1", "--insecure"},
		{"timeline", dir},
	} {
		r := runChild(t, bin, args...)
		assert.Less(t, r.maxRSS, int64(maxChildRSS))
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stdout+r.stderr, "longer than", "%s", args[0])
	}
}
