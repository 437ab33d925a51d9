package timeline

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// The keys of each OTLP JSON object that pdata knows and the scan may skip
// (checked for syntax only): the analysis does not read them. Every other
// key it does not read itself, including pdata's snake_case spellings and
// the deprecated fields, is errRescan.
var (
	skipResource    = keys("droppedAttributesCount", "entityRefs")
	skipResourceOf  = keys("schemaUrl")
	skipScopeOf     = keys("scope", "schemaUrl")
	skipSpan        = keys("traceState", "flags", "name", "kind", "droppedAttributesCount", "events", "droppedEventsCount", "links", "droppedLinksCount")
	skipStatus      = keys("message")
	skipLogRecord   = keys("body", "droppedAttributesCount", "flags", "traceId", "spanId", "eventName")
	skipMetric      = keys("name", "description", "unit", "metadata")
	skipMetricData  = keys("aggregationTemporality", "isMonotonic")
	skipDataPoint   = keys("attributes", "startTimeUnixNano", "asDouble", "asInt", "exemplars", "flags", "count", "sum", "bucketCounts", "explicitBounds", "min", "max", "scale", "zeroCount", "positive", "negative", "zeroThreshold", "quantileValues")
	metricDataTypes = keys("gauge", "sum", "histogram", "exponentialHistogram", "summary")
)

func keys(ks ...string) map[string]bool {
	m := make(map[string]bool, len(ks))
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// orSkip skips the value of a key in skip, and is errRescan for any other.
func (s *scanner) orSkip(skip map[string]bool, key []byte) error {
	if skip[string(key)] {
		return s.skip()
	}
	return errRescan
}

// scanResource is one resource of a scanned line: its tags and its items
// in the batch, [first, end).
type scanResource struct {
	tags       tags
	first, end int
}

// scanBatch holds one scanned line until it is applied: nothing reaches
// the aggregator unless the whole line scanned.
type scanBatch struct {
	s         scanner
	resources []scanResource
	spans     []spanItem
	logs      []logItem
	points    []uint64
}

func (b *scanBatch) reset(line []byte) {
	b.s = scanner{b: line}
	b.resources, b.spans, b.logs, b.points = b.resources[:0], b.spans[:0], b.logs[:0], b.points[:0]
}

// request reads the one key of an export request and checks that nothing
// follows the object.
func (b *scanBatch) request(key string, resource func() error) error {
	s := &b.s
	err := s.object(func(k []byte) error {
		if string(k) != key {
			return errRescan
		}
		return s.array(resource)
	})
	if err != nil {
		return err
	}
	if s.peek() != 0 {
		return errRescan // trailing data: pdata decides
	}
	return nil
}

// resourceOf reads a ResourceSpans, ResourceLogs or ResourceMetrics whose
// scope list key is scopesKey, with scope reading one scope's object.
func (b *scanBatch) resourceOf(scopesKey string, itemsKey string, item func() error) error {
	s := &b.s
	r := scanResource{first: b.count()}
	err := s.object(func(k []byte) error {
		switch string(k) {
		case "resource":
			return s.object(func(k []byte) error {
				if string(k) == "attributes" {
					return s.attributes(&r.tags)
				}
				return s.orSkip(skipResource, k)
			})
		case scopesKey:
			return s.array(func() error {
				return s.object(func(k []byte) error {
					if string(k) == itemsKey {
						return s.array(item)
					}
					return s.orSkip(skipScopeOf, k)
				})
			})
		}
		return s.orSkip(skipResourceOf, k)
	})
	r.end = b.count()
	b.resources = append(b.resources, r)
	return err
}

// count is the number of items scanned so far.
func (b *scanBatch) count() int { return len(b.spans) + len(b.logs) + len(b.points) }

func (b *scanBatch) span() error {
	s := &b.s
	var it spanItem
	err := s.object(func(k []byte) error {
		switch string(k) {
		case "traceId":
			return s.id(it.trace[:])
		case "spanId":
			return s.id(it.id[:])
		case "parentSpanId":
			return s.id(it.parent[:])
		case "startTimeUnixNano":
			v, err := s.uint()
			it.start = v
			return err
		case "endTimeUnixNano":
			v, err := s.uint()
			it.end = v
			return err
		case "attributes":
			return s.attributes(&it.own)
		case "status":
			return s.object(func(k []byte) error {
				if string(k) != "code" {
					return s.orSkip(skipStatus, k)
				}
				code, err := s.uint()
				it.failed = code == uint64(ptrace.StatusCodeError)
				return err
			})
		}
		return s.orSkip(skipSpan, k)
	})
	b.spans = append(b.spans, it)
	return err
}

func (b *scanBatch) logRecord() error {
	s := &b.s
	var it logItem
	var ts, observed uint64
	err := s.object(func(k []byte) error {
		switch string(k) {
		case "timeUnixNano":
			v, err := s.uint()
			ts = v
			return err
		case "observedTimeUnixNano":
			v, err := s.uint()
			observed = v
			return err
		case "severityNumber":
			v, err := s.uint()
			if err == nil && v > 1<<31-1 {
				return errRescan
			}
			it.sev = plog.SeverityNumber(v)
			return err
		case "severityText":
			v, err := s.plain()
			it.text = v
			return err
		case "attributes":
			return s.attributes(&it.own)
		}
		return s.orSkip(skipLogRecord, k)
	})
	it.ts = ts
	if ts == 0 {
		it.ts = observed
	}
	b.logs = append(b.logs, it)
	return err
}

func (b *scanBatch) metric() error {
	s := &b.s
	types := 0
	return s.object(func(k []byte) error {
		if !metricDataTypes[string(k)] {
			return s.orSkip(skipMetric, k)
		}
		if types++; types > 1 {
			return errRescan // a oneof given twice: pdata keeps the last
		}
		return s.object(func(k []byte) error {
			if string(k) != "dataPoints" {
				return s.orSkip(skipMetricData, k)
			}
			return s.array(func() error {
				var ts uint64
				err := s.object(func(k []byte) error {
					if string(k) == "timeUnixNano" {
						v, err := s.uint()
						ts = v
						return err
					}
					return s.orSkip(skipDataPoint, k)
				})
				b.points = append(b.points, ts)
				return err
			})
		})
	})
}

// scanTraces scans one line of traces.jsonl into a. errRescan and syntax
// errors leave a unchanged.
func (a *aggregator) scanTraces(b *scanBatch, line []byte) error {
	b.reset(line)
	err := b.request("resourceSpans", func() error { return b.resourceOf("scopeSpans", "spans", b.span) })
	if err != nil {
		return err
	}
	for _, r := range b.resources {
		res := r.tags.resource()
		if res.service == CollectorService {
			a.totals.CollectorRecords += int64(r.end - r.first)
			continue
		}
		rv := a.variant(res)
		for i := r.first; i < r.end; i++ {
			a.addSpanItem(&b.spans[i], res, rv)
		}
	}
	return nil
}

// scanLogs scans one line of logs.jsonl into a. The collector's own
// records, which become events, are errRescan.
func (a *aggregator) scanLogs(b *scanBatch, line []byte) error {
	b.reset(line)
	err := b.request("resourceLogs", func() error { return b.resourceOf("scopeLogs", "logRecords", b.logRecord) })
	if err != nil {
		return err
	}
	for _, r := range b.resources {
		if r.tags.resource().service == CollectorService {
			return errRescan
		}
	}
	for _, r := range b.resources {
		res := r.tags.resource()
		rv := a.variant(res)
		for i := r.first; i < r.end; i++ {
			a.addLogItem(&b.logs[i], res, rv)
		}
	}
	return nil
}

// scanMetrics scans one line of metrics.jsonl into a.
func (a *aggregator) scanMetrics(b *scanBatch, line []byte) error {
	b.reset(line)
	err := b.request("resourceMetrics", func() error { return b.resourceOf("scopeMetrics", "metrics", b.metric) })
	if err != nil {
		return err
	}
	for _, r := range b.resources {
		res := r.tags.resource()
		collector := res.service == CollectorService
		rv := int32(-1)
		if !collector {
			rv = a.variant(res)
		}
		for i := r.first; i < r.end; i++ {
			a.addPoint(b.points[i], collector, rv)
		}
	}
	return nil
}

// jsonLines are the three ways of reading an OTLP JSON line: scanned when
// the sink can, else decoded with pdata.
type jsonLines struct {
	scan   func(a *aggregator, b *scanBatch, line []byte) error
	decode func(s Sink, line []byte) error
}

var (
	tracesLines = jsonLines{(*aggregator).scanTraces, func(s Sink, line []byte) error {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if err != nil {
			return bundle.RecordError{Err: err}
		}
		return s.Traces(td)
	}}
	logsLines = jsonLines{(*aggregator).scanLogs, func(s Sink, line []byte) error {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
		if err != nil {
			return bundle.RecordError{Err: err}
		}
		return s.Logs(ld)
	}}
	metricsLines = jsonLines{(*aggregator).scanMetrics, func(s Sink, line []byte) error {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
		if err != nil {
			return bundle.RecordError{Err: err}
		}
		return s.Metrics(md)
	}}
)

// feed hands one line to s: scanned into Build's own sink, decoded with
// pdata when the scan cannot vouch for it (or finds it invalid: pdata's
// error says it best) or the sink is another.
func (l jsonLines) feed(s Sink, line []byte) error {
	if k, ok := s.(*sink); ok && l.scan(k.a, &k.batch, line) == nil {
		return k.check()
	}
	return l.decode(s, line)
}
