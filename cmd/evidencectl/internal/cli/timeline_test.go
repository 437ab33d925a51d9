package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimelineStoreAndDirectory drafts the same timeline from the store
// and from the directory `get` wrote.
func TestTimelineStoreAndDirectory(t *testing.T) {
	url, dir := downloaded(t, "INC-42")
	fromStore := run(t, "--store", url, "timeline", "INC-42").requireCode(t, ExitOK)
	assert.True(t, containsAll(fromStore.stdout, "# Postmortem (draft): INC-42", "## Summary", "- **Completeness:**",
		"## Suspects", "## Timeline", "## Evidence"), fromStore.stdout)
	fromDir := run(t, "timeline", dir).requireCode(t, ExitOK)
	assert.Equal(t, fromStore.stdout, fromDir.stdout)

	var doc map[string]any
	r := run(t, "--store", url, "timeline", "INC-42", "--output", "json").requireCode(t, ExitOK)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	for _, k := range []string{"schema_version", "summary", "suspects", "mitigations", "chains", "versions"} {
		assert.Contains(t, doc, k)
	}
}

// TestTimelineCorruptPart: a part that fails verification while the
// timeline is built fails the command as verification does, naming the
// part and the command that reports on it.
func TestTimelineCorruptPart(t *testing.T) {
	st, url := newFSStore(t)
	twoCollectorFixture("INC-42").write(t, st)
	bad := storePartPath(st, "INC-42", "collector-b", 2)
	flipByte(t, bad)
	r := run(t, "--store", url, "timeline", "INC-42").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stderr, "the evidence of INC-42 is corrupt")
	assert.Contains(t, r.stderr, filepath.ToSlash("collector-b/part-000002.tar.zst"))
	assert.Contains(t, r.stderr, "evidencectl verify INC-42 --in-store")
	assert.Empty(t, r.stdout, "no half-drafted timeline")

	r = run(t, "--store", url, "timeline", "INC-404").requireCode(t, ExitNotFound)
	assert.Contains(t, r.stderr, `incident "INC-404" has no evidence`)
}
