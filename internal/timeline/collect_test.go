package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// overlappingStore writes the scenario as two collectors that saw part of
// the same telemetry: collector-a every batch over three otlp_json parts,
// collector-b every other batch over two otlp_proto parts, both every
// event. It returns the spans the parts hold together.
func overlappingStore(t *testing.T, e *evidence) (store.Store, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	var spans int64
	for _, c := range []struct {
		id, enc string
		parts   int
		keep    func(i int) bool
	}{
		{"collector-a", bundle.EncodingJSON, 3, func(int) bool { return true }},
		{"collector-b", bundle.EncodingProto, 2, func(i int) bool { return i%2 == 0 }},
	} {
		for seq := 1; seq <= c.parts; seq++ {
			key, data, n := scenarioPart(t, e, c.id, c.enc, seq, func(i int) bool { return c.keep(i) && i%c.parts == seq-1 })
			spans += n
			require.NoError(t, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
		}
	}
	ik, err := bundle.IncidentKey(scenarioIncident)
	require.NoError(t, err)
	b, err := json.Marshal(resolvedIncident(e))
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, ik, bytes.NewReader(b), int64(len(b)), store.PutOptions{}))
	return st, spans
}

// rendered builds the timeline of in and returns its JSON and Markdown.
func rendered(t *testing.T, in Input) (tl *Timeline, data, md []byte) {
	t.Helper()
	tl, err := Build(in)
	require.NoError(t, err)
	var j, m bytes.Buffer
	require.NoError(t, tl.WriteJSON(&j))
	require.NoError(t, tl.WriteMarkdown(&m))
	return tl, j.Bytes(), m.Bytes()
}

// TestPartsInParallel reads the parts of two collectors whose evidence
// overlaps with one worker, in part order, and then with several workers
// and in other orders: the JSON and the Markdown of the timeline are the
// same bytes every time. Not parallel: it sets GOMAXPROCS.
func TestPartsInParallel(t *testing.T) {
	e := scenario()
	st, spans := overlappingStore(t, e)
	input := func() Input {
		in, err := FromStore(context.Background(), st, scenarioIncident)
		require.NoError(t, err)
		require.Len(t, in.Sources, 5)
		return in
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	tl, wantData, wantMD := rendered(t, input())
	// The overlap is read twice, as the parts hold it.
	require.Equal(t, spans, tl.Totals.Spans)

	for _, procs := range []int{1, 2, 3, maxWorkers} {
		runtime.GOMAXPROCS(procs)
		for name, order := range map[string]func([]Source){
			"part order": func([]Source) {},
			"reversed":   slices.Reverse[[]Source],
			"rotated":    func(s []Source) { slices.Reverse(s[:2]); slices.Reverse(s[2:]); slices.Reverse(s) },
		} {
			in := input()
			order(in.Sources)
			_, data, md := rendered(t, in)
			// The same bytes, not merely the same JSON value.
			assert.Equal(t, wantData, data, "%d workers, %s: JSON", procs, name)
			assert.Equal(t, string(wantMD), string(md), "%d workers, %s: Markdown", procs, name)
		}
	}
}
