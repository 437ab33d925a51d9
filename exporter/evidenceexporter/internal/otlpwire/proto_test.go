package otlpwire

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// checkTracesProto filters td's protobuf request with keep and usable and
// holds the output to what pdata's ProtoMarshaler writes for td decoded
// and filtered the way the freezer does it, byte for byte.
func checkTracesProto(t *testing.T, td ptrace.Traces, keep Range, usable *Range) {
	t.Helper()
	payload, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	want, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(payload)
	require.NoError(t, err)
	var wb Batch
	want.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				return !selectTime(&wb, s.StartTimestamp(), keep, usable)
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})

	prefix := []byte("earlier record")
	got, b, err := TracesProto(bytes.Clone(prefix), payload, keep, usable)
	require.NoError(t, err)
	require.Equal(t, wb, b)
	require.True(t, bytes.HasPrefix(got, prefix))
	if wb.Items == 0 {
		require.Equal(t, prefix, got)
		return
	}
	wantProto, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(want)
	require.NoError(t, err)
	sameBytes(t, wantProto, got[len(prefix):], "traces proto")
}

// checkLogsProto is checkTracesProto for logs.
func checkLogsProto(t *testing.T, ld plog.Logs, keep Range, usable *Range) {
	t.Helper()
	payload, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	want, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(payload)
	require.NoError(t, err)
	var wb Batch
	want.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				return !selectTime(&wb, ts, keep, usable)
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})

	prefix := []byte("earlier record")
	got, b, err := LogsProto(bytes.Clone(prefix), payload, keep, usable)
	require.NoError(t, err)
	require.Equal(t, wb, b)
	require.True(t, bytes.HasPrefix(got, prefix))
	if wb.Items == 0 {
		require.Equal(t, prefix, got)
		return
	}
	wantProto, err := (&plog.ProtoMarshaler{}).MarshalLogs(want)
	require.NoError(t, err)
	sameBytes(t, wantProto, got[len(prefix):], "logs proto")
}

// selectTime counts an item of time ts into b as the filters do and
// reports whether it is kept.
func selectTime(b *Batch, ts pcommon.Timestamp, keep Range, usable *Range) bool {
	if usable != nil && !usable.Contains(ts) {
		b.Unusable++
	}
	if !keep.Contains(ts) {
		return false
	}
	b.Items++
	if b.MinT == 0 || ts < b.MinT {
		b.MinT = ts
	}
	b.MaxT = max(b.MaxT, ts)
	return true
}

func TestProtoFilterTestgen(t *testing.T) {
	usable := &Range{Lo: pcommon.Timestamp(t0.Add(time.Millisecond).UnixNano()), Hi: AnyTime.Hi}
	for _, n := range []int{0, 1, 10, 1000} {
		td := testgen.Traces(int64(n), n, 10, t0, time.Millisecond)
		ld := testgen.Logs(int64(n), n, 10, t0, time.Millisecond)
		for _, keep := range keepRanges {
			checkTracesProto(t, td, keep, nil)
			checkTracesProto(t, td, keep, usable)
			checkLogsProto(t, ld, keep, nil)
			checkLogsProto(t, ld, keep, usable)
		}
	}
}

func TestProtoFilterKeepsAllAsThePayload(t *testing.T) {
	td := testgen.Traces(7, 100, 3, t0, time.Millisecond)
	payload, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	got, b, err := TracesProto(nil, payload, AnyTime, nil)
	require.NoError(t, err)
	require.Equal(t, 100, b.Items)
	require.Equal(t, payload, got)
	assert.Same(t, &payload[0], &got[0], "a request kept whole is returned, not copied")

	// After a prefix, the request is appended.
	got, b, err = TracesProto([]byte("x"), payload, AnyTime, nil)
	require.NoError(t, err)
	require.Equal(t, 100, b.Items)
	require.Equal(t, append([]byte("x"), payload...), got)
}

func TestProtoFilterEmptyAndDefault(t *testing.T) {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetStartTimestamp(1)
	td.ResourceSpans().AppendEmpty()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().SetObservedTimestamp(1)
	ld.ResourceLogs().AppendEmpty()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for _, keep := range keepRanges {
		checkTracesProto(t, td, keep, &AnyTime)
		checkLogsProto(t, ld, keep, &AnyTime)
	}
}

func TestProtoFilterRandom(t *testing.T) {
	for seed := range uint64(400) {
		g := gen{rng: rand.New(rand.NewPCG(seed, 3))}
		td, ld := g.traces(), g.logs()
		for _, keep := range keepRanges {
			checkTracesProto(t, td, keep, &keepRanges[3])
			checkLogsProto(t, ld, keep, &keepRanges[3])
		}
	}
}

func TestProtoFilterNotTranscoded(t *testing.T) {
	td := testgen.Traces(1, 10, 2, t0, time.Millisecond)
	payload, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	prefix := []byte("x")
	for name, p := range map[string][]byte{
		"truncated":       payload[:len(payload)-3],
		"unknown field":   append(bytes.Clone(payload), 0x10, 0x01), // field 2, varint
		"short trace ID":  {0x0a, 0x08, 0x12, 0x06, 0x12, 0x04, 0x0a, 0x02, 0x01, 0x02},
		"bad wire type":   {0x0a, 0x02, 0x10, 0x01},
		"two resources":   {0x0a, 0x04, 0x0a, 0x00, 0x0a, 0x00},
		"tag of field 0":  {0x00},
		"overlong varint": {0x0a, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"length past end": {0x0a, 0x7f, 0x00},
	} {
		for _, filter := range []func([]byte, []byte, Range, *Range) ([]byte, Batch, error){TracesProto, LogsProto} {
			got, _, err := filter(bytes.Clone(prefix), p, AnyTime, nil)
			require.ErrorIs(t, err, ErrNotTranscoded, name)
			require.Equal(t, prefix, got, name)
		}
	}
}

// FuzzTracesProto holds the filter to pdata on random batches, and on
// arbitrary bytes requires that it either declines or writes a request
// pdata reads as the input's kept spans.
func FuzzTracesProto(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s, s+1, []byte(nil))
	}
	payload, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(testgen.Traces(3, 20, 3, t0, time.Millisecond))
	f.Add(uint64(0), uint64(0), payload)
	f.Fuzz(func(t *testing.T, a, b uint64, raw []byte) {
		g := gen{rng: rand.New(rand.NewPCG(a, b))}
		checkTracesProto(t, g.traces(), keepRanges[a%uint64(len(keepRanges))], &keepRanges[b%uint64(len(keepRanges))])
		keep := keepRanges[4]
		got, _, err := TracesProto(nil, raw, keep, nil)
		if err != nil {
			require.ErrorIs(t, err, ErrNotTranscoded)
			return
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
		if err != nil {
			// Only the span's own fields are checked, not what is
			// inside its attributes, events or links: the ring holds
			// what the exporter's encoder wrote, under a CRC.
			return
		}
		td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
			rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
				ss.Spans().RemoveIf(func(s ptrace.Span) bool { return !keep.Contains(s.StartTimestamp()) })
				return ss.Spans().Len() == 0
			})
			return rs.ScopeSpans().Len() == 0
		})
		back, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(got)
		require.NoError(t, err)
		require.Equal(t, td.SpanCount(), back.SpanCount())
	})
}
