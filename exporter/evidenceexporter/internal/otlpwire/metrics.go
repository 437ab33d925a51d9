package otlpwire

import (
	"encoding/binary"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// AppendMetrics appends md to dst as an OTLP ExportMetricsServiceRequest,
// the bytes pmetric.ProtoMarshaler writes, and describes its data points
// (of every metric type; the item time is the point's Timestamp).
func AppendMetrics(dst []byte, md pmetric.Metrics, usable Range) ([]byte, Batch) {
	e := encoder{b: dst, usable: usable}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		start := e.open(0xa, large)
		e.tagStringNE(0x1a, rm.SchemaUrl())
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			e.scopeMetrics(sms.At(j))
		}
		e.resource(0xa, rm.Resource())
		e.close(start, large)
	}
	return e.b, e.batch
}

func (e *encoder) scopeMetrics(sm pmetric.ScopeMetrics) {
	start := e.open(0x12, large)
	e.tagStringNE(0x1a, sm.SchemaUrl())
	ms := sm.Metrics()
	for i := range ms.Len() {
		e.metric(ms.At(i))
	}
	e.scope(0xa, sm.Scope())
	e.close(start, large)
}

func (e *encoder) metric(m pmetric.Metric) {
	start := e.open(0x12, medium)
	e.attributes(0x62, m.Metadata())
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		data := e.open(0x2a, large)
		e.numberPoints(m.Gauge().DataPoints())
		e.close(data, large)
	case pmetric.MetricTypeSum:
		s := m.Sum()
		data := e.open(0x3a, large)
		if s.IsMonotonic() {
			e.b = append(e.b, 0x18, 1)
		}
		e.tagVarintNZ(0x10, int32Varint(int32(s.AggregationTemporality())))
		e.numberPoints(s.DataPoints())
		e.close(data, large)
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		data := e.open(0x4a, large)
		e.tagVarintNZ(0x10, int32Varint(int32(h.AggregationTemporality())))
		pts := h.DataPoints()
		for i := range pts.Len() {
			e.histogramPoint(pts.At(i))
		}
		e.close(data, large)
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		data := e.open(0x52, large)
		e.tagVarintNZ(0x10, int32Varint(int32(h.AggregationTemporality())))
		pts := h.DataPoints()
		for i := range pts.Len() {
			e.expHistogramPoint(pts.At(i))
		}
		e.close(data, large)
	case pmetric.MetricTypeSummary:
		data := e.open(0x5a, large)
		pts := m.Summary().DataPoints()
		for i := range pts.Len() {
			e.summaryPoint(pts.At(i))
		}
		e.close(data, large)
	}
	e.tagStringNE(0x1a, m.Unit())
	e.tagStringNE(0x12, m.Description())
	e.tagStringNE(0xa, m.Name())
	e.close(start, medium)
}

// times writes a data point's Timestamp and StartTimestamp, in pdata's
// order, and counts the point.
func (e *encoder) times(ts, start pcommon.Timestamp) {
	e.item(ts)
	e.tagFixed64NZ(0x19, uint64(ts))
	e.tagFixed64NZ(0x11, uint64(start))
}

func (e *encoder) numberPoints(pts pmetric.NumberDataPointSlice) {
	for i := range pts.Len() {
		p := pts.At(i)
		start := e.open(0xa, small)
		e.tagVarintNZ(0x40, uint64(p.Flags()))
		e.exemplars(0x2a, p.Exemplars())
		switch p.ValueType() {
		case pmetric.NumberDataPointValueTypeDouble:
			e.tagFixed64(0x21, math.Float64bits(p.DoubleValue()))
		case pmetric.NumberDataPointValueTypeInt:
			e.tagFixed64(0x31, uint64(p.IntValue()))
		}
		e.times(p.Timestamp(), p.StartTimestamp())
		e.attributes(0x3a, p.Attributes())
		e.close(start, small)
	}
}

func (e *encoder) histogramPoint(p pmetric.HistogramDataPoint) {
	start := e.open(0xa, medium)
	if p.HasMax() {
		e.tagFixed64(0x61, math.Float64bits(p.Max()))
	}
	if p.HasMin() {
		e.tagFixed64(0x59, math.Float64bits(p.Min()))
	}
	e.tagVarintNZ(0x50, uint64(p.Flags()))
	e.exemplars(0x42, p.Exemplars())
	if bounds := p.ExplicitBounds(); bounds.Len() > 0 {
		e.tagVarint(0x3a, uint64(8*bounds.Len()))
		for i := range bounds.Len() {
			e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(bounds.At(i)))
		}
	}
	if counts := p.BucketCounts(); counts.Len() > 0 {
		e.tagVarint(0x32, uint64(8*counts.Len()))
		for i := range counts.Len() {
			e.b = binary.LittleEndian.AppendUint64(e.b, counts.At(i))
		}
	}
	if p.HasSum() {
		e.tagFixed64(0x29, math.Float64bits(p.Sum()))
	}
	e.tagFixed64NZ(0x21, p.Count())
	e.times(p.Timestamp(), p.StartTimestamp())
	e.attributes(0x4a, p.Attributes())
	e.close(start, medium)
}

func (e *encoder) expHistogramPoint(p pmetric.ExponentialHistogramDataPoint) {
	start := e.open(0xa, medium)
	e.tagDoubleNZ(0x71, p.ZeroThreshold())
	if p.HasMax() {
		e.tagFixed64(0x69, math.Float64bits(p.Max()))
	}
	if p.HasMin() {
		e.tagFixed64(0x61, math.Float64bits(p.Min()))
	}
	e.exemplars(0x5a, p.Exemplars())
	e.tagVarintNZ(0x50, uint64(p.Flags()))
	e.buckets(0x4a, p.Negative())
	e.buckets(0x42, p.Positive())
	e.tagFixed64NZ(0x39, p.ZeroCount())
	if s := p.Scale(); s != 0 {
		e.tagVarint(0x30, zigzag32(s))
	}
	if p.HasSum() {
		e.tagFixed64(0x29, math.Float64bits(p.Sum()))
	}
	e.tagFixed64NZ(0x21, p.Count())
	e.times(p.Timestamp(), p.StartTimestamp())
	e.attributes(0xa, p.Attributes())
	e.close(start, medium)
}

// buckets writes an exponential histogram's Buckets message, which pdata
// always writes, empty or not.
func (e *encoder) buckets(tag byte, b pmetric.ExponentialHistogramDataPointBuckets) {
	counts := b.BucketCounts()
	packed := 0
	for i := range counts.Len() {
		packed += sov(counts.At(i))
	}
	l := 0
	if counts.Len() > 0 {
		l += 1 + sov(uint64(packed)) + packed
	}
	off := b.Offset()
	if off != 0 {
		l += 1 + sov(zigzag32(off))
	}
	e.b = append(e.b, tag)
	e.varint(uint64(l))
	if counts.Len() > 0 {
		e.tagVarint(0x12, uint64(packed))
		for i := range counts.Len() {
			e.varint(counts.At(i))
		}
	}
	if off != 0 {
		e.tagVarint(0x8, zigzag32(off))
	}
}

func (e *encoder) summaryPoint(p pmetric.SummaryDataPoint) {
	start := e.open(0xa, medium)
	e.tagVarintNZ(0x40, uint64(p.Flags()))
	qs := p.QuantileValues()
	for i := range qs.Len() {
		q := qs.At(i)
		l := 0
		if q.Value() != 0 {
			l += 9
		}
		if q.Quantile() != 0 {
			l += 9
		}
		e.b = append(e.b, 0x32, byte(l))
		e.tagDoubleNZ(0x11, q.Value())
		e.tagDoubleNZ(0x9, q.Quantile())
	}
	e.tagDoubleNZ(0x29, p.Sum())
	e.tagFixed64NZ(0x21, p.Count())
	e.times(p.Timestamp(), p.StartTimestamp())
	e.attributes(0x3a, p.Attributes())
	e.close(start, medium)
}

func (e *encoder) exemplars(tag byte, xs pmetric.ExemplarSlice) {
	for i := range xs.Len() {
		x := xs.At(i)
		start := e.open(tag, small)
		e.spanID(0x22, x.SpanID())
		e.traceID(0x2a, x.TraceID())
		switch x.ValueType() {
		case pmetric.ExemplarValueTypeDouble:
			e.tagFixed64(0x19, math.Float64bits(x.DoubleValue()))
		case pmetric.ExemplarValueTypeInt:
			e.tagFixed64(0x31, uint64(x.IntValue()))
		}
		e.tagFixed64NZ(0x11, uint64(x.Timestamp()))
		e.attributes(0x3a, x.FilteredAttributes())
		e.close(start, small)
	}
}
