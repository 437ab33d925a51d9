// Package otlpwire encodes pdata batches as OTLP protobuf export requests
// in one forward pass, appending to a caller's buffer.
//
// pdata's own marshalers walk a batch twice (once to size it, once to write
// it) and allocate a new buffer of that size for every batch. On the
// evidence exporter's hot path that is most of the cost of keeping a copy of
// the telemetry. The encoders here walk the batch once through pdata's public
// API, write into a buffer the caller reuses, and note each item's time (by
// the rules of otlptime) on the way.
//
// The output is byte for byte what pdata's ProtoMarshaler writes for the same
// batch, down to pdata's field order, so a ring block decodes to the very
// batch that was appended; the tests hold the encoders to that. Two things
// pdata can hold are not visible through its public API and are therefore
// not written: the deprecated scope fields of OTLP 0.x (pdata moves them to
// the current fields when a receiver decodes a request) and the profiles-only
// string-table indexes of attribute keys and values.
package otlpwire

import (
	"encoding/binary"
	"math"
	"math/bits"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"
)

// Batch describes what an encoder wrote: how many items (spans, log
// records, data points), how many of them have an unusable time (zero or
// outside the encoder's usable Range), and the range of the usable item
// times. Both bounds are zero when no item has a usable time.
type Batch struct {
	Items      int
	Unusable   int
	MinT, MaxT pcommon.Timestamp
	// Empty is set by AppendTraces and AppendLogs when a resource or scope
	// group holds no item: TracesProto and LogsProto then never return
	// the request whole, since they leave such groups out.
	Empty bool
}

// Range is an inclusive range of item times.
type Range struct{ Lo, Hi pcommon.Timestamp }

// AnyTime accepts every time a time.Time can hold from the Unix epoch on:
// only zero and times at or beyond 2^63 ns are unusable.
var AnyTime = Range{Lo: 1, Hi: math.MaxInt64}

// Contains reports whether t is in the range; zero never is.
func (r Range) Contains(t pcommon.Timestamp) bool { return t != 0 && t >= r.Lo && t <= r.Hi }

func (e *encoder) item(t pcommon.Timestamp) {
	if !e.usable.Contains(t) {
		e.batch.Items++
		e.batch.Unusable++
		return
	}
	e.batch.add(t)
}

func (b *Batch) add(t pcommon.Timestamp) {
	b.Items++
	if t == 0 {
		return
	}
	if b.MinT == 0 || t < b.MinT {
		b.MinT = t
	}
	if t > b.MaxT {
		b.MaxT = t
	}
}

// Length reservations for nested messages, by their usual size: a message
// whose length needs another number of bytes is moved once when closed.
const (
	small  = 1 // < 128 bytes: scopes, events, links, data points, exemplars
	medium = 2 // < 16 KiB: spans, log records, metrics, resources
	large  = 3 // < 2 MiB: scope and resource groups
)

var zeros [8]byte

// encoder appends protobuf to b. Fields are written in the order pdata
// writes them; pdata fills its buffer from the end, so within a message that
// is the reverse of the field declaration order, while repeated fields keep
// their element order.
type encoder struct {
	b      []byte
	batch  Batch
	usable Range
}

func sov(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func (e *encoder) varint(v uint64) {
	for v >= 0x80 {
		e.b = append(e.b, byte(v)|0x80)
		v >>= 7
	}
	e.b = append(e.b, byte(v))
}

func (e *encoder) tagVarint(tag byte, v uint64) {
	e.b = append(e.b, tag)
	e.varint(v)
}

// tagVarintNZ writes a varint field unless it is zero (proto3 default).
func (e *encoder) tagVarintNZ(tag byte, v uint64) {
	if v != 0 {
		e.tagVarint(tag, v)
	}
}

func (e *encoder) tagFixed64(tag byte, v uint64) {
	e.b = append(e.b, tag)
	e.b = binary.LittleEndian.AppendUint64(e.b, v)
}

func (e *encoder) tagFixed64NZ(tag byte, v uint64) {
	if v != 0 {
		e.tagFixed64(tag, v)
	}
}

// tagDoubleNZ writes a double field unless it equals zero (so -0 is
// omitted, as pdata does; NaN is written).
func (e *encoder) tagDoubleNZ(tag byte, v float64) {
	if v != 0 {
		e.tagFixed64(tag, math.Float64bits(v))
	}
}

func (e *encoder) tagString(tag byte, s string) {
	e.b = append(e.b, tag)
	e.varint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// tagStringNE writes a string field unless it is empty.
func (e *encoder) tagStringNE(tag byte, s string) {
	if s != "" {
		e.tagString(tag, s)
	}
}

func (e *encoder) tagBytes(tag byte, p []byte) {
	e.b = append(e.b, tag)
	e.varint(uint64(len(p)))
	e.b = append(e.b, p...)
}

// tagID writes a trace or span ID field; pdata always writes it, empty
// when the ID is all zeros.
func (e *encoder) tagID(tag byte, id []byte, empty bool) {
	if empty {
		e.b = append(e.b, tag, 0)
		return
	}
	e.tagBytes(tag, id)
}

func (e *encoder) traceID(tag byte, id pcommon.TraceID) { e.tagID(tag, id[:], id.IsEmpty()) }

func (e *encoder) spanID(tag byte, id pcommon.SpanID) { e.tagID(tag, id[:], id.IsEmpty()) }

// open starts a nested message field, reserving n bytes for its length, and
// returns the offset where its content starts.
func (e *encoder) open(tag byte, n int) int {
	e.b = append(e.b, tag)
	e.b = append(e.b, zeros[:n]...)
	return len(e.b)
}

// close writes the length of the message opened at start with n reserved
// bytes, moving its content when the length needs another number of bytes.
func (e *encoder) close(start, n int) {
	l := len(e.b) - start
	s := sov(uint64(l))
	switch {
	case s > n:
		e.b = append(e.b, zeros[:s-n]...)
		copy(e.b[start+s-n:], e.b[start:start+l])
		start += s - n
	case s < n:
		copy(e.b[start-(n-s):], e.b[start:start+l])
		e.b = e.b[:len(e.b)-(n-s)]
		start -= n - s
	}
	p := start - s
	v := uint64(l)
	for v >= 0x80 {
		e.b[p] = byte(v) | 0x80
		v >>= 7
		p++
	}
	e.b[p] = byte(v)
}

// attributes writes every entry of m as a KeyValue field.
func (e *encoder) attributes(tag byte, m pcommon.Map) {
	for k, v := range m.All() {
		e.keyValue(tag, k, v)
	}
}

// keyValue writes a KeyValue: its value, then its key. Scalar values have a
// length known up front, so only maps and slices need a reservation; the
// common string and int values are read once.
func (e *encoder) keyValue(tag byte, k string, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		e.kvHead(tag, k, 1+sov(uint64(len(s)))+len(s))
		e.tagString(0xa, s)
	case pcommon.ValueTypeInt:
		i := uint64(v.Int())
		e.kvHead(tag, k, 1+sov(i))
		e.tagVarint(0x18, i)
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		start := e.open(tag, medium)
		e.anyValue(0x12, v)
		if k != "" {
			e.tagString(0xa, k)
		}
		e.close(start, medium)
		return
	default:
		vl, _ := scalarLen(v)
		e.kvHead(tag, k, vl)
		e.scalar(v)
	}
	if k != "" {
		e.tagString(0xa, k)
	}
}

// kvHead writes the tag and length of a KeyValue with key k whose scalar
// AnyValue has vl bytes of content, then the AnyValue's tag and length.
func (e *encoder) kvHead(tag byte, k string, vl int) {
	inner := 1 + sov(uint64(vl)) + vl
	if k != "" {
		inner += 1 + sov(uint64(len(k))) + len(k)
	}
	e.b = append(e.b, tag)
	e.varint(uint64(inner))
	e.b = append(e.b, 0x12)
	e.varint(uint64(vl))
}

// scalarLen is the encoded length of an AnyValue holding a scalar; false
// for maps and slices.
func scalarLen(v pcommon.Value) (int, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		l := len(v.Str())
		return 1 + sov(uint64(l)) + l, true
	case pcommon.ValueTypeInt:
		return 1 + sov(uint64(v.Int())), true
	case pcommon.ValueTypeDouble:
		return 9, true
	case pcommon.ValueTypeBool:
		return 2, true
	case pcommon.ValueTypeBytes:
		l := v.Bytes().Len()
		return 1 + sov(uint64(l)) + l, true
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return 0, false
	default: // empty
		return 0, true
	}
}

// scalar writes the content of an AnyValue holding a scalar.
func (e *encoder) scalar(v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		e.tagString(0xa, v.Str())
	case pcommon.ValueTypeInt:
		e.tagVarint(0x18, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		e.tagFixed64(0x21, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		b := byte(0)
		if v.Bool() {
			b = 1
		}
		e.b = append(e.b, 0x10, b)
	case pcommon.ValueTypeBytes:
		e.tagBytes(0x3a, v.Bytes().AsRaw())
	}
}

// anyValue writes v as an AnyValue message field.
func (e *encoder) anyValue(tag byte, v pcommon.Value) {
	if vl, ok := scalarLen(v); ok {
		e.b = append(e.b, tag)
		e.varint(uint64(vl))
		e.scalar(v)
		return
	}
	start := e.open(tag, medium)
	if v.Type() == pcommon.ValueTypeMap {
		kv := e.open(0x32, medium)
		e.attributes(0xa, v.Map())
		e.close(kv, medium)
	} else {
		arr := e.open(0x2a, medium)
		s := v.Slice()
		for i := range s.Len() {
			e.anyValue(0xa, s.At(i))
		}
		e.close(arr, medium)
	}
	e.close(start, medium)
}

// resource writes a Resource message field: entity refs, dropped count,
// attributes.
func (e *encoder) resource(tag byte, r pcommon.Resource) {
	start := e.open(tag, medium)
	refs := entity.ResourceEntityRefs(r)
	for i := range refs.Len() {
		ref := refs.At(i)
		rs := e.open(0x1a, small)
		keys := ref.DescriptionKeys()
		for j := range keys.Len() {
			e.tagString(0x22, keys.At(j))
		}
		keys = ref.IdKeys()
		for j := range keys.Len() {
			e.tagString(0x1a, keys.At(j))
		}
		e.tagStringNE(0x12, ref.Type())
		e.tagStringNE(0xa, ref.SchemaUrl())
		e.close(rs, small)
	}
	e.tagVarintNZ(0x10, uint64(r.DroppedAttributesCount()))
	e.attributes(0xa, r.Attributes())
	e.close(start, medium)
}

// scope writes an InstrumentationScope message field.
func (e *encoder) scope(tag byte, s pcommon.InstrumentationScope) {
	start := e.open(tag, small)
	e.tagVarintNZ(0x20, uint64(s.DroppedAttributesCount()))
	e.attributes(0x1a, s.Attributes())
	e.tagStringNE(0x12, s.Version())
	e.tagStringNE(0xa, s.Name())
	e.close(start, small)
}

// int32Varint is how protobuf writes an int32 (enums included): negative
// values sign-extended to ten bytes.
func int32Varint(v int32) uint64 { return uint64(int64(v)) }

// zigzag32 is the sint32 encoding.
func zigzag32(v int32) uint64 { return uint64((uint32(v) << 1) ^ uint32(v>>31)) }
