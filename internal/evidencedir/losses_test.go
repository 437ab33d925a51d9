package evidencedir

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLossText(t *testing.T) {
	from := time.Date(2026, 3, 1, 12, 0, 1, 500, time.FixedZone("CET", 3600))
	to := from.Add(time.Minute)
	for _, tt := range []struct {
		from, to  time.Time
		collector string
		want      string
	}{
		{from, to, "c1", "traces: 3 items lost, item times 2026-03-01T11:00:01.0000005Z to 2026-03-01T11:01:01.0000005Z (collector c1)"},
		{from, time.Time{}, "", "traces: 3 items lost, item times from 2026-03-01T11:00:01.0000005Z"},
		{time.Time{}, to, "", "traces: 3 items lost, item times up to 2026-03-01T11:01:01.0000005Z"},
		{time.Time{}, time.Time{}, "c2", "traces: 3 items lost (collector c2)"},
	} {
		assert.Equal(t, tt.want, LossText("traces: 3 items lost", tt.from, tt.to, tt.collector))
	}
}
