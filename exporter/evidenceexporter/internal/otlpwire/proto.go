package otlpwire

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TracesProto appends to dst, as one OTLP protobuf request, the spans of
// the OTLP protobuf request payload whose start time is in keep, with
// their resources and scopes; resources and scopes left without spans are
// left out. The kept messages are copied, not decoded and encoded again:
// for a payload as pdata's ProtoMarshaler (or this package's encoder,
// which the ring holds) writes it, the bytes are those pdata's
// ProtoMarshaler writes for the request decoded and filtered the same way,
// and when every span is kept they are the payload itself: with an empty
// dst, the returned slice is then payload, not a copy. Items of the
// returned Batch counts the spans written and MinT, MaxT span their start
// times; with usable set, Unusable counts the spans of the whole request
// whose start time it does not contain. When no span is kept, dst is
// returned as it was.
//
// A request whose structure, down to each span's own fields, is not what
// pdata's decoder accepts, or that holds a field this package does not
// know, returns ErrNotTranscoded and dst as it was: the caller decodes it
// with pdata instead.
func TracesProto(dst, payload []byte, keep Range, usable *Range) ([]byte, Batch, error) {
	p := protoFilter{keep: keep, usable: usable, time: spanTime}
	return p.request(dst, payload)
}

// LogsProto is TracesProto for log records: it keeps the records whose
// item time (their timestamp, else their observed timestamp) is in keep.
func LogsProto(dst, payload []byte, keep Range, usable *Range) ([]byte, Batch, error) {
	p := protoFilter{keep: keep, usable: usable, time: logTime}
	return p.request(dst, payload)
}

// protoFilter selects the items of a traces or logs request, whose
// resource and scope groups have the same shape (resource or scope = 1,
// groups or items = 2, schema URL = 3).
type protoFilter struct {
	keep   Range
	usable *Range
	// time returns an item's time; false when the item is malformed.
	time  func(msg []byte) (pcommon.Timestamp, bool)
	batch Batch
	// total counts the items of the request; empty is set when a group
	// holds no item at all (pdata's path leaves it out, so the request
	// cannot be copied whole).
	total int
	empty bool
}

func (p *protoFilter) request(dst, payload []byte) ([]byte, Batch, error) {
	it := fields{buf: payload}
	var f field
	for it.next(&f) {
		if f.num != 1 || f.wire != wireLen || !p.walk(f.b, 1) {
			return dst, Batch{}, ErrNotTranscoded
		}
	}
	if it.err {
		return dst, Batch{}, ErrNotTranscoded
	}
	switch {
	case p.batch.Items == 0:
		return dst, Batch{Unusable: p.batch.Unusable}, nil
	case p.batch.Items == p.total && !p.empty && len(dst) == 0:
		return payload, p.batch, nil
	case p.batch.Items == p.total && !p.empty:
		return append(dst, payload...), p.batch, nil
	}
	out, _ := p.filter(dst, payload, 0)
	return out, p.batch, nil
}

// walk checks a resource (level 1) or scope (level 2) group and counts
// its items; it reports whether the group is well formed.
func (p *protoFilter) walk(msg []byte, level int) bool {
	seen, children := false, 0
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		if f.wire != wireLen {
			return false
		}
		switch f.num {
		case 1:
			if seen {
				return false
			}
			seen = true
		case 2:
			children++
			if level == 1 {
				if !p.walk(f.b, 2) {
					return false
				}
				continue
			}
			ts, ok := p.time(f.b)
			if !ok {
				return false
			}
			p.total++
			if p.usable != nil && !p.usable.Contains(ts) {
				p.batch.Unusable++
			}
			if p.keep.Contains(ts) {
				p.batch.add(ts)
			}
		case 3:
		default:
			return false
		}
	}
	if children == 0 {
		p.empty = true
	}
	return !it.err
}

// filter appends the kept part of a request (level 0) or of a resource
// (1) or scope (2) group's message to out, in the order of its fields,
// and reports whether it kept an item. The message was checked by walk.
func (p *protoFilter) filter(out, msg []byte, level int) ([]byte, bool) {
	kept := false
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		child := (level == 0 && f.num == 1) || (level > 0 && f.num == 2)
		switch {
		case !child:
			out = appendLenField(out, f.num, f.b)
		case level == 2:
			if ts, _ := p.time(f.b); p.keep.Contains(ts) {
				out = appendLenField(out, f.num, f.b)
				kept = true
			}
		default:
			if body, ok := p.filter(nil, f.b, level+1); ok {
				out = appendLenField(out, f.num, body)
				kept = true
			}
		}
	}
	return out, kept
}

// appendLenField appends a length-delimited field.
func appendLenField(out []byte, num uint64, b []byte) []byte {
	out = binary.AppendUvarint(out, num<<3|wireLen)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// spanTime returns a span's start time, checking its fields as
// TracesJSON does.
func spanTime(msg []byte) (pcommon.Timestamp, bool) {
	var s spanFields
	if !s.parse(msg) {
		return 0, false
	}
	return pcommon.Timestamp(s.start), true
}

// logTime returns a log record's item time, checking its fields as
// LogsJSON does.
func logTime(msg []byte) (pcommon.Timestamp, bool) {
	var l logFields
	if !l.parse(msg) {
		return 0, false
	}
	return l.time(), true
}
