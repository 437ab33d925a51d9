package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testutil/s3server"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The web page, tested as an incident owner uses it: the real collector
// freezes an incident (a bad checkout deploy, errors that run from the
// frontend through checkout, notes, a rollback), `evidencectl serve`
// serves the store, and a real headless Chromium (Debian's chromium,
// driven with chromedp) opens every page, filters, follows links and
// takes a screenshot of each page into .artifacts/ (git-ignored). A second
// incident, written straight into the store as an attacker with write
// access could, carries script tags, an ESC sequence and a bidirectional
// override in its title, labels and span names.

const (
	webIncident     = "INC-WEB-E2E"
	webHostile      = "INC-WEB-HOSTILE"
	webHostileText  = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">\x1b[2J\u202egnp.exe"
	webShownHostile = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">\x1b[2J\u202egnp.exe`
)

func TestWebUI(t *testing.T) {
	browser := chromiumPath(t)
	bin := evidencectlBinary(t)
	harness.Binary(t)
	r := startTimelineRig(t, bin, tlAfterScripted)
	sent := webScenario(t, r)
	writeHostileIncident(t, r.st, r.S)

	base := startServe(t, bin, r.env)
	b := newBrowser(t, browser, base)

	// The incidents: both listed, the hostile one as text.
	b.open("/")
	assert.Equal(t, "2 of 2 incidents.", b.text("#count"))
	assert.Equal(t, 2, b.count("#incidents tbody tr"))
	assert.Equal(t, webShownHostile, b.text(`tr[data-incident="`+webHostile+`"] td:last-child`))
	assert.Contains(t, b.text(`tr[data-incident="`+webIncident+`"]`), "resolved")
	assert.Equal(t, "none", b.text(`tr[data-incident="`+webIncident+`"] td.losses`), "the collector lost nothing")
	assert.Equal(t, "not recorded", b.text(`tr[data-incident="`+webHostile+`"] td.losses`), "no manifest")
	assert.Equal(t, "unsigned", b.text(`tr[data-incident="`+webIncident+`"] td.signature`), "the collector has no signing key")
	b.noInjection()
	b.screenshot("incidents")

	// Filters, through the form as a user submits it.
	for _, f := range []struct {
		field, value string
		want         []string
	}{
		{"#f-label", "team=payments", []string{webIncident}},
		{"#f-deploy", "co-v2", []string{webIncident}},
		{"#f-service", "checkout", []string{webIncident}},
		{"#f-service", "hostile-svc", []string{webHostile}},
		{"#f-q", "hostile", []string{webHostile}},
	} {
		b.open("/")
		b.run(chromedp.SendKeys(chromedp.CSS(f.field), f.value))
		b.follow(chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
		b.readAll()
		assert.Equal(t, f.want, b.attrs(`#incidents tbody tr`, "data-incident"), "%s=%s", f.field, f.value)
	}
	b.open("/?status=resolved")
	assert.Equal(t, []string{webIncident}, b.attrs(`#incidents tbody tr`, "data-incident"))
	b.open("/?to=2000-01-01T00:00")
	assert.Equal(t, "0 of 2 incidents.", b.text("#count"))

	// One incident: reached by its link.
	b.open("/")
	b.follow(chromedp.Click(chromedp.CSS(`a[href="/incidents/` + webIncident + `"]`)))
	assert.Contains(t, b.text("h1"), webIncident+": checkout <script>alert(1)</script>")
	assert.Equal(t, []string{"co-v2"}, b.attrs("#suspects > li", "data-deploy")[:1], "the bad deploy is the first suspect")
	assert.Equal(t, "high confidence", b.text("#suspects > li:first-child .conf"))
	assert.Equal(t, 3, b.count(`.service[data-service="checkout"] svg [data-marker="deploy"][data-id="co-v2"]`),
		"co-v2's marker on each of checkout's three charts")
	assert.Equal(t, 3, b.count(`.service[data-service="checkout"] svg .m-suspect[data-id="co-v2"]`))
	assert.Equal(t, 3, b.count(`.service[data-service="checkout"] svg [data-marker="deploy"][data-id="co-v1-rollback"]`))
	assert.Equal(t, 6, b.count(`.service[data-service="checkout"] svg [data-marker="incident"]`), "opened and resolved on three charts")
	assert.Equal(t, 6, b.count(`.service[data-service="checkout"] svg [data-marker="note"]`), "two notes on three charts")
	assert.Equal(t, []string{"v1 (co-v1)", "v2 (co-v2)", "v1 (co-v1-rollback)"},
		b.attrs(`#chart-`+serviceIndex(t, b, "checkout")+`-errors .series`, "data-series"))
	assert.Equal(t, 2, b.count(`#timeline tr[data-kind="note"]`))
	assert.Contains(t, b.text(`#timeline`), "note by alice: paged the checkout on-call | <script>alert(1)</script>")
	b.noInjection()
	b.screenshot("incident")

	// The draft downloads as the Markdown `evidencectl timeline` writes.
	href := b.attr(`a[href$="/postmortem.md"]`, "href")
	md := httpGet(t, base+href)
	assert.Equal(t, r.ctl("timeline", webIncident).stdout, md)

	checkTracesAndLogs(t, b, sent)
	checkBundle(t, b, base, r)

	b.open("/incidents/" + webHostile)
	assert.Equal(t, webHostile+": "+webShownHostile, b.text("h1"))
	assert.Contains(t, b.text(".labels"), "why="+webShownHostile)
	b.noInjection()
	b.screenshot("incident-hostile")
	b.follow(chromedp.Click(chromedp.CSS(`.tabs a[href$="/traces"]`)))
	assert.Equal(t, 3, b.count("#traces tbody tr"))
	assert.Equal(t, "hostile-svc: "+webShownHostile, b.text("#traces tbody tr:first-child td"), "a hostile span name is text")
	b.noInjection()
	b.follow(chromedp.Click(chromedp.CSS(`#traces tbody tr:first-child a`)))
	assert.Equal(t, webShownHostile, b.text("#waterfall tbody tr .indent"))
	b.noInjection()

	b.open("/incidents/INC-NOPE")
	assert.Equal(t, "No such incident", b.text("h1"))
	b.noConsoleErrors("/incidents/INC-NOPE") // the 404 itself is the only entry allowed

	checkS3Share(t, bin, browser, r)
}

// checkBundle: the bundle page verifies every file, and its tar download
// passes `evidencectl verify` once extracted.
func checkBundle(t *testing.T, b *browser, base string, r *tlRig) {
	objs, err := storage.ListAll(context.Background(), r.st, bundle.IncidentsPrefix+webIncident+"/")
	require.NoError(t, err)
	b.open("/incidents/" + webIncident)
	b.follow(chromedp.Click(chromedp.CSS(`.tabs a[href$="/bundle"]`)))
	assert.Equal(t, "every file matches its recorded SHA-256", b.text("#verdict"))
	assert.Equal(t, "unsigned: the collector had no signing key", b.text("#signatures"))
	assert.Equal(t, len(objs), b.count(`#files tbody tr[data-ok="true"]`))
	assert.Equal(t, 0, b.count(`#files tbody tr[data-ok="false"]`))
	assert.Equal(t, 0, b.count("#b-expires"), "a filesystem store cannot share links")
	b.screenshot("bundle")

	res, err := http.Get(base + b.attr("#download", "href")) //nolint:noctx // loopback
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	require.Equal(t, http.StatusOK, res.StatusCode)
	dir := t.TempDir()
	tr := tar.NewReader(res.Body)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.True(t, filepath.IsLocal(h.Name), h.Name)
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		n++
	}
	assert.Equal(t, len(objs), n)
	out := r.ctl("verify", dir).stdout
	assert.Contains(t, out, webIncident)
}

// checkS3Share: the same evidence in a real S3 server (versitygw); the
// bundle page signs share links and one downloads the part without
// credentials, byte for byte.
func checkS3Share(t *testing.T, bin, browserPath string, r *tlRig) {
	ctx := context.Background()
	srv := s3server.Start(t)
	s3, err := storage.NewS3(storage.S3Config{
		Endpoint: srv.URL(), Bucket: srv.Bucket, Prefix: "prod", Region: s3server.Region,
		AccessKeyID: configopaque.String(srv.AccessKey), SecretAccessKey: configopaque.String(srv.SecretKey),
		ForcePathStyle: true, PartSize: storage.DefaultPartSize,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Close() })
	objs, err := storage.ListAll(ctx, r.st, bundle.IncidentsPrefix+webIncident+"/")
	require.NoError(t, err)
	parts := map[string][]byte{}
	for _, o := range objs {
		data, err := storage.ReadAll(ctx, r.st, o.Key, 1<<30)
		require.NoError(t, err)
		require.NoError(t, s3.Put(ctx, o.Key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
		if k, err := bundle.ParseKey(o.Key); err == nil && k.Kind == bundle.KindPart {
			parts[o.Key] = data
		}
	}
	require.NotEmpty(t, parts)
	env := []string{"EVIDENCECTL_STORE=s3://" + srv.Bucket + "/prod", "AWS_ENDPOINT_URL_S3=" + srv.URL(),
		"AWS_REGION=" + s3server.Region, "AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey}
	base := startServe(t, bin, env, "--s3-path-style")
	b := newBrowser(t, browserPath, base)
	b.open("/incidents/" + webIncident + "/bundle")
	assert.Equal(t, "every file matches its recorded SHA-256", b.text("#verdict"))
	b.run(chromedp.SetValue(chromedp.CSS("#b-expires"), "1h"))
	b.follow(chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
	assert.Contains(t, b.text("#share-note"), "without credentials")
	assert.Equal(t, len(objs), b.count("#files a.share"))
	b.screenshot("bundle-s3")
	for key, want := range parts {
		link := b.attr(`#files tr[data-key="`+key+`"] a.share`, "href")
		assert.Contains(t, link, "X-Amz-Expires=3600")
		got := httpGet(t, link)
		assert.Equal(t, string(want), got, "the shared %s downloads byte for byte", key)
	}
	b.noConsoleErrors(b.url)
}

// checkTracesAndLogs: the traces page lists every trace, failed ones
// first; a trace's waterfall shows its three spans across services; the
// search finds a trace by ID and by attribute; the logs filter by
// severity and service and link to their traces.
func checkTracesAndLogs(t *testing.T, b *browser, sent []sspan) {
	traces, failed, v2 := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var firstFailed string
	errorLogs := 0
	for _, sp := range sent {
		id := sp.trace.String()
		traces[id] = true
		if sp.failed {
			failed[id] = true
			if firstFailed == "" {
				firstFailed = id
			}
			if sp.service == "checkout" {
				errorLogs++
			}
		}
		if sp.version == "v2" {
			v2[id] = true
		}
	}
	b.follow(chromedp.Click(chromedp.CSS(`.tabs a[href$="/traces"]`)))
	assert.Equal(t, fmt.Sprintf("%d of %d traces; the first 200 are listed. Traces with errors come first.", len(traces), len(traces)),
		b.text("#count"))
	rows := b.attrs("#traces tbody tr", "class")
	require.Len(t, rows, min(len(traces), 200))
	for i, c := range rows {
		assert.Equal(t, i < len(failed), c == "failed", "row %d: failed traces first", i)
	}
	b.screenshot("traces")

	// The waterfall of the first failed trace, through its link.
	first := b.attr("#traces tbody tr:first-child", "data-trace")
	assert.True(t, failed[first])
	b.follow(chromedp.Click(chromedp.CSS(`#traces tbody tr:first-child a`)))
	assert.Equal(t, 3, b.count("#waterfall tbody tr"), "a span per service")
	spans := b.attrs("#waterfall tbody tr", "data-span")
	assert.Equal(t, []string{"", spans[0], spans[1]}, b.attrs("#waterfall tbody tr", "data-parent"), "frontend → checkout → payment")
	assert.Equal(t, "frontend, checkout, payment", b.text(".facts div:last-child dd"))
	assert.Equal(t, 2, b.count("#waterfall tbody tr.failed svg.bar rect"), "frontend and checkout failed, payment did not")
	b.screenshot("trace")

	// Search: a trace ID goes to its waterfall; an attribute lists.
	b.open("/incidents/" + webIncident + "/traces")
	b.run(chromedp.SendKeys(chromedp.CSS("#t-q"), firstFailed))
	b.follow(chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
	assert.Equal(t, "Trace "+firstFailed, b.text("h1"))
	b.open("/incidents/" + webIncident + "/traces")
	b.run(chromedp.SendKeys(chromedp.CSS("#t-q"), "service.version=v2"), chromedp.Click(chromedp.CSS("#t-errors")))
	b.follow(chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
	got := b.attrs("#traces tbody tr", "data-trace")
	for _, id := range got {
		assert.True(t, v2[id] && failed[id], "trace %s: v2 and failed", id)
	}
	n := 0
	for id := range v2 {
		if failed[id] {
			n++
		}
	}
	assert.Len(t, got, n)

	// Logs: filtered by severity and service; the first links to its trace.
	b.open("/incidents/" + webIncident + "/logs")
	b.run(chromedp.SetValue(chromedp.CSS("#l-severity"), "error"), chromedp.SetValue(chromedp.CSS("#l-service"), "checkout"))
	b.follow(chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
	assert.Contains(t, b.text("#count"), fmt.Sprintf("%d of ", errorLogs))
	assert.Equal(t, errorLogs, b.count(`#logs tbody tr[data-level="error"]`))
	assert.Equal(t, errorLogs, b.count(`#logs tbody tr`))
	b.screenshot("logs")
	trace := b.attr("#logs tbody tr:first-child", "data-trace")
	assert.True(t, failed[trace])
	b.follow(chromedp.Click(chromedp.CSS(`#logs tbody tr:first-child a`)))
	assert.Equal(t, "Trace "+trace, b.text("h1"))
}

// webScenario records the incident through the real collector and waits
// for its bundle: checkout v2, deployed at S+60.55s, fails 48% of its
// requests from S+61.55s (its payment calls succeed); the frontend's
// requests fail with it; v1 is rolled back at S+75s.
func webScenario(t *testing.T, r *tlRig) []sspan {
	S := r.S
	d2At, failFrom, rollbackAt := S.Add(60550*time.Millisecond), S.Add(61550*time.Millisecond), S.Add(75*time.Second)
	r.deploy("fe-v7", "frontend", "v7", S.Add(-20*time.Minute))
	r.deploy("co-v1", "checkout", "v1", S.Add(-10*time.Minute))
	r.deploy("co-v2", "checkout", "v2", d2At)
	r.deploy("co-v1-rollback", "checkout", "v1", rollbackAt)
	var spans []sspan
	i := 0
	for at := S; at.Before(S.Add(80 * time.Second)); at = at.Add(200 * time.Millisecond) {
		i++
		version, bad := "v1", false
		if !at.Before(d2At) && at.Before(rollbackAt) {
			version = "v2"
			bad = !at.Before(failFrom) && i%25 < 12
		}
		root := r.span("frontend", "v7", at, 80*time.Millisecond+v1Latency(i), bad)
		child := r.span("checkout", version, at.Add(2*time.Millisecond), v1Latency(i), bad)
		child.trace, child.parent = root.trace, root.id
		leaf := r.span("payment", "v3", at.Add(4*time.Millisecond), 10*time.Millisecond, false)
		leaf.trace, leaf.parent = root.trace, child.id
		leaf.id = spanID(uint64(at.UnixNano()) + 7)
		spans = append(spans, root, child, leaf)
	}
	r.send(spans)
	sendErrorLogs(t, r, spans)
	opened := failFrom.Add(6900 * time.Millisecond)
	r.ctl("trigger", "--id", webIncident, "--title", "checkout <script>alert(1)</script> errors", "--severity", "critical",
		"--started-at", opened.Format(time.RFC3339Nano), "--label", "team=payments")
	r.ctl("annotate", webIncident, "--at", failFrom.Add(9*time.Second).Format(time.RFC3339Nano), "--author", "alice",
		"paged the checkout on-call | <script>alert(1)</script>")
	r.ctl("annotate", webIncident, "--at", rollbackAt.Add(-2*time.Second).Format(time.RFC3339Nano), "--author", "bob",
		"rollback to v1 started")
	r.resolve(webIncident, S.Add(78*time.Second))
	r.waitBundle(webIncident)
	return spans
}

// sendErrorLogs sends an ERROR log record of checkout for each failed
// checkout span, with its trace and span IDs.
func sendErrorLogs(t *testing.T, r *tlRig, spans []sspan) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("service.version", "v2")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, sp := range spans {
		if sp.service != "checkout" || !sp.failed {
			continue
		}
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(sp.start.Add(sp.dur)))
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
		lr.Body().SetStr("payment declined: upstream returned 503")
		lr.SetTraceID(sp.trace)
		lr.SetSpanID(sp.id)
	}
	require.Positive(t, recs.Len())
	harness.NewOTLPClient(t, r.p.OTLPGRPC).SendLogs(ld)
}

// writeHostileIncident writes an incident straight into the store, as
// someone with write access to it could: script tags, an ESC sequence and
// a bidirectional override in its title, a label and a span name.
func writeHostileIncident(t *testing.T, st store.Store, at time.Time) {
	ctx := context.Background()
	w, err := bundle.NewPartWriter(bundle.PartInfo{
		IncidentID: webHostile, CollectorID: "attacker", Seq: 1, Encoding: bundle.EncodingJSON,
		CreatedAt: at, Window: bundle.Window{Start: at.Add(-time.Minute), End: at.Add(time.Minute)},
	})
	require.NoError(t, err)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "hostile-svc")
	for i := range 3 {
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetName(webHostileText)
		s.SetTraceID(traceID(uint64(i) + 99))
		s.SetSpanID(spanID(uint64(i) + 99))
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(i) * time.Second)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(i)*time.Second + time.Millisecond)))
	}
	require.NoError(t, w.AddTraces(td))
	data, info, err := w.Finish()
	require.NoError(t, err)
	key, err := bundle.PartKey(webHostile, "attacker", info.Seq)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
	inc, err := json.Marshal(incident.Incident{
		ID: webHostile, Title: webHostileText, Severity: "critical", Source: incident.SourceGeneric,
		Status: incident.StatusOpen, StartedAt: at, UpdatedAt: at, Labels: map[string]string{"why": webHostileText},
	})
	require.NoError(t, err)
	key, err = bundle.IncidentKey(webHostile)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, key, bytes.NewReader(inc), int64(len(inc)), store.PutOptions{}))
}

// startServe runs `evidencectl serve` on a free loopback port and returns
// its base URL.
func startServe(t *testing.T, bin string, env []string, args ...string) string {
	p := harness.StartProcess(t, "", env, bin, append(args, "serve", "--listen", "127.0.0.1:0")...)
	p.WaitForOutput("Ctrl-C stops", 30*time.Second)
	m := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(p.Output())
	require.Len(t, m, 2, p.Output())
	return m[1]
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url) //nolint:noctx // a test against loopback
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equalf(t, http.StatusOK, res.StatusCode, "%s: %s", url, body)
	return string(body)
}

// chromiumPath finds Debian's chromium (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("OTEL_EVIDENCE_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install Debian's chromium (bash .ci/run does), or set OTEL_EVIDENCE_CHROMIUM")
	return ""
}

// browser is one headless Chromium tab, with what its console reported.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	mu   sync.Mutex
	errs []string
	url  string
}

func newBrowser(t *testing.T, path, base string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, base: base}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, b.url+": "+m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
	})
	return b
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.timeout(), steps...))
}

// timeout bounds one browser action; the browser's own context stays.
func (b *browser) timeout() context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	b.t.Cleanup(cancel)
	return ctx
}

func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.timeout(), a)
	require.NoError(b.t, err)
	return v
}

// open loads a page and checks that the page before it raised no console
// error.
func (b *browser) open(path string) {
	b.t.Helper()
	b.noConsoleErrors(b.url)
	b.mu.Lock()
	b.url = path
	b.mu.Unlock()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("footer")))
}

// follow runs an action that loads a page (a click on a link or a
// button) and waits for the page.
func (b *browser) follow(a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.noConsoleErrors(b.url)
	res, err := chromedp.RunResponse(b.timeout(), a)
	require.NoError(b.t, err)
	require.Equal(b.t, int64(http.StatusOK), res.Status, res.URL)
	b.mu.Lock()
	b.url = strings.TrimPrefix(res.URL, b.base)
	b.mu.Unlock()
}

// readAll waits until the incidents page has read every incident its
// service or deploy filter needs: until then it says how many it left
// out and reloads itself.
func (b *browser) readAll() {
	b.t.Helper()
	page := b.url
	require.Eventually(b.t, func() bool {
		if b.count("#reading") == 0 {
			return true
		}
		b.open(page)
		return false
	}, time.Minute, 200*time.Millisecond, "%s still reading", page)
}

func (b *browser) noConsoleErrors(page string) {
	b.t.Helper()
	// Messages arrive on their own goroutine: give the last page's a
	// round trip to the browser to be read.
	_ = get(b, chromedp.Evaluate[int]("1"))
	b.mu.Lock()
	errs := b.errs
	b.errs = nil
	b.mu.Unlock()
	if page == "/incidents/INC-NOPE" {
		var rest []string
		for _, e := range errs {
			if !strings.Contains(e, "404") {
				rest = append(rest, e)
			}
		}
		errs = rest
	}
	assert.Empty(b.t, errs, "console errors on %s", page)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, chromedp.TextContent(chromedp.CSS(sel))))
}

func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	r := get(b, chromedp.AttributeValue(chromedp.CSS(sel), name))
	require.Truef(b.t, r.Exists, "%s has no %s", sel, name)
	return r.Value
}

func (b *browser) attrs(sel, name string) []string {
	b.t.Helper()
	var out []string
	for _, n := range get(b, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0))) {
		out = append(out, n.AttributeValue(name))
	}
	return out
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return get(b, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// noInjection checks that no evidence string became markup or ran.
func (b *browser) noInjection() {
	b.t.Helper()
	injected := get(b, chromedp.Evaluate[bool](`typeof window.pwned !== "undefined" || document.querySelectorAll("script, img, iframe").length > 0`))
	assert.False(b.t, injected, "evidence text became markup on %s", b.url)
}

// screenshot writes the whole page as .artifacts/TestWebUI/NAME.png and
// checks that it is not blank.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	buf := get(b, chromedp.FullScreenshot(100))
	dir := filepath.Join(".artifacts", b.t.Name())
	require.NoError(b.t, os.MkdirAll(dir, 0o750))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o600))
	img, err := png.Decode(bytes.NewReader(buf))
	require.NoError(b.t, err)
	assert.Greaterf(b.t, inkRatio(img), 0.01, "the screenshot of %s is blank", b.url)
}

// inkRatio is the fraction of pixels that are not the background.
func inkRatio(img image.Image) float64 {
	bg := img.At(0, img.Bounds().Max.Y-1)
	br, bgr, bb, _ := bg.RGBA()
	ink, all := 0, 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			all++
			if r != br || g != bgr || b != bb {
				ink++
			}
		}
	}
	return float64(ink) / float64(all)
}

// serviceIndex is the index of a service's charts on the incident page.
func serviceIndex(t *testing.T, b *browser, service string) string {
	services := b.attrs(".service", "data-service")
	for i, s := range services {
		if s == service {
			return fmt.Sprint(i)
		}
	}
	t.Fatalf("no charts of %s among %v", service, services)
	return ""
}

// TestWebUIInCollector: the incidents extension serves the same pages
// inside the real collector, behind the bearertokenauth extension: a
// request without the token, or with another, is refused; with it, the
// incidents and an incident's page load.
func TestWebUIInCollector(t *testing.T) {
	bin := evidencectlBinary(t)
	harness.Binary(t)
	p := harness.NewPorts(t)
	web := harness.FreeAddr(t)
	cfg := harness.Config(t, p, harness.Options{
		CollectorID: "e2e-web",
		Override: map[string]any{
			"extensions": map[string]any{"incidents": map[string]any{"web": map[string]any{
				"endpoint": web, "auth": map[string]any{"authenticator": "bearertokenauth/webhook"},
			}}},
			"exporters": map[string]any{"evidence": map[string]any{
				"window": map[string]any{"before": "1m", "after": "2s", "extend_until_resolved": false},
			}},
		},
	})
	c := harness.StartCollector(t, "", cfg, p.Health)
	st, err := storage.NewFilesystem(filepath.Join(c.Dir, "var", "evidence"))
	require.NoError(t, err)
	env := []string{"EVIDENCECTL_TOKEN=" + harness.Token, "EVIDENCECTL_RECEIVER=http://" + p.Webhook}
	client := harness.NewOTLPClient(t, p.OTLPGRPC)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	now := time.Now()
	for i := range 20 {
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetName("POST /orders")
		s.SetTraceID(traceID(uint64(i) + 1000))
		s.SetSpanID(spanID(uint64(i) + 1000))
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(i) * time.Second)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(i)*time.Second + 20*time.Millisecond)))
	}
	client.SendTraces(td)
	res := runEvidencectl(t, bin, env, "trigger", "--id", "INC-WEB-COL", "--title", "checkout slow", "--severity", "major")
	require.Equalf(t, 0, res.code, "trigger: %s%s", res.stdout, res.stderr)
	harness.WaitBundleComplete(t, st, "INC-WEB-COL", time.Minute)

	fetch := func(path, token string) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+web+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/", "/incidents/INC-WEB-COL", "/incidents/INC-WEB-COL/bundle.tar", "/static/style.css"} {
		status, body := fetch(path, "")
		assert.Equal(t, http.StatusUnauthorized, status, "%s without a token: %s", path, body)
		assert.NotContains(t, body, "INC-WEB-COL")
		status, _ = fetch(path, "not-the-token")
		assert.Equal(t, http.StatusUnauthorized, status, "%s with another token", path)
	}
	status, body := fetch("/", harness.Token)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `data-incident="INC-WEB-COL"`)
	status, body = fetch("/incidents/INC-WEB-COL", harness.Token)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "checkout slow")
	assert.Contains(t, body, `data-service="checkout"`)
	status, body = fetch("/incidents/INC-WEB-COL/bundle", harness.Token)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "every file matches its recorded SHA-256")
	assert.NotContains(t, body, `id="b-expires"`, "the collector signs no share links")
}
