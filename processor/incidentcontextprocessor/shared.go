package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"reflect"
	"runtime"
	"sync"
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

// At level record, most of what is left of the processor's cost is pdata's
// Map API: each key written is one scan of the record's attributes
// (GetOrPutEmpty), and a record whose attribute slice is full is grown by
// a fresh allocation of its own (EnsureCapacity), copied, and dropped for
// the collector to sweep. While values are shared, a record's attributes
// are instead written directly on the slice behind the Map: one scan finds
// the keys the record already has, and a full slice moves to a slot carved
// from a chunk shared by the records of the batch.
//
// This relies on the layout of pdata's Map: a pointer to the slice of its
// KeyValue protos, each a string key, an AnyValue (whose only field is the
// interface of the value, see above) and the key's index in a profiles
// dictionary, unused here and left 0 as pdata leaves it. kv mirrors that
// element: same size, same fields at the same offsets, so the same pointer
// map for the garbage collector; kvLayoutOK checks it by reflection and by
// a round trip. Proto pooling, which recycles slices too, turns it off
// with sharing (sharer.ok).

// kv mirrors pdata's KeyValue proto.
type kv struct {
	key      string
	val      any
	strindex int32 //nolint:unused // mirrors KeyValue's KeyStrindex, which keeps its size
}

// kvSlice returns the slice behind m.
func kvSlice(m pcommon.Map) *[]kv {
	return *(**[]kv)(unsafe.Pointer(&m)) //nolint:gosec // layout checked by kvLayoutOK before any use
}

// kvLayoutOK reports whether pcommon.Map has the layout kvSlice assumes.
func kvLayoutOK() bool {
	if !layoutOK {
		return false
	}
	mt := reflect.TypeFor[pcommon.Map]()
	if mt.Kind() != reflect.Struct || mt.NumField() < 1 {
		return false
	}
	orig := mt.Field(0)
	if orig.Offset != 0 || orig.Type.Kind() != reflect.Pointer || orig.Type.Elem().Kind() != reflect.Slice {
		return false
	}
	et := orig.Type.Elem().Elem()
	mirror := reflect.TypeFor[kv]()
	if et.Kind() != reflect.Struct || et.NumField() != 3 || et.Size() != mirror.Size() || et.Align() != mirror.Align() {
		return false
	}
	key, val, idx := et.Field(0), et.Field(1), et.Field(2)
	if idx.Offset != mirror.Field(2).Offset || idx.Type.Kind() != reflect.Int32 {
		return false
	}
	if key.Offset != mirror.Field(0).Offset || key.Type.Kind() != reflect.String ||
		val.Offset != mirror.Field(1).Offset || val.Type.Kind() != reflect.Struct || val.Type.NumField() != 1 ||
		val.Type.Size() != mirror.Field(1).Type.Size() {
		return false
	}
	iface := val.Type.Field(0)
	if iface.Offset != 0 || iface.Type.Kind() != reflect.Interface || iface.Type.NumMethod() != 0 {
		return false
	}
	const probe = "incident_context probe"
	m := pcommon.NewMap()
	m.PutInt("a", 1)
	s := kvSlice(m)
	if len(*s) != 1 || (*s)[0].key != "a" {
		return false
	}
	*s = append(*s, kv{key: "k", val: newSharedStr(probe).v})
	got, ok := m.Get("k")
	a, okA := m.Get("a")
	return m.Len() == 2 && ok && got.Type() == pcommon.ValueTypeStr && got.Str() == probe &&
		okA && a.Type() == pcommon.ValueTypeInt && a.Int() == 1
}

// directOK is kvLayoutOK's result, taken once.
var directOK = kvLayoutOK()

// kvChunk is the number of attributes in one chunk the grown slices of a
// batch's records are carved from (40 bytes each).
const kvChunk = 512

// kvArena hands out the slices of the records of one batch whose
// attributes are full. What is left of its chunk after the batch is kept
// in the processor's pool for the next batch: with a chunk of its own per
// batch, each batch left most of its last chunk unused, a fifth of what the
// processor allocated on testgen's spans (104 bytes a span where 84 were
// needed). A chunk stays allocated while any record holding a slice of it
// does, as any slice would, and then goes back to blocks (below).
type kvArena struct {
	free []kv
	// tails is the pool of the chunks' rest (nil: none is kept); tail is
	// the holder taken from it, put back with the rest at release.
	tails *sync.Pool
	tail  *kvTail
}

// kvTail holds what is left of a chunk between two batches.
type kvTail struct{ free []kv }

// A new chunk has to be allocated and zeroed: in the perf runs' profiles
// that came to about 10 us a chunk, most of the arena's cost, and the
// chunks' bytes made the garbage collector run more often than beside a
// collector without the processor (3.2 against 3.0 cycles a second).
// A chunk no record holds any more is therefore kept for the next ones:
// a finalizer, set on every chunk handed out, runs once the collector
// finds nothing points into the chunk, and puts it back, cleared, on a
// short free list.

// kvBlock is one chunk.
type kvBlock [kvChunk]kv

// maxFreeBlocks bounds the free list (20 KiB a chunk).
const maxFreeBlocks = 64

// blockList holds the chunks no record holds any more.
type blockList struct {
	mu   sync.Mutex
	free []*kvBlock
}

// blocks is the free list of every processor of the process: a chunk's
// finalizer may run after the processor that took it has shut down.
var blocks = &blockList{}

// get returns a chunk, from the free list if it has one, with the
// finalizer that brings it back set.
func (l *blockList) get() *kvBlock {
	var b *kvBlock
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		b, l.free[n-1] = l.free[n-1], nil
		l.free = l.free[:n-1]
	}
	l.mu.Unlock()
	if b == nil {
		b = new(kvBlock)
	}
	runtime.SetFinalizer(b, l.put)
	return b
}

// put takes back a chunk nothing points into. It clears it first, so that
// it keeps nothing it pointed to alive, and drops it when the list is full.
func (l *blockList) put(b *kvBlock) {
	clear(b[:])
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) < maxFreeBlocks {
		l.free = append(l.free, b)
	}
}

// grow returns an empty slice with capacity n. Each slice's capacity ends
// where the next one's begins, so an append past it reallocates, as it
// would on a slice of its own.
func (a *kvArena) grow(n int) []kv {
	if n > kvChunk/4 {
		return make([]kv, 0, n)
	}
	if cap(a.free) < n {
		a.refill(n)
	}
	s := a.free[:0:n]
	a.free = a.free[n:n:cap(a.free)]
	return s
}

// refill takes the rest of an earlier batch's chunk, the first time the
// batch needs room and if it is large enough, or else a chunk from blocks.
func (a *kvArena) refill(n int) {
	if a.tails != nil && a.tail == nil {
		if t, ok := a.tails.Get().(*kvTail); ok {
			a.tail = t
			if cap(t.free) >= n {
				a.free, t.free = t.free, nil
				return
			}
			t.free = nil
		}
	}
	a.free = blocks.get()[:0:kvChunk]
}

// release keeps the rest of the chunk for the next batch; the arena must
// not be used after it. A nil arena keeps nothing.
func (a *kvArena) release() {
	if a == nil || a.tails == nil || cap(a.free) == 0 {
		return
	}
	t := a.tail
	if t == nil {
		t = new(kvTail)
	}
	t.free, a.free = a.free, nil
	a.tails.Put(t)
}

// applyDirect writes the shared values of w on the slice behind attrs, with
// the result of apply: keys the record has are left alone (or, with
// override, take the value in place), the others are appended in key
// order.
func (p *contextProcessor) applyDirect(attrs pcommon.Map, w *writeList, arena *kvArena) {
	ps := kvSlice(attrs)
	s := *ps
	var at [numKeys]int
	missing := w.n
	for i := range w.n {
		at[i] = -1
	}
	for j := range s {
		k := s[j].key
		if w.keyLens&lenBit(k) == 0 {
			continue // no key of ours has this length
		}
		for i := range w.n {
			if at[i] < 0 && len(k) == len(w.keys[i]) && k == w.keys[i] {
				at[i] = j
				missing--
				break
			}
		}
		if missing == 0 {
			break
		}
	}
	if missing > 0 && len(s)+missing > cap(s) {
		ns := arena.grow(len(s) + missing)
		s = append(ns, s...)
	}
	for i := range w.n {
		switch {
		case at[i] < 0:
			s = append(s, kv{key: w.keys[i], val: w.shared[i].v})
		case p.override:
			s[at[i]].val = w.shared[i].v
		}
	}
	*ps = s
}
