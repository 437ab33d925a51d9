package testgen

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Metric names produced by Metrics, one of each per resource.
const (
	MetricCPUUtilization  = "system.cpu.utilization"       // gauge (double)
	MetricRequestCount    = "http.server.request.count"    // cumulative monotonic sum (int)
	MetricRequestDuration = "http.server.request.duration" // cumulative explicit-bucket histogram
)

var durationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Metrics returns points data points spread round-robin over resources
// resources (fewer if there are fewer points). Every resource has a gauge, a
// cumulative sum and a histogram metric (see the Metric* constants); data
// point i goes to resource i % resources and, within it, to metric
// (i / resources) % 3 in that order. Point i has the time start + i*step (see
// WithTimes); cumulative points start at the earliest item time minus one
// hour.
func Metrics(seed int64, points, resources int, start time.Time, step time.Duration, opts ...Option) pmetric.Metrics {
	o := newOptions(start, step, opts)
	rng := newRand(seed)
	md := pmetric.NewMetrics()
	if points <= 0 {
		return md
	}
	resources = max(1, min(resources, points))
	earliest := o.timeFn(0)
	for i := 1; i < points; i++ {
		if t := o.timeFn(i); t.Before(earliest) {
			earliest = t
		}
	}
	startTS := ts(earliest.Add(-time.Hour))

	type resMetrics struct {
		gauge pmetric.NumberDataPointSlice
		sum   pmetric.NumberDataPointSlice
		hist  pmetric.HistogramDataPointSlice
	}
	res := make([]resMetrics, resources)
	for r := range resources {
		rm := md.ResourceMetrics().AppendEmpty()
		fillResource(rm.Resource().Attributes(), rng, o, r)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/runtime")
		sm.Scope().SetVersion("0.63.0")

		g := sm.Metrics().AppendEmpty()
		g.SetName(MetricCPUUtilization)
		g.SetDescription("Difference in system.cpu.time since the last measurement, divided by the elapsed time and number of CPUs.")
		g.SetUnit("1")
		res[r].gauge = g.SetEmptyGauge().DataPoints()

		s := sm.Metrics().AppendEmpty()
		s.SetName(MetricRequestCount)
		s.SetDescription("Number of HTTP server requests.")
		s.SetUnit("{request}")
		sum := s.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		res[r].sum = sum.DataPoints()

		h := sm.Metrics().AppendEmpty()
		h.SetName(MetricRequestDuration)
		h.SetDescription("Duration of HTTP server requests.")
		h.SetUnit("s")
		hist := h.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		res[r].hist = hist.DataPoints()
	}

	for i := range points {
		rm := res[i%resources]
		t := ts(o.timeFn(i))
		switch (i / resources) % 3 {
		case 0:
			dp := rm.gauge.AppendEmpty()
			dp.SetTimestamp(t)
			dp.SetDoubleValue(rng.Float64())
			dp.Attributes().PutStr("cpu.mode", pick(rng, []string{"user", "system", "idle", "iowait"}))
			dp.Attributes().PutStr("cpu.logical_number", strconv.Itoa(rng.IntN(8)))
		case 1:
			dp := rm.sum.AppendEmpty()
			dp.SetStartTimestamp(startTS)
			dp.SetTimestamp(t)
			dp.SetIntValue(int64(rng.IntN(1_000_000)))
			fillHTTPPointAttrs(dp.Attributes(), rng)
		default:
			dp := rm.hist.AppendEmpty()
			dp.SetStartTimestamp(startTS)
			dp.SetTimestamp(t)
			fillHTTPPointAttrs(dp.Attributes(), rng)
			dp.ExplicitBounds().FromRaw(durationBounds)
			counts := dp.BucketCounts()
			counts.EnsureCapacity(len(durationBounds) + 1)
			var total uint64
			for range len(durationBounds) + 1 {
				c := uint64(rng.IntN(500))
				counts.Append(c)
				total += c
			}
			dp.SetCount(total)
			dp.SetSum(float64(total) * (0.02 + rng.Float64()*0.2))
			dp.SetMin(0.001 + rng.Float64()*0.004)
			dp.SetMax(1 + rng.Float64()*4)
		}
	}
	return md
}

func fillHTTPPointAttrs(a pcommon.Map, rng *rand.Rand) {
	a.PutStr("http.request.method", pick(rng, methods))
	a.PutStr("http.route", pick(rng, routes))
	a.PutInt("http.response.status_code", statusCode(rng, rng.IntN(20) == 0))
}

// PointAttrs returns the attributes of every data point of rm's first
// scope.
func PointAttrs(rm pmetric.ResourceMetrics) []pcommon.Map {
	var out []pcommon.Map
	ms := rm.ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		otlptime.DataPoints(ms.At(i), func(attrs pcommon.Map, _ pcommon.Timestamp) { out = append(out, attrs) })
	}
	return out
}
