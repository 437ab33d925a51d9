package incidentsapi

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

func TestEventKeyRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		t      time.Time
		writer string
		seq    uint64
		want   string
	}{
		{
			name: "collector", t: time.Unix(1700000000, 123), writer: "collector-a", seq: 7,
			want: "control/events/01700000000000000123-collector-a-7.json",
		},
		{name: "dashes in writer", t: time.Unix(1, 0), writer: "a-b-c", seq: 0, want: "control/events/00000000001000000000-a-b-c-0.json"},
		{name: "tool", t: time.Unix(0, 1), writer: "evidencectl", seq: 18446744073709551615, want: "control/events/00000000000000000001-evidencectl-18446744073709551615.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := EventKey(tt.t, tt.writer, tt.seq)
			require.NoError(t, err)
			assert.Equal(t, tt.want, key)
			require.NoError(t, store.ValidateKey(key))
			gt, gw, gs, err := ParseEventKey(key)
			require.NoError(t, err)
			assert.True(t, gt.Equal(tt.t))
			assert.Equal(t, tt.writer, gw)
			assert.Equal(t, tt.seq, gs)
		})
	}
}

func TestEventKeyErrors(t *testing.T) {
	_, err := EventKey(time.Unix(1, 0), "../x", 1)
	require.ErrorIs(t, err, incident.ErrInvalidID)
	_, err = EventKey(time.Unix(-1, 0), "a", 1)
	require.ErrorContains(t, err, "before 1970")

	for _, key := range []string{
		"",
		"incidents/x/incident.json",
		"control/events/123-a-1.json",
		"control/events/00000000000000000001-a-1.txt",
		"control/events/00000000000000000001_a-1.json",
		"control/events/0000000000000000000x-a-1.json",
		"control/events/00000000000000000001-a.json",
		"control/events/00000000000000000001--1.json",
		"control/events/00000000000000000001-a/b-1.json",
		"control/events/00000000000000000001-a-x.json",
		"control/events/99999999999999999999-a-1.json",
	} {
		_, _, _, err := ParseEventKey(key)
		assert.ErrorIs(t, err, ErrInvalidEventKey, key)
	}
}

// TestEventKeyCursor checks that listing after the cursor of t returns
// exactly the keys written at or after t.
func TestEventKeyCursor(t *testing.T) {
	base := time.Unix(1700000000, 500)
	cursor := EventKeyCursor(base)
	for _, tc := range []struct {
		t     time.Time
		after bool
	}{
		{base.Add(-time.Nanosecond), false},
		{base.Add(-time.Hour), false},
		{base, true},
		{base.Add(time.Nanosecond), true},
		{base.Add(time.Hour), true},
	} {
		for _, writer := range []string{"a", "zzz", "0", "A-b"} {
			key, err := EventKey(tc.t, writer, 1)
			require.NoError(t, err)
			assert.Equal(t, tc.after, key > cursor, "%s vs cursor %s", key, cursor)
		}
	}
}

func FuzzParseEventKey(f *testing.F) {
	f.Add("control/events/00000001700000000000000123-collector-a-7.json")
	f.Add("control/events/00000000000000000001-a-b-c-0.json")
	f.Add("control/events/00000000000000000001-a-.json")
	f.Add("control/events/-1.json")
	f.Fuzz(func(t *testing.T, key string) {
		ts, writer, seq, err := ParseEventKey(key)
		if err != nil {
			return
		}
		// A parsed key is a valid store key and renders back to an
		// equivalent key.
		require.NoError(t, store.ValidateKey(key))
		again, err := EventKey(ts, writer, seq)
		require.NoError(t, err)
		t2, w2, s2, err := ParseEventKey(again)
		require.NoError(t, err)
		require.True(t, ts.Equal(t2))
		require.Equal(t, writer, w2)
		require.Equal(t, seq, s2)
		require.True(t, strings.HasPrefix(again, EventsPrefix))
	})
}
