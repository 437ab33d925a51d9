package otlpwire

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// wantBatch describes a batch by the otlptime walks, independently of the
// encoders.
func wantBatch(walk func(func(pcommon.Timestamp))) Batch {
	var b Batch
	walk(func(t pcommon.Timestamp) {
		if !AnyTime.Contains(t) {
			b.Items++
			b.Unusable++
			return
		}
		b.add(t)
	})
	return b
}

// TestUnusableTimes: items whose time is zero, at or beyond 2^63 ns (a
// negative time.Time, such as year 1900) or outside the usable range are
// counted as unusable and left out of the batch's range; the bytes are
// written all the same.
func TestUnusableTimes(t *testing.T) {
	base := pcommon.Timestamp(1_773_478_800_000_000_000)
	usable := Range{Lo: base - 1000, Hi: base + 1000}
	times := []pcommon.Timestamp{
		base, 0, 1 << 63, math.MaxUint64,
		pcommon.NewTimestampFromTime(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)),
		pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)),
		base - 1001, base + 1001, base + 1000, base - 1000,
	}
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for _, ts := range times {
		spans.AppendEmpty().SetStartTimestamp(ts)
	}
	want, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	got, batch := AppendTraces(nil, td, usable)
	sameBytes(t, want, got, "unusable times are written as they are")
	assert.Equal(t, Batch{Items: 10, Unusable: 7, MinT: base - 1000, MaxT: base + 1000}, batch)

	_, batch = AppendTraces(nil, td, AnyTime)
	assert.Equal(t, 4, batch.Unusable, "zero, and the times at or beyond 2^63 ns: year 1900 is one of them")
}

func checkTraces(t *testing.T, td ptrace.Traces, prefix []byte) {
	t.Helper()
	want, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	got, batch := AppendTraces(bytes.Clone(prefix), td, AnyTime)
	checkEncoded(t, prefix, want, got, "AppendTraces must write what ptrace.ProtoMarshaler writes",
		func(fn func(pcommon.Timestamp)) { otlptime.TraceTimes(td, fn) }, td.SpanCount(), batch)
	empty := false
	for _, rs := range td.ResourceSpans().All() {
		empty = empty || rs.ScopeSpans().Len() == 0
		for _, ss := range rs.ScopeSpans().All() {
			empty = empty || ss.Spans().Len() == 0
		}
	}
	assert.Equal(t, empty, batch.Empty, "Empty: a group without spans")
}

func checkLogs(t *testing.T, ld plog.Logs, prefix []byte) {
	t.Helper()
	want, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	got, batch := AppendLogs(bytes.Clone(prefix), ld, AnyTime)
	checkEncoded(t, prefix, want, got, "AppendLogs must write what plog.ProtoMarshaler writes",
		func(fn func(pcommon.Timestamp)) { otlptime.LogTimes(ld, fn) }, ld.LogRecordCount(), batch)
	empty := false
	for _, rl := range ld.ResourceLogs().All() {
		empty = empty || rl.ScopeLogs().Len() == 0
		for _, sl := range rl.ScopeLogs().All() {
			empty = empty || sl.LogRecords().Len() == 0
		}
	}
	assert.Equal(t, empty, batch.Empty, "Empty: a group without log records")
}

func checkMetrics(t *testing.T, md pmetric.Metrics, prefix []byte) {
	t.Helper()
	want, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	got, batch := AppendMetrics(bytes.Clone(prefix), md, AnyTime)
	checkEncoded(t, prefix, want, got, "AppendMetrics must write what pmetric.ProtoMarshaler writes",
		func(fn func(pcommon.Timestamp)) { otlptime.MetricTimes(md, fn) }, md.DataPointCount(), batch)
	assert.False(t, batch.Empty, "AppendMetrics leaves Empty unset")
}

// checkEncoded holds what an encoder appended after prefix to want, the
// bytes of pdata's ProtoMarshaler, and the batch it returned to the one
// the otlptime walk over the same data describes, of items items.
func checkEncoded(t *testing.T, prefix, want, got []byte, msg string, walk func(func(pcommon.Timestamp)), items int, batch Batch) {
	t.Helper()
	require.True(t, bytes.HasPrefix(got, prefix), "the prefix must be kept")
	sameBytes(t, want, got[len(prefix):], msg)
	nonEmpty := batch
	nonEmpty.Empty = false // checked by the caller
	assert.Equal(t, wantBatch(walk), nonEmpty)
	assert.Equal(t, items, batch.Items)
}

// sameBytes is require.Equal for byte strings, where nil and empty agree.
func sameBytes(t *testing.T, want, got []byte, msg string) {
	t.Helper()
	if !bytes.Equal(want, got) {
		require.Equal(t, want, got, msg)
	}
}

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func TestTestgenBatches(t *testing.T) {
	for _, n := range []int{0, 1, 10, 1000} {
		checkTraces(t, testgen.Traces(int64(n), n, 10, t0, time.Millisecond), nil)
		checkLogs(t, testgen.Logs(int64(n), n, 10, t0, time.Millisecond), nil)
		checkMetrics(t, testgen.Metrics(int64(n), n, 10, t0, time.Millisecond), nil)
	}
	// Appending after existing bytes, as into a reused buffer.
	checkTraces(t, testgen.Traces(7, 100, 3, t0, time.Second), []byte("earlier batch"))
}

func TestEmptyAndDefaultMessages(t *testing.T) {
	// Every level present but empty: pdata writes empty resources, scopes,
	// IDs, status and values; the encoders must too.
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	td.ResourceSpans().AppendEmpty()
	checkTraces(t, td, nil)

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	checkLogs(t, ld, nil)

	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty() // a metric of no type
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().QuantileValues().AppendEmpty()
	checkMetrics(t, md, nil)
}

func TestLengthsAcrossVarintBoundaries(t *testing.T) {
	// Messages whose lengths fall on both sides of every reservation: a
	// span name or attribute of n bytes moves the enclosing lengths across
	// 127/128, 16383/16384 and 2097151/2097152.
	for _, n := range []int{0, 1, 100, 120, 126, 127, 128, 129, 200, 16_300, 16_383, 16_384, 16_400, 2_097_100, 2_097_152, 2_200_000} {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("r", string(bytes.Repeat([]byte{'r'}, n)))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(string(bytes.Repeat([]byte{'s'}, n)))
		span := ss.Spans().AppendEmpty()
		span.SetName(string(bytes.Repeat([]byte{'n'}, n)))
		span.Attributes().PutEmptyMap("m").PutStr("k", string(bytes.Repeat([]byte{'v'}, n)))
		span.Attributes().PutEmptySlice("a").AppendEmpty().SetStr(string(bytes.Repeat([]byte{'a'}, n)))
		ev := span.Events().AppendEmpty()
		ev.SetName(string(bytes.Repeat([]byte{'e'}, n)))
		checkTraces(t, td, nil)
	}
}

func TestRandomBatches(t *testing.T) {
	for seed := range uint64(300) {
		g := gen{rng: rand.New(rand.NewPCG(seed, 1))}
		checkTraces(t, g.traces(), nil)
		checkLogs(t, g.logs(), nil)
		checkMetrics(t, g.metrics(), nil)
	}
}

// FuzzEncoders builds batches of every signal from the fuzzer's seed and
// checks the encoders against pdata's marshalers.
func FuzzEncoders(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s, s+1)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		g := gen{rng: rand.New(rand.NewPCG(a, b))}
		checkTraces(t, g.traces(), nil)
		checkLogs(t, g.logs(), nil)
		checkMetrics(t, g.metrics(), nil)
	})
}

// gen builds random batches that set every field the public pdata API
// offers, with zero, default, negative and extreme values among the
// choices.
type gen struct{ rng *rand.Rand }

func (g gen) n(upTo int) int { return g.rng.IntN(upTo + 1) }

func (g gen) coin() bool { return g.rng.IntN(2) == 0 }

func (g gen) str() string {
	switch g.rng.IntN(7) {
	case 0:
		return ""
	case 1:
		return string(bytes.Repeat([]byte{'x'}, 100+g.rng.IntN(200)))
	case 2:
		// What JSON escapes, invalid UTF-8 and separators JSON allows raw.
		return []string{"q\"b\\s\n\t\r\x00\x01\x1f\x7f", "\xff\xfe invalid", "\u2028\u2029 <&>", "\xe2\x82"}[g.rng.IntN(4)]
	default:
		return []string{"a", "checkout", "ünïcode ✓", "GET /api/v1/orders/{id}"}[g.rng.IntN(4)]
	}
}

func (g gen) u32() uint32 {
	return []uint32{0, 1, 127, 128, math.MaxUint32}[g.rng.IntN(5)]
}

func (g gen) i32() int32 {
	return []int32{0, 1, -1, 3, math.MaxInt32, math.MinInt32}[g.rng.IntN(6)]
}

func (g gen) u64() uint64 {
	return []uint64{0, 1, 300, uint64(t0.UnixNano()), math.MaxUint64}[g.rng.IntN(5)]
}

func (g gen) f64() float64 {
	return []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64,
		1e21, 9.99e20, 1e-6, 9.9e-7, -1e300, 0.1, 123456789.125}[g.rng.IntN(15)]
}

func (g gen) ts() pcommon.Timestamp { return pcommon.Timestamp(g.u64()) }

func (g gen) traceID() pcommon.TraceID {
	var id pcommon.TraceID
	if g.coin() {
		for i := range id {
			id[i] = byte(g.rng.IntN(256))
		}
	}
	return id
}

func (g gen) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	if g.coin() {
		for i := range id {
			id[i] = byte(g.rng.IntN(256))
		}
	}
	return id
}

func (g gen) value(v pcommon.Value, depth int) {
	kinds := 6
	if depth < 3 {
		kinds = 8
	}
	switch g.rng.IntN(kinds) {
	case 0: // empty
	case 1:
		v.SetStr(g.str())
	case 2:
		v.SetInt([]int64{0, 1, -1, math.MaxInt64, math.MinInt64}[g.rng.IntN(5)])
	case 3:
		v.SetDouble(g.f64())
	case 4:
		v.SetBool(g.coin())
	case 5:
		v.SetEmptyBytes().FromRaw([]byte(g.str()))
	case 6:
		g.attrs(v.SetEmptyMap(), depth+1)
	case 7:
		s := v.SetEmptySlice()
		for range g.n(4) {
			g.value(s.AppendEmpty(), depth+1)
		}
	}
}

func (g gen) attrs(m pcommon.Map, depth int) {
	for i := range g.n(6) {
		k := g.str()
		if k != "" {
			k += string(rune('a' + i))
		}
		g.value(m.PutEmpty(k), depth)
	}
}

func (g gen) resource(r pcommon.Resource) {
	g.attrs(r.Attributes(), 0)
	r.SetDroppedAttributesCount(g.u32())
	refs := entity.ResourceEntityRefs(r)
	for range g.n(2) {
		ref := refs.AppendEmpty()
		ref.SetType(g.str())
		ref.SetSchemaUrl(g.str())
		for range g.n(3) {
			ref.IdKeys().Append(g.str())
		}
		for range g.n(3) {
			ref.DescriptionKeys().Append(g.str())
		}
	}
}

func (g gen) scope(s pcommon.InstrumentationScope) {
	s.SetName(g.str())
	s.SetVersion(g.str())
	g.attrs(s.Attributes(), 0)
	s.SetDroppedAttributesCount(g.u32())
}

func (g gen) traces() ptrace.Traces {
	td := ptrace.NewTraces()
	for range g.n(3) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.SetSchemaUrl(g.str())
		g.resource(rs.Resource())
		for range g.n(3) {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.SetSchemaUrl(g.str())
			g.scope(ss.Scope())
			for range g.n(4) {
				g.span(ss.Spans().AppendEmpty())
			}
		}
	}
	return td
}

func (g gen) span(s ptrace.Span) {
	s.SetTraceID(g.traceID())
	s.SetSpanID(g.spanID())
	s.TraceState().FromRaw(g.str())
	s.SetParentSpanID(g.spanID())
	s.SetFlags(g.u32())
	s.SetName(g.str())
	s.SetKind(ptrace.SpanKind(g.i32()))
	s.SetStartTimestamp(g.ts())
	s.SetEndTimestamp(g.ts())
	g.attrs(s.Attributes(), 0)
	s.SetDroppedAttributesCount(g.u32())
	for range g.n(3) {
		ev := s.Events().AppendEmpty()
		ev.SetTimestamp(g.ts())
		ev.SetName(g.str())
		g.attrs(ev.Attributes(), 0)
		ev.SetDroppedAttributesCount(g.u32())
	}
	s.SetDroppedEventsCount(g.u32())
	for range g.n(3) {
		l := s.Links().AppendEmpty()
		l.SetTraceID(g.traceID())
		l.SetSpanID(g.spanID())
		l.TraceState().FromRaw(g.str())
		g.attrs(l.Attributes(), 0)
		l.SetDroppedAttributesCount(g.u32())
		l.SetFlags(g.u32())
	}
	s.SetDroppedLinksCount(g.u32())
	s.Status().SetCode(ptrace.StatusCode(g.i32()))
	s.Status().SetMessage(g.str())
}

func (g gen) logs() plog.Logs {
	ld := plog.NewLogs()
	for range g.n(3) {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.SetSchemaUrl(g.str())
		g.resource(rl.Resource())
		for range g.n(3) {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.SetSchemaUrl(g.str())
			g.scope(sl.Scope())
			for range g.n(4) {
				lr := sl.LogRecords().AppendEmpty()
				lr.SetTimestamp(g.ts())
				lr.SetObservedTimestamp(g.ts())
				lr.SetSeverityNumber(plog.SeverityNumber(g.i32()))
				lr.SetSeverityText(g.str())
				g.value(lr.Body(), 0)
				g.attrs(lr.Attributes(), 0)
				lr.SetDroppedAttributesCount(g.u32())
				lr.SetFlags(plog.LogRecordFlags(g.u32()))
				lr.SetTraceID(g.traceID())
				lr.SetSpanID(g.spanID())
				lr.SetEventName(g.str())
			}
		}
	}
	return ld
}

func (g gen) metrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	for range g.n(3) {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.SetSchemaUrl(g.str())
		g.resource(rm.Resource())
		for range g.n(3) {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.SetSchemaUrl(g.str())
			g.scope(sm.Scope())
			for range g.n(5) {
				g.metric(sm.Metrics().AppendEmpty())
			}
		}
	}
	return md
}

func (g gen) metric(m pmetric.Metric) {
	m.SetName(g.str())
	m.SetDescription(g.str())
	m.SetUnit(g.str())
	g.attrs(m.Metadata(), 0)
	temporality := pmetric.AggregationTemporality(g.i32())
	switch g.rng.IntN(6) {
	case 0: // no type
	case 1:
		g.numberPoints(m.SetEmptyGauge().DataPoints())
	case 2:
		s := m.SetEmptySum()
		s.SetIsMonotonic(g.coin())
		s.SetAggregationTemporality(temporality)
		g.numberPoints(s.DataPoints())
	case 3:
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(temporality)
		for range g.n(3) {
			p := h.DataPoints().AppendEmpty()
			g.attrs(p.Attributes(), 0)
			p.SetStartTimestamp(g.ts())
			p.SetTimestamp(g.ts())
			p.SetCount(g.u64())
			if g.coin() {
				p.SetSum(g.f64())
			}
			for range g.n(4) {
				p.BucketCounts().Append(g.u64())
			}
			for range g.n(3) {
				p.ExplicitBounds().Append(g.f64())
			}
			g.exemplars(p.Exemplars())
			p.SetFlags(pmetric.DataPointFlags(g.u32()))
			if g.coin() {
				p.SetMin(g.f64())
			}
			if g.coin() {
				p.SetMax(g.f64())
			}
		}
	case 4:
		h := m.SetEmptyExponentialHistogram()
		h.SetAggregationTemporality(temporality)
		for range g.n(3) {
			p := h.DataPoints().AppendEmpty()
			g.attrs(p.Attributes(), 0)
			p.SetStartTimestamp(g.ts())
			p.SetTimestamp(g.ts())
			p.SetCount(g.u64())
			if g.coin() {
				p.SetSum(g.f64())
			}
			p.SetScale(g.i32())
			p.SetZeroCount(g.u64())
			for _, b := range []pmetric.ExponentialHistogramDataPointBuckets{p.Positive(), p.Negative()} {
				b.SetOffset(g.i32())
				for range g.n(4) {
					b.BucketCounts().Append(g.u64())
				}
			}
			p.SetFlags(pmetric.DataPointFlags(g.u32()))
			g.exemplars(p.Exemplars())
			if g.coin() {
				p.SetMin(g.f64())
			}
			if g.coin() {
				p.SetMax(g.f64())
			}
			p.SetZeroThreshold(g.f64())
		}
	case 5:
		pts := m.SetEmptySummary().DataPoints()
		for range g.n(3) {
			p := pts.AppendEmpty()
			g.attrs(p.Attributes(), 0)
			p.SetStartTimestamp(g.ts())
			p.SetTimestamp(g.ts())
			p.SetCount(g.u64())
			p.SetSum(g.f64())
			for range g.n(3) {
				q := p.QuantileValues().AppendEmpty()
				q.SetQuantile(g.f64())
				q.SetValue(g.f64())
			}
			p.SetFlags(pmetric.DataPointFlags(g.u32()))
		}
	}
}

func (g gen) numberPoints(pts pmetric.NumberDataPointSlice) {
	for range g.n(3) {
		p := pts.AppendEmpty()
		g.attrs(p.Attributes(), 0)
		p.SetStartTimestamp(g.ts())
		p.SetTimestamp(g.ts())
		switch g.rng.IntN(3) {
		case 1:
			p.SetDoubleValue(g.f64())
		case 2:
			p.SetIntValue([]int64{0, -1, math.MaxInt64}[g.rng.IntN(3)])
		}
		g.exemplars(p.Exemplars())
		p.SetFlags(pmetric.DataPointFlags(g.u32()))
	}
}

func (g gen) exemplars(xs pmetric.ExemplarSlice) {
	for range g.n(2) {
		x := xs.AppendEmpty()
		g.attrs(x.FilteredAttributes(), 0)
		x.SetTimestamp(g.ts())
		switch g.rng.IntN(3) {
		case 1:
			x.SetDoubleValue(g.f64())
		case 2:
			x.SetIntValue(-7)
		}
		x.SetTraceID(g.traceID())
		x.SetSpanID(g.spanID())
	}
}
