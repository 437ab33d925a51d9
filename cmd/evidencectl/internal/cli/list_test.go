package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// listStore holds three incidents: INC-OPEN (open, complete, two
// collectors), INC-OLD (resolved at 10:30, collector-b not finished) and
// INC-BARE (a part only: no incident.json, no manifest).
func listStore(t *testing.T) (*storage.Filesystem, string) {
	st, url := newFSStore(t)
	twoCollectorFixture("INC-OPEN").write(t, st)
	old := twoCollectorFixture("INC-OLD")
	resolved := testgen.DefaultStart.Add(time.Hour)
	old.resolvedAt = &resolved
	old.startedAt = testgen.DefaultStart.Add(-time.Hour)
	old.collectors[1].incomplete = true
	old.write(t, st)
	writeUnlistedPart(t, st, "INC-BARE", "collector-z", 1, twoCollectorFixture("INC-BARE").collectors[0].parts[1])
	return st, url
}

func TestListTable(t *testing.T) {
	_, url := listStore(t)
	r := run(t, "--store", url, "list").requireCode(t, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.True(t, containsAll(lines[0], "ID", "STATUS", "WINDOW", "COLLECTORS", "PARTS", "SIZE", "COMPLETE", "TITLE"))
	// Newest first: INC-OPEN started 09:30, INC-OLD 08:30; INC-BARE has
	// no start and its window is unknown.
	assert.True(t, containsAll(lines[1], "INC-OPEN", "open", "critical", "2026-03-02 09:30:00Z", "-30m..+10m", "2/2 done", "4", "KiB", "yes", "checkout error budget burning"), lines[1])
	assert.True(t, containsAll(lines[2], "INC-OLD", "resolved", "1/2 done", " no "), lines[2])
	assert.True(t, containsAll(lines[3], "INC-BARE", "unknown", "0/1 done", "1 unreadable objects"), lines[3])
}

func TestListFilters(t *testing.T) {
	_, url := listStore(t)
	ids := func(r result) []string {
		var out struct {
			Incidents []incidentSummary `json:"incidents"`
		}
		r.jsonOut(t, &out)
		var got []string
		for _, i := range out.Incidents {
			got = append(got, i.ID)
		}
		return got
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{"INC-OPEN", "INC-OLD", "INC-BARE"}},
		{"open", []string{"--status", "open"}, []string{"INC-OPEN"}},
		{"resolved", []string{"--status", "resolved"}, []string{"INC-OLD"}},
		// now is 12:00; INC-OLD was resolved at 10:30 and INC-BARE's
		// window is unknown.
		{"since duration", []string{"--since", "1h"}, []string{"INC-OPEN"}},
		{"since time", []string{"--since", "2026-03-02T10:00:00Z"}, []string{"INC-OPEN", "INC-OLD"}},
		{"since and status", []string{"--since", "3h", "--status", "resolved"}, []string{"INC-OLD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--store", url, "--output", "json", "list"}, tt.args...)
			assert.Equal(t, tt.want, ids(run(t, args...).requireCode(t, ExitOK)))
		})
	}
}

func TestListJSON(t *testing.T) {
	_, url := listStore(t)
	f := twoCollectorFixture("INC-OPEN")
	var out struct {
		Store     string            `json:"store"`
		Incidents []incidentSummary `json:"incidents"`
	}
	run(t, "--store", url, "--output", "json", "list", "--status", "open").requireCode(t, ExitOK).jsonOut(t, &out)
	assert.Equal(t, url, out.Store)
	require.Len(t, out.Incidents, 1)
	inc := out.Incidents[0]
	assert.Equal(t, "INC-OPEN", inc.ID)
	assert.Equal(t, "open", inc.Status)
	assert.True(t, inc.Complete)
	assert.Equal(t, 4, inc.Parts)
	assert.Positive(t, inc.Bytes)
	require.NotNil(t, inc.Window)
	assert.Equal(t, fixtureWindow.Start, inc.Window.Start)
	assert.Equal(t, bundle.Counts{Spans: f.spans, LogRecords: f.logRecords, DataPoints: f.dataPoints, Events: f.recorded}, inc.Totals)
	require.Len(t, inc.Collectors, 2)
	assert.Equal(t, "collector-a", inc.Collectors[0].CollectorID)
	assert.True(t, inc.Collectors[1].HasManifest && inc.Collectors[1].Complete)
	assert.Equal(t, 2, inc.Collectors[1].Parts)
}

func TestListEmptyAndErrors(t *testing.T) {
	_, url := newFSStore(t)
	r := run(t, "--store", url, "list").requireCode(t, ExitOK)
	assert.Equal(t, "No incidents in "+url+".\n", r.stdout)
	var out map[string]any
	run(t, "--store", url, "--output", "json", "list").requireCode(t, ExitOK).jsonOut(t, &out)
	assert.Equal(t, []any{}, out["incidents"])

	for _, args := range [][]string{
		{"list", "--status", "closed"},
		{"list", "--since", "yesterday"},
		{"list", "extra"},
	} {
		r := run(t, append([]string{"--store", url}, args...)...).requireCode(t, ExitUsage)
		assert.NotEmpty(t, r.stderr)
	}
}

func TestListInvalidObjects(t *testing.T) {
	st, url := newFSStore(t)
	ctx := context.Background()
	put := func(key, data string) {
		require.NoError(t, st.Put(ctx, key, bytes.NewReader([]byte(data)), int64(len(data)), store.PutOptions{}))
	}
	put("incidents/INC-X/incident.json", `{"id":"INC-X"`)
	put("incidents/INC-X/collectors/c1/manifest.json", `{"format":99}`)
	put("incidents/INC-X/notes.txt", "not part of the layout")
	var out struct {
		Incidents []incidentSummary `json:"incidents"`
	}
	run(t, "--store", url, "--output", "json", "list").requireCode(t, ExitOK).jsonOut(t, &out)
	require.Len(t, out.Incidents, 1)
	inc := out.Incidents[0]
	assert.Equal(t, "unknown", inc.Status)
	assert.False(t, inc.Complete)
	require.Len(t, inc.Problems, 2)
	assert.Contains(t, inc.Problems[0], "incident.json: invalid JSON")
	assert.Contains(t, inc.Problems[1], "manifest.json: ")
}
