package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// downloaded writes the fixture to a store and gets it into a directory.
func downloaded(t *testing.T, id string) (storeURL, dir string) {
	t.Helper()
	st, url := newFSStore(t)
	twoCollectorFixture(id).write(t, st)
	dir = filepath.Join(t.TempDir(), id)
	run(t, "--store", url, "get", id, "-o", dir).requireCode(t, ExitOK)
	return url, dir
}

func TestVerifyDirectory(t *testing.T) {
	_, dir := downloaded(t, "INC-42")
	r := run(t, "verify", dir).requireCode(t, ExitOK)
	assert.True(t, containsAll(r.stdout, "Verified incident INC-42 in directory "+dir,
		"collector collector-a: ok, 2 parts, complete", "collector collector-b: ok, 2 parts, complete",
		"OK: every file matches its manifest; the bundle is complete"), r.stdout)
	assert.Empty(t, r.stderr)

	// A bare copy of the store layout (DIR/raw itself) verifies too.
	run(t, "verify", filepath.Join(dir, evidencedir.RawDir)).requireCode(t, ExitOK)
	run(t, "verify", filepath.Join(dir, evidencedir.RawDir), "--id", "INC-42").requireCode(t, ExitOK)
}

func TestVerifyNamesFlippedByte(t *testing.T) {
	tests := []struct {
		name string
		file func(dir string) string
	}{
		{"part", func(dir string) string { return partPath(dir, "INC-42", "collector-b", 2) }},
		{"manifest", func(dir string) string {
			return filepath.Join(dir, evidencedir.RawDir, "incidents", "INC-42", "collectors", "collector-a", bundle.ManifestFile)
		}},
		{"merged traces", func(dir string) string { return filepath.Join(dir, bundle.TracesJSONFile) }},
		{"merged events", func(dir string) string { return filepath.Join(dir, bundle.EventsFile) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir := downloaded(t, "INC-42")
			bad := tt.file(dir)
			flipByte(t, bad)
			r := run(t, "verify", dir).requireCode(t, ExitVerifyFailed)
			assert.Contains(t, r.stdout, "BAD  "+bad, r.stdout)
			assert.Contains(t, r.stdout, "FAILED")
			assert.Contains(t, r.stderr, bad)
			assert.Contains(t, r.stderr, "run `evidencectl get INC-42` again")

			var res verifyResult
			run(t, "--output", "json", "verify", dir).requireCode(t, ExitVerifyFailed).jsonOut(t, &res)
			assert.False(t, res.OK)
			assert.False(t, res.Complete)
			require.NotEmpty(t, res.Problems)
			assert.Equal(t, bad, res.Problems[0].File)
		})
	}
}

func TestVerifyStore(t *testing.T) {
	st, url := newFSStore(t)
	twoCollectorFixture("INC-42").write(t, st)
	t.Chdir(t.TempDir())

	r := run(t, "--store", url, "verify", "INC-42").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Verified incident INC-42 in store "+url)
	var res verifyResult
	run(t, "--store", url, "--output", "json", "verify", "INC-42", "--require-complete").requireCode(t, ExitOK).jsonOut(t, &res)
	assert.True(t, res.OK)
	assert.True(t, res.Complete)
	assert.Equal(t, sourceStore, res.Source)
	assert.Empty(t, res.Problems)
	assert.Len(t, res.Report.Collectors, 2)

	// A directory of the incident's name wins, unless --in-store.
	require.NoError(t, os.Mkdir("INC-42", 0o750))
	run(t, "--store", url, "verify", "INC-42").requireCode(t, ExitUsage)
	run(t, "--store", url, "verify", "INC-42", "--in-store").requireCode(t, ExitOK)

	flipByte(t, storePartPath(st, "INC-42", "collector-a", 1))
	r = run(t, "--store", url, "verify", "INC-42", "--in-store").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "BAD  incidents/INC-42/collectors/collector-a/part-000001.tar.zst: sha256 ")
	assert.Contains(t, r.stderr, "incidents/INC-42/collectors/collector-a/part-000001.tar.zst")
}

func TestVerifyRequireComplete(t *testing.T) {
	st, url := newFSStore(t)
	f := twoCollectorFixture("INC-8")
	f.collectors[0].incomplete = true
	f.write(t, st)
	t.Chdir(t.TempDir())
	r := run(t, "--store", url, "verify", "INC-8").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "collector collector-a: ok, 2 parts, not complete")
	assert.Contains(t, r.stdout, "the bundle is not complete yet")
	r = run(t, "--store", url, "verify", "INC-8", "--require-complete").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stderr, "collector collector-a has not finished")
}

func TestVerifyErrors(t *testing.T) {
	_, url := newFSStore(t)
	empty := t.TempDir()
	_, dir := downloaded(t, "INC-1")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"incident not in store", []string{"--store", url, "verify", "INC-404"}, ExitNotFound, "incident INC-404 not found in " + url},
		{"missing path", []string{"verify", filepath.Join(empty, "nope")}, ExitNotFound, "directory " + filepath.Join(empty, "nope") + " does not exist"},
		{"not an evidence dir", []string{"verify", empty}, ExitUsage, "is not an evidence directory"},
		{"bad id", []string{"verify", "a b"}, ExitUsage, "invalid incident id"},
		{"id mismatch", []string{"verify", dir, "--id", "INC-2"}, ExitNotFound, "no evidence of incident INC-2"},
		{"two args", []string{"verify", "a", "b"}, ExitUsage, "takes 1 argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...).requireCode(t, tt.code)
			assert.Contains(t, r.stderr, tt.stderr)
		})
	}
}
