package sloconnector

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func spanWith(fn func(ptrace.Span)) (ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	sp := ss.Spans().AppendEmpty()
	fn(sp)
	return rs, ss, sp
}

func TestClassifySpans(t *testing.T) {
	t0 := pcommon.NewTimestampFromTime(time.Unix(1700000000, 0))
	ms := func(d int) pcommon.Timestamp { return t0 + pcommon.Timestamp(d)*pcommon.Timestamp(time.Millisecond) }
	tests := []struct {
		name string
		sli  SLIConfig
		span func(ptrace.Span)
		want verdict
	}{
		{"error status", SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}}, func(s ptrace.Span) { s.Status().SetCode(ptrace.StatusCodeError) }, verdictBad},
		{"ok status", SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}}, func(s ptrace.Span) { s.Status().SetCode(ptrace.StatusCodeOk) }, verdictGood},
		{"http 503", SLIConfig{Bad: []string{`attributes["http.response.status_code"] >= 500`}}, func(s ptrace.Span) { s.Attributes().PutInt("http.response.status_code", 503) }, verdictBad},
		{"http 404", SLIConfig{Bad: []string{`attributes["http.response.status_code"] >= 500`}}, func(s ptrace.Span) { s.Attributes().PutInt("http.response.status_code", 404) }, verdictGood},
		{"http missing", SLIConfig{Bad: []string{`attributes["http.response.status_code"] >= 500`}}, func(ptrace.Span) {}, verdictGood},
		{"any of two", SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR", `attributes["http.response.status_code"] >= 500`}}, func(s ptrace.Span) { s.Attributes().PutInt("http.response.status_code", 500) }, verdictBad},
		{"latency slow", SLIConfig{LatencyThreshold: 300 * time.Millisecond}, func(s ptrace.Span) { s.SetStartTimestamp(t0); s.SetEndTimestamp(ms(301)) }, verdictBad},
		{"latency at threshold", SLIConfig{LatencyThreshold: 300 * time.Millisecond}, func(s ptrace.Span) { s.SetStartTimestamp(t0); s.SetEndTimestamp(ms(300)) }, verdictGood},
		{"latency in OTTL", SLIConfig{Bad: []string{`end_time - start_time > Duration("300ms")`}}, func(s ptrace.Span) { s.SetStartTimestamp(t0); s.SetEndTimestamp(ms(301)) }, verdictBad},
		{"latency in OTTL fast", SLIConfig{Bad: []string{`end_time - start_time > Duration("300ms")`}}, func(s ptrace.Span) { s.SetStartTimestamp(t0); s.SetEndTimestamp(ms(299)) }, verdictGood},
		{"good conditions: not an event", SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}, Good: []string{"kind == SPAN_KIND_SERVER"}}, func(s ptrace.Span) { s.SetKind(ptrace.SpanKindClient) }, verdictNone},
		{"good conditions: good", SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}, Good: []string{"kind == SPAN_KIND_SERVER"}}, func(s ptrace.Span) { s.SetKind(ptrace.SpanKindServer) }, verdictGood},
		{"resource path", SLIConfig{Bad: []string{`resource.attributes["service.name"] == "checkout"`}}, func(ptrace.Span) {}, verdictBad},
		{"runtime error", SLIConfig{Bad: []string{`Int(attributes["x"]) > 1`}}, func(s ptrace.Span) { s.Attributes().PutEmptyMap("x") }, verdictFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SLOConfig{Name: "x", Signal: SignalTraces, SLI: tt.sli}
			c, err := newClassifier(s, nopTelemetry())
			require.NoError(t, err)
			rs, ss, sp := spanWith(tt.span)
			assert.Equal(t, tt.want, c.classifySpan(context.Background(), rs, ss, sp))
		})
	}
}

func TestClassifyLogs(t *testing.T) {
	s := &SLOConfig{Name: "x", Signal: SignalLogs, SLI: SLIConfig{Bad: []string{"severity_number >= SEVERITY_NUMBER_ERROR"}}}
	c, err := newClassifier(s, nopTelemetry())
	require.NoError(t, err)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	lr := sl.LogRecords().AppendEmpty()
	lr.SetSeverityNumber(plog.SeverityNumberError)
	assert.Equal(t, verdictBad, c.classifyLog(context.Background(), rl, sl, lr))
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	assert.Equal(t, verdictGood, c.classifyLog(context.Background(), rl, sl, lr))
}

// TestNativeMatchesOTTL checks that every condition with a native form
// gives pkg/ottl's result, on random spans whose attribute has every
// value type (or is absent).
func TestNativeMatchesOTTL(t *testing.T) {
	conds := []string{
		"status.code == STATUS_CODE_ERROR",
		"status.code != STATUS_CODE_ERROR",
		"span.status.code == STATUS_CODE_OK",
		" status.code==STATUS_CODE_UNSET ",
	}
	for _, op := range []string{"==", "!=", ">=", "<=", ">", "<"} {
		for _, lit := range []string{"500", "0", "-3"} {
			conds = append(conds, `attributes["code"] `+op+" "+lit)
		}
	}
	conds = append(conds, `span.attributes["code"]>=500`,
		`attributes["code"] == "500"`, `attributes["code"] != "abc"`, `attributes["code"] == ""`,
		`attributes["method"] == "POST" and status.code == STATUS_CODE_ERROR`,
		`attributes["method"] == "a or b" or attributes["code"] >= 500`,
		`status.code == STATUS_CODE_ERROR or attributes["code"] >= 500 and attributes["method"] != "GET"`,
		`attributes["code"] < 0 and attributes["method"] == "and" or status.code == STATUS_CODE_OK and attributes["code"] == "abc"`,
	)
	p, err := ottlspan.NewParser(nil, nopTelemetry())
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, cond := range conds {
		n, ok := compileNative(cond)
		require.True(t, ok, cond)
		oc, err := p.ParseCondition(cond)
		require.NoError(t, err, cond)
		for range 400 {
			rs, ss, sp := spanWith(func(s ptrace.Span) {
				s.Status().SetCode(ptrace.StatusCode(rng.IntN(3)))
				switch rng.IntN(9) {
				case 0: // absent
				case 1:
					s.Attributes().PutInt("code", int64(rng.IntN(1000)-10))
				case 2:
					s.Attributes().PutInt("code", []int64{500, 0, -3}[rng.IntN(3)])
				case 3:
					s.Attributes().PutDouble("code", []float64{500, 499.5, 0, -3, 600.1}[rng.IntN(5)])
				case 4:
					s.Attributes().PutStr("code", []string{"500", "abc", ""}[rng.IntN(3)])
				case 5:
					s.Attributes().PutBool("code", rng.IntN(2) == 0)
				case 6:
					s.Attributes().PutEmptyMap("code").PutInt("a", 1)
				case 7:
					s.Attributes().PutEmptySlice("code").AppendEmpty().SetInt(500)
				case 8:
					s.Attributes().PutEmptyBytes("code").FromRaw([]byte{1})
				}
				if m := rng.IntN(6); m < 5 {
					s.Attributes().PutStr("method", []string{"POST", "GET", "a or b", "and"}[m%4])
				} else {
					s.Attributes().PutInt("method", 1)
				}
			})
			tCtx := ottlspan.NewTransformContext(rs, ss, sp)
			want, err := oc.Eval(context.Background(), tCtx)
			tCtx.Close()
			require.NoError(t, err)
			if got := n.evalSpan(sp); got != want {
				v, ok := sp.Attributes().Get("code")
				var raw any
				if ok {
					raw = v.AsRaw()
				}
				t.Fatalf("%s on code=%v (present %v), status %v: native %v, OTTL %v", cond, raw, ok, sp.Status().Code(), got, want)
			}
		}
	}
	for _, cond := range []string{
		`attributes["code"] >= 5.5`, `attributes["code"] > "x"`, `status.code == 2`,
		`attributes["a\"b"] > 1`, `resource.attributes["code"] > 1`, `attributes["code"] == "a\"b"`,
		`(attributes["code"] >= 500 and status.code == STATUS_CODE_ERROR)`,
		`not attributes["code"] >= 500`, `attributes["code"] >= 500 and not status.code == STATUS_CODE_ERROR`,
		`attributes["code"] >= 500 and IsMatch(name, "x")`, `attributes["code"] >= 500 or`,
	} {
		_, ok := compileNative(cond)
		assert.False(t, ok, cond)
	}
}
