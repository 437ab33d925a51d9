package incidentcontextprocessor

import (
	"context"
	"testing"

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
		// The first two runs add the keys and then grow the attribute
		// slices once more (apply reserves room for every key it writes,
		// present or not); AllocsPerRun makes one of them.
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
