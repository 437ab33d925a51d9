package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/store"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The timeline scenarios run the real collector and the real evidencectl:
// deploys are recorded with `evidencectl deploy`, telemetry goes in over
// OTLP (scripted spans through a real OTLP client where the scenario needs
// exact error, latency, version and parent/child shapes; telemetrygen where
// it can produce them), incident_context tags it with the deploys, the
// incident is opened and resolved with `evidencectl trigger` and `resolve`,
// the evidence exporter freezes it, and `evidencectl timeline` reads the
// bundle from the store. Each scenario asserts the suspect named (or
// none), the detection latency within a second of the truth and the
// per-version figures, computed here from what was sent.

const (
	tlCollector = "e2e-timeline"
	// tlLead is how far in the past a scripted scenario starts: its
	// telemetry and events lie in [S, S+80s] and S is tlLead before now.
	tlLead = 85 * time.Second
	// tlBefore is the evidence window before the incident opens.
	tlBefore = 4 * time.Minute
	// tlAfterScripted is the window after: a scripted incident opens
	// between S+60s and S+70s, 15 to 25 s in the past, so its window ends
	// 15 to 25 s after the scenario is set up and covers the events
	// recorded meanwhile (they carry the time they were recorded at).
	tlAfterScripted = 40 * time.Second
	// tlAfterLive is the window after for the incidents opened now.
	tlAfterLive = 3 * time.Second
)

func TestTimelineScenarios(t *testing.T) {
	bin := evidencectlBinary(t)
	harness.Binary(t)
	for _, sc := range []struct {
		name  string
		run   func(t *testing.T, r *tlRig)
		after time.Duration
	}{
		{"bad deploy then rollback", scenarioRollback, tlAfterScripted},
		{"canary", scenarioCanary, tlAfterScripted},
		{"dependency deploy", scenarioDependency, tlAfterScripted},
		{"latency only", scenarioLatencyOnly, tlAfterLive},
		{"errors without a deploy", scenarioNoDeploy, tlAfterLive},
		{"two deploys", scenarioTwoDeploys, tlAfterScripted},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, startTimelineRig(t, bin, sc.after))
		})
	}
}

// scenarioRollback: checkout v2 is deployed, its spans fail from 1 s later
// (48%, and twenty times slower), the incident opens 6.9 s after the first
// error, and v1 is rolled back within the same minute. The suspect is v2's
// deploy, the rollback a mitigation, never a suspect.
func scenarioRollback(t *testing.T, r *tlRig) {
	S := r.S
	d2At, failFrom, rollbackAt := S.Add(60550*time.Millisecond), S.Add(61550*time.Millisecond), S.Add(75*time.Second)
	r.deploy("co-v1", "checkout", "v1", S.Add(-10*time.Minute))
	r.deploy("co-v2", "checkout", "v2", d2At)
	r.deploy("co-v1-rollback", "checkout", "v1", rollbackAt)
	var spans []sspan
	i := 0
	for at := S; at.Before(S.Add(80 * time.Second)); at = at.Add(100 * time.Millisecond) {
		i++
		if at.Before(d2At) || !at.Before(rollbackAt) {
			spans = append(spans, r.span("checkout", "v1", at, v1Latency(i), i%1000 == 777))
			continue
		}
		if at.Before(d2At.Add(50 * time.Millisecond)) {
			continue // the rollout
		}
		bad := !at.Before(failFrom)
		lat := v1Latency(i)
		if bad {
			lat = 900*time.Millisecond - time.Duration(i%7)*time.Millisecond
		}
		spans = append(spans, r.span("checkout", "v2", at, lat, bad && i%25 < 12))
	}
	r.send(spans)
	opened := failFrom.Add(6900 * time.Millisecond)
	r.open("INC-TL-ROLLBACK", opened)
	// Notes: with the CLI, and with the webhook as a chat bot would.
	paged := failFrom.Add(9 * time.Second)
	r.ctl("annotate", "INC-TL-ROLLBACK", "--at", paged.Format(time.RFC3339Nano), "--author", "alice",
		"paged the checkout on-call | <script>alert(1)</script>")
	status, body := harness.PostJSON(t, "http://"+r.p.Webhook+"/v1/notes", harness.Token,
		`{"incident_id":"INC-TL-ROLLBACK","at":"`+rollbackAt.Add(-2*time.Second).Format(time.RFC3339Nano)+`","author":"chatops","text":"rollback to v1 started"}`)
	require.Equalf(t, http.StatusOK, status, "note through the webhook: %s", body)
	r.checkNotesRefused("INC-TL-ROLLBACK")
	r.resolve("INC-TL-ROLLBACK", S.Add(78*time.Second))
	r.waitBundle("INC-TL-ROLLBACK")
	// Written once the bundle is complete, while the postmortem is drafted.
	r.ctl("annotate", "INC-TL-ROLLBACK", "--at", S.Add(79*time.Second).Format(time.RFC3339Nano), "--author", "bob",
		"errors back to baseline")
	tl, md := r.timeline("INC-TL-ROLLBACK")
	var notes []string
	for _, e := range tl.Events {
		if e.Kind == "note" {
			notes = append(notes, e.Summary)
		}
	}
	assert.Equal(t, []string{
		"note by alice: paged the checkout on-call | <script>alert(1)</script>",
		"note by chatops: rollback to v1 started",
		"note by bob: errors back to baseline",
	}, notes, "every note joins the timeline, once, however late")
	assert.Contains(t, md, `| note | INC-TL-ROLLBACK | note | note by alice: paged the checkout on-call \| &lt;script&gt;alert(1)&lt;/script&gt; |`)
	assert.NotContains(t, md, "<script>")

	truth := firstFailure(spans, nil)
	r.checkDetection(tl, truth, opened)
	require.NotNil(t, tl.Summary.ResolveSeconds)
	assert.InDelta(t, S.Add(78*time.Second).Sub(truth).Seconds(), *tl.Summary.ResolveSeconds, 1)
	require.NotEmpty(t, tl.Suspects)
	s := tl.Suspects[0]
	assert.Equal(t, "co-v2", s.Deploy.ID)
	assert.Equal(t, timeline.ConfidenceHigh, s.Confidence)
	assert.Equal(t, d2At, s.Deploy.StartedAt)
	for _, x := range tl.Suspects {
		assert.NotEqual(t, "co-v1-rollback", x.Deploy.ID, "a deploy after the first error is never a suspect")
	}
	require.Len(t, tl.Mitigations, 1)
	m := tl.Mitigations[0]
	assert.Equal(t, "co-v1-rollback", m.Deploy.ID)
	assert.Equal(t, timeline.MitigationRollback, m.Kind)
	assert.Equal(t, "v1", m.ReturnsTo)
	assert.Equal(t, "co-v2", m.Reverts)

	// Per version, exactly what was sent, tagged by incident_context.
	v1 := func(sp sspan) bool { return sp.version == "v1" && sp.start.Before(rollbackAt) }
	v2 := func(sp sspan) bool { return sp.version == "v2" }
	rolledBack := func(sp sspan) bool { return sp.version == "v1" && !sp.start.Before(rollbackAt) }
	r.checkVersion(tl, "checkout", "v1", "co-v1", figuresOf(spans, v1))
	r.checkVersion(tl, "checkout", "v2", "co-v2", figuresOf(spans, v2))
	r.checkVersion(tl, "checkout", "v1", "co-v1-rollback", figuresOf(spans, rolledBack))
	r.checkGroup("own", s.Own, figuresOf(spans, v2))
	r.checkGroup("before", s.Before, figuresOf(spans, v1))
	assert.Contains(t, s.Reasons[1].Text, fmt.Sprintf("v1 (deploy co-v1): %s → v2 (deploy co-v2): %s",
		figuresText(figuresOf(spans, v1)), figuresText(figuresOf(spans, v2))))
	assert.Contains(t, md, "- **Suspect:** deploy co-v2 of checkout version v2 at "+d2At.Format("2006-01-02 15:04:05.000")+" — high confidence")
	assert.Contains(t, md, "a rollback to v1 (replacing co-v2)")
	r.checkNoCollectorService(tl)
}

// scenarioCanary: v1 and v2 serve together; only v2 fails.
func scenarioCanary(t *testing.T, r *tlRig) {
	S := r.S
	d2At := S.Add(60 * time.Second)
	r.deploy("cart-v1", "cart", "v1", S.Add(-10*time.Minute))
	r.deploy("cart-v2-canary", "cart", "v2", d2At)
	var spans []sspan
	i := 0
	for at := S; at.Before(S.Add(80 * time.Second)); at = at.Add(100 * time.Millisecond) {
		i++
		spans = append(spans, r.span("cart", "v1", at, v1Latency(i), i%1000 == 777))
		if !at.Before(d2At.Add(200*time.Millisecond)) && i%5 == 2 {
			spans = append(spans, r.span("cart", "v2", at.Add(3*time.Millisecond), v1Latency(i+3), i%10 == 2))
		}
	}
	r.send(spans)
	opened := d2At.Add(10 * time.Second)
	r.open("INC-TL-CANARY", opened)
	tl, _ := r.timeline("INC-TL-CANARY")

	r.checkDetection(tl, firstFailure(spans, func(sp sspan) bool { return sp.version == "v2" }), opened)
	require.NotEmpty(t, tl.Suspects)
	s := tl.Suspects[0]
	assert.Equal(t, "cart-v2-canary", s.Deploy.ID)
	assert.Equal(t, timeline.ConfidenceHigh, s.Confidence)
	assert.Contains(t, reasonCodes(s), timeline.ReasonVersionSpecific, "only v2 fails: %v", s.Reasons)
	v2 := func(sp sspan) bool { return sp.version == "v2" }
	r.checkGroup("own", s.Own, figuresOf(spans, v2))
	first, last := spans[slices.IndexFunc(spans, v2)].start, spans[len(spans)-1-slices.IndexFunc(reversed(spans), v2)].start
	r.checkGroup("others", s.Others, figuresOf(spans, func(sp sspan) bool {
		return sp.version == "v1" && !sp.start.Before(first) && !sp.start.After(last)
	}))
	r.checkVersion(tl, "cart", "v2", "cart-v2-canary", figuresOf(spans, v2))
	r.checkVersion(tl, "cart", "v1", "cart-v1", figuresOf(spans, func(sp sspan) bool { return sp.version == "v1" }))
	assert.Empty(t, tl.Mitigations)
}

// scenarioDependency: frontend calls payments; payments' deploy makes its
// spans fail, and frontend's calls with them. The suspect is payments'
// deploy, and the chain frontend → payments is shown with a trace.
func scenarioDependency(t *testing.T, r *tlRig) {
	S := r.S
	deployAt, failFrom := S.Add(60300*time.Millisecond), S.Add(61*time.Second)
	r.deploy("fe-v3", "frontend", "v3", S.Add(-20*time.Minute))
	r.deploy("pay-v1", "payments", "v1", S.Add(-10*time.Minute))
	r.deploy("pay-v2", "payments", "v2", deployAt)
	var spans []sspan
	var firstBadTrace pcommon.TraceID
	n := uint64(0)
	for at := S; at.Before(S.Add(80 * time.Second)); at = at.Add(200 * time.Millisecond) {
		n++
		bad := !at.Before(failFrom)
		version := "v1"
		if !at.Before(deployAt) {
			version = "v2"
		}
		trace := traceID(n)
		if bad && firstBadTrace.IsEmpty() {
			firstBadTrace = trace
		}
		root, client, server, db := spanID(4*n), spanID(4*n+1), spanID(4*n+2), spanID(4*n+3)
		spans = append(spans,
			sspan{service: "frontend", version: "v3", start: at, dur: 60 * time.Millisecond, failed: bad, trace: trace, id: root},
			sspan{service: "frontend", version: "v3", start: at.Add(time.Millisecond), dur: 50 * time.Millisecond, failed: bad, trace: trace, id: client, parent: root},
			sspan{service: "payments", version: version, start: at.Add(2 * time.Millisecond), dur: 40 * time.Millisecond, failed: bad, trace: trace, id: server, parent: client},
			sspan{service: "payments", version: version, start: at.Add(3 * time.Millisecond), dur: 20 * time.Millisecond, failed: bad, trace: trace, id: db, parent: server},
		)
	}
	r.send(spans)
	opened := failFrom.Add(8 * time.Second)
	r.open("INC-TL-DEPENDENCY", opened)
	tl, md := r.timeline("INC-TL-DEPENDENCY")

	r.checkDetection(tl, firstFailure(spans, nil), opened)
	assert.Equal(t, "frontend", tl.Summary.FirstError.Service, "the caller's span starts first")
	require.NotEmpty(t, tl.Chains)
	c := tl.Chains[0]
	assert.Equal(t, []string{"frontend", "payments"}, c.Path)
	assert.Equal(t, "payments", c.Origin)
	assert.Equal(t, firstBadTrace.String(), c.ExampleTraceIDs[0])
	assert.Equal(t, failFrom.Add(3*time.Millisecond), c.FirstFailure)
	require.NotEmpty(t, tl.Suspects)
	s := tl.Suspects[0]
	assert.Equal(t, "pay-v2", s.Deploy.ID)
	assert.Equal(t, timeline.ConfidenceHigh, s.Confidence)
	assert.Contains(t, reasonCodes(s), timeline.ReasonChainOrigin)
	assert.Contains(t, md, "- **Errors start in:** payments — frontend → payments in ")
	assert.Contains(t, md, "(e.g. trace "+firstBadTrace.String()+")")
	r.checkVersion(tl, "payments", "v2", "pay-v2", figuresOf(spans, func(sp sspan) bool { return sp.version == "v2" }))
	r.checkVersion(tl, "frontend", "v3", "fe-v3", figuresOf(spans, func(sp sspan) bool { return sp.service == "frontend" }))
}

// scenarioLatencyOnly: telemetrygen sends checkout v1 spans of 40 ms, v2
// is deployed and telemetrygen sends v2 spans of 900 ms, without a single
// error: a latency-only regression whose suspect is the deploy.
func scenarioLatencyOnly(t *testing.T, r *tlRig) {
	gen := func(version string, d time.Duration) {
		harness.Telemetrygen(t, "traces", r.p.OTLPGRPC, "--service", "checkout", "--otlp-attributes",
			`service.version="`+version+`"`, "--span-duration", d.String(), "--rate", "40", "--duration", "6s")
	}
	gen("v1", 40*time.Millisecond)
	r.deploy("co-v2", "checkout", "v2", time.Now())
	gen("v2", 900*time.Millisecond)
	opened := time.Now().UTC().Truncate(time.Millisecond)
	r.open("INC-TL-LATENCY", opened)
	tl, _ := r.timeline("INC-TL-LATENCY")

	spans := r.bundleSpans("INC-TL-LATENCY")
	truth := spans[slices.IndexFunc(spans, func(sp sspan) bool { return sp.version == "v2" })].start
	assert.Nil(t, tl.Summary.FirstError, "no error was sent")
	require.NotNil(t, tl.Summary.FirstLatencyRegression)
	assert.WithinDuration(t, truth, tl.Summary.FirstLatencyRegression.Time, time.Second)
	assert.Equal(t, timeline.SpikeLatency, tl.Summary.ImpactKind)
	require.NotNil(t, tl.Summary.DetectionSeconds)
	assert.InDelta(t, opened.Sub(truth).Seconds(), *tl.Summary.DetectionSeconds, 1)
	require.NotEmpty(t, tl.Suspects)
	s := tl.Suspects[0]
	assert.Equal(t, "co-v2", s.Deploy.ID)
	assert.Equal(t, timeline.ConfidenceHigh, s.Confidence)
	assert.Contains(t, reasonCodes(s), timeline.ReasonVersionFails)
	v2 := func(sp sspan) bool { return sp.version == "v2" }
	want := figuresOf(spans, v2)
	assert.Equal(t, 900.0, want.P95Ms)
	r.checkVersion(tl, "checkout", "v2", "co-v2", want)
	r.checkVersion(tl, "checkout", "v1", "", figuresOf(spans, func(sp sspan) bool { return sp.version == "v1" }))
	r.checkNoCollectorService(tl)
}

// scenarioNoDeploy: telemetrygen sends healthy checkout spans into a
// second minute, then failing ones; the only deploy is 45 minutes old,
// beyond the lookback. There is no suspect, and the draft says so.
func scenarioNoDeploy(t *testing.T, r *tlRig) {
	r.deploy("co-old", "checkout", "v1", time.Now().Add(-45*time.Minute))
	// The errors need a minute before theirs to rise from.
	untilNextMinute := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute))
	harness.Telemetrygen(t, "traces", r.p.OTLPGRPC, "--service", "checkout", "--otlp-attributes", `service.version="v1"`,
		"--rate", "20", "--duration", (untilNextMinute + 2*time.Second).Round(time.Millisecond).String())
	harness.Telemetrygen(t, "traces", r.p.OTLPGRPC, "--service", "checkout", "--otlp-attributes", `service.version="v1"`,
		"--rate", "20", "--duration", "5s", "--status-code", "Error")
	opened := time.Now().UTC().Truncate(time.Millisecond)
	r.open("INC-TL-NODEPLOY", opened)
	tl, md := r.timeline("INC-TL-NODEPLOY")

	spans := r.bundleSpans("INC-TL-NODEPLOY")
	r.checkDetection(tl, firstFailure(spans, nil), opened)
	assert.Empty(t, tl.Suspects)
	assert.Equal(t, "no deploy preceded the first error: none started in the 30m before it", tl.NoSuspect)
	assert.Contains(t, md, "- **Suspect:** no deploy preceded the first error: none started in the 30m before it.")
	r.checkVersion(tl, "checkout", "v1", "co-old", figuresOf(spans, nil))
	r.checkNoCollectorService(tl)
}

// scenarioTwoDeploys: checkout and cart are both deployed before the
// spike, cart last; only checkout's new version fails, and its deploy
// ranks first.
func scenarioTwoDeploys(t *testing.T, r *tlRig) {
	S := r.S
	coAt, caAt, failFrom := S.Add(50*time.Second), S.Add(57*time.Second), S.Add(59*time.Second)
	r.deploy("co-v7", "checkout", "v7", S.Add(-15*time.Minute))
	r.deploy("ca-v3", "cart", "v3", S.Add(-15*time.Minute))
	r.deploy("co-v8", "checkout", "v8", coAt)
	r.deploy("ca-v4", "cart", "v4", caAt)
	var spans []sspan
	i := 0
	for at := S; at.Before(S.Add(80 * time.Second)); at = at.Add(100 * time.Millisecond) {
		i++
		co, ca := "v7", "v3"
		if !at.Before(coAt.Add(100 * time.Millisecond)) {
			co = "v8"
		}
		if !at.Before(caAt.Add(100 * time.Millisecond)) {
			ca = "v4"
		}
		spans = append(spans,
			r.span("checkout", co, at, v1Latency(i), co == "v8" && !at.Before(failFrom) && i%2 == 0),
			r.span("cart", ca, at.Add(5*time.Millisecond), v1Latency(i+5), i%1000 == 500))
	}
	r.send(spans)
	opened := failFrom.Add(7 * time.Second)
	r.open("INC-TL-TWO", opened)
	tl, _ := r.timeline("INC-TL-TWO")

	r.checkDetection(tl, firstFailure(spans, func(sp sspan) bool { return sp.version == "v8" }), opened)
	var ids []string
	for _, s := range tl.Suspects {
		if s.Deploy.StartedAt.After(S) {
			ids = append(ids, s.Deploy.ID+" "+s.Confidence)
		}
	}
	assert.Equal(t, []string{"co-v8 high", "ca-v4 unlikely"}, ids)
	r.checkVersion(tl, "checkout", "v8", "co-v8", figuresOf(spans, func(sp sspan) bool { return sp.version == "v8" }))
	r.checkVersion(tl, "cart", "v4", "ca-v4", figuresOf(spans, func(sp sspan) bool { return sp.version == "v4" }))
}

// tlRig is one collector with a filesystem store and the CLI pointed at
// it.
type tlRig struct {
	t   *testing.T
	bin string
	p   harness.Ports
	env []string
	st  store.Store
	// S is the start of a scripted scenario, whole seconds, tlLead ago.
	S time.Time
}

func startTimelineRig(t *testing.T, bin string, after time.Duration) *tlRig {
	t.Helper()
	p := harness.NewPorts(t)
	cfg := harness.Config(t, p, harness.Options{
		CollectorID: tlCollector,
		Override: map[string]any{"exporters": map[string]any{"evidence": map[string]any{
			"window":         map[string]any{"before": tlBefore.String(), "after": after.String(), "extend_until_resolved": false},
			"flush_interval": "1s",
		}}},
	})
	c := harness.StartCollector(t, "", cfg, p.Health)
	dir := filepath.Join(c.Dir, "var", "evidence")
	st, err := storage.NewFilesystem(dir)
	require.NoError(t, err)
	return &tlRig{
		t: t, bin: bin, p: p, st: st,
		env: []string{"EVIDENCECTL_TOKEN=" + harness.Token, "EVIDENCECTL_RECEIVER=http://" + p.Webhook,
			"EVIDENCECTL_STORE=file://" + dir},
		S: time.Now().UTC().Truncate(time.Second).Add(-tlLead),
	}
}

func (r *tlRig) ctl(args ...string) ctlResult {
	r.t.Helper()
	res := runEvidencectl(r.t, r.bin, r.env, args...)
	require.Equalf(r.t, 0, res.code, "evidencectl %s: %s%s", strings.Join(args, " "), res.stdout, res.stderr)
	return res
}

func (r *tlRig) deploy(id, service, version string, at time.Time) {
	r.t.Helper()
	r.ctl("deploy", "--id", id, "--service", service, "--version", version, "--environment", "production",
		"--status", "succeeded", "--started-at", at.UTC().Format(time.RFC3339Nano))
}

func (r *tlRig) open(id string, at time.Time) {
	r.t.Helper()
	r.ctl("trigger", "--id", id, "--title", "e2e: "+r.t.Name(), "--severity", "critical",
		"--started-at", at.UTC().Format(time.RFC3339Nano))
}

func (r *tlRig) resolve(id string, at time.Time) {
	r.t.Helper()
	r.ctl("resolve", "--id", id, "--at", at.UTC().Format(time.RFC3339Nano))
}

// waitBundle waits until the incident's bundle is complete.
func (r *tlRig) waitBundle(id string) {
	r.t.Helper()
	harness.WaitBundleComplete(r.t, r.st, id, 2*time.Minute)
}

// checkNotesRefused checks that the notes endpoint refuses what it must:
// no token, an unknown incident, an escape sequence, a text too long.
func (r *tlRig) checkNotesRefused(id string) {
	r.t.Helper()
	url := "http://" + r.p.Webhook + "/v1/notes"
	for _, tt := range []struct {
		token, body, reason string
		status              int
	}{
		{"", `{"incident_id":"` + id + `","text":"x"}`, "unauthorized", http.StatusUnauthorized},
		{harness.Token, `{"incident_id":"INC-NOPE","text":"x"}`, "unknown_incident", http.StatusNotFound},
		{harness.Token, `{"incident_id":"` + id + `","text":"\u001b[2Jcleared"}`, "invalid_field", http.StatusBadRequest},
		{harness.Token, `{"incident_id":"` + id + `","text":"` + strings.Repeat("x", 9000) + `"}`, "limit_exceeded", http.StatusBadRequest},
	} {
		status, body := harness.PostJSON(r.t, url, tt.token, tt.body)
		assert.Equalf(r.t, tt.status, status, "%s", body)
		assert.Contains(r.t, body, `"error":"`+tt.reason+`"`)
	}
	res := runEvidencectl(r.t, r.bin, r.env, "annotate", "INC-NOPE", "x")
	assert.Equal(r.t, 3, res.code, "an unknown incident: exit 3 (not found): %s", res.stderr)
}

// timeline waits for the bundle and returns `evidencectl timeline` as JSON
// and as Markdown.
func (r *tlRig) timeline(id string) (*timeline.Timeline, string) {
	r.t.Helper()
	r.waitBundle(id)
	res := r.ctl("timeline", id, "--output", "json")
	var tl timeline.Timeline
	require.NoError(r.t, json.Unmarshal([]byte(res.stdout), &tl), res.stdout)
	md := r.ctl("timeline", id).stdout
	if i, j := strings.Index(md, "## Summary"), strings.Index(md, "## Impact"); i >= 0 && j > i {
		r.t.Logf("the draft's summary:\n%s", md[i:j])
	}
	return &tl, md
}

// bundleSpans returns the spans of the incident's bundle, by start time.
func (r *tlRig) bundleSpans(id string) []sspan {
	r.t.Helper()
	var out []sspan
	harness.ReadBundle(r.t, r.st, id, tlCollector).Spans(r.t, func(res pcommon.Resource, s ptrace.Span) {
		svc, _ := res.Attributes().Get("service.name")
		if svc.Str() == timeline.CollectorService {
			return
		}
		version, _ := res.Attributes().Get("service.version")
		out = append(out, sspan{service: svc.Str(), version: version.Str(), start: s.StartTimestamp().AsTime(),
			dur: s.EndTimestamp().AsTime().Sub(s.StartTimestamp().AsTime()), failed: s.Status().Code() == ptrace.StatusCodeError})
	})
	slices.SortStableFunc(out, func(a, b sspan) int { return a.start.Compare(b.start) })
	require.NotEmpty(r.t, out)
	return out
}

// checkDetection asserts the first error within a second of the truth and
// the detection latency within a second of opened - truth.
func (r *tlRig) checkDetection(tl *timeline.Timeline, truth, opened time.Time) {
	r.t.Helper()
	require.NotNil(r.t, tl.Summary.FirstError, "no first error")
	assert.WithinDuration(r.t, truth, tl.Summary.FirstError.Time, time.Second, "first error")
	require.NotNil(r.t, tl.Summary.DetectionSeconds)
	assert.InDelta(r.t, opened.Sub(truth).Seconds(), *tl.Summary.DetectionSeconds, 1, "detection latency")
}

// checkVersion asserts the figures of one version row.
func (r *tlRig) checkVersion(tl *timeline.Timeline, service, version, deployment string, want timeline.Figures) {
	r.t.Helper()
	i := slices.IndexFunc(tl.Versions, func(v timeline.VersionStats) bool {
		return v.Service == service && v.Version == version && v.DeploymentID == deployment
	})
	require.GreaterOrEqualf(r.t, i, 0, "no version %s %s %s in %+v", service, version, deployment, tl.Versions)
	got := tl.Versions[i].Figures
	got.P50Ms, got.ErrorLogs = 0, 0
	assert.Equal(r.t, want, got, "figures of %s %s (%s)", service, version, deployment)
}

// checkGroup asserts a suspect's group figures.
func (r *tlRig) checkGroup(name string, g *timeline.Group, want timeline.Figures) {
	r.t.Helper()
	require.NotNilf(r.t, g, "no %s group", name)
	got := g.Figures
	got.P50Ms, got.ErrorLogs = 0, 0
	assert.Equal(r.t, want, got, "figures of the %s group", name)
}

// checkNoCollectorService asserts that the collector's own records are no
// service.
func (r *tlRig) checkNoCollectorService(tl *timeline.Timeline) {
	r.t.Helper()
	for _, s := range tl.Services {
		assert.NotEqual(r.t, timeline.CollectorService, s.Name)
	}
	for _, g := range tl.Gaps {
		assert.NotEqual(r.t, timeline.CollectorService, g.Service)
	}
	assert.Positive(r.t, tl.Totals.CollectorRecords, "the collector's event records are in the bundle")
}

// sspan is one scripted span.
type sspan struct {
	service, version string
	start            time.Time
	dur              time.Duration
	failed           bool
	trace            pcommon.TraceID
	id, parent       pcommon.SpanID
}

// span returns a span of its own trace.
func (r *tlRig) span(service, version string, at time.Time, d time.Duration, failed bool) sspan {
	n := uint64(at.UnixNano())<<8 | uint64(len(service))
	return sspan{service: service, version: version, start: at, dur: d, failed: failed, trace: traceID(n), id: spanID(n)}
}

// v1Latency is a healthy latency: 20 to 60 ms.
func v1Latency(i int) time.Duration { return time.Duration(20+i*7%41) * time.Millisecond }

// send exports the spans through the collector's OTLP receiver: one
// resource per service, version and second, so that incident_context tags
// each with the deploy live at its time.
func (r *tlRig) send(spans []sspan) {
	r.t.Helper()
	client := harness.NewOTLPClient(r.t, r.p.OTLPGRPC)
	type key struct {
		service, version string
		second           int64
	}
	td := ptrace.NewTraces()
	res := map[key]ptrace.SpanSlice{}
	flush := func() {
		if td.SpanCount() > 0 {
			client.SendTraces(td)
		}
		td = ptrace.NewTraces()
		clear(res)
	}
	for _, sp := range spans {
		k := key{sp.service, sp.version, sp.start.Unix()}
		ss, ok := res[k]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", sp.service)
			rs.Resource().Attributes().PutStr("service.version", sp.version)
			ss = rs.ScopeSpans().AppendEmpty().Spans()
			res[k] = ss
		}
		s := ss.AppendEmpty()
		s.SetName("op")
		s.SetTraceID(sp.trace)
		s.SetSpanID(sp.id)
		s.SetParentSpanID(sp.parent)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.start.Add(sp.dur)))
		if sp.failed {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		if td.SpanCount() >= 1000 {
			flush()
		}
	}
	flush()
}

// firstFailure returns the start of the first failed span that keep
// selects (nil: any).
func firstFailure(spans []sspan, keep func(sspan) bool) time.Time {
	var first time.Time
	for _, sp := range spans {
		if sp.failed && (keep == nil || keep(sp)) && (first.IsZero() || sp.start.Before(first)) {
			first = sp.start
		}
	}
	return first
}

// figuresOf computes, independently of the timeline package, the figures
// of the spans keep selects (nil: all): error rate over spans and the
// nearest-rank p95 of their latencies.
func figuresOf(spans []sspan, keep func(sspan) bool) timeline.Figures {
	var f timeline.Figures
	var lat []float64
	for _, sp := range spans {
		if keep != nil && !keep(sp) {
			continue
		}
		f.Spans++
		if sp.failed {
			f.ErrorSpans++
		}
		lat = append(lat, float64(sp.dur)/float64(time.Millisecond))
	}
	if f.Spans == 0 {
		return f
	}
	f.ErrorRate = float64(f.ErrorSpans) / float64(f.Spans)
	slices.Sort(lat)
	f.LatencySamples = int64(len(lat))
	f.P95Ms = lat[int(math.Ceil(0.95*float64(len(lat))))-1]
	return f
}

// figuresText is how the timeline prints figures: "0.2% errors, p95 59 ms".
func figuresText(f timeline.Figures) string {
	p := f.ErrorRate * 100
	var rate string
	switch {
	case p == 0:
		rate = "0%"
	case p >= 10:
		rate = fmt.Sprintf("%.0f%%", p)
	case p >= 0.1:
		rate = strings.TrimSuffix(fmt.Sprintf("%.1f", p), ".0") + "%"
	default:
		rate = fmt.Sprintf("%.1g%%", p)
	}
	return fmt.Sprintf("%s errors, p95 %.0f ms", rate, f.P95Ms)
}

func reasonCodes(s timeline.Suspect) []string {
	var out []string
	for _, r := range s.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = 0xe2
	for i := range 8 {
		id[15-i] = byte(n >> (8 * i))
	}
	return id
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	for i := range 8 {
		id[7-i] = byte(n >> (8 * i))
	}
	id[0] |= 0x80
	return id
}
