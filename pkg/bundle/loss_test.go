package bundle

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMergeLosses(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ls := MergeLosses(nil,
		Loss{Signal: SignalTraces, Reason: LossEvicted, Items: 3, From: t0.Add(time.Second), To: t0.Add(2 * time.Second)},
		Loss{Signal: SignalLogs, Reason: LossUnusableTime, Items: 1},
		Loss{Signal: SignalTraces, Reason: LossEvicted, Items: 4, From: t0, To: t0.Add(time.Second)},
	)
	require.Equal(t, []Loss{
		{Signal: SignalLogs, Reason: LossUnusableTime, Items: 1},
		{Signal: SignalTraces, Reason: LossEvicted, Items: 7, From: t0, To: t0.Add(2 * time.Second)},
	}, ls)
	again := MergeLosses(ls, Loss{Signal: SignalLogs, Reason: LossUnusableTime, Items: 2})
	require.Equal(t, int64(1), ls[0].Items, "the input is not modified")
	require.Equal(t, int64(3), again[0].Items)
}

func TestManifestLosses(t *testing.T) {
	win := Window{Start: time.Date(2026, 3, 1, 11, 30, 0, 0, time.UTC), End: time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)}
	m, err := NewManifest("inc-1", "col-a", win)
	require.NoError(t, err)
	data, err := m.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(data), `"lossless": true`)
	got, err := ParseManifest(data)
	require.NoError(t, err)
	require.True(t, got.LossesKnown())
	require.True(t, got.Lossless)

	m.AddLosses(Loss{Signal: SignalMetrics, Reason: LossRestart, From: win.Start, To: win.Start.Add(time.Minute)})
	data, err = m.Marshal()
	require.NoError(t, err)
	got, err = ParseManifest(data)
	require.NoError(t, err)
	require.False(t, got.Lossless)
	require.Equal(t, m.Losses, got.Losses)

	// A manifest that claims lossless beside a loss is refused.
	forged := bytes.Replace(data, []byte(`"lossless": false`), []byte(`"lossless": true`), 1)
	_, err = ParseManifest(forged)
	require.ErrorContains(t, err, "'lossless' is true with 1 losses")

	// Format 1 has neither field: read, with the losses unknown.
	m1 := *m
	m1.Format, m1.Losses, m1.Lossless = 1, nil, false
	data, err = m1.Marshal()
	require.NoError(t, err)
	got, err = ParseManifest(data)
	require.NoError(t, err)
	require.False(t, got.LossesKnown())
}

func TestPartLosses(t *testing.T) {
	info := testInfo(EncodingJSON, 2)
	info.Late = true
	w, err := NewPartWriter(info)
	require.NoError(t, err)
	w.AddLosses(Loss{Signal: SignalTraces, Reason: LossLate, Items: 2})
	data, pi, err := w.Finish()
	require.NoError(t, err)
	require.False(t, pi.Lossless)
	p, err := ReadPart(bytes.NewReader(data))
	require.NoError(t, err)
	require.True(t, p.Info.LossesKnown())
	require.False(t, p.Info.Lossless)
	require.True(t, p.Info.Late)
	require.Equal(t, []Loss{{Signal: SignalTraces, Reason: LossLate, Items: 2}}, p.Info.Losses)
	ref, err := NewPartRef(pi, data)
	require.NoError(t, err)
	require.True(t, ref.Late)

	w, err = NewPartWriter(testInfo(EncodingJSON, 1))
	require.NoError(t, err)
	_, pi, err = w.Finish()
	require.NoError(t, err)
	require.True(t, pi.Lossless)
}
