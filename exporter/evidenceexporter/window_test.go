package evidenceexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowBounds(t *testing.T) {
	m := time.Minute
	fixed := windowPolicy{before: 30 * m, after: 10 * m, max: 120 * m, grace: m}
	extend := fixed
	extend.extend = true
	at := t0.Add
	res := func(d time.Duration) *time.Time { r := at(d); return &r }

	tests := []struct {
		name      string
		p         windowPolicy
		resolved  *time.Time
		frozen    time.Time
		now       time.Time
		wantBound time.Time
		wantFinal bool
	}{
		{name: "fixed, open", p: fixed, now: at(m), wantBound: at(10 * m)},
		{name: "fixed, in grace", p: fixed, now: at(10*m + 59*time.Second), wantBound: at(10 * m)},
		{name: "fixed, after grace", p: fixed, now: at(11 * m), wantBound: at(10 * m), wantFinal: true},
		{name: "fixed, resolution does not matter", p: fixed, resolved: res(2 * m), now: at(5 * m), wantBound: at(10 * m)},
		{name: "extend, early: at least T+after", p: extend, now: at(m), wantBound: at(10 * m)},
		{name: "extend, open: now", p: extend, now: at(50 * m), wantBound: at(50 * m)},
		{name: "extend, open past the cap", p: extend, now: at(120*m + 30*time.Second), wantBound: at(120 * m)},
		{name: "extend, capped and graced", p: extend, now: at(121 * m), wantBound: at(120 * m), wantFinal: true},
		{name: "extend, resolved: R+after", p: extend, resolved: res(40 * m), now: at(45 * m), wantBound: at(50 * m)},
		{name: "extend, resolved, graced", p: extend, resolved: res(40 * m), now: at(51 * m), wantBound: at(50 * m), wantFinal: true},
		{name: "extend, resolved early", p: extend, resolved: res(m), now: at(12 * m), wantBound: at(11 * m), wantFinal: true},
		{name: "extend, resolved before T", p: extend, resolved: res(-5 * m), now: at(11 * m), wantBound: at(10 * m), wantFinal: true},
		{name: "extend, resolved late: never shrink", p: extend, resolved: res(20 * m), frozen: at(60 * m), now: at(61 * m), wantBound: at(60 * m), wantFinal: true},
		{name: "extend, resolved after the cap", p: extend, resolved: res(200 * m), now: at(200 * m), wantBound: at(120 * m), wantFinal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.p.bounds(t0, tt.resolved, tt.frozen, tt.now)
			assert.Equal(t, t0.Add(-30*m), b.start)
			assert.Equal(t, tt.wantBound, b.bound)
			assert.Equal(t, tt.wantFinal, b.final)
		})
	}
}
