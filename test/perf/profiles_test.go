package perf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeCPUProfile writes a CPU profile whose samples are the given stacks
// (leaf first) with the given CPU milliseconds each.
func writeCPUProfile(t *testing.T, name string, samples map[string][]string, ms map[string]int64) string {
	t.Helper()
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
	}
	funcs := map[string]*profile.Function{}
	fn := func(n string) *profile.Function {
		if f, ok := funcs[n]; ok {
			return f
		}
		f := &profile.Function{ID: uint64(len(funcs) + 1), Name: n, SystemName: n}
		funcs[n] = f
		p.Function = append(p.Function, f)
		return f
	}
	for key, stack := range samples {
		var locs []*profile.Location
		for _, frame := range stack {
			// "a+b": b inlined into a's location, innermost first.
			loc := &profile.Location{ID: uint64(len(p.Location) + 1)}
			for _, n := range strings.Split(frame, "+") {
				loc.Line = append(loc.Line, profile.Line{Function: fn(n)})
			}
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{ms[key] / 10, ms[key] * 1_000_000}})
	}
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, p.Write(f))
	require.NoError(t, f.Close())
	return path
}

const (
	fnApply  = "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor.(*contextProcessor).applyDirect"
	fnProc   = "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor.(*contextProcessor).processTraces"
	fnDecode = "go.opentelemetry.io/collector/pdata/internal.(*ExportTraceServiceRequest).UnmarshalProto"
	fnSpan   = "go.opentelemetry.io/collector/pdata/internal.(*Span).UnmarshalProto"
	fnRPC    = "google.golang.org/grpc.(*Server).processUnaryRPC"
)

func TestCompareProfiles(t *testing.T) {
	measured := []string{
		writeCPUProfile(t, "m1.pprof", map[string][]string{
			"apply":  {fnApply, fnProc, fnRPC},
			"malloc": {"runtime.memclrNoHeapPointers+runtime.mallocgc", fnApply, fnProc, fnRPC},
			"decode": {fnSpan, fnDecode, fnRPC},
			"mark":   {"runtime.scanobject", "runtime.gcBgMarkWorker"},
		}, map[string]int64{"apply": 300, "malloc": 100, "decode": 1000, "mark": 250}),
		writeCPUProfile(t, "m2.pprof", map[string][]string{
			"decode": {fnSpan, fnDecode, fnRPC},
		}, map[string]int64{"decode": 1000}),
	}
	companion := []string{
		writeCPUProfile(t, "c1.pprof", map[string][]string{
			"decode": {fnSpan, fnDecode, fnRPC},
			"mark":   {"runtime.scanobject", "runtime.gcBgMarkWorker"},
			"idle":   {"runtime.futex"},
		}, map[string]int64{"decode": 1960, "mark": 200, "idle": 30}),
	}
	d, err := CompareProfiles(measured, companion, 3)
	require.NoError(t, err)
	assert.InDelta(t, 2.65, d.Total.Measured, 1e-9)
	assert.InDelta(t, 2.19, d.Total.Companion, 1e-9)

	byName := map[string]ProfileRow{}
	for _, r := range d.Areas {
		byName[r.Name] = r
	}
	require.Len(t, d.Areas, len(CPUAreas))
	own := byName[CPUAreas[0].Name]
	assert.InDelta(t, 0.4, own.Measured, 1e-9, "applyDirect and the allocation under it")
	assert.Zero(t, own.Companion)
	dec := byName[CPUAreas[1].Name]
	assert.InDelta(t, 2.0, dec.Measured, 1e-9, "a sample counts once however many of the area's functions it has")
	assert.InDelta(t, 1.96, dec.Companion, 1e-9)
	alloc := byName[CPUAreas[2].Name]
	assert.InDelta(t, 0.1, alloc.Measured, 1e-9, "mallocgc is found as an inlined frame too")
	gc := byName[CPUAreas[3].Name]
	assert.InDelta(t, 0.25, gc.Measured, 1e-9)
	assert.InDelta(t, 0.2, gc.Companion, 1e-9)

	require.Len(t, d.Top, 3)
	assert.Equal(t, fnApply, d.Top[0].Name, "the largest flat difference first")
	assert.InDelta(t, 0.3, d.Top[0].Diff(), 1e-9)
	assert.Equal(t, "runtime.memclrNoHeapPointers", d.Top[1].Name, "the innermost inlined function is the flat one")
	assert.Equal(t, "runtime.scanobject", d.Top[2].Name)
	assert.InDelta(t, 0.05, d.Top[2].Diff(), 1e-9)
}

func TestCompareProfilesErrors(t *testing.T) {
	good := writeCPUProfile(t, "g.pprof", map[string][]string{"a": {"main.a"}}, map[string]int64{"a": 10})
	_, err := CompareProfiles(nil, []string{good}, 5)
	assert.ErrorContains(t, err, "no profiles")
	_, err = CompareProfiles([]string{good}, []string{filepath.Join(t.TempDir(), "missing.pprof")}, 5)
	assert.ErrorIs(t, err, os.ErrNotExist)

	heap := &profile.Profile{SampleType: []*profile.ValueType{{Type: "inuse_space", Unit: "bytes"}}}
	path := filepath.Join(t.TempDir(), "heap.pprof")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, heap.Write(f))
	require.NoError(t, f.Close())
	_, err = CompareProfiles([]string{good}, []string{path}, 5)
	assert.ErrorContains(t, err, "not a CPU profile")

	junk := filepath.Join(t.TempDir(), "junk.pprof")
	require.NoError(t, os.WriteFile(junk, []byte("not a profile"), 0o600))
	_, err = CompareProfiles([]string{junk}, []string{good}, 5)
	assert.ErrorContains(t, err, "junk.pprof")
}

func TestProfileTable(t *testing.T) {
	d := ProfileDiff{
		Total: ProfileRow{Name: "all samples", Measured: 10.8, Companion: 10},
		Areas: []ProfileRow{{Name: "components", Measured: 0.6}},
		Top:   []ProfileRow{{Name: "main.f", Measured: 0.25, Companion: 0.05}},
	}
	tb := ProfileTable(VariantRecord, FigureCPURecord, d, 11)
	assert.Contains(t, tb.Title, "record")
	assert.Equal(t, [][]string{
		{"all samples", "10.80", "10.00", "+0.80", "+8.0%"},
		{"components", "0.60", "0.00", "+0.60", "+6.0%"},
		{"own CPU of main.f", "0.25", "0.05", "+0.20", "+2.0%"},
	}, tb.Rows)
	require.Len(t, tb.Notes, 1)
	assert.Contains(t, tb.Notes[0], "11 rounds")
}
