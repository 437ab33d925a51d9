package otlpwire

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// keepRanges are the selections the JSON tests try: everything, nothing
// before t0, a window around t0 and one that keeps nothing generated.
var keepRanges = []Range{
	AnyTime,
	{Lo: pcommon.Timestamp(t0.UnixNano()), Hi: AnyTime.Hi},
	{Lo: 2, Hi: pcommon.Timestamp(t0.UnixNano())},
	{Lo: pcommon.Timestamp(t0.Add(-time.Minute).UnixNano()), Hi: pcommon.Timestamp(t0.Add(time.Second).UnixNano())},
	{Lo: 5, Hi: 6},
}

// keepTally filters a decoded batch the way the freezer does, item by
// item, and counts what a JSON transcoder reports for it, independently
// of the transcoder's own counting.
type keepTally struct {
	keep   Range
	usable *Range
	want   Batch
}

// drop counts an item of time ts and reports whether keep leaves it out.
func (k *keepTally) drop(ts pcommon.Timestamp) bool {
	if k.usable != nil && !k.usable.Contains(ts) {
		k.want.Unusable++
	}
	if !k.keep.Contains(ts) {
		return true
	}
	k.want.Items++
	if k.want.MinT == 0 || ts < k.want.MinT {
		k.want.MinT = ts
	}
	k.want.MaxT = max(k.want.MaxT, ts)
	return false
}

// jsonTranscoder is TracesJSON or LogsJSON.
type jsonTranscoder func(dst, payload []byte, keep Range, usable *Range) ([]byte, Batch, error)

// checkJSON transcodes payload with keep and usable after a prefix, as
// into a part that holds earlier records, and holds the output to tally
// (the batch filtered the same way) and to marshal, pdata's JSON of it.
// It returns the JSON written, nil when nothing was kept.
func checkJSON(t *testing.T, transcode jsonTranscoder, payload []byte, keep Range, usable *Range, tally *keepTally, marshal func() ([]byte, error), what string) []byte {
	t.Helper()
	prefix := []byte("earlier record\n")
	got, b, err := transcode(bytes.Clone(prefix), payload, keep, usable)
	require.NoError(t, err)
	require.Equal(t, tally.want, b)
	require.True(t, bytes.HasPrefix(got, prefix))
	if tally.want.Items == 0 {
		require.Equal(t, prefix, got)
		return nil
	}
	want, err := marshal()
	require.NoError(t, err)
	sameBytes(t, want, got[len(prefix):], what)
	return got[len(prefix):]
}

// checkRawJSON requires that transcode, given arbitrary bytes raw, either
// declines them or writes what pdata writes for them. decode decodes raw
// with pdata (an error when pdata refuses it), keeps the items of a usable
// time and returns how many it kept and their JSON.
func checkRawJSON(t *testing.T, transcode jsonTranscoder, raw []byte, decode func(raw []byte) (items int, marshal func() ([]byte, error), err error), what string) {
	t.Helper()
	got, _, err := transcode(nil, raw, AnyTime, nil)
	if err != nil {
		require.ErrorIs(t, err, ErrNotTranscoded)
		return
	}
	items, marshal, err := decode(raw)
	require.NoError(t, err, "transcoded a request pdata refuses")
	if items == 0 {
		require.Empty(t, got)
		return
	}
	want, err := marshal()
	require.NoError(t, err)
	sameBytes(t, want, got, what)
}
