package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// requireMergedExactly checks the merged signal files against the
// fixture: one line per stored batch, in merge order, with the same
// content (otlp_proto parts re-encoded to JSON lose nothing).
func requireMergedExactly(t *testing.T, dir string, f *fixture) {
	t.Helper()
	require.Equal(t, f.spans, requireLines(t, filepath.Join(dir, bundle.TracesJSONFile), f.traces(),
		(&ptrace.JSONUnmarshaler{}).UnmarshalTraces, ptrace.Traces.SpanCount))
	require.Equal(t, f.logRecords, requireLines(t, filepath.Join(dir, bundle.LogsJSONFile), f.logs(),
		(&plog.JSONUnmarshaler{}).UnmarshalLogs, plog.Logs.LogRecordCount))
	require.Equal(t, f.dataPoints, requireLines(t, filepath.Join(dir, bundle.MetricsJSONFile), f.metrics(),
		(&pmetric.JSONUnmarshaler{}).UnmarshalMetrics, pmetric.Metrics.DataPointCount))
}

// requireLines checks that the JSON Lines file at path holds exactly want,
// one batch per line in order, and returns the number of items it holds.
func requireLines[T any](t *testing.T, path string, want []T, unmarshal func([]byte) (T, error), items func(T) int) int64 {
	t.Helper()
	lines := readLines(t, path)
	require.Len(t, lines, len(want))
	var n int64
	for i, line := range lines {
		got, err := unmarshal(line)
		require.NoError(t, err)
		n += int64(items(got))
		require.Equal(t, testgen.ProtoBytes(t, want[i]), testgen.ProtoBytes(t, got), "%T batch %d", got, i)
	}
	return n
}

func readMerged(t testing.TB, dir string) evidencedir.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, evidencedir.ManifestFile))
	require.NoError(t, err)
	var mm evidencedir.Manifest
	require.NoError(t, json.Unmarshal(data, &mm))
	return mm
}

func TestGetMergesEveryCollector(t *testing.T) {
	st, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-42")
	f.write(t, st)
	dir := filepath.Join(t.TempDir(), "evidence")

	r := run(t, "--store", storeURL, "get", "INC-42", "-o", dir).requireCode(t, ExitOK)
	assert.Empty(t, r.stderr, "no progress bar and no warning when stderr is not a terminal")
	assert.True(t, containsAll(r.stdout, "collector-a", "collector-b", "The bundle is complete",
		"evidencectl verify "+dir), r.stdout)

	requireMergedExactly(t, dir, f)

	// Events: the opening and the resolution recorded by both replicas
	// appear once; sorted by time.
	lines := readLines(t, filepath.Join(dir, bundle.EventsFile))
	require.Len(t, lines, int(f.events))
	var kinds []incident.EventKind
	for _, line := range lines {
		var ev incident.Event
		require.NoError(t, json.Unmarshal(line, &ev))
		kinds = append(kinds, ev.Kind)
	}
	assert.Equal(t, []incident.EventKind{incident.EventDeploy, incident.EventIncidentOpened, incident.EventIncidentResolved}, kinds)

	mm := readMerged(t, dir)
	assert.Equal(t, "INC-42", mm.IncidentID)
	assert.Equal(t, storeURL, mm.Store)
	assert.Equal(t, testNow, mm.CreatedAt)
	assert.True(t, mm.Complete)
	assert.Empty(t, mm.Problems)
	require.NotNil(t, mm.Incident)
	assert.Equal(t, "checkout error budget burning", mm.Incident.Title)
	assert.Equal(t, bundle.Counts{Spans: f.spans, LogRecords: f.logRecords, DataPoints: f.dataPoints, Events: f.events}, mm.Totals)
	assert.Equal(t, f.recorded, mm.EventsRecorded)
	require.Len(t, mm.Collectors, 2)
	var sum bundle.Counts
	for i, c := range mm.Collectors {
		assert.Equal(t, f.collectors[i].id, c.CollectorID)
		assert.True(t, c.Complete && c.HasManifest)
		assert.Equal(t, 2, c.Parts)
		assert.Positive(t, c.Bytes)
		assert.Empty(t, c.UnlistedParts)
		sum = sum.Add(c.Counts)
	}
	assert.Equal(t, f.recorded, sum.Events)
	assert.Equal(t, mm.Totals.Spans, sum.Spans)
	for _, name := range evidencedir.MergedFiles {
		ok, err := evidencedir.FileMatches(filepath.Join(dir, name), mm.Files[name].Size, mm.Files[name].SHA256)
		require.NoError(t, err)
		assert.True(t, ok, name)
	}

	// The raw copy is the store layout and verifies as such.
	rep, err := bundle.VerifyDir(context.Background(), filepath.Join(dir, evidencedir.RawDir), "INC-42")
	require.NoError(t, err)
	assert.True(t, rep.Complete(), "problems: %v", rep.AllProblems())
	leftovers, err := filepath.Glob(filepath.Join(dir, "*"+evidencedir.PartialSuffix))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
}

func TestGetResumes(t *testing.T) {
	st, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-7")
	f.write(t, st)
	dir := filepath.Join(t.TempDir(), "inc")

	var first getResult
	run(t, "--store", storeURL, "--output", "json", "get", "INC-7", "-o", dir).requireCode(t, ExitOK).jsonOut(t, &first)
	assert.Equal(t, evidencedir.DownloadStats{Downloaded: 4, DownloadedBytes: first.Download.DownloadedBytes}, first.Download)
	assert.Positive(t, first.Download.DownloadedBytes)

	// Everything present and intact: nothing is downloaded again.
	var second getResult
	run(t, "--store", storeURL, "--output", "json", "get", "INC-7", "-o", dir).requireCode(t, ExitOK).jsonOut(t, &second)
	assert.Equal(t, evidencedir.DownloadStats{Skipped: 4}, second.Download)
	assert.Equal(t, first.Merged.Files, second.Merged.Files, "a resumed get merges the same bytes")

	// A corrupted local part and a leftover .partial: only that part is
	// downloaded again, and the copy verifies.
	bad := partPath(dir, "INC-7", "collector-b", 1)
	flipByte(t, bad)
	require.NoError(t, os.WriteFile(partPath(dir, "INC-7", "collector-a", 2)+evidencedir.PartialSuffix, []byte("torn"), 0o640))
	var third getResult
	run(t, "--store", storeURL, "--output", "json", "get", "INC-7", "-o", dir).requireCode(t, ExitOK).jsonOut(t, &third)
	assert.Equal(t, 1, third.Download.Downloaded)
	assert.Equal(t, 3, third.Download.Skipped)
	assert.Equal(t, first.Merged.Files, third.Merged.Files)
	requireMergedExactly(t, dir, f)
	run(t, "verify", dir).requireCode(t, ExitOK)

	// A deleted local part is downloaded again too.
	require.NoError(t, os.Remove(partPath(dir, "INC-7", "collector-a", 1)))
	var fourth getResult
	run(t, "--store", storeURL, "--output", "json", "get", "INC-7", "-o", dir).requireCode(t, ExitOK).jsonOut(t, &fourth)
	assert.Equal(t, 1, fourth.Download.Downloaded)
	assert.Equal(t, 3, fourth.Download.Skipped)
}

func TestGetReportsCorruptPartsInStore(t *testing.T) {
	st, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-9")
	f.write(t, st)
	flipByte(t, storePartPath(st, "INC-9", "collector-b", 2))
	dir := filepath.Join(t.TempDir(), "inc")

	r := run(t, "--store", storeURL, "get", "INC-9", "-o", dir).requireCode(t, ExitVerifyFailed)
	key := "incidents/INC-9/collectors/collector-b/part-000002.tar.zst"
	assert.Contains(t, r.stdout, "BAD  "+key+": sha256 ")
	assert.Contains(t, r.stderr, key)
	assert.Contains(t, r.stderr, "run `evidencectl get INC-9` again")
	assert.Contains(t, r.stdout, "NOT complete")

	mm := readMerged(t, dir)
	assert.False(t, mm.Complete)
	require.Len(t, mm.Problems, 1)
	assert.Equal(t, key, mm.Problems[0].File)
	// The good parts are merged, the bad one is not, and no trace of it
	// is left in raw/.
	assert.Equal(t, 1, mm.Collectors[1].Parts)
	assert.Less(t, mm.Totals.Spans, f.spans)
	_, err := os.Stat(partPath(dir, "INC-9", "collector-b", 2))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(partPath(dir, "INC-9", "collector-b", 2) + evidencedir.PartialSuffix)
	assert.ErrorIs(t, err, os.ErrNotExist)
	// verify of the copy names the part that is missing from it.
	r = run(t, "verify", dir).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "part-000002.tar.zst: listed in manifest.json but missing")
}

func TestGetIncompleteBundle(t *testing.T) {
	st, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-3")
	f.collectors[0].incomplete = true
	f.collectors[1].incomplete = true
	f.write(t, st)
	// A part collector-a wrote after its manifest: unlisted. No manifest
	// vouches for it, so it is merged only with --allow-unverified.
	extra := twoCollectorFixture("INC-3")
	extra.collectors = []collectorSpec{{id: "collector-a", encoding: bundle.EncodingJSON, parts: []partSpec{
		{}, {}, {traces: []ptrace.Traces{testgen.Traces(99, 5, 1, testgen.DefaultStart.Add(9*time.Minute), time.Second)}},
	}}}
	writeUnlistedPart(t, st, "INC-3", "collector-a", 3, extra.collectors[0].parts[2])
	dir := filepath.Join(t.TempDir(), "inc")

	r := run(t, "--store", storeURL, "get", "INC-3", "-o", dir).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "BAD  incidents/INC-3/collectors/collector-a/part-000003.tar.zst: no valid manifest covers this part")
	assert.Equal(t, f.spans, readMerged(t, dir).Totals.Spans)

	r = run(t, "--store", storeURL, "get", "INC-3", "-o", dir, "--allow-unverified").requireCode(t, ExitOK)
	assert.Contains(t, r.stderr, "part-000003.tar.zst: no valid manifest covers it; merged because of --allow-unverified")
	assert.Contains(t, r.stderr, "collector collector-b has not finished this bundle")
	assert.Contains(t, r.stderr, "run `evidencectl get INC-3` again later")
	mm := readMerged(t, dir)
	assert.False(t, mm.Complete)
	assert.Equal(t, []int{3}, mm.Collectors[0].UnlistedParts)
	assert.Equal(t, f.spans+5, mm.Totals.Spans)
	assert.False(t, mm.Collectors[0].Complete)
	assert.False(t, mm.Collectors[1].Complete)
}

func TestGetErrors(t *testing.T) {
	st, storeURL := newFSStore(t)
	twoCollectorFixture("INC-1").write(t, st)
	missingDir := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"not found", []string{"--store", storeURL, "get", "INC-404", "-o", t.TempDir()}, ExitNotFound,
			[]string{"incident INC-404 not found in " + storeURL + ": check --store or run `evidencectl list`"}},
		{"invalid id", []string{"--store", storeURL, "get", "../etc", "-o", t.TempDir()}, ExitUsage,
			[]string{"invalid incident id", "evidencectl list"}},
		{"no id", []string{"--store", storeURL, "get"}, ExitUsage, []string{"takes 1 argument"}},
		{"bad parallel", []string{"--store", storeURL, "get", "INC-1", "--parallel", "0"}, ExitUsage, []string{"--parallel"}},
		{"store missing", []string{"--store", "file://" + missingDir, "get", "INC-1", "-o", t.TempDir()}, ExitStoreUnreachable,
			[]string{"store directory " + missingDir + " does not exist", "check --store"}},
		{"bad output", []string{"--store", storeURL, "--output", "yaml", "get", "INC-1"}, ExitUsage, []string{"--output"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...).requireCode(t, tt.code)
			for _, s := range tt.stderr {
				assert.Contains(t, r.stderr, s)
			}
		})
	}
	_, err := os.Stat(missingDir)
	assert.ErrorIs(t, err, os.ErrNotExist, "a read-only command must not create the store directory")
}

func TestGetProgressOnlyOnTerminal(t *testing.T) {
	st, storeURL := newFSStore(t)
	twoCollectorFixture("INC-5").write(t, st)
	r := runWith(t, runOpts{terminal: true}, "--store", storeURL, "get", "INC-5", "-o", filepath.Join(t.TempDir(), "a")).requireCode(t, ExitOK)
	assert.Contains(t, r.stderr, "downloading INC-5")
	assert.NotContains(t, r.stdout, "downloading")
	r = runWith(t, runOpts{terminal: false}, "--store", storeURL, "get", "INC-5", "-o", filepath.Join(t.TempDir(), "b")).requireCode(t, ExitOK)
	assert.Empty(t, r.stderr)
}

func TestGetDefaultDirAndJSONErrors(t *testing.T) {
	st, storeURL := newFSStore(t)
	twoCollectorFixture("INC-6").write(t, st)
	t.Chdir(t.TempDir())
	run(t, "--store", storeURL, "get", "INC-6").requireCode(t, ExitOK)
	_, err := os.Stat(filepath.Join("INC-6", evidencedir.ManifestFile))
	require.NoError(t, err)

	// In JSON mode an error is a JSON document on stdout too.
	r := run(t, "--store", storeURL, "--output", "json", "get", "INC-404").requireCode(t, ExitNotFound)
	var out struct {
		Error struct {
			Kind     string `json:"kind"`
			ExitCode int    `json:"exit_code"`
			Message  string `json:"message"`
		} `json:"error"`
	}
	r.jsonOut(t, &out)
	assert.Equal(t, "not_found", out.Error.Kind)
	assert.Equal(t, ExitNotFound, out.Error.ExitCode)
	assert.True(t, strings.HasPrefix(out.Error.Message, "incident INC-404 not found"))
}
