package webui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

func get(t *testing.T, h http.Handler, path string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec, rec.Body.String()
}

func newServer(t *testing.T, ev Evidence) *Server {
	t.Helper()
	s, err := New(Options{Evidence: ev})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestPages(t *testing.T) {
	lossy := small("INC-WEB-2")
	lossy.losses = []bundle.Loss{{Signal: bundle.SignalTraces, Reason: bundle.LossEvicted, Items: 1234}}
	st := newStore(t, small("INC-WEB-1"), lossy)
	s := newServer(t, StoreEvidence(st))

	res, body := get(t, s, "/")
	require.Equal(t, http.StatusOK, res.Code, body)
	assert.Equal(t, ContentSecurityPolicy, res.Header().Get("Content-Security-Policy"))
	assert.Contains(t, body, "2 of 2 incidents")
	assert.Contains(t, body, `href="/incidents/INC-WEB-1"`)
	assert.NotContains(t, body, "<script>")
	assert.NotContains(t, body, "\x1b")
	assert.Contains(t, body, `&lt;script&gt;alert(1)&lt;/script&gt;\x1b[2J\u202egnp.exe`)
	assert.Contains(t, body, `<td class="losses">none</td>`, "INC-WEB-1 lacks nothing")
	assert.Contains(t, body, `<td class="losses">1,234 items missing (evicted)</td>`)

	res, body = get(t, s, "/incidents/INC-WEB-1")
	require.Equal(t, http.StatusOK, res.Code, body)
	assert.NotContains(t, body, "<script>")
	assert.NotContains(t, body, "\x1b")
	assert.NotContains(t, body, "\u202e")
	assert.Contains(t, body, `data-deploy="D-checkout-2"`, "the suspect")
	assert.Contains(t, body, `data-marker="deploy" data-id="D-checkout-2"`)
	assert.Contains(t, body, `data-marker="incident"`)
	assert.Contains(t, body, `data-series="1.5.0 (D-checkout-2)"`)
	assert.Contains(t, body, `note=&lt;script&gt;`)

	assert.Contains(t, body, "nothing is known to be missing")
	_, body = get(t, s, "/incidents/INC-WEB-2")
	assert.Contains(t, body, `<td>evicted</td><td class="num">1,234</td>`)
	_, body = get(t, s, "/incidents/INC-WEB-2/bundle")
	assert.Contains(t, body, "the manifests name what is missing")
	assert.Contains(t, body, `<td>evicted</td><td class="num">1,234</td>`)

	res, body = get(t, s, "/incidents/INC-WEB-1/postmortem.md")
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, res.Header().Get("Content-Disposition"), "INC-WEB-1-postmortem.md")
	assert.True(t, strings.HasPrefix(body, "# "), body[:min(len(body), 80)])

	res, _ = get(t, s, "/incidents/INC-NOPE")
	assert.Equal(t, http.StatusNotFound, res.Code)
	res, _ = get(t, s, "/incidents/..%2f..%2fetc")
	assert.Equal(t, http.StatusNotFound, res.Code)
	res, body = get(t, s, "/static/style.css")
	assert.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, body, "--fg")

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestIncidentFilters(t *testing.T) {
	a, b := small("INC-A"), small("INC-B")
	b.labels = map[string]string{"team": "search"}
	b.start = b.start.Add(-48 * 60 * 60 * 1e9)
	s := newServer(t, StoreEvidence(newStore(t, a, b)))
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"INC-A", "INC-B"}},
		{"?label=team%3Dsearch", []string{"INC-B"}},
		{"?label=team", []string{"INC-A", "INC-B"}},
		{"?q=inc-a", []string{"INC-A"}},
		{"?severity=critical&status=open", []string{"INC-A", "INC-B"}},
		{"?status=resolved", nil},
		{"?service=checkout", []string{"INC-A", "INC-B"}},
		{"?service=nothing", nil},
		{"?deploy=D-cart-9", []string{"INC-A", "INC-B"}},
		{"?deploy=D-none", nil},
		{"?from=2026-03-03T00:00", []string{"INC-A", "INC-B"}}, // both still open
		{"?to=2026-03-01T00:00", []string{"INC-B"}},
	} {
		var body string
		// The service and deploy filters leave out the incidents not
		// read yet, which are read in the background.
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			var res *httptest.ResponseRecorder
			res, body = get(t, s, "/"+tt.query)
			require.Equal(c, http.StatusOK, res.Code)
			assert.NotContains(c, body, `id="reading"`)
		}, time.Minute, 20*time.Millisecond, tt.query)
		var got []string
		for _, id := range []string{"INC-A", "INC-B"} {
			if strings.Contains(body, `data-incident="`+id+`"`) {
				got = append(got, id)
			}
		}
		assert.Equal(t, tt.want, got, tt.query)
	}
	_, body := get(t, s, "/?from=yesterday")
	assert.Contains(t, body, "must be a time such as")
}

// The service and deploy filters read an incident once per version of
// its evidence, however many incidents there are and however often they
// are filtered: they do not wait for the reading, and say what they
// left out meanwhile.
func TestIncidentFiltersReadOnce(t *testing.T) {
	var fs []fixture
	var ids []string
	for i := range cachedTimelines + 2 {
		f := small(fmt.Sprintf("INC-F%d", i))
		f.start = f.start.Add(-time.Duration(i) * time.Hour)
		fs = append(fs, f)
		ids = append(ids, f.id)
	}
	gate := make(chan struct{})
	ev := &countingEvidence{Evidence: &gatedEvidence{Evidence: StoreEvidence(newStore(t, fs...)), gate: gate}, inputs: map[string]int{}}
	s := newServer(t, ev)

	// Nothing read yet: every incident is left out, the page says so
	// and reloads itself.
	res, body := get(t, s, "/?service=checkout")
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, body, `0 of 6 incidents; <span id="reading">6 not read yet for the service or deploy filter`)
	assert.Contains(t, body, `<meta http-equiv="refresh" content="3">`)
	close(gate)
	require.Eventually(t, func() bool {
		_, body = get(t, s, "/?service=checkout")
		return !strings.Contains(body, `id="reading"`)
	}, time.Minute, 20*time.Millisecond)
	assert.Contains(t, body, "6 of 6 incidents.")
	assert.NotContains(t, body, `http-equiv="refresh"`)

	for range 3 {
		_, body = get(t, s, "/?deploy=D-cart-9&service=cart")
		assert.Contains(t, body, "6 of 6 incidents.")
		_, body = get(t, s, "/?service=nothing")
		assert.Contains(t, body, "0 of 6 incidents.")
	}
	for _, id := range ids {
		assert.Equal(t, 1, ev.count(id), "%s read once", id)
	}
}

func TestText(t *testing.T) {
	assert.Equal(t, "plain ünïcode", Text("plain ünïcode"))
	assert.Equal(t, `a\x1b[2Jb\x07c\x00\x9b\u202e`, Text("a\x1b[2Jb\x07c\x00\u009b\u202e"))
}

// countingEvidence counts the analyses read from its evidence.
type countingEvidence struct {
	Evidence
	mu     sync.Mutex
	inputs map[string]int
}

func (c *countingEvidence) Input(ctx context.Context, id string) (timeline.Input, error) {
	c.mu.Lock()
	c.inputs[id]++
	c.mu.Unlock()
	return c.Evidence.Input(ctx, id)
}

func (c *countingEvidence) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inputs[id]
}

func TestPrefetch(t *testing.T) {
	old := small("INC-OLD")
	old.start = old.start.Add(-48 * time.Hour)
	ev := &countingEvidence{Evidence: StoreEvidence(newStore(t, small("INC-NEW"), small("INC-MID"), old)), inputs: map[string]int{}}
	s, err := New(Options{Evidence: ev, Prefetch: true})
	require.NoError(t, err)
	defer s.Close()

	res, _ := get(t, s, "/")
	require.Equal(t, http.StatusOK, res.Code)
	// The two newest are analysed in the background, once; the page of
	// one of them is then read from the cache.
	require.Eventually(t, func() bool { return ev.count("INC-NEW") == 1 && ev.count("INC-MID") == 1 && s.cachedCount() == 2 },
		30*time.Second, 20*time.Millisecond)
	res, _ = get(t, s, "/incidents/INC-NEW")
	require.Equal(t, http.StatusOK, res.Code)
	get(t, s, "/")
	s.Close()
	assert.Equal(t, 1, ev.count("INC-NEW"), "analysed once")
	assert.Equal(t, 0, ev.count("INC-OLD"), "only the newest are analysed ahead")

	// Without Prefetch, listing analyses nothing.
	quiet := &countingEvidence{Evidence: ev.Evidence, inputs: map[string]int{}}
	get(t, newServer(t, quiet), "/")
	assert.Equal(t, 0, quiet.count("INC-NEW"))
}

func TestSignatureText(t *testing.T) {
	signed := &bundle.Signature{State: bundle.SigNotChecked, KeyIDs: []string{"k1"}}
	unsigned := &bundle.Signature{State: bundle.SigUnsigned}
	row := func(sigs ...*bundle.Signature) *catalog.Incident {
		r := &catalog.Incident{}
		for _, s := range sigs {
			r.Collectors = append(r.Collectors, catalog.Collector{Signature: s})
		}
		return r
	}
	assert.Equal(t, "unsigned", signatureText(row(unsigned, nil)))
	assert.Equal(t, "signed (k1)", signatureText(row(signed, signed)))
	assert.Equal(t, "1 of 2 manifests signed", signatureText(row(signed, unsigned)))
}

// gatedEvidence holds every analysis until its gate is closed, or fails
// it with err.
type gatedEvidence struct {
	Evidence
	gate chan struct{}
	err  error
}

func (g *gatedEvidence) Input(ctx context.Context, id string) (timeline.Input, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return timeline.Input{}, ctx.Err()
	}
	if g.err != nil {
		return timeline.Input{}, g.err
	}
	return g.Evidence.Input(ctx, id)
}

// readUntil reads the body until it holds want, and returns what was read.
func readUntil(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		require.NoError(t, err, "the body ended before %q: %s", want, got.String())
	}
	return got.String()
}

// The incident page sends what reading no part can show before the
// analysis, which follows on the same page; from the cache, the page
// comes whole.
func TestIncidentPageStreams(t *testing.T) {
	ev := &gatedEvidence{Evidence: StoreEvidence(newStore(t, small("INC-WEB-1"))), gate: make(chan struct{})}
	s := newServer(t, ev)
	srv := httptest.NewServer(s)
	defer srv.Close()

	res, err := srv.Client().Get(srv.URL + "/incidents/INC-WEB-1")
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body := bufio.NewReader(res.Body)
	first := readUntil(t, body, `id="pending"`)
	// The analysis is held: all of this came from the record and the
	// manifest.
	assert.Contains(t, first, "INC-WEB-1: checkout errors &lt;script&gt;")
	assert.Contains(t, first, "<dd>20,000 spans, 200 log records, 0 data points, 3 events, as the collectors' manifests count them</dd>")
	assert.Contains(t, first, "<dd>none</dd>", "no loss recorded")
	assert.Contains(t, first, "<dd>unsigned (")
	assert.Contains(t, first, "<code>service.name=checkout</code>")
	assert.NotContains(t, first, `id="analysis"`)
	assert.NotContains(t, first, "\x1b")

	close(ev.gate)
	rest, err := io.ReadAll(body)
	require.NoError(t, err)
	assert.Contains(t, string(rest), `<div id="analysis">`)
	assert.Contains(t, string(rest), `data-deploy="D-checkout-2"`, "the suspect")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(string(rest)), "</html>"))

	whole, body2 := get(t, s, "/incidents/INC-WEB-1")
	require.Equal(t, http.StatusOK, whole.Code)
	assert.Equal(t, first+string(rest), body2, "the cached page is the streamed page")
}

// An analysis that fails once the first view is sent is shown in the
// page.
func TestIncidentPageAnalysisFails(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	ev := &gatedEvidence{Evidence: StoreEvidence(newStore(t, small("INC-WEB-1"))), gate: gate, err: errors.New("part 3 is <corrupt>")}
	res, body := get(t, newServer(t, ev), "/incidents/INC-WEB-1")
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, body, `<p class="problem" id="analysis-failed">The evidence could not be read: part 3 is &lt;corrupt&gt;</p>`)
	assert.NotContains(t, body, `data-deploy=`)
	assert.Contains(t, body, `id="recorded"`)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(body), "</html>"))
}
