package otlpwire

import (
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
	tally := keepTally{keep: keep, usable: usable}
	keepRecords(want, &tally)
	checkJSON(t, LogsJSON, payload, keep, usable, &tally,
		func() ([]byte, error) { return (&plog.JSONMarshaler{}).MarshalLogs(want) }, "logs JSON")
}

// keepRecords removes from ld the log records whose time (else observed
// time) tally drops, and the resources and scopes left without records.
func keepRecords(ld plog.Logs, tally *keepTally) {
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				return tally.drop(ts)
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
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
		checkRawJSON(t, LogsJSON, raw, func(raw []byte) (int, func() ([]byte, error), error) {
			ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
			if err != nil {
				return 0, nil, err
			}
			keepRecords(ld, &keepTally{keep: AnyTime})
			return ld.LogRecordCount(), func() ([]byte, error) { return (&plog.JSONMarshaler{}).MarshalLogs(ld) }, nil
		}, "logs JSON of fuzzed bytes")
	})
}
