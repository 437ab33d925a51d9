package otlpwire

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// checkLogsJSON is checkTracesJSON for log records, kept by their time,
// else their observed time.
func checkLogsJSON(t *testing.T, ld plog.Logs, keep Range, usable *Range) {
	t.Helper()
	payload, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)

	want, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(payload)
	require.NoError(t, err)
	unusable, kept := 0, 0
	var minT, maxT pcommon.Timestamp
	want.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				if usable != nil && !usable.Contains(ts) {
					unusable++
				}
				if !keep.Contains(ts) {
					return true
				}
				kept++
				if minT == 0 || ts < minT {
					minT = ts
				}
				maxT = max(maxT, ts)
				return false
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})

	prefix := []byte("earlier record\n")
	got, b, err := LogsJSON(bytes.Clone(prefix), payload, keep, usable)
	require.NoError(t, err)
	require.Equal(t, Batch{Items: kept, Unusable: unusable, MinT: minT, MaxT: maxT}, b)
	if kept == 0 {
		require.Equal(t, prefix, got)
		return
	}
	wantJSON, err := (&plog.JSONMarshaler{}).MarshalLogs(want)
	require.NoError(t, err)
	sameBytes(t, wantJSON, got[len(prefix):], "logs JSON")
}

func TestLogsJSONTestgen(t *testing.T) {
	for _, n := range []int{0, 1, 10, 1000} {
		ld := testgen.Logs(int64(n), n, 10, t0, time.Millisecond)
		for _, keep := range keepRanges {
			checkLogsJSON(t, ld, keep, &Range{Lo: pcommon.Timestamp(t0.Add(time.Millisecond).UnixNano()), Hi: AnyTime.Hi})
		}
	}
}

func TestLogsJSONEmptyAndDefault(t *testing.T) {
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().SetObservedTimestamp(1)
	ld.ResourceLogs().AppendEmpty()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for _, keep := range keepRanges {
		checkLogsJSON(t, ld, keep, &AnyTime)
	}
}

func TestLogsJSONRandom(t *testing.T) {
	for seed := range uint64(400) {
		g := gen{rng: rand.New(rand.NewPCG(seed, 3))}
		ld := g.logs()
		for _, keep := range keepRanges {
			checkLogsJSON(t, ld, keep, &keepRanges[3])
		}
	}
}

// FuzzLogsJSON is FuzzTracesJSON for logs.
func FuzzLogsJSON(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s, s+1, []byte(nil))
	}
	payload, _ := (&plog.ProtoMarshaler{}).MarshalLogs(testgen.Logs(3, 20, 3, t0, time.Millisecond))
	f.Add(uint64(0), uint64(0), payload)
	f.Fuzz(func(t *testing.T, a, b uint64, raw []byte) {
		g := gen{rng: rand.New(rand.NewPCG(a, b))}
		checkLogsJSON(t, g.logs(), keepRanges[a%uint64(len(keepRanges))], &keepRanges[b%uint64(len(keepRanges))])
		got, _, err := LogsJSON(nil, raw, AnyTime, nil)
		if err != nil {
			require.ErrorIs(t, err, ErrNotTranscoded)
			return
		}
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
		require.NoError(t, err, "transcoded a request pdata refuses")
		ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
			rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
				sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
					ts := lr.Timestamp()
					if ts == 0 {
						ts = lr.ObservedTimestamp()
					}
					return !AnyTime.Contains(ts)
				})
				return sl.LogRecords().Len() == 0
			})
			return rl.ScopeLogs().Len() == 0
		})
		if ld.LogRecordCount() == 0 {
			require.Empty(t, got)
			return
		}
		want, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
		require.NoError(t, err)
		sameBytes(t, want, got, "logs JSON of fuzzed bytes")
	})
}
