package otlpwire

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TracesJSON appends to dst, as one OTLP/JSON request, the spans of the
// OTLP protobuf request payload whose start time is in keep, with their
// resources and scopes; resources and scopes left without spans are left
// out. The bytes are those pdata's JSONMarshaler writes for the request
// decoded and filtered the same way. Items of the returned Batch counts
// the spans written and MinT, MaxT span their start times; with usable set,
// Unusable counts the spans of the whole request whose start time it does
// not contain. When no span is kept, dst is returned as it was.
//
// A request the transcoder does not handle returns ErrNotTranscoded and dst
// as it was. Every message is checked as pdata's decoder checks it, kept
// or not, so that a request pdata refuses is never transcoded.
func TracesJSON(dst, payload []byte, keep Range, usable *Range) ([]byte, Batch, error) {
	t := tracesJSON{jsonWriter: jsonWriter{buf: dst}, keep: keep, usable: usable, names: traceNames}
	t.item = t.span
	return t.request(dst, payload)
}

// request transcodes one request into t.buf, which starts as dst.
func (t *tracesJSON) request(dst, payload []byte) ([]byte, Batch, error) {
	it := fields{buf: payload}
	var f field
	for it.next(&f) {
		if f.num != 1 || f.wire != wireLen {
			return dst, Batch{}, ErrNotTranscoded
		}
		t.group(f.b, false)
		if t.bad {
			return dst, Batch{}, ErrNotTranscoded
		}
	}
	if it.err {
		return dst, Batch{}, ErrNotTranscoded
	}
	if !t.started {
		return dst, Batch{Unusable: t.batch.Unusable}, nil
	}
	t.buf = append(t.buf, ']', '}')
	return t.buf, t.batch, nil
}

// names are the JSON names of a signal's request, resource and scope
// groups and items, with the punctuation that opens them.
type names struct{ request, scopes, items string }

var (
	traceNames = names{`{"resourceSpans":[`, `,"scopeSpans":[`, `,"spans":[`}
	logNames   = names{`{"resourceLogs":[`, `,"scopeLogs":[`, `,"logRecords":[`}
)

// tracesJSON transcodes a request of any signal whose resource and scope
// groups have the shape of traces' (resource or scope = 1, items = 2,
// schema URL = 3); item writes one item.
type tracesJSON struct {
	jsonWriter
	names  names
	item   func(msg []byte)
	keep   Range
	usable *Range
	batch  Batch
	// started is set once the request is open; rsOpen and ssOpen while a
	// resource and a scope are.
	started, rsOpen, ssOpen bool
	// resource, scope: the messages to open them with.
	resource, scope []byte
	// scopes, spans: written so far in the open resource and scope.
	scopes, spans int
}

// group transcodes a resource group (scope false: its items are scope
// groups) or a scope group (scope true: its items are the signal's). A
// group left without kept items is checked as pdata would, not written.
func (t *tracesJSON) group(msg []byte, scope bool) {
	var head, schema []byte
	seenHead := false
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen:
			if seenHead {
				t.bad = true
				return
			}
			head, seenHead = f.b, true
		case f.num == 2 && f.wire == wireLen:
		case f.num == 3 && f.wire == wireLen:
			schema = f.b
		default:
			t.bad = true
			return
		}
	}
	if it.err {
		t.bad = true
		return
	}
	open := &t.rsOpen
	if scope {
		t.scope, t.spans, open = head, 0, &t.ssOpen
	} else {
		t.resource, t.scopes = head, 0
	}
	it = fields{buf: msg}
	for it.next(&f) {
		if f.num != 2 {
			continue
		}
		if scope {
			t.item(f.b)
		} else {
			t.group(f.b, true)
		}
		if t.bad {
			return
		}
	}
	if *open {
		t.buf = append(t.buf, ']')
		first := false
		t.strField(&first, "schemaUrl", schema)
		t.buf = append(t.buf, '}')
		*open = false
		return
	}
	pos := len(t.buf)
	if scope {
		t.jsonWriter.scope(head)
	} else {
		t.jsonWriter.resource(head)
	}
	t.buf = t.buf[:pos]
}

// open writes what precedes a kept item: the request, the resource and
// the scope it is in, when not open yet, or the comma after the previous
// item.
func (t *tracesJSON) open() {
	if !t.started {
		t.buf = append(t.buf, t.names.request...)
		t.started = true
	} else if !t.rsOpen {
		t.buf = append(t.buf, ',')
	}
	if !t.rsOpen {
		t.buf = append(t.buf, `{"resource":`...)
		t.jsonWriter.resource(t.resource)
		t.buf = append(t.buf, t.names.scopes...)
		t.rsOpen = true
	}
	if !t.ssOpen {
		if t.scopes > 0 {
			t.buf = append(t.buf, ',')
		}
		t.buf = append(t.buf, `{"scope":`...)
		t.jsonWriter.scope(t.scope)
		t.buf = append(t.buf, t.names.items...)
		t.ssOpen = true
		t.scopes++
	}
	if t.spans > 0 {
		t.buf = append(t.buf, ',')
	}
	t.spans++
}

// spanFields are the singular fields of a Span message.
type spanFields struct {
	traceID, spanID, parentID, traceState, name, status []byte
	flags, kind, start, end                             uint64
	droppedAttrs, droppedEvents, droppedLinks           uint64
	hasStatus                                           bool
}

// parse reads a Span message's singular fields, checking the wire type
// of every field, that status appears once and the IDs' lengths: what both
// encodings of a part require of a span.
func (s *spanFields) parse(msg []byte) bool {
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		var ok bool
		switch f.num {
		case 1:
			s.traceID, ok = f.b, f.wire == wireLen
		case 2:
			s.spanID, ok = f.b, f.wire == wireLen
		case 3:
			s.traceState, ok = f.b, f.wire == wireLen
		case 4:
			s.parentID, ok = f.b, f.wire == wireLen
		case 5:
			s.name, ok = f.b, f.wire == wireLen
		case 6:
			s.kind, ok = f.v, f.wire == wireVarint
		case 7:
			s.start, ok = f.v, f.wire == wireFixed64
		case 8:
			s.end, ok = f.v, f.wire == wireFixed64
		case 9, 11, 13:
			ok = f.wire == wireLen
		case 10:
			s.droppedAttrs, ok = f.v, f.wire == wireVarint
		case 12:
			s.droppedEvents, ok = f.v, f.wire == wireVarint
		case 14:
			s.droppedLinks, ok = f.v, f.wire == wireVarint
		case 15:
			ok = f.wire == wireLen && !s.hasStatus
			s.status, s.hasStatus = f.b, true
		case 16:
			s.flags, ok = f.v, f.wire == wireFixed32
		}
		if !ok {
			return false
		}
	}
	return !it.err && idLen(s.traceID, 16) && idLen(s.spanID, 8) && idLen(s.parentID, 8)
}

func (t *tracesJSON) span(msg []byte) {
	var s spanFields
	if !s.parse(msg) {
		t.bad = true
		return
	}
	pos, kept := t.begin(pcommon.Timestamp(s.start))
	first := true
	t.buf = append(t.buf, '{')
	t.id(&first, "traceId", s.traceID, 16)
	t.id(&first, "spanId", s.spanID, 8)
	t.strField(&first, "traceState", s.traceState)
	t.id(&first, "parentSpanId", s.parentID, 8)
	t.uint32Field(&first, "flags", s.flags)
	t.strField(&first, "name", s.name)
	t.int32Field(&first, "kind", s.kind)
	t.timeField(&first, "startTimeUnixNano", s.start)
	t.timeField(&first, "endTimeUnixNano", s.end)
	t.keyValues(&first, "attributes", msg, 9)
	t.uint32Field(&first, "droppedAttributesCount", s.droppedAttrs)
	t.repeated(&first, "events", msg, 11, t.event)
	t.uint32Field(&first, "droppedEventsCount", s.droppedEvents)
	t.repeated(&first, "links", msg, 13, t.link)
	t.uint32Field(&first, "droppedLinksCount", s.droppedLinks)
	t.key(&first, "status")
	t.statusMsg(s.status)
	t.buf = append(t.buf, '}')
	t.end(pos, kept)
}

// begin counts an item of time ts and, when keep holds it, opens what
// precedes it; it returns where the item's bytes start and whether it is
// kept.
func (t *tracesJSON) begin(ts pcommon.Timestamp) (pos int, kept bool) {
	if t.usable != nil && !t.usable.Contains(ts) {
		t.batch.Unusable++
	}
	kept = t.keep.Contains(ts)
	pos = len(t.buf)
	if kept {
		t.batch.add(ts)
		t.open()
	}
	return pos, kept
}

// end drops the bytes of an item that is not kept: they were written only
// to be checked as pdata would check them.
func (t *tracesJSON) end(pos int, kept bool) {
	if !kept {
		t.buf = t.buf[:pos]
	}
}

// idLen reports whether an ID field has the length pdata accepts: none
// (an empty ID) or size bytes.
func idLen(b []byte, size int) bool { return len(b) == 0 || len(b) == size }

// repeated writes the repeated message field num of msg as a JSON array
// under name, each element with write, if there is any.
func (w *jsonWriter) repeated(first *bool, name string, msg []byte, num uint64, write func([]byte)) {
	it := fields{buf: msg}
	var f field
	n := 0
	for it.next(&f) {
		if f.num != num {
			continue
		}
		if n == 0 {
			w.key(first, name)
			w.buf = append(w.buf, '[')
		} else {
			w.buf = append(w.buf, ',')
		}
		n++
		write(f.b)
	}
	if n > 0 {
		w.buf = append(w.buf, ']')
	}
}

func (t *tracesJSON) event(msg []byte) {
	var name []byte
	var tm, dropped uint64
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireFixed64:
			tm = f.v
		case f.num == 2 && f.wire == wireLen:
			name = f.b
		case f.num == 3 && f.wire == wireLen:
		case f.num == 4 && f.wire == wireVarint:
			dropped = f.v
		default:
			t.bad = true
			return
		}
	}
	if it.err {
		t.bad = true
		return
	}
	first := true
	t.buf = append(t.buf, '{')
	t.timeField(&first, "timeUnixNano", tm)
	t.strField(&first, "name", name)
	t.keyValues(&first, "attributes", msg, 3)
	t.uint32Field(&first, "droppedAttributesCount", dropped)
	t.buf = append(t.buf, '}')
}

func (t *tracesJSON) link(msg []byte) {
	var traceID, spanID, state []byte
	var dropped, flags uint64
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen:
			traceID = f.b
		case f.num == 2 && f.wire == wireLen:
			spanID = f.b
		case f.num == 3 && f.wire == wireLen:
			state = f.b
		case f.num == 4 && f.wire == wireLen:
		case f.num == 5 && f.wire == wireVarint:
			dropped = f.v
		case f.num == 6 && f.wire == wireFixed32:
			flags = f.v
		default:
			t.bad = true
			return
		}
	}
	if it.err {
		t.bad = true
		return
	}
	first := true
	t.buf = append(t.buf, '{')
	t.id(&first, "traceId", traceID, 16)
	t.id(&first, "spanId", spanID, 8)
	t.strField(&first, "traceState", state)
	t.keyValues(&first, "attributes", msg, 4)
	t.uint32Field(&first, "droppedAttributesCount", dropped)
	t.uint32Field(&first, "flags", flags)
	t.buf = append(t.buf, '}')
}

func (t *tracesJSON) statusMsg(msg []byte) {
	var message []byte
	var code uint64
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 2 && f.wire == wireLen:
			message = f.b
		case f.num == 3 && f.wire == wireVarint:
			code = f.v
		default:
			t.bad = true
			return
		}
	}
	if it.err {
		t.bad = true
		return
	}
	first := true
	t.buf = append(t.buf, '{')
	t.strField(&first, "message", message)
	t.int32Field(&first, "code", code)
	t.buf = append(t.buf, '}')
}
