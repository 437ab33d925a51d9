package otlpwire

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// checkTracesJSON transcodes td's protobuf request with keep and usable and
// holds the output to what pdata writes for td decoded and filtered the
// way the freezer does it (spans whose start time keep contains, resources
// and scopes left empty removed).
func checkTracesJSON(t *testing.T, td ptrace.Traces, keep Range, usable *Range) {
	t.Helper()
	payload, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	want, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(payload)
	require.NoError(t, err)
	tally := keepTally{keep: keep, usable: usable}
	keepSpans(want, &tally)
	got := checkJSON(t, TracesJSON, payload, keep, usable, &tally,
		func() ([]byte, error) { return (&ptrace.JSONMarshaler{}).MarshalTraces(want) }, "traces JSON")
	if got == nil {
		return
	}

	// What pdata's reader gets from it is the filtered batch.
	back, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(got)
	require.NoError(t, err)
	wantProto, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(want)
	require.NoError(t, err)
	backProto, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(back)
	require.NoError(t, err)
	sameBytes(t, wantProto, backProto, "traces read back")
}

// keepSpans removes from td the spans whose start time tally drops, and
// the resources and scopes left without spans.
func keepSpans(td ptrace.Traces, tally *keepTally) {
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(s ptrace.Span) bool { return tally.drop(s.StartTimestamp()) })
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}

func TestTracesJSONTestgen(t *testing.T) {
	for _, n := range []int{0, 1, 10, 1000} {
		td := testgen.Traces(int64(n), n, 10, t0, time.Millisecond)
		for _, keep := range keepRanges {
			checkTracesJSON(t, td, keep, nil)
			checkTracesJSON(t, td, keep, &Range{Lo: pcommon.Timestamp(t0.Add(time.Millisecond).UnixNano()), Hi: AnyTime.Hi})
		}
	}
}

func TestTracesJSONEmptyAndDefault(t *testing.T) {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetStartTimestamp(1)
	td.ResourceSpans().AppendEmpty()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for _, keep := range keepRanges {
		checkTracesJSON(t, td, keep, &AnyTime)
	}
}

func TestTracesJSONRandom(t *testing.T) {
	for seed := range uint64(400) {
		g := gen{rng: rand.New(rand.NewPCG(seed, 2))}
		td := g.traces()
		for _, keep := range keepRanges {
			checkTracesJSON(t, td, keep, &keepRanges[3])
		}
	}
}

func TestTracesJSONNotTranscoded(t *testing.T) {
	td := testgen.Traces(1, 10, 2, t0, time.Millisecond)
	payload, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	prefix := []byte("x")
	for name, p := range map[string][]byte{
		"truncated":       payload[:len(payload)-3],
		"unknown field":   append(bytes.Clone(payload), 0x10, 0x01), // field 2, varint
		"short trace ID":  {0x0a, 0x08, 0x12, 0x06, 0x12, 0x04, 0x0a, 0x02, 0x01, 0x02},
		"bad wire type":   {0x0a, 0x02, 0x10, 0x01},
		"tag of field 0":  {0x00},
		"overlong varint": {0x0a, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"length past end": {0x0a, 0x7f, 0x00},
	} {
		got, _, err := TracesJSON(bytes.Clone(prefix), p, AnyTime, nil)
		require.ErrorIs(t, err, ErrNotTranscoded, name)
		require.Equal(t, prefix, got, name)
	}
}

// FuzzTracesJSON holds the transcoder to pdata on random batches, and on
// arbitrary bytes requires that it either matches pdata or declines.
func FuzzTracesJSON(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s, s+1, []byte(nil))
	}
	payload, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(testgen.Traces(3, 20, 3, t0, time.Millisecond))
	f.Add(uint64(0), uint64(0), payload)
	f.Fuzz(func(t *testing.T, a, b uint64, raw []byte) {
		g := gen{rng: rand.New(rand.NewPCG(a, b))}
		checkTracesJSON(t, g.traces(), keepRanges[a%uint64(len(keepRanges))], &keepRanges[b%uint64(len(keepRanges))])
		checkRawJSON(t, TracesJSON, raw, func(raw []byte) (int, func() ([]byte, error), error) {
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
			if err != nil {
				return 0, nil, err
			}
			keepSpans(td, &keepTally{keep: AnyTime})
			return td.SpanCount(), func() ([]byte, error) { return (&ptrace.JSONMarshaler{}).MarshalTraces(td) }, nil
		}, "traces JSON of fuzzed bytes")
	})
}
