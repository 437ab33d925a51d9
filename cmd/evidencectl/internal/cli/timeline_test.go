package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
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

// TestTimelineNotes: the notes kept in the incident's folder are
// downloaded by get, verify passes them by, and the timeline from the
// folder shows them as the timeline from the store does.
func TestTimelineNotes(t *testing.T) {
	st, url := newFSStore(t)
	twoCollectorFixture("INC-42").write(t, st)
	ev := incident.Event{Kind: incident.EventNote, Time: testNow.Add(-time.Hour), Source: incident.SourceNote,
		IncidentID: "INC-42", Note: &incident.Note{Text: "paged the payments on-call", Author: "alice"}}
	key, err := bundle.NoteKey("INC-42", incident.NoteID(&ev))
	require.NoError(t, err)
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
	huge, err := bundle.NoteKey("INC-42", "huge")
	require.NoError(t, err)
	big := bytes.Repeat([]byte(" "), bundle.MaxNoteSize+1)
	require.NoError(t, st.Put(context.Background(), huge, bytes.NewReader(big), int64(len(big)), store.PutOptions{}))

	dir := filepath.Join(t.TempDir(), "INC-42")
	r := run(t, "--store", url, "get", "INC-42", "-o", dir).requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "; 1 timeline note.")
	assert.Contains(t, r.stderr, "note "+huge+" is not downloaded")
	assert.FileExists(t, filepath.Join(dir, "raw", filepath.FromSlash(key)))
	run(t, "verify", dir).requireCode(t, ExitOK)

	fromDir := run(t, "timeline", dir).requireCode(t, ExitOK)
	assert.Contains(t, fromDir.stdout, "| note | INC-42 | note | note by alice: paged the payments on-call |")
	fromStore := run(t, "--store", url, "timeline", "INC-42").requireCode(t, ExitOK)
	assert.Contains(t, fromStore.stdout, "| note | INC-42 | note | note by alice: paged the payments on-call |")
	assert.Contains(t, fromStore.stdout, "- A note could not be read and is left out: "+huge)
}
