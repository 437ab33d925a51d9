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
		"\n## Summary\n", "\n## Impact\n", "\n## Timeline\n", "\n### Telemetry per minute\n",
		"\n## Contributing factors\n", "\n## Action items\n", "\n## Evidence\n",
	} {
		i := strings.Index(out, h)
		require.GreaterOrEqual(t, i, 0, "missing %q", h)
		assert.Greater(t, i, last, "%q out of order", h)
		last = i
	}
	for _, want := range []string{
		"- **Severity:** critical · **Source:** alertmanager · **Status:** resolved\n",
		"- **Started:** 2026-03-02 10:05:00 · **Resolved:** 2026-03-02 10:12:00 (duration 7m)\n",
		"- **First error spike:** checkout at 2026-03-02 10:03 (15 errors in the minute)\n",
		"- **Suspect deploy:** deploy D2 of checkout version 1.5.0 at 2026-03-02 10:02:00, 1m before the first error spike\n",
		"| 2026-03-02 10:02:00 | deploy | D2 | deploy | deploy D2 of checkout version 1.5.0 (status succeeded, environment production) |\n",
		"| 2026-03-02 10:03:00 | error_spike | checkout | telemetry | first error spike of checkout: 15 errors in the minute",
		"| 2026-03-02 10:07:00 | telemetry_gap | cart | telemetry | no telemetry from cart for 1 minute (until 10:08) |\n",
		"| checkout | 500 | 79 | 18 | 25 | 15 at 10:03 | 950 at 10:03 | 10:03 |\n",
		"| 2026-03-02 10:03 | checkout | 20 | 15 | 12 | 500 | 950 | 3 | 1 | 4 | 0 | 3 | first error spike |\n",
		"the incident opened 2m after the start of the first error spike",
		"- Later deploys of checkout: D3 at 2026-03-02 10:08:00.",
		"- Telemetry gaps: cart 10:07 to 10:08 (1 minute).",
		"| **TODO:** | **TODO:** | **TODO:** | **TODO:** | **TODO:** |\n",
		"Services with an error spike: checkout (from 10:03).",
	} {
		assert.Contains(t, out, want)
	}
	assert.GreaterOrEqual(t, strings.Count(out, "**TODO:**"), 8)
	assert.NotContains(t, out, "D1 at", "D1 is neither suspect nor later")

	// The timeline table lists the events and findings in time order.
	var times []string
	for line := range strings.Lines(out[strings.Index(out, "## Timeline"):strings.Index(out, "### Telemetry")]) {
		if strings.HasPrefix(line, "| 2026") {
			times = append(times, strings.Split(line, " | ")[0])
		}
	}
	assert.Equal(t, []string{
		"| 2026-03-02 09:40:00", "| 2026-03-02 10:02:00", "| 2026-03-02 10:02:40", "| 2026-03-02 10:03:00",
		"| 2026-03-02 10:05:00", "| 2026-03-02 10:07:00", "| 2026-03-02 10:08:00", "| 2026-03-02 10:12:00",
	}, times)

	// Same evidence, same bytes.
	var again bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&again))
	assert.Equal(t, out, again.String())
}

func TestMarkdownSparse(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		wants []string
	}{
		{
			name: "nothing",
			wants: []string{
				"# Postmortem (draft)\n", "- **Incident:** **TODO:** the evidence names no incident",
				"- **Evidence:** no telemetry; 0 events.", "- **First error spike:** none detected",
				"No service had an error spike.", "No events or findings in the evidence.", "## Action items",
			},
		},
		{
			name: "spike without deploy, open incident",
			in: Input{
				Incident: &incident.Incident{ID: "INC-5", Status: incident.StatusOpen, StartedAt: at(10, 10)},
				Traces: seq(traces(span{service: "api", start: at(10, 0), latency: time.Millisecond, failed: true},
					span{service: "api", start: at(10, 0, 1), latency: time.Millisecond, failed: true},
					span{service: "api", start: at(10, 0, 2), latency: time.Millisecond, failed: true},
					span{service: "api", start: at(10, 0, 3), latency: time.Millisecond, failed: true},
					span{service: "api", start: at(10, 0, 4), latency: time.Millisecond, failed: true})),
			},
			wants: []string{
				"- **Severity:** **TODO:** · **Source:** **TODO:** · **Status:** open",
				"**Resolved:** not resolved in the evidence",
				"- **Suspect deploy:** no deploy in the 30m before the spike",
				"no earlier minute to compare with, errors may have started before the evidence",
				"- **Detection:** the incident opened 10m after the start of the first error spike.",
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

func TestMarkdownEscapes(t *testing.T) {
	tl, err := Build(Input{Incident: &incident.Incident{
		ID: "INC-6", Title: "a | b <script>\nalert(1)</script>", Status: incident.StatusOpen, StartedAt: at(10, 0),
	}})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, tl.WriteMarkdown(&buf))
	out := buf.String()
	assert.NotContains(t, out, "<script>")
	assert.Contains(t, out, "# Postmortem (draft): INC-6 — a | b &lt;script&gt; alert(1)&lt;/script&gt;\n")
	assert.Contains(t, out, `| incident.opened | INC-6 | incident.json | incident INC-6 opened: a \| b &lt;script&gt; alert(1)&lt;/script&gt; |`)
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
	for _, k := range []string{"incident", "evidence_range", "rules", "totals", "events", "services", "minutes",
		"error_spikes", "first_error_spike", "suspect_deploy", "gaps"} {
		assert.Contains(t, doc, k)
	}
	sd := doc["suspect_deploy"].(map[string]any)
	assert.Equal(t, "D2", sd["deploy_id"])
	assert.Equal(t, "2026-03-02T10:02:00Z", sd["time"])
	assert.Equal(t, float64(60), sd["lead_seconds"])
	spike := doc["first_error_spike"].(map[string]any)
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
