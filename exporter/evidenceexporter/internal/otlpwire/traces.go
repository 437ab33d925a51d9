package otlpwire

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// AppendTraces appends td to dst as an OTLP ExportTraceServiceRequest, the
// bytes ptrace.ProtoMarshaler writes, and describes its spans.
func AppendTraces(dst []byte, td ptrace.Traces, usable Range) ([]byte, Batch) {
	e := encoder{b: dst, usable: usable}
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		start := e.open(0xa, large)
		e.tagStringNE(0x1a, rs.SchemaUrl())
		sss := rs.ScopeSpans()
		if sss.Len() == 0 {
			e.batch.Empty = true
		}
		for j := range sss.Len() {
			e.scopeSpans(sss.At(j))
		}
		e.resource(0xa, rs.Resource())
		e.close(start, large)
	}
	return e.b, e.batch
}

func (e *encoder) scopeSpans(ss ptrace.ScopeSpans) {
	start := e.open(0x12, large)
	e.tagStringNE(0x1a, ss.SchemaUrl())
	spans := ss.Spans()
	if spans.Len() == 0 {
		e.batch.Empty = true
	}
	for i := range spans.Len() {
		e.span(spans.At(i))
	}
	e.scope(0xa, ss.Scope())
	e.close(start, large)
}

func (e *encoder) span(s ptrace.Span) {
	e.item(otlptime.Span(s))
	start := e.open(0x12, medium)

	st := s.Status()
	msg, code := st.Message(), int32(st.Code())
	statusLen := 0
	if code != 0 {
		statusLen += 1 + sov(int32Varint(code))
	}
	if msg != "" {
		statusLen += 1 + sov(uint64(len(msg))) + len(msg)
	}
	e.b = append(e.b, 0x7a)
	e.varint(uint64(statusLen))
	if code != 0 {
		e.tagVarint(0x18, int32Varint(code))
	}
	e.tagStringNE(0x12, msg)

	e.tagVarintNZ(0x70, uint64(s.DroppedLinksCount()))
	links := s.Links()
	for i := range links.Len() {
		e.link(links.At(i))
	}
	e.tagVarintNZ(0x60, uint64(s.DroppedEventsCount()))
	events := s.Events()
	for i := range events.Len() {
		e.event(events.At(i))
	}
	e.tagVarintNZ(0x50, uint64(s.DroppedAttributesCount()))
	e.attributes(0x4a, s.Attributes())
	e.tagFixed64NZ(0x41, uint64(s.EndTimestamp()))
	e.tagFixed64NZ(0x39, uint64(s.StartTimestamp()))
	if k := int32(s.Kind()); k != 0 {
		e.tagVarint(0x30, int32Varint(k))
	}
	e.tagStringNE(0x2a, s.Name())
	if f := s.Flags(); f != 0 {
		e.b = append(e.b, 0x85, 0x01)
		e.b = appendFixed32(e.b, f)
	}
	e.spanID(0x22, s.ParentSpanID())
	e.tagStringNE(0x1a, s.TraceState().AsRaw())
	e.spanID(0x12, s.SpanID())
	e.traceID(0xa, s.TraceID())
	e.close(start, medium)
}

func (e *encoder) event(ev ptrace.SpanEvent) {
	start := e.open(0x5a, medium)
	e.tagVarintNZ(0x20, uint64(ev.DroppedAttributesCount()))
	e.attributes(0x1a, ev.Attributes())
	e.tagStringNE(0x12, ev.Name())
	e.tagFixed64NZ(0x9, uint64(ev.Timestamp()))
	e.close(start, medium)
}

func (e *encoder) link(l ptrace.SpanLink) {
	start := e.open(0x6a, medium)
	if f := l.Flags(); f != 0 {
		e.b = append(e.b, 0x35)
		e.b = appendFixed32(e.b, f)
	}
	e.tagVarintNZ(0x28, uint64(l.DroppedAttributesCount()))
	e.attributes(0x22, l.Attributes())
	e.tagStringNE(0x1a, l.TraceState().AsRaw())
	e.spanID(0x12, l.SpanID())
	e.traceID(0xa, l.TraceID())
	e.close(start, medium)
}

func appendFixed32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}
