package testgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDeterministic(t *testing.T) {
	gens := []struct {
		name string
		gen  func(seed int64) any
	}{
		{"traces", func(seed int64) any { return Traces(seed, 300, 4, DefaultStart, time.Second) }},
		{"logs", func(seed int64) any { return Logs(seed, 300, 4, DefaultStart, time.Second) }},
		{"metrics", func(seed int64) any { return Metrics(seed, 300, 4, DefaultStart, time.Second) }},
	}
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			a, b, c := ProtoBytes(t, g.gen(7)), ProtoBytes(t, g.gen(7)), ProtoBytes(t, g.gen(8))
			assert.Equal(t, a, b, "same seed must give the same batch")
			assert.NotEqual(t, a, c, "different seeds must give different batches")
		})
	}
}

func TestTracesShape(t *testing.T) {
	tests := []struct {
		name             string
		spans, resources int
		wantResources    int
	}{
		{"default", DefaultItems, DefaultResources, DefaultResources},
		{"more resources than spans", 3, 10, 3},
		{"zero resources means one", 5, 0, 1},
		{"empty", 0, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := Traces(1, tt.spans, tt.resources, DefaultStart, time.Millisecond)
			assert.Equal(t, tt.spans, td.SpanCount())
			assert.Equal(t, tt.wantResources, td.ResourceSpans().Len())
		})
	}
}

func TestTracesTimesAndContent(t *testing.T) {
	const n, res = 1000, 10
	step := 3 * time.Millisecond
	td := Traces(42, n, res, DefaultStart, step)

	services := map[string]bool{}
	traces := map[pcommon.TraceID]bool{}
	spanIDs := map[pcommon.SpanID]bool{}
	var errors, db, server int
	for r := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(r)
		name, ok := rs.Resource().Attributes().Get("service.name")
		require.True(t, ok, "resource %d has no service.name", r)
		services[name.Str()] = true
		for _, key := range []string{"service.version", "host.name"} {
			_, ok := rs.Resource().Attributes().Get(key)
			assert.True(t, ok, "resource %d has no %s", r, key)
		}
		spans := rs.ScopeSpans().At(0).Spans()
		for j := range spans.Len() {
			s := spans.At(j)
			i := j*res + r // round-robin placement
			require.Equal(t, ItemTime(DefaultStart, step, i).UnixNano(), s.StartTimestamp().AsTime().UnixNano(), "span %d start", i)
			require.Greater(t, s.EndTimestamp(), s.StartTimestamp(), "span %d end", i)
			assert.False(t, s.TraceID().IsEmpty())
			assert.False(t, spanIDs[s.SpanID()], "duplicate span id")
			spanIDs[s.SpanID()] = true
			traces[s.TraceID()] = true
			if s.Status().Code() == ptrace.StatusCodeError {
				errors++
			}
			if _, ok := s.Attributes().Get("db.statement"); ok {
				db++
			}
			if s.Kind() == ptrace.SpanKindServer {
				server++
				for _, key := range []string{"http.method", "http.route", "http.status_code", "user.id"} {
					_, ok := s.Attributes().Get(key)
					assert.True(t, ok, "server span %d has no %s", i, key)
				}
			}
		}
	}
	assert.Len(t, services, len(DefaultServices))
	assert.Len(t, spanIDs, n)
	assert.Greater(t, len(traces), n/10, "spans should be spread over many traces")
	assert.Less(t, len(traces), n/2, "traces should have several spans")
	assert.InDelta(t, 50, errors, 30, "about 5% errors")
	assert.Positive(t, db)
	assert.Positive(t, server)
}

func TestTracesSizePerSpan(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		b := ProtoBytes(t, Traces(seed, DefaultItems, DefaultResources, DefaultStart, time.Millisecond))
		perSpan := float64(len(b)) / DefaultItems
		assert.InDelta(t, 334, perSpan, 15, "seed %d: bytes per span", seed)
	}
}

func TestOptions(t *testing.T) {
	times := []time.Time{
		DefaultStart.Add(10 * time.Minute),
		DefaultStart,
		DefaultStart.Add(-time.Hour),
	}
	t.Run("WithTimes traces", func(t *testing.T) {
		td := Traces(1, 3, 1, time.Time{}, 0, WithTimes(times...))
		spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for i := range 3 {
			assert.True(t, times[i].Equal(spans.At(i).StartTimestamp().AsTime()), "span %d", i)
		}
	})
	t.Run("WithTimes cycles", func(t *testing.T) {
		ld := Logs(1, 5, 1, time.Time{}, 0, WithTimes(times[:2]...), WithObservedOnlyRate(0))
		recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		assert.True(t, times[0].Equal(recs.At(2).Timestamp().AsTime()))
		assert.True(t, times[1].Equal(recs.At(3).Timestamp().AsTime()))
	})
	t.Run("WithTimeFunc metrics", func(t *testing.T) {
		f := func(i int) time.Time { return DefaultStart.Add(time.Duration(i*i) * time.Second) }
		md := Metrics(1, 9, 1, time.Time{}, 0, WithTimeFunc(f))
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		// With one resource, point i goes to metric i%3 at position i/3.
		assert.True(t, f(3).Equal(ms.At(0).Gauge().DataPoints().At(1).Timestamp().AsTime()))
		assert.True(t, f(7).Equal(ms.At(1).Sum().DataPoints().At(2).Timestamp().AsTime()))
		assert.True(t, f(5).Equal(ms.At(2).Histogram().DataPoints().At(1).Timestamp().AsTime()))
	})
	t.Run("WithServices and attributes", func(t *testing.T) {
		td := Traces(1, 10, 3, DefaultStart, time.Second,
			WithServices("a", "b"), WithResourceAttributes(map[string]string{"service.version": "9.9.9", "deployment.environment.name": "prod"}))
		want := []string{"a", "b", "a"}
		for r := range 3 {
			attrs := td.ResourceSpans().At(r).Resource().Attributes()
			v, _ := attrs.Get("service.name")
			assert.Equal(t, want[r], v.Str())
			v, _ = attrs.Get("service.version")
			assert.Equal(t, "9.9.9", v.Str())
			v, _ = attrs.Get("deployment.environment.name")
			assert.Equal(t, "prod", v.Str())
		}
	})
	t.Run("WithErrorRate", func(t *testing.T) {
		for _, tt := range []struct {
			rate float64
			want int
		}{{0, 0}, {1, 100}, {-3, 0}, {7, 100}} {
			td := Traces(1, 100, 2, DefaultStart, time.Second, WithErrorRate(tt.rate))
			got := 0
			for r := range td.ResourceSpans().Len() {
				spans := td.ResourceSpans().At(r).ScopeSpans().At(0).Spans()
				for i := range spans.Len() {
					if spans.At(i).Status().Code() == ptrace.StatusCodeError {
						got++
					}
				}
			}
			assert.Equal(t, tt.want, got, "rate %v", tt.rate)
		}
	})
}

func TestLogs(t *testing.T) {
	const n, res = 1000, 10
	step := time.Second
	ld := Logs(3, n, res, DefaultStart, step)
	require.Equal(t, n, ld.LogRecordCount())
	require.Equal(t, res, ld.ResourceLogs().Len())
	var observedOnly int
	severities := map[plog.SeverityNumber]int{}
	for r := range res {
		recs := ld.ResourceLogs().At(r).ScopeLogs().At(0).LogRecords()
		for j := range recs.Len() {
			lr := recs.At(j)
			want := ItemTime(DefaultStart, step, j*res+r)
			require.NotZero(t, lr.ObservedTimestamp())
			if lr.Timestamp() == 0 {
				observedOnly++
				require.True(t, want.Equal(lr.ObservedTimestamp().AsTime()), "record %d observed time", j*res+r)
			} else {
				require.True(t, want.Equal(lr.Timestamp().AsTime()), "record %d time", j*res+r)
				require.GreaterOrEqual(t, lr.ObservedTimestamp(), lr.Timestamp())
			}
			require.NotEmpty(t, lr.Body().Str())
			severities[lr.SeverityNumber()]++
		}
	}
	assert.InDelta(t, 100, observedOnly, 40, "about 10% observed-only")
	assert.Len(t, severities, 4)
	assert.Greater(t, severities[plog.SeverityNumberInfo], n/2)

	all := Logs(3, 50, 1, DefaultStart, step, WithObservedOnlyRate(1))
	recs := all.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := range recs.Len() {
		assert.Zero(t, recs.At(i).Timestamp())
	}
}

func TestMetrics(t *testing.T) {
	const n, res = 999, 10
	md := Metrics(5, n, res, DefaultStart, time.Second)
	require.Equal(t, n, md.DataPointCount())
	require.Equal(t, res, md.ResourceMetrics().Len())
	kinds := map[pmetric.MetricType]int{}
	for r := range res {
		ms := md.ResourceMetrics().At(r).ScopeMetrics().At(0).Metrics()
		require.Equal(t, 3, ms.Len())
		for m := range ms.Len() {
			metric := ms.At(m)
			switch metric.Type() {
			case pmetric.MetricTypeGauge:
				kinds[metric.Type()] += metric.Gauge().DataPoints().Len()
			case pmetric.MetricTypeSum:
				dps := metric.Sum().DataPoints()
				kinds[metric.Type()] += dps.Len()
				for i := range dps.Len() {
					assert.Less(t, dps.At(i).StartTimestamp(), dps.At(i).Timestamp())
				}
			case pmetric.MetricTypeHistogram:
				dps := metric.Histogram().DataPoints()
				kinds[metric.Type()] += dps.Len()
				for i := range dps.Len() {
					dp := dps.At(i)
					assert.Equal(t, dp.ExplicitBounds().Len()+1, dp.BucketCounts().Len())
					var sum uint64
					for _, c := range dp.BucketCounts().AsRaw() {
						sum += c
					}
					assert.Equal(t, sum, dp.Count())
				}
			default:
				t.Fatalf("unexpected metric type %v", metric.Type())
			}
		}
	}
	assert.Equal(t, map[pmetric.MetricType]int{pmetric.MetricTypeGauge: 339, pmetric.MetricTypeSum: 330, pmetric.MetricTypeHistogram: 330}, kinds)
}
