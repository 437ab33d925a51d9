package incidentcontextprocessor

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// TestSharingIsOnWithThisPdata fails when a pdata upgrade changes the layout
// the shared values rely on: the processor would still be correct (it falls
// back to a value per record) but lose the saving silently.
func TestSharingIsOnWithThisPdata(t *testing.T) {
	require.True(t, layoutOK, "pcommon.Value no longer has the layout shared values need")
	require.NotNil(t, poolingGate(), "pdata's %s gate is not registered", protoPoolingGateID)
	assert.True(t, newSharer().ok())
}

// recordBatch is one resource of checkout 1.4.2 in prod with n spans.
func recordBatch(t *testing.T, n int) ptrace.Traces {
	r := svc("checkout", "1.4.2")
	r.attrs["deployment.environment.name"] = "prod"
	for i := range n {
		r.times = append(r.times, at(50+i))
	}
	r.recAttrs = map[string]any{"http.route": "/cart"}
	return makeTraces(t, r)
}

func TestLevelRecordAllocationsDoNotGrowWithItems(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	// override makes every run write every key again.
	p := newTestProc(t, snap, at(1000), func(c *Config) {
		c.Override = true
		c.Level = LevelRecord
	})
	allocs := func(spans int) float64 {
		td := recordBatch(t, spans)
		// The first run adds the keys; AllocsPerRun makes another before
		// it counts.
		_, _ = p.processTraces(context.Background(), td)
		return testing.AllocsPerRun(20, func() {
			_, _ = p.processTraces(context.Background(), td)
		})
	}
	small, large := allocs(2), allocs(500)
	assert.Equal(t, small, large, "allocations per batch must not depend on the number of spans")
}

func TestSharedValuesStayIndependent(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	p := newTestProc(t, snap, at(1000), func(c *Config) { c.Level = LevelRecord })
	td := p.traces(t, recordBatch(t, 3))
	rs := td.ResourceSpans().At(0)
	spans := rs.ScopeSpans().At(0).Spans()

	// Changing one span's value, through every way pdata offers, leaves the
	// other spans and the resource as written.
	v, ok := spans.At(0).Attributes().Get(defaultKeyDeploymentID)
	require.True(t, ok)
	v.SetStr("changed")
	spans.At(1).Attributes().PutStr(defaultKeyIncidentID, "changed too")
	copied := pcommon.NewMap()
	spans.At(2).Attributes().CopyTo(copied)
	copied.PutStr(defaultKeyDeploymentName, "changed in the copy")
	moved := ptrace.NewTraces()
	td.CopyTo(moved)
	moved.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2).Attributes().PutEmpty(defaultKeyEnvironment)

	want0 := map[string]any{}
	want1 := map[string]any{}
	for k, v := range wantRecord {
		want0[k], want1[k] = v, v
	}
	want0[defaultKeyDeploymentID] = "changed"
	want1[defaultKeyIncidentID] = "changed too"
	assert.Equal(t, want0, ours(spans.At(0).Attributes()))
	assert.Equal(t, want1, ours(spans.At(1).Attributes()))
	assert.Equal(t, wantRecord, ours(spans.At(2).Attributes()))
	assert.Equal(t, wantRecord, ours(rs.Resource().Attributes()))
}

// TestProtoPoolingWritesOwnValues: with pdata's proto pooling on, a value
// that is replaced is zeroed and returned to a pool, so every record must
// hold a value of its own: replacing one span's value must leave the other
// span's as written.
func TestProtoPoolingWritesOwnValues(t *testing.T) {
	reg := featuregate.GlobalRegistry()
	require.NoError(t, reg.Set(protoPoolingGateID, true))
	t.Cleanup(func() { require.NoError(t, reg.Set(protoPoolingGateID, false)) })

	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	p := newTestProc(t, snap, at(1000), func(c *Config) { c.Level = LevelRecord })
	require.False(t, p.share.ok())
	td := p.traces(t, recordBatch(t, 2))
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for _, k := range ourKeys {
		v, ok := spans.At(0).Attributes().Get(k)
		require.True(t, ok, k)
		v.SetStr("replaced")
	}
	assert.Equal(t, wantRecord, ours(spans.At(1).Attributes()))
	assert.Equal(t, wantRecord, ours(td.ResourceSpans().At(0).Resource().Attributes()))
}

// TestDirectWritesAreOnWithThisPdata fails when a pdata upgrade changes the
// Map layout the direct writes rely on: the processor would still be correct
// (it falls back to pdata's Map API) but lose the saving silently.
func TestDirectWritesAreOnWithThisPdata(t *testing.T) {
	require.True(t, directOK, "pcommon.Map no longer has the layout direct writes need")
}

// attrList is a Map's attributes in order, values as strings.
func attrList(m pcommon.Map) [][2]string {
	var out [][2]string
	for k, v := range m.All() {
		out = append(out, [2]string{k, v.AsString()})
	}
	return out
}

// TestDirectWritesMatchMapAPI: writing a resource's shared values directly
// on the attribute slices gives the same attributes, in the same order, as
// writing them through pdata's Map API, whether a record's slice is full or
// has room and whatever keys it already has.
func TestDirectWritesMatchMapAPI(t *testing.T) {
	require.True(t, directOK)
	var w writeList
	w.add("deployment.id", "checkout-1.4.2")
	w.add("incident.id", "INC-1")
	w.add("deployment.environment.name", "prod")
	w.share()

	// Each case builds the attributes a record has before the write.
	cases := map[string]func() pcommon.Map{
		"empty": pcommon.NewMap,
		"full": func() pcommon.Map {
			m := pcommon.NewMap()
			m.EnsureCapacity(3)
			m.PutStr("http.route", "/cart")
			m.PutInt("http.status_code", 200)
			m.PutStr("peer.service", "db")
			return m
		},
		"room": func() pcommon.Map {
			m := pcommon.NewMap()
			m.EnsureCapacity(8)
			m.PutStr("http.route", "/cart")
			return m
		},
		"has one key": func() pcommon.Map {
			m := pcommon.NewMap()
			m.PutStr("http.route", "/cart")
			m.PutStr("incident.id", "INC-OTHER")
			m.PutBool("sampled", true)
			return m
		},
		"has every key": func() pcommon.Map {
			m := pcommon.NewMap()
			m.PutStr("deployment.environment.name", "staging")
			m.PutStr("deployment.id", "mine")
			m.PutStr("incident.id", "INC-OTHER")
			return m
		},
		"same length, other key": func() pcommon.Map {
			m := pcommon.NewMap()
			m.PutStr("incident.ix", "x")
			return m
		},
	}
	for _, override := range []bool{false, true} {
		p := &contextProcessor{override: override}
		arena := &kvArena{}
		for name, build := range cases {
			viaAPI, direct := build(), build()
			wAPI := w
			p.apply(viaAPI, &wAPI)
			wDirect := w
			wDirect.arena = arena
			p.apply(direct, &wDirect)
			assert.Equal(t, attrList(viaAPI), attrList(direct), "%s, override %v", name, override)
		}
	}
}

// TestDirectWritesKeepRecordsApart: records whose slices were carved one
// after the other from the same chunk stay independent: adding to or
// removing from one leaves its neighbours as written.
func TestDirectWritesKeepRecordsApart(t *testing.T) {
	require.True(t, directOK)
	p := &contextProcessor{}
	var w writeList
	w.add("deployment.id", "checkout-1.4.2")
	w.add("incident.id", "INC-1")
	w.share()
	w.arena = &kvArena{}
	recs := make([]pcommon.Map, 4)
	for i := range recs {
		recs[i] = pcommon.NewMap()
		recs[i].PutStr("http.route", "/cart")
		p.apply(recs[i], &w)
	}
	want := [][2]string{{"http.route", "/cart"}, {"deployment.id", "checkout-1.4.2"}, {"incident.id", "INC-1"}}
	recs[0].PutStr("extra", "x")
	recs[0].PutStr("extra2", "y")
	recs[2].Remove("http.route")
	v, ok := recs[1].Get("deployment.id")
	require.True(t, ok)
	v.SetStr("changed")

	assert.Equal(t, append(append([][2]string{}, want...), [2]string{"extra", "x"}, [2]string{"extra2", "y"}), attrList(recs[0]))
	assert.Equal(t, [][2]string{{"http.route", "/cart"}, {"deployment.id", "changed"}, {"incident.id", "INC-1"}}, attrList(recs[1]))
	assert.ElementsMatch(t, want[1:], attrList(recs[2])) // Remove moves the last attribute into the gap
	assert.Equal(t, want, attrList(recs[3]))
}

// TestLevelRecordGrowsNoSliceEach: at level record, records whose attribute
// slices are full are not grown one allocation each.
func TestLevelRecordGrowsNoSliceEach(t *testing.T) {
	snap := incidentsapi.NewSnapshot(1, testIncidents(), testDeploys())
	p := newTestProc(t, snap, at(1000), func(c *Config) { c.Level = LevelRecord })
	const spans, runs = 500, 10
	batches := make([]ptrace.Traces, runs+1) // AllocsPerRun runs once more to warm up
	for i := range batches {
		batches[i] = recordBatch(t, spans)
	}
	sp := batches[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	require.Equal(t, sp.Len(), cap(*kvSlice(sp)), "the records' attribute slices must be full for this test")
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		_, _ = p.processTraces(context.Background(), batches[i])
		i++
	})
	assert.Less(t, allocs, float64(spans)/10, "allocations per batch of %d spans whose attributes are full", spans)
}

// TestArenaKeepsTheChunkForTheNextBatch: a batch carves its slices from
// what the batches before it left of their chunk, and no two batches get
// the same room.
func TestArenaKeepsTheChunkForTheNextBatch(t *testing.T) {
	var tails sync.Pool
	end := func(s []kv) uintptr {
		return uintptr(unsafe.Pointer(unsafe.SliceData(s[:cap(s)]))) + uintptr(cap(s))*unsafe.Sizeof(kv{})
	}
	start := func(s []kv) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(s[:1]))) }

	// sync.Pool may drop what it is given (at a collection, or at random
	// under the race detector): the carry-over shows within a few tries.
	carried := false
	for range 50 {
		first := &kvArena{tails: &tails}
		s1 := first.grow(9)
		first.release()
		next, other := &kvArena{tails: &tails}, &kvArena{tails: &tails}
		s2, s3 := next.grow(9), other.grow(9)
		assert.NotEqual(t, start(s2), start(s3), "two batches got the same room")
		if start(s2) == end(s1) {
			carried = true
			assert.NotEqual(t, end(s1), start(s3))
			break
		}
	}
	assert.True(t, carried, "the next batch never continued the chunk of the batch before it")
}

// collectUntil runs the garbage collector until cond holds: finalizers run
// on their own goroutine after the collection that finds their object.
func collectUntil(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		runtime.GC()
		return cond()
	}, 10*time.Second, 10*time.Millisecond, msg)
}

// len returns the number of chunks on the free list.
func (l *blockList) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.free)
}

// TestChunkComesBackWhenNoRecordHoldsIt: a chunk nothing points into any
// more goes back to the free list, cleared, and is the next one handed
// out; a chunk a record still holds a slice of never does.
func TestChunkComesBackWhenNoRecordHoldsIt(t *testing.T) {
	l := &blockList{}
	held, dropped := l.get(), l.get()
	held[3] = kv{key: "held"}
	dropped[0] = kv{key: "dropped", val: newSharedStr("value").v}
	keep := held[3:4:4] // what a record keeps: a slice inside the chunk
	droppedAt := uintptr(unsafe.Pointer(dropped))
	dropped = nil //nolint:ineffassign,wastedassign // the chunk must become unreachable

	collectUntil(t, func() bool { return l.len() > 0 }, "the dropped chunk never came back")
	assert.Equal(t, 1, l.len(), "only the dropped chunk comes back")
	again := l.get()
	assert.Equal(t, droppedAt, uintptr(unsafe.Pointer(again)), "the next chunk handed out is the one that came back")
	assert.Equal(t, kvBlock{}, *again, "a chunk comes back cleared")
	assert.Equal(t, "held", keep[0].key)
	runtime.KeepAlive(keep)
	runtime.KeepAlive(again)
}

// TestChunkFreeListIsBounded: chunks beyond maxFreeBlocks are left to the
// garbage collector.
func TestChunkFreeListIsBounded(t *testing.T) {
	l := &blockList{}
	for range maxFreeBlocks + 3 {
		l.put(new(kvBlock))
	}
	assert.Equal(t, maxFreeBlocks, l.len())
}

// TestArenaTakesChunksThatCameBack: once the records of a batch are gone,
// a later batch's slices are carved from the chunk they had.
func TestArenaTakesChunksThatCameBack(t *testing.T) {
	saved := blocks
	blocks = &blockList{}
	t.Cleanup(func() { blocks = saved })

	first := &kvArena{}
	s := first.grow(9)
	chunk := uintptr(unsafe.Pointer(unsafe.SliceData(s[:1])))
	s, first = nil, nil //nolint:ineffassign,wastedassign // the batch's records are gone
	collectUntil(t, func() bool { return blocks.len() > 0 }, "the batch's chunk never came back")

	next := &kvArena{}
	assert.Equal(t, chunk, uintptr(unsafe.Pointer(unsafe.SliceData(next.grow(9)[:1]))))
	assert.Zero(t, blocks.len())
}
