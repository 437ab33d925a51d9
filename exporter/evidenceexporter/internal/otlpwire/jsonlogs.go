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

// logFields are the singular fields of a LogRecord message.
type logFields struct {
	tm, observed, severity, dropped, flags     uint64
	severityText, body, traceID, spanID, event []byte
	hasBody                                    bool
}

// parse reads a LogRecord message's singular fields, checking the wire
// type of every field, that the body appears once and the IDs' lengths:
// what both encodings of a part require of a log record.
func (l *logFields) parse(msg []byte) bool {
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		var ok bool
		switch f.num {
		case 1:
			l.tm, ok = f.v, f.wire == wireFixed64
		case 11:
			l.observed, ok = f.v, f.wire == wireFixed64
		case 2:
			l.severity, ok = f.v, f.wire == wireVarint
		case 3:
			l.severityText, ok = f.b, f.wire == wireLen
		case 5:
			ok = f.wire == wireLen && !l.hasBody
			l.body, l.hasBody = f.b, true
		case 6:
			ok = f.wire == wireLen
		case 7:
			l.dropped, ok = f.v, f.wire == wireVarint
		case 8:
			l.flags, ok = f.v, f.wire == wireFixed32
		case 9:
			l.traceID, ok = f.b, f.wire == wireLen
		case 10:
			l.spanID, ok = f.b, f.wire == wireLen
		case 12:
			l.event, ok = f.b, f.wire == wireLen
		}
		if !ok {
			return false
		}
	}
	return !it.err && idLen(l.traceID, 16) && idLen(l.spanID, 8)
}

// time is the record's item time: its timestamp, else its observed
// timestamp.
func (l *logFields) time() pcommon.Timestamp {
	if l.tm == 0 {
		return pcommon.Timestamp(l.observed)
	}
	return pcommon.Timestamp(l.tm)
}

func (t *tracesJSON) logRecord(msg []byte) {
	var l logFields
	if !l.parse(msg) {
		t.bad = true
		return
	}
	ts := l.time()
	pos, kept := t.begin(ts)
	first := true
	t.buf = append(t.buf, '{')
	t.timeField(&first, "timeUnixNano", l.tm)
	t.timeField(&first, "observedTimeUnixNano", l.observed)
	t.int32Field(&first, "severityNumber", l.severity)
	t.strField(&first, "severityText", l.severityText)
	t.key(&first, "body")
	t.anyValue(l.body)
	t.keyValues(&first, "attributes", msg, 6)
	t.uint32Field(&first, "droppedAttributesCount", l.dropped)
	t.uint32Field(&first, "flags", l.flags)
	t.id(&first, "traceId", l.traceID, 16)
	t.id(&first, "spanId", l.spanID, 8)
	t.strField(&first, "eventName", l.event)
	t.buf = append(t.buf, '}')
	t.end(pos, kept)
}
