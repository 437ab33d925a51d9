package ring

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

func TestAppendTestgenBatches(t *testing.T) {
	step := 7 * time.Second
	first, last := t0, t0.Add(99*step)
	// Scrambled times: the range must not depend on item order.
	times := []time.Time{t0.Add(time.Minute), last, t0.Add(3 * time.Minute), first}

	tests := []struct {
		name      string
		add       func(r *Ring) (Batch, error)
		unmarshal func([]byte) (int, error)
		wantItems int
		wantMin   time.Time
		wantMax   time.Time
	}{
		{
			name: "traces",
			add: func(r *Ring) (Batch, error) {
				return r.AppendTraces(testgen.Traces(1, 100, 5, t0, step))
			},
			unmarshal: func(b []byte) (int, error) {
				td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
				return td.SpanCount(), err
			},
			wantItems: 100, wantMin: first, wantMax: last,
		},
		{
			name: "traces with scrambled times",
			add: func(r *Ring) (Batch, error) {
				return r.AppendTraces(testgen.Traces(1, 40, 3, time.Time{}, 0, testgen.WithTimes(times...)))
			},
			unmarshal: func(b []byte) (int, error) {
				td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
				return td.SpanCount(), err
			},
			wantItems: 40, wantMin: first, wantMax: last,
		},
		{
			name: "logs, some with only an observed time",
			add: func(r *Ring) (Batch, error) {
				return r.AppendLogs(testgen.Logs(2, 100, 5, t0, step))
			},
			unmarshal: func(b []byte) (int, error) {
				ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
				return ld.LogRecordCount(), err
			},
			wantItems: 100, wantMin: first, wantMax: last,
		},
		{
			name: "logs with only observed times",
			add: func(r *Ring) (Batch, error) {
				return r.AppendLogs(testgen.Logs(2, 100, 5, t0, step, testgen.WithObservedOnlyRate(1)))
			},
			unmarshal: func(b []byte) (int, error) {
				ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
				return ld.LogRecordCount(), err
			},
			wantItems: 100, wantMin: first, wantMax: last,
		},
		{
			name: "metrics",
			add: func(r *Ring) (Batch, error) {
				return r.AppendMetrics(testgen.Metrics(3, 100, 5, t0, step))
			},
			unmarshal: func(b []byte) (int, error) {
				md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
				return md.DataPointCount(), err
			},
			wantItems: 100, wantMin: first, wantMax: last,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newMarshalRing(t)
			b, err := tt.add(r)
			require.NoError(t, err)
			assert.Equal(t, tt.wantItems, b.Items)
			assert.True(t, tt.wantMin.Equal(b.MinT), "min %s", b.MinT)
			assert.True(t, tt.wantMax.Equal(b.MaxT), "max %s", b.MaxT)
			n, err := tt.unmarshal(lastPayload(t, r))
			require.NoError(t, err)
			assert.Equal(t, tt.wantItems, n)
		})
	}
}

// newMarshalRing is a memory ring for the tests of AppendTraces, AppendLogs
// and AppendMetrics.
func newMarshalRing(t *testing.T) *Ring {
	t.Helper()
	r, err := Open(Config{MaxBytes: 64 << 20}, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// lastPayload returns the payload of the ring's newest block.
func lastPayload(t *testing.T, r *Ring) []byte {
	t.Helper()
	var p []byte
	require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
		var err error
		p, err = b.Payload()
		return err
	}))
	require.NotNil(t, p, "the ring holds no block")
	return p
}

func TestAppendIgnoresUnsetTimes(t *testing.T) {
	r := newMarshalRing(t)
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	spans.AppendEmpty() // no start time
	b, err := r.AppendTraces(td)
	require.NoError(t, err)
	assert.Equal(t, 1, b.Items)
	assert.True(t, b.MinT.IsZero() && b.MaxT.IsZero(), "no item time gives zero times")

	spans.AppendEmpty().SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
	b, err = r.AppendTraces(td)
	require.NoError(t, err)
	assert.Equal(t, 2, b.Items)
	assert.True(t, t0.Equal(b.MinT) && t0.Equal(b.MaxT))

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	b, err = r.AppendLogs(ld)
	require.NoError(t, err)
	assert.Equal(t, 1, b.Items)
	assert.True(t, b.MinT.IsZero())

	b, err = r.AppendMetrics(pmetric.NewMetrics())
	require.NoError(t, err)
	assert.Zero(t, b.Items)
}

func TestAppendMetricsAllTypes(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	at := func(m int) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(t0.Add(time.Duration(m) * time.Minute))
	}
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetTimestamp(at(3))
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().SetTimestamp(at(4))
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().SetTimestamp(at(5))
	eh := ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints()
	eh.AppendEmpty().SetTimestamp(at(-2))
	eh.AppendEmpty().SetTimestamp(at(1))
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().SetTimestamp(at(9))
	ms.AppendEmpty() // empty metric: no data points

	b, err := newMarshalRing(t).AppendMetrics(md)
	require.NoError(t, err)
	assert.Equal(t, 6, b.Items)
	assert.True(t, at(-2).AsTime().Equal(b.MinT))
	assert.True(t, at(9).AsTime().Equal(b.MaxT))
}

func TestLogRecordTime(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.SetObservedTimestamp(5)
	assert.Equal(t, pcommon.Timestamp(5), LogRecordTime(lr))
	lr.SetTimestamp(3)
	assert.Equal(t, pcommon.Timestamp(3), LogRecordTime(lr))

	span := ptrace.NewSpan()
	span.SetStartTimestamp(7)
	span.SetEndTimestamp(9)
	assert.Equal(t, pcommon.Timestamp(7), SpanTime(span))
}

func TestAppendSignalsStoreTheBatchAsPdataMarshalsIt(t *testing.T) {
	r := newMarshalRing(t)
	td := testgen.Traces(1, 300, 4, t0, time.Second)
	ld := testgen.Logs(2, 200, 3, t0, time.Second)
	md := testgen.Metrics(3, 90, 3, t0, time.Second)
	tdWant, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	ldWant, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	mdWant, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	want := map[Signal][]byte{SignalTraces: tdWant, SignalLogs: ldWant, SignalMetrics: mdWant}

	// Twice each, so that the second append reuses a scratch buffer the
	// first one grew.
	for range 2 {
		b, err := r.AppendTraces(td)
		require.NoError(t, err)
		// The batch names its block as the ring holds it.
		held, last := r.Held()
		assert.Equal(t, held[len(held)-1], b.Block)
		assert.Equal(t, last, b.Block.Seq)
		assert.Equal(t, BlockInfo{Seq: last, Signal: SignalTraces, MinTime: t0, MaxTime: t0.Add(299 * time.Second), Items: 300, Arrival: b.Block.Arrival},
			b.Block)
		b.Block = BlockInfo{}
		assert.Equal(t, Batch{Items: 300, MinT: t0, MaxT: t0.Add(299 * time.Second)}, batchUTC(b))
		b, err = r.AppendLogs(ld)
		require.NoError(t, err)
		assert.Equal(t, 200, b.Items)
		b, err = r.AppendMetrics(md)
		require.NoError(t, err)
		assert.Equal(t, 90, b.Items)
	}
	// An empty batch is described but not stored.
	b, err := r.AppendTraces(ptrace.NewTraces())
	require.NoError(t, err)
	assert.Equal(t, Batch{}, b)

	var got []Signal
	require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(blk Block) error {
		p, err := blk.Payload()
		require.NoError(t, err)
		assert.Equal(t, want[blk.Signal], p, "block %d (%s)", blk.Seq, blk.Signal)
		got = append(got, blk.Signal)
		return nil
	}))
	assert.Equal(t, []Signal{SignalTraces, SignalLogs, SignalMetrics, SignalTraces, SignalLogs, SignalMetrics}, got)
}

func batchUTC(b Batch) Batch {
	b.MinT, b.MaxT = b.MinT.UTC(), b.MaxT.UTC()
	return b
}

// TestExactBlocks: a block is exact (its time range bounds every item, and
// a reader may take it whole) only when the ring's encoder wrote it, in
// memory, with a usable time for every item and an item in every group.
func TestExactBlocks(t *testing.T) {
	lastBlock := func(t *testing.T, r *Ring) Block {
		t.Helper()
		var blk Block
		require.NoError(t, r.Scan(0, time.Time{}, time.Time{}, func(b Block) error {
			blk = b
			return nil
		}))
		require.NotZero(t, blk.Seq, "the ring holds no block")
		return blk
	}
	traces := func(extra func(td ptrace.Traces)) ptrace.Traces {
		td := testgen.Traces(1, 20, 2, t0, time.Second)
		if extra != nil {
			extra(td)
		}
		return td
	}
	tests := []struct {
		name  string
		disk  bool
		add   func(r *Ring) error
		exact bool
	}{
		{"traces", false, func(r *Ring) error { _, err := r.AppendTraces(traces(nil)); return err }, true},
		{"logs", false, func(r *Ring) error { _, err := r.AppendLogs(testgen.Logs(2, 20, 2, t0, time.Second)); return err }, true},
		{"a span without a time", false, func(r *Ring) error {
			_, err := r.AppendTraces(traces(func(td ptrace.Traces) {
				td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
			}))
			return err
		}, false},
		{"a resource without scopes", false, func(r *Ring) error {
			_, err := r.AppendTraces(traces(func(td ptrace.Traces) { td.ResourceSpans().AppendEmpty() }))
			return err
		}, false},
		{"a scope without log records", false, func(r *Ring) error {
			ld := testgen.Logs(2, 20, 2, t0, time.Second)
			ld.ResourceLogs().At(0).ScopeLogs().AppendEmpty()
			_, err := r.AppendLogs(ld)
			return err
		}, false},
		{"metrics", false, func(r *Ring) error { _, err := r.AppendMetrics(testgen.Metrics(3, 20, 2, t0, time.Second)); return err }, false},
		{"a payload given to Append", false, func(r *Ring) error {
			p, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(traces(nil))
			require.NoError(t, err)
			_, err = r.Append(SignalTraces, p, t0, t0.Add(19*time.Second), 20)
			return err
		}, false},
		{"traces in a disk ring", true, func(r *Ring) error { _, err := r.AppendTraces(traces(nil)); return err }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{MaxBytes: 64 << 20}
			if tt.disk {
				cfg.Directory = t.TempDir()
			}
			r := openRing(t, cfg)
			require.NoError(t, tt.add(r))
			assert.Equal(t, tt.exact, lastBlock(t, r).Exact)
		})
	}
}
