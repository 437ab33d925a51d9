package otlpwire

import (
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
)

// AppendLogs appends ld to dst as an OTLP ExportLogsServiceRequest, the
// bytes plog.ProtoMarshaler writes, and describes its log records.
func AppendLogs(dst []byte, ld plog.Logs, usable Range) ([]byte, Batch) {
	e := encoder{b: dst, usable: usable}
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		start := e.open(0xa, large)
		e.tagStringNE(0x1a, rl.SchemaUrl())
		sls := rl.ScopeLogs()
		if sls.Len() == 0 {
			e.batch.Empty = true
		}
		for j := range sls.Len() {
			e.scopeLogs(sls.At(j))
		}
		e.resource(0xa, rl.Resource())
		e.close(start, large)
	}
	return e.b, e.batch
}

func (e *encoder) scopeLogs(sl plog.ScopeLogs) {
	start := e.open(0x12, large)
	e.tagStringNE(0x1a, sl.SchemaUrl())
	recs := sl.LogRecords()
	if recs.Len() == 0 {
		e.batch.Empty = true
	}
	for i := range recs.Len() {
		e.logRecord(recs.At(i))
	}
	e.scope(0xa, sl.Scope())
	e.close(start, large)
}

func (e *encoder) logRecord(lr plog.LogRecord) {
	e.item(otlptime.LogRecord(lr))
	start := e.open(0x12, medium)
	e.tagStringNE(0x62, lr.EventName())
	e.spanID(0x52, lr.SpanID())
	e.traceID(0x4a, lr.TraceID())
	if f := uint32(lr.Flags()); f != 0 {
		e.b = append(e.b, 0x45)
		e.b = appendFixed32(e.b, f)
	}
	e.tagVarintNZ(0x38, uint64(lr.DroppedAttributesCount()))
	e.attributes(0x32, lr.Attributes())
	e.anyValue(0x2a, lr.Body())
	e.tagStringNE(0x1a, lr.SeverityText())
	if sev := int32(lr.SeverityNumber()); sev != 0 {
		e.tagVarint(0x10, int32Varint(sev))
	}
	e.tagFixed64NZ(0x59, uint64(lr.ObservedTimestamp()))
	e.tagFixed64NZ(0x9, uint64(lr.Timestamp()))
	e.close(start, medium)
}
