package otlpwire

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// LogsJSON is TracesJSON for log records: it keeps the records whose item
// time (their timestamp, else their observed timestamp) is in keep.
func LogsJSON(dst, payload []byte, keep Range, usable *Range) ([]byte, Batch, error) {
	t := tracesJSON{jsonWriter: jsonWriter{buf: dst}, keep: keep, usable: usable, names: logNames}
	t.item = t.logRecord
	return t.request(dst, payload)
}

func (t *tracesJSON) logRecord(msg []byte) {
	var (
		tm, observed, severity, dropped, flags uint64
		severityText, body, traceID, spanID    []byte
		eventName                              []byte
		hasBody                                bool
	)
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		var ok bool
		switch f.num {
		case 1:
			tm, ok = f.v, f.wire == wireFixed64
		case 11:
			observed, ok = f.v, f.wire == wireFixed64
		case 2:
			severity, ok = f.v, f.wire == wireVarint
		case 3:
			severityText, ok = f.b, f.wire == wireLen
		case 5:
			ok = f.wire == wireLen && !hasBody
			body, hasBody = f.b, true
		case 6:
			ok = f.wire == wireLen
		case 7:
			dropped, ok = f.v, f.wire == wireVarint
		case 8:
			flags, ok = f.v, f.wire == wireFixed32
		case 9:
			traceID, ok = f.b, f.wire == wireLen
		case 10:
			spanID, ok = f.b, f.wire == wireLen
		case 12:
			eventName, ok = f.b, f.wire == wireLen
		}
		if !ok {
			t.bad = true
			return
		}
	}
	if it.err || !idLen(traceID, 16) || !idLen(spanID, 8) {
		t.bad = true
		return
	}
	ts := pcommon.Timestamp(tm)
	if ts == 0 {
		ts = pcommon.Timestamp(observed)
	}
	pos, kept := t.begin(ts)
	first := true
	t.buf = append(t.buf, '{')
	t.timeField(&first, "timeUnixNano", tm)
	t.timeField(&first, "observedTimeUnixNano", observed)
	t.int32Field(&first, "severityNumber", severity)
	t.strField(&first, "severityText", severityText)
	t.key(&first, "body")
	t.anyValue(body)
	t.keyValues(&first, "attributes", msg, 6)
	t.uint32Field(&first, "droppedAttributesCount", dropped)
	t.uint32Field(&first, "flags", flags)
	t.id(&first, "traceId", traceID, 16)
	t.id(&first, "spanId", spanID, 8)
	t.strField(&first, "eventName", eventName)
	t.buf = append(t.buf, '}')
	t.end(pos, kept)
}
