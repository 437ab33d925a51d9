package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTimeFlag(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "now", want: testNow},
		{in: "NOW", want: testNow},
		{in: "2026-03-02T09:30:00Z", want: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)},
		{in: "2026-03-02T09:30:00.5+02:00", want: time.Date(2026, 3, 2, 7, 30, 0, 5e8, time.UTC)},
		{in: "2026-03-02T09:30:00", want: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)},
		{in: "2026-03-02 09:30", want: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)},
		{in: "2026-03-02", want: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		// A time of day is the last one: today's, else yesterday's.
		{in: "09:15", want: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)},
		{in: "12:00:45", want: time.Date(2026, 3, 2, 12, 0, 45, 0, time.UTC)}, // within a minute of now
		{in: "23:59:30", want: time.Date(2026, 3, 1, 23, 59, 30, 0, time.UTC)},
		{in: "24:00", err: "is not a time"},
		{in: "90m", want: testNow.Add(-90 * time.Minute)},
		{in: "-2h30m", want: testNow.Add(-150 * time.Minute)},
		{in: " 0s ", want: testNow},
		{in: "", err: "empty time"},
		{in: "yesterday", err: "is not a time"},
		{in: "--1h", err: "must not be negative"},
		{in: "1969-12-31", err: "out of range"},
		{in: "2026-13-01", err: "is not a time"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTimeFlag(tt.in, testNow)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}
