package testgen

import (
	"math/rand/v2"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Traces returns spans spans spread round-robin over resources resources
// (fewer if there are fewer spans). Span i starts at start + i*step (see
// WithTimes). Consecutive spans form traces of 1 to 8 spans: a SERVER root
// with HTTP attributes and CLIENT (HTTP or database) and INTERNAL children.
// A fraction of spans (WithErrorRate, default 5%) has an error status and an
// exception event. The default batch (1,000 spans, 10 resources) is about
// 334 bytes per span as OTLP protobuf.
func Traces(seed int64, spans, resources int, start time.Time, step time.Duration, opts ...Option) ptrace.Traces {
	o := newOptions(start, step, opts)
	rng := newRand(seed)
	td := ptrace.NewTraces()
	if spans <= 0 {
		return td
	}
	resources = max(1, min(resources, spans))
	scopes := make([]ptrace.SpanSlice, resources)
	for r := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		fillResource(rs.Resource().Attributes(), rng, o, r)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		ss.Scope().SetVersion("0.63.0")
		ss.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
		ss.Spans().EnsureCapacity(spans/resources + 1)
		scopes[r] = ss.Spans()
	}

	var (
		tid       pcommon.TraceID
		rootID    pcommon.SpanID
		remaining int
		user      string
	)
	for i := range spans {
		span := scopes[i%resources].AppendEmpty()
		startT := o.timeFn(i)
		span.SetStartTimestamp(ts(startT))
		span.SetSpanID(spanID(rng))
		failed := rng.Float64() < o.errorRate

		if remaining == 0 {
			remaining = 1 + rng.IntN(8)
			tid = traceID(rng)
			rootID = span.SpanID()
			user = userID(rng)
			fillServerSpan(span, rng, user, failed)
			span.SetEndTimestamp(ts(startT.Add(time.Duration(5+rng.IntN(300)) * time.Millisecond)))
		} else {
			span.SetParentSpanID(rootID)
			fillChildSpan(span, rng, failed)
			span.SetEndTimestamp(ts(startT.Add(time.Duration(200+rng.IntN(50000)) * time.Microsecond)))
		}
		remaining--
		span.SetTraceID(tid)
		span.SetFlags(1)
		if failed {
			msg := pick(rng, errMessages)
			span.Status().SetCode(ptrace.StatusCodeError)
			span.Status().SetMessage(msg)
			ev := span.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(span.EndTimestamp())
			ev.Attributes().PutStr("exception.type", "*errors.errorString")
			ev.Attributes().PutStr("exception.message", msg)
		} else if rng.IntN(4) == 0 {
			span.Status().SetCode(ptrace.StatusCodeOk)
		}
	}
	return td
}

func fillServerSpan(span ptrace.Span, rng *rand.Rand, user string, failed bool) {
	method, route := pick(rng, methods), pick(rng, routes)
	span.SetName(method + " " + route)
	span.SetKind(ptrace.SpanKindServer)
	a := span.Attributes()
	a.PutStr("http.method", method)
	a.PutStr("http.route", route)
	a.PutStr("http.scheme", "https")
	a.PutInt("http.status_code", statusCode(rng, failed))
	a.PutStr("http.user_agent", pick(rng, userAgent))
	a.PutStr("net.peer.ip", "10.0."+strconv.Itoa(rng.IntN(16))+"."+strconv.Itoa(rng.IntN(250)+2))
	a.PutStr("user.id", user)
	a.PutInt("http.response_content_length", int64(200+rng.IntN(20000)))
	a.PutStr("http.target", route+"?session="+randHex(rng, 12))
	a.PutStr("net.host.name", "shop.example.com")
}

func fillChildSpan(span ptrace.Span, rng *rand.Rand, failed bool) {
	a := span.Attributes()
	switch n := rng.IntN(10); {
	case n < 3:
		stmt := pick(rng, statements)
		span.SetName("postgresql " + firstWord(stmt))
		span.SetKind(ptrace.SpanKindClient)
		a.PutStr("db.system", "postgresql")
		a.PutStr("db.name", "shop")
		a.PutStr("db.statement", stmt)
		a.PutStr("server.address", "orders-db.internal")
		a.PutInt("server.port", 5432)
		a.PutStr("db.user", "shop_app")
		a.PutStr("db.operation", firstWord(stmt))
	case n < 7:
		method, route := pick(rng, methods), pick(rng, routes)
		span.SetName(method)
		span.SetKind(ptrace.SpanKindClient)
		a.PutStr("http.method", method)
		a.PutStr("http.url", "http://"+pick(rng, DefaultServices)+":8080"+route)
		a.PutInt("http.status_code", statusCode(rng, failed))
		a.PutStr("net.peer.name", pick(rng, DefaultServices))
		a.PutInt("http.request_content_length", int64(rng.IntN(4000)))
		a.PutStr("thread.name", "worker-"+strconv.Itoa(rng.IntN(16)))
	default:
		span.SetName(pick(rng, internalNames))
		span.SetKind(ptrace.SpanKindInternal)
		a.PutBool("cache.hit", rng.IntN(2) == 0)
		a.PutInt("items.count", int64(rng.IntN(40)))
		a.PutStr("code.function", "github.com/example/shop/internal/"+span.Name())
		a.PutStr("code.filepath", "/src/internal/shop/handlers.go")
		a.PutInt("code.lineno", int64(20+rng.IntN(400)))
	}
}

func statusCode(rng *rand.Rand, failed bool) int64 {
	if failed {
		return pick(rng, []int64{500, 502, 503, 504})
	}
	return pick(rng, []int64{200, 200, 200, 200, 201, 204, 304, 404})
}

func firstWord(s string) string {
	for i := range len(s) {
		if s[i] == ' ' {
			return s[:i]
		}
	}
	return s
}
