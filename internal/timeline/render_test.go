package timeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestMarkdown(t *testing.T) {
	tl, err := Build(scenario().input())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&buf))
	out := buf.String()

	// The skeleton of a blameless postmortem, in order.
	last := -1
	for _, h := range []string{
		"# Postmortem (draft): INC-1 — " + scenarioTitle,
		"\n## Summary\n", "\n## Impact\n", "\n## Suspects\n", "\n### Versions\n", "\n## Timeline\n",
		"\n### Telemetry per minute\n", "\n## Contributing factors\n", "\n## Action items\n", "\n## Evidence\n",
	} {
		i := strings.Index(out, h)
		require.GreaterOrEqual(t, i, 0, "missing %q", h)
		assert.Greater(t, i, last, "%q out of order", h)
		last = i
	}
	for _, want := range []string{
		"- **Severity:** critical · **Source:** alertmanager · **Status:** resolved\n",
		"- **Opened:** 2026-03-02 10:05:00.000 · **Resolved:** 2026-03-02 10:12:00.000 (open for 7m)\n",
		"- **First error:** 2026-03-02 10:03:00.000 in checkout; span of 1.5.0 (deploy D2), trace ",
		"- **First latency regression:** 2026-03-02 10:03:14.000 in checkout; span of 1.5.0 (deploy D2), trace ",
		"- **Time to detect:** 2m from the first error to the incident opening\n",
		"- **Time to resolve:** 9m from the first error to the resolution\n",
		"- **Suspect:** deploy D2 of checkout version 1.5.0 at 2026-03-02 10:02:00.000 — high confidence: its telemetry " +
			"is worse than the service's before it: 1.4.8 (deploy D1): 2.5% errors, p95 190 ms → 1.5.0 (deploy D2): 51% errors, p95 950 ms\n",
		"- **Mitigation:** deploy D3 of checkout version 1.4.8 at 2026-03-02 10:08:00.000, 5m after the first error: " +
			"a rollback to 1.4.8 (replacing D2); checkout went from 60% errors, p95 950 ms to 0% errors, p95 190 ms\n",
		"1. **deploy D2 of checkout version 1.5.0 at 2026-03-02 10:02:00.000** — high confidence, started 1m before the first error.\n",
		"2. **deploy C7 of cart version 3.1.0 at 2026-03-02 10:02:40.000** — unlikely confidence",
		"   - its own telemetry is healthy: 3.1.0 (deploy C7): 1.8% errors, p95 200 ms against 3.0.9: 0% errors, p95 200 ms before it\n",
		"Deploys after the first error are never suspects; they are mitigation candidates:",
		"| checkout | 1.5.0 (deploy D2) | 2026-03-02 10:02:00.000 | 2026-03-02 10:07:38.000 | 120 | 51% | 400 | 950 | 15 |\n",
		"| 2026-03-02 10:02:00.000 | deploy | D2 | deploy | deploy D2 of checkout version 1.5.0 (status succeeded, environment production) |\n",
		"| 2026-03-02 10:03:00.000 | error_spike | checkout | telemetry | first error of checkout: 15 errors in the minute of 10:03",
		"| 2026-03-02 10:03:14.000 | latency_spike | checkout | telemetry | first latency regression of checkout: p95 950 ms",
		"| 2026-03-02 10:07:00.000 | telemetry_gap | cart | telemetry | no telemetry from cart for 1 minute (until 10:08) |\n",
		"| checkout | 3 | 500 | 67 | 15 | 25 | 15 at 10:03 | 950 at 10:03 | 10:03:00.000 | 10:03:14.000 |\n",
		"| 2026-03-02 10:03 | checkout | 20 | 15 | 12 | 500 | 950 | 3 | 1 | 4 | 0 | 3 | error spike, latency spike |\n",
		"the incident opened 2m after the first error",
		"- Telemetry gaps: cart 10:07 to 10:08 (1 minute).",
		"| **TODO:** | **TODO:** | **TODO:** | **TODO:** | **TODO:** |\n",
		"Services with an error or latency spike: checkout.",
	} {
		assert.Contains(t, out, want)
	}
	assert.GreaterOrEqual(t, strings.Count(out, "**TODO:**"), 8)
	// Nothing the analysis writes is escaped twice or left as an HTML
	// entity where plain text would do.
	assert.NotContains(t, out, "&amp;")
	assert.NotContains(t, out, "-&gt;")

	// The timeline table lists the events and findings in time order.
	var times []string
	for line := range strings.Lines(out[strings.Index(out, "## Timeline"):strings.Index(out, "### Telemetry")]) {
		if strings.HasPrefix(line, "| 2026") {
			times = append(times, strings.Split(line, " | ")[0])
		}
	}
	assert.Equal(t, []string{
		"| 2026-03-02 09:40:00.000", "| 2026-03-02 10:02:00.000", "| 2026-03-02 10:02:40.000", "| 2026-03-02 10:03:00.000",
		"| 2026-03-02 10:03:14.000", "| 2026-03-02 10:05:00.000", "| 2026-03-02 10:07:00.000", "| 2026-03-02 10:08:00.000",
		"| 2026-03-02 10:12:00.000",
	}, times)

	// Same evidence, same bytes.
	var again bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&again))
	assert.Equal(t, out, again.String())
}

// TestMarkdownCompleteness: what the evidence lacks comes before any
// conclusion.
func TestMarkdownCompleteness(t *testing.T) {
	tests := []struct {
		name string
		c    *Completeness
		want string
	}{
		{"not recorded", nil, "- **Completeness:** the evidence does not record whether anything is missing"},
		{"lossless", &Completeness{Lossless: true}, "- **Completeness:** the collectors recorded this evidence as lossless."},
		{"not lossless, no loss named", &Completeness{}, "the collectors do not vouch for this evidence (not lossless), but name no loss"},
		{"losses", &Completeness{Lossless: true, Losses: []Loss{
			{Collector: "c-1", Signal: "traces", Reason: "ring_full", Items: 1200, From: at(10, 2), To: at(10, 3, 10)},
			{Signal: "logs", Reason: "refused <b>", Items: 1},
		}}, "- **Evidence is incomplete:** the collectors name 2 losses: 1200 spans (ring_full) from 2026-03-02 10:02:00 " +
			"to 2026-03-02 10:03:10, collector c-1; 1 log record (refused &lt;b&gt;). Every conclusion below may miss what these items held."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := scenario().input()
			in.Completeness = tt.c
			tl, err := Build(in)
			require.NoError(t, err)
			if tt.c != nil && len(tt.c.Losses) > 0 {
				assert.False(t, tl.Completeness.Lossless, "a named loss is never lossless")
			}
			var buf bytes.Buffer
			require.NoError(t, tl.WriteMarkdown(&buf))
			out := buf.String()
			i := strings.Index(out, tt.want)
			require.GreaterOrEqual(t, i, 0, "missing %q in\n%s", tt.want, out[:min(len(out), 2000)])
			for _, conclusion := range []string{"**First error:**", "**Suspect:**", "**Time to detect:**", "## Suspects"} {
				assert.Less(t, i, strings.Index(out, conclusion), "%s comes after what the evidence lacks", conclusion)
			}
		})
	}
}

func TestMarkdownSparse(t *testing.T) {
	errs := make([]span, 0, 10)
	for i := range 5 {
		errs = append(errs, span{service: "api", start: at(10, 0, i), latency: time.Millisecond})
	}
	for i := range 5 {
		errs = append(errs, span{service: "api", start: at(10, 1, i), latency: time.Millisecond, failed: true})
	}
	tests := []struct {
		name  string
		in    Input
		wants []string
	}{
		{
			name: "nothing",
			wants: []string{
				"# Postmortem (draft)\n", "- **Incident:** **TODO:** the evidence names no incident",
				"- **Evidence:** no telemetry; 0 events.", "- **First error:** no error spike",
				"No service had an error or latency spike.", "No events or findings in the evidence.", "## Action items",
				"No error or latency spike in the evidence.",
			},
		},
		{
			name: "spike without deploy, open incident",
			in: Input{
				Incident: &incident.Incident{ID: "INC-5", Status: incident.StatusOpen, StartedAt: at(10, 10)},
				Traces:   seq(traces(errs...)),
			},
			wants: []string{
				"- **Severity:** **TODO:** · **Source:** **TODO:** · **Status:** open",
				"**Resolved:** not resolved in the evidence",
				"- **Suspect:** no deploy preceded the first error: none started in the 30m before it.",
				"No deploy preceded the first error: none started in the 30m before it.",
				"- **Time to detect:** 9m from the first error to the incident opening",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, err := Build(tt.in)
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, tl.WriteMarkdown(&buf))
			for _, w := range tt.wants {
				assert.Contains(t, buf.String(), w)
			}
		})
	}
}

// TestMarkdownEscapes: every string from the evidence (titles, service
// names, versions, deploy IDs in the reasons and chains) is escaped.
func TestMarkdownEscapes(t *testing.T) {
	tl, err := Build(Input{Incident: &incident.Incident{
		ID: "INC-6", Title: "a | b <script>\nalert(1)</script>", Status: incident.StatusOpen, StartedAt: at(10, 0),
	}})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&buf))
	out := buf.String()
	assert.NotContains(t, out, "<script>")
	assert.Contains(t, out, "# Postmortem (draft): INC-6 — a | b &lt;script&gt;\\nalert(1)&lt;/script&gt;\n")
	assert.Contains(t, out, `| incident.opened | INC-6 | incident.json | incident INC-6 opened: a \| b &lt;script&gt;\nalert(1)&lt;/script&gt; |`)

	// Hostile names in the telemetry and the deploys.
	evil := "api|<img src=x onerror=alert(1)>\x1b[31m"
	version := "v2<b>|"
	var spans []span
	for i := range 300 {
		start := at(10, 0).Add(time.Duration(i) * time.Second)
		bad := i >= 150
		v := "v1"
		if bad {
			v = version
		}
		spans = append(spans,
			span{service: "front<i>", version: "v1", start: start, latency: 20 * time.Millisecond, failed: bad, trace: uint64(i + 1), id: 1},
			span{service: evil, version: v, start: start.Add(time.Millisecond), latency: 10 * time.Millisecond, failed: bad, trace: uint64(i + 1), id: 2, parent: 1},
		)
	}
	ev := deployEvent("D-1", evil, version, at(10, 2))
	tl, err = Build(Input{Traces: seq(traces(spans...)), Events: seq(ev),
		Incident: &incident.Incident{ID: "INC-6", Status: incident.StatusOpen, StartedAt: at(10, 3)}})
	require.NoError(t, err)
	require.NotEmpty(t, tl.Suspects)
	require.NotEmpty(t, tl.Chains)
	buf.Reset()
	require.NoError(t, tl.WriteMarkdown(&buf))
	out = buf.String()
	for _, bad := range []string{"<img", "<b>", "<i>", "\x1b"} {
		assert.NotContains(t, out, bad)
	}
	// No pipe from the evidence splits a table cell: every row has as many
	// cells as its table's header.
	header := 0
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "|") {
			header = 0
			continue
		}
		cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if header == 0 {
			header = cells
		}
		assert.Equal(t, header, cells, "%q", line)
	}
	assert.Contains(t, out, `api\|&lt;img src=x onerror=alert(1)&gt;\x1b[31m`)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	tl, err := Build(scenario().input())
	require.NoError(t, err)
	assert.ErrorContains(t, tl.WriteMarkdown(failingWriter{}), "disk full")
	assert.ErrorContains(t, tl.WriteJSON(failingWriter{}), "disk full")
}

func TestJSONRoundTrip(t *testing.T) {
	tl, err := Build(scenario().input())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, tl.WriteJSON(&buf))

	var back Timeline
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	assert.Equal(t, tl, &back)

	// Stable, snake_case field names.
	var doc map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, float64(SchemaVersion), doc["schema_version"])
	for _, k := range []string{"incident", "evidence_range", "rules", "totals", "summary", "suspects", "mitigations",
		"chains", "events", "services", "versions", "minutes", "spikes", "gaps"} {
		assert.Contains(t, doc, k)
	}
	sd := doc["suspects"].([]any)[0].(map[string]any)
	assert.Equal(t, "D2", sd["deploy"].(map[string]any)["id"])
	assert.Equal(t, "2026-03-02T10:02:00Z", sd["deploy"].(map[string]any)["started_at"])
	assert.Equal(t, float64(60), sd["lead_seconds"])
	assert.Equal(t, "high", sd["confidence"])
	sum := doc["summary"].(map[string]any)
	assert.Equal(t, "2026-03-02T10:03:00Z", sum["first_error"].(map[string]any)["time"])
	assert.Equal(t, float64(120), sum["detection_seconds"])
	spike := doc["spikes"].([]any)[0].(map[string]any)
	assert.Equal(t, "2026-03-02T10:03:00Z", spike["minute"])
	assert.Equal(t, float64(15), spike["errors"])
	m := doc["minutes"].([]any)[0].(map[string]any)
	for _, k := range []string{"minute", "service", "spans", "error_spans", "latency_samples", "p50_ms", "p95_ms", "logs", "data_points", "errors"} {
		assert.Contains(t, m, k)
	}

	// An empty timeline keeps its lists as [] and round-trips too.
	empty, err := Build(Input{})
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, empty.WriteJSON(&buf))
	assert.Contains(t, buf.String(), `"events": []`)
	assert.Contains(t, buf.String(), `"suspects": []`)
	assert.NotContains(t, buf.String(), "null")
	var emptyBack Timeline
	require.NoError(t, json.Unmarshal(buf.Bytes(), &emptyBack))
	assert.Equal(t, empty, &emptyBack)
}

func TestFmt(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {7 * time.Minute, "7m"}, {90 * time.Second, "1m30s"},
		{time.Hour + 2*time.Minute, "1h2m"}, {-time.Minute, "-1m"}, {1499 * time.Millisecond, "1s"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, fmtDur(tt.d), "%s", tt.d)
	}
	assert.Equal(t, "1.5", fmtFloat(1.5))
	assert.Equal(t, "950", fmtFloat(950))
	assert.Equal(t, "0.001", fmtFloat(0.0012))
}

// TestMarkdownLossWarning: named losses open the document, before the
// summary, with signal, count, reason and the exact time range.
func TestMarkdownLossWarning(t *testing.T) {
	in := scenario().input()
	in.Completeness = &Completeness{Losses: []Loss{
		{Collector: "c-1", Signal: "traces", Reason: "evicted", Items: 1200, From: at(10, 2), To: at(10, 3, 10)},
		{Signal: "logs", Reason: "restart"},
	}}
	tl, err := Build(in)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&buf))
	out := buf.String()
	warning := "> **Warning: evidence is missing.** The collectors name 2 losses this bundle lacks"
	i := strings.Index(out, warning)
	require.GreaterOrEqual(t, i, 0, out[:min(len(out), 2000)])
	assert.Less(t, i, strings.Index(out, "## Summary"))
	assert.Contains(t, out, "> - traces: 1200 spans, evicted, item times 2026-03-02T10:02:00Z to 2026-03-02T10:03:10Z (collector c-1)\n")
	assert.Contains(t, out, "> - logs: an unknown number of log records, restart\n")

	in.Completeness = &Completeness{Lossless: true}
	tl, err = Build(in)
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, tl.WriteMarkdown(&buf))
	assert.NotContains(t, buf.String(), "Warning: evidence is missing")
}
