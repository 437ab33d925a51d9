package webui

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTracesAndLogs(t *testing.T) {
	s := newServer(t, StoreEvidence(newStore(t, small("INC-T"))))

	res, body := get(t, s, "/incidents/INC-T/traces")
	require.Equal(t, http.StatusOK, res.Code, body)
	rows := regexp.MustCompile(`<tr data-trace="([0-9a-f]{32})"( class="failed")?>`).FindAllStringSubmatch(body, -1)
	require.NotEmpty(t, rows)
	assert.Len(t, rows, maxListedTraces)
	assert.NotEmpty(t, rows[0][2], "traces with errors first")
	assert.NotContains(t, body, "<script>")

	// The waterfall of the first trace: every span of the trace, parents
	// before children.
	trace := rows[0][1]
	res, body = get(t, s, "/incidents/INC-T/traces/"+trace)
	require.Equal(t, http.StatusOK, res.Code, body)
	spans := regexp.MustCompile(`<tr data-span="([0-9a-f]{16})"(?: data-parent="([0-9a-f]{16})")?`).FindAllStringSubmatch(body, -1)
	require.NotEmpty(t, spans)
	seen := map[string]bool{}
	for _, sp := range spans {
		if sp[2] != "" {
			assert.True(t, seen[sp[2]], "span %s listed before its parent %s", sp[1], sp[2])
		}
		seen[sp[1]] = true
	}
	m := regexp.MustCompile(`<dt>Spans</dt><dd>(\d+)`).FindStringSubmatch(body)
	require.Len(t, m, 2)
	assert.Equal(t, m[1], strconv.Itoa(len(spans)))

	// Search by trace ID goes to the waterfall; by attribute and name lists.
	res, _ = get(t, s, "/incidents/INC-T/traces?q="+trace)
	assert.Equal(t, http.StatusSeeOther, res.Code)
	assert.Equal(t, "/incidents/INC-T/traces/"+trace, res.Header().Get("Location"))
	_, body = get(t, s, "/incidents/INC-T/traces?q=service.version%3D1.5.0&errors=1")
	failed := regexp.MustCompile(`<tr data-trace="[0-9a-f]{32}"( class="failed")?>`).FindAllStringSubmatch(body, -1)
	require.NotEmpty(t, failed)
	for _, f := range failed {
		assert.NotEmpty(t, f[1], "only traces with errors")
	}
	_, body = get(t, s, "/incidents/INC-T/traces?q=gnp")
	assert.Contains(t, body, `>1 of `, "the hostile span name is found as text")
	assert.Contains(t, body, `&lt;script&gt;alert(1)&lt;/script&gt;\x1b[2J\u202egnp.exe`)

	res, _ = get(t, s, "/incidents/INC-T/traces/00112233")
	assert.Equal(t, http.StatusNotFound, res.Code)
	res, _ = get(t, s, "/incidents/INC-T/traces/00000000000000000000000000000001")
	assert.Equal(t, http.StatusNotFound, res.Code)

	// Logs: filtered by severity and service, linked to traces.
	res, body = get(t, s, "/incidents/INC-T/logs")
	require.Equal(t, http.StatusOK, res.Code, body)
	assert.Contains(t, body, "200 of 200 log records")
	_, body = get(t, s, "/incidents/INC-T/logs?severity=error&service=checkout")
	m = regexp.MustCompile(`(\d+) of 200 log records`).FindStringSubmatch(body)
	require.Len(t, m, 2, body)
	assert.Equal(t, m[1], strconv.Itoa(strings.Count(body, `<tr data-level="error"`)))
	assert.NotContains(t, body, `data-level="info"`)
	_, body = get(t, s, "/incidents/INC-T/logs?service=nothing")
	assert.Contains(t, body, "0 of 200 log records")
}
