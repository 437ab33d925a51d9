package otlpwire

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
)

// ErrNotTranscoded is returned by the JSON transcoders for a request they
// do not handle (malformed, or holding a field they do not know, such as
// the deprecated fields of OTLP 0.x or the profiles-only string-table
// indexes). The caller decodes such a request with pdata instead, which
// either reads it or names what is wrong with it.
var ErrNotTranscoded = errors.New("otlpwire: request not transcoded to JSON")

// The JSON transcoders write, from an OTLP protobuf request, the bytes
// pdata's JSONMarshaler writes for the same request once decoded (field
// order, omitted defaults, number and string formats, byte for byte),
// without building the pdata batch. The tests hold them to pdata's output.

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireLen     = 2
	wireFixed32 = 5
)

// field is one field of a protobuf message.
type field struct {
	num  uint64
	wire uint64
	v    uint64 // varint and fixed values
	b    []byte // length-delimited values
}

// fields iterates over the fields of one protobuf message.
type fields struct {
	buf []byte
	err bool
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// next reads the next field; it returns false at the end of the message
// and on malformed input (err is then set).
func (it *fields) next(f *field) bool {
	if len(it.buf) == 0 {
		return false
	}
	// Tags and lengths below 128 (most of them) are one byte.
	tag, n := uint64(it.buf[0]), 1
	if tag >= 0x80 {
		tag, n = uvarint(it.buf)
	}
	if n == 0 || tag>>3 == 0 {
		it.err = true
		return false
	}
	it.buf = it.buf[n:]
	f.num, f.wire, f.b = tag>>3, tag&7, nil
	switch f.wire {
	case wireVarint:
		f.v, n = uvarint(it.buf)
		if n == 0 {
			it.err = true
			return false
		}
		it.buf = it.buf[n:]
	case wireFixed64:
		if len(it.buf) < 8 {
			it.err = true
			return false
		}
		f.v = binary.LittleEndian.Uint64(it.buf)
		it.buf = it.buf[8:]
	case wireFixed32:
		if len(it.buf) < 4 {
			it.err = true
			return false
		}
		f.v = uint64(binary.LittleEndian.Uint32(it.buf))
		it.buf = it.buf[4:]
	case wireLen:
		if len(it.buf) == 0 {
			it.err = true
			return false
		}
		l, n := uint64(it.buf[0]), 1
		if l >= 0x80 {
			l, n = uvarint(it.buf)
		}
		if n == 0 || l > uint64(len(it.buf)-n) {
			it.err = true
			return false
		}
		f.b = it.buf[n : n+int(l)]
		it.buf = it.buf[n+int(l):]
	default:
		it.err = true
		return false
	}
	return true
}

// jsonWriter appends JSON to buf; bad is set when the input turns out
// not to be transcodable, and the output is then discarded.
type jsonWriter struct {
	buf []byte
	bad bool
}

// str writes s as a JSON string the way pdata's JSON stream (json-iterator,
// ConfigFastest) does: only '"', '\\' and control bytes are escaped, and
// bytes of invalid UTF-8 are written as they are.
func (w *jsonWriter) str(s []byte) {
	w.buf = append(w.buf, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.buf = append(w.buf, s[start:i]...)
		switch c {
		case '"', '\\':
			w.buf = append(w.buf, '\\', c)
		case '\n':
			w.buf = append(w.buf, '\\', 'n')
		case '\r':
			w.buf = append(w.buf, '\\', 'r')
		case '\t':
			w.buf = append(w.buf, '\\', 't')
		default:
			const digits = "0123456789abcdef"
			w.buf = append(w.buf, '\\', 'u', '0', '0', digits[c>>4], digits[c&0xf])
		}
		start = i + 1
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}

// key writes a field name, after a comma unless it is the object's first.
func (w *jsonWriter) key(first *bool, name string) {
	if !*first {
		w.buf = append(w.buf, ',')
	}
	*first = false
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '"', ':')
}

// quotedUint writes a 64-bit integer as pdata does: a decimal string.
func (w *jsonWriter) quotedUint(v uint64) {
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.buf = append(w.buf, '"')
}

func (w *jsonWriter) quotedInt(v int64) {
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.buf = append(w.buf, '"')
}

// float writes a double as pdata does: special values as strings, else
// json-iterator's shortest form ('e' notation below 1e-6 and from 1e21).
func (w *jsonWriter) float(v float64) {
	switch {
	case math.IsNaN(v):
		w.buf = append(w.buf, `"NaN"`...)
		return
	case math.IsInf(v, 1):
		w.buf = append(w.buf, `"Infinity"`...)
		return
	case math.IsInf(v, -1):
		w.buf = append(w.buf, `"-Infinity"`...)
		return
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.buf = strconv.AppendFloat(w.buf, v, format, -1, 64)
}

// id writes a trace or span ID of size bytes as lowercase hex, and
// reports whether it was written (pdata omits an empty ID). An ID of
// another length is not transcoded.
func (w *jsonWriter) id(first *bool, name string, b []byte, size int) {
	if len(b) == 0 {
		return
	}
	if len(b) != size {
		w.bad = true
		return
	}
	zero := true
	for _, c := range b {
		if c != 0 {
			zero = false
			break
		}
	}
	if zero {
		return
	}
	w.key(first, name)
	w.buf = append(w.buf, '"')
	w.buf = hex.AppendEncode(w.buf, b)
	w.buf = append(w.buf, '"')
}

// keyValues writes the repeated KeyValue field num of msg as a JSON array
// under name, if there is any.
func (w *jsonWriter) keyValues(first *bool, name string, msg []byte, num uint64) {
	it := fields{buf: msg}
	var f field
	n := 0
	for it.next(&f) {
		if f.num != num {
			continue
		}
		if f.wire != wireLen {
			w.bad = true
			return
		}
		if n == 0 {
			w.key(first, name)
			w.buf = append(w.buf, '[')
		} else {
			w.buf = append(w.buf, ',')
		}
		n++
		w.keyValue(f.b)
	}
	if it.err {
		w.bad = true
	}
	if n > 0 {
		w.buf = append(w.buf, ']')
	}
}

// keyValue writes one KeyValue message.
func (w *jsonWriter) keyValue(msg []byte) {
	var key, value []byte
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen:
			key = f.b
		case f.num == 2 && f.wire == wireLen:
			if value != nil {
				w.bad = true // merged messages: left to pdata
				return
			}
			value = f.b
		default:
			w.bad = true
			return
		}
	}
	if it.err {
		w.bad = true
		return
	}
	first := true
	w.buf = append(w.buf, '{')
	w.strField(&first, "key", key)
	w.key(&first, "value")
	w.anyValue(value)
	w.buf = append(w.buf, '}')
}

// anyValue writes one AnyValue message: the last value field set wins, as
// in pdata's decoder.
func (w *jsonWriter) anyValue(msg []byte) {
	var last field
	set, nested := false, 0
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen, f.num == 7 && f.wire == wireLen,
			f.num == 2 && f.wire == wireVarint, f.num == 3 && f.wire == wireVarint,
			f.num == 4 && f.wire == wireFixed64:
		case (f.num == 5 || f.num == 6) && f.wire == wireLen:
			if nested++; nested > 1 {
				w.bad = true // merged or replaced messages: left to pdata
				return
			}
		default:
			w.bad = true
			return
		}
		last, set = f, true
	}
	if it.err {
		w.bad = true
		return
	}
	w.buf = append(w.buf, '{')
	if set {
		first := true
		switch last.num {
		case 1:
			w.key(&first, "stringValue")
			w.str(last.b)
		case 2:
			w.key(&first, "boolValue")
			w.buf = strconv.AppendBool(w.buf, last.v != 0)
		case 3:
			w.key(&first, "intValue")
			w.quotedInt(int64(last.v))
		case 4:
			w.key(&first, "doubleValue")
			w.float(math.Float64frombits(last.v))
		case 5:
			w.key(&first, "arrayValue")
			w.buf = append(w.buf, '{')
			inner := true
			w.anyValues(&inner, last.b)
			w.buf = append(w.buf, '}')
		case 6:
			w.key(&first, "kvlistValue")
			w.buf = append(w.buf, '{')
			inner := true
			w.keyValues(&inner, "values", last.b, 1)
			w.buf = append(w.buf, '}')
		case 7:
			w.key(&first, "bytesValue")
			w.buf = append(w.buf, '"')
			w.buf = base64.StdEncoding.AppendEncode(w.buf, last.b)
			w.buf = append(w.buf, '"')
		}
	}
	w.buf = append(w.buf, '}')
}

// anyValues writes the values of an ArrayValue message.
func (w *jsonWriter) anyValues(first *bool, msg []byte) {
	it := fields{buf: msg}
	var f field
	n := 0
	for it.next(&f) {
		if f.num != 1 || f.wire != wireLen {
			w.bad = true
			return
		}
		if n == 0 {
			w.key(first, "values")
			w.buf = append(w.buf, '[')
		} else {
			w.buf = append(w.buf, ',')
		}
		n++
		w.anyValue(f.b)
	}
	if it.err {
		w.bad = true
	}
	if n > 0 {
		w.buf = append(w.buf, ']')
	}
}

// resource writes a Resource message.
func (w *jsonWriter) resource(msg []byte) {
	var dropped uint64
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen:
		case f.num == 2 && f.wire == wireVarint:
			dropped = f.v
		case f.num == 3 && f.wire == wireLen:
		default:
			w.bad = true
			return
		}
	}
	if it.err {
		w.bad = true
		return
	}
	first := true
	w.buf = append(w.buf, '{')
	w.keyValues(&first, "attributes", msg, 1)
	w.uint32Field(&first, "droppedAttributesCount", dropped)
	w.repeated(&first, "entityRefs", msg, 3, w.entityRef)
	w.buf = append(w.buf, '}')
}

// entityRef writes an EntityRef message.
func (w *jsonWriter) entityRef(msg []byte) {
	var schema, typ []byte
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen:
			schema = f.b
		case f.num == 2 && f.wire == wireLen:
			typ = f.b
		case (f.num == 3 || f.num == 4) && f.wire == wireLen:
		default:
			w.bad = true
			return
		}
	}
	if it.err {
		w.bad = true
		return
	}
	first := true
	w.buf = append(w.buf, '{')
	w.strField(&first, "schemaUrl", schema)
	w.strField(&first, "type", typ)
	w.repeated(&first, "idKeys", msg, 3, w.str)
	w.repeated(&first, "descriptionKeys", msg, 4, w.str)
	w.buf = append(w.buf, '}')
}

// scope writes an InstrumentationScope message.
func (w *jsonWriter) scope(msg []byte) {
	var name, version []byte
	var dropped uint64
	it := fields{buf: msg}
	var f field
	for it.next(&f) {
		switch {
		case f.num == 1 && f.wire == wireLen:
			name = f.b
		case f.num == 2 && f.wire == wireLen:
			version = f.b
		case f.num == 3 && f.wire == wireLen:
		case f.num == 4 && f.wire == wireVarint:
			dropped = f.v
		default:
			w.bad = true
			return
		}
	}
	if it.err {
		w.bad = true
		return
	}
	first := true
	w.buf = append(w.buf, '{')
	w.strField(&first, "name", name)
	w.strField(&first, "version", version)
	w.keyValues(&first, "attributes", msg, 3)
	w.uint32Field(&first, "droppedAttributesCount", dropped)
	w.buf = append(w.buf, '}')
}

// uint32Field writes a uint32 field that pdata omits when zero.
func (w *jsonWriter) uint32Field(first *bool, name string, v uint64) {
	if uint32(v) != 0 {
		w.key(first, name)
		w.buf = strconv.AppendUint(w.buf, uint64(uint32(v)), 10)
	}
}

// int32Field writes an int32 (enum) field that pdata omits when zero.
func (w *jsonWriter) int32Field(first *bool, name string, v uint64) {
	if int32(v) != 0 { //nolint:gosec // truncation is the protobuf rule for int32
		w.key(first, name)
		w.buf = strconv.AppendInt(w.buf, int64(int32(v)), 10) //nolint:gosec // as above
	}
}

// timeField writes a fixed64 time in nanoseconds, which pdata omits when
// zero, as a decimal string.
func (w *jsonWriter) timeField(first *bool, name string, v uint64) {
	if v != 0 {
		w.key(first, name)
		w.quotedUint(v)
	}
}

// strField writes a string field that pdata omits when empty.
func (w *jsonWriter) strField(first *bool, name string, s []byte) {
	if len(s) > 0 {
		w.key(first, name)
		w.str(s)
	}
}
