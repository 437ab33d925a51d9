package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"reflect"
	"unsafe"

	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// At level record the processor writes the same few strings on every record
// of a resource. pdata stores a string value as a pointer to a small struct
// it allocates for each value (Value.SetStr, Map.PutStr), so tagging costs
// one allocation per key per record, and the garbage collector pays for them
// again downstream. A sharedStr is one such struct, allocated once per
// resource and written into every record's value: the records then hold the
// same immutable string value, as they would after a decode of the same
// bytes, without an allocation each.
//
// This relies on two facts about pdata, both checked before any sharing:
//   - the layout: pcommon.Value starts with a pointer to the value's proto
//     struct, whose only field is the interface holding the typed value
//     (sharingLayoutOK checks it by reflection and by a round trip);
//   - nothing changes a string value in place: SetStr, PutStr, CopyTo and the
//     decoders all allocate a new typed value and replace the pointer. The
//     one exception is pdata's proto pooling (feature gate
//     pdata.useProtoPooling), which zeroes a value and returns it to a pool
//     when the data is released; a shared value would be zeroed under every
//     other record holding it. While that gate is enabled, or cannot be
//     found, the processor writes a value per record as before.

// protoPoolingGateID is pdata's feature gate that recycles the values.
const protoPoolingGateID = "pdata.useProtoPooling"

// sharedStr is a string value many records can hold: the content of the
// interface field of pdata's AnyValue for a string.
type sharedStr struct{ v any }

// anyField returns the interface field of the proto struct behind v.
func anyField(v pcommon.Value) *any {
	return *(**any)(unsafe.Pointer(&v)) //nolint:gosec // layout checked by sharingLayoutOK before any use
}

// newSharedStr builds a string value to share.
func newSharedStr(s string) sharedStr {
	return sharedStr{v: *anyField(pcommon.NewValueStr(s))}
}

// set makes dst hold the shared value s.
func (s sharedStr) set(dst pcommon.Value) {
	*anyField(dst) = s.v
}

// sharingLayoutOK reports whether pcommon.Value has the layout anyField
// assumes and a shared value reads back as the string it holds.
func sharingLayoutOK() bool {
	vt := reflect.TypeFor[pcommon.Value]()
	if vt.Kind() != reflect.Struct || vt.NumField() < 1 {
		return false
	}
	orig := vt.Field(0)
	if orig.Offset != 0 || orig.Type.Kind() != reflect.Pointer {
		return false
	}
	av := orig.Type.Elem()
	if av.Kind() != reflect.Struct || av.NumField() != 1 {
		return false
	}
	f := av.Field(0)
	if f.Offset != 0 || f.Type.Kind() != reflect.Interface || f.Type.NumMethod() != 0 {
		return false
	}
	const probe = "incident_context probe"
	s := newSharedStr(probe)
	m := pcommon.NewMap()
	v := m.PutEmpty("k")
	s.set(v)
	got, ok := m.Get("k")
	return ok && got.Type() == pcommon.ValueTypeStr && got.Str() == probe
}

// layoutOK is the layout check's result, taken once.
var layoutOK = sharingLayoutOK()

// poolingGate returns pdata's proto pooling gate, or nil if the registry
// does not hold it.
func poolingGate() *featuregate.Gate {
	var gate *featuregate.Gate
	featuregate.GlobalRegistry().VisitAll(func(g *featuregate.Gate) {
		if g.ID() == protoPoolingGateID {
			gate = g
		}
	})
	return gate
}

// sharer decides, per batch, whether record values may be shared.
type sharer struct {
	gate *featuregate.Gate // nil: sharing is off
}

func newSharer() sharer {
	if !layoutOK {
		return sharer{}
	}
	return sharer{gate: poolingGate()}
}

// ok reports whether values may be shared now. The gate is read per batch
// because the registry can be changed after the processor is built.
func (s sharer) ok() bool {
	return s.gate != nil && !s.gate.IsEnabled()
}
