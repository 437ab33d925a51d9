package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// timeFormats are the absolute forms parseTimeFlag accepts besides RFC 3339.
var timeFormats = []string{
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// timeFlagHelp describes what parseTimeFlag accepts, for flag usage lines.
const timeFlagHelp = "RFC 3339 time (2026-03-02T09:30:00Z), date (2026-03-02, UTC), time of day (11:42, UTC, the last one), \"now\", or a duration ago (90m, 2h)"

// clockFormats are the times of day parseTimeFlag accepts: the latest such
// time (UTC) not after now, give or take a minute of clock skew.
var clockFormats = []string{"15:04:05", "15:04"}

// parseTimeFlag parses a time given on the command line: RFC 3339
// (with or without fractional seconds), a date or date and time without
// zone (UTC), "now", or a Go duration meaning that long before now ("90m",
// "2h30m"; a leading '-' is accepted and means the same).
func parseTimeFlag(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if strings.EqualFold(s, "now") {
		return now.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return checkYear(t.UTC())
	}
	for _, f := range timeFormats {
		if t, err := time.ParseInLocation(f, s, time.UTC); err == nil {
			return checkYear(t)
		}
	}
	for _, f := range clockFormats {
		if c, err := time.ParseInLocation(f, s, time.UTC); err == nil {
			now := now.UTC()
			t := time.Date(now.Year(), now.Month(), now.Day(), c.Hour(), c.Minute(), c.Second(), 0, time.UTC)
			if t.After(now.Add(time.Minute)) {
				t = t.AddDate(0, 0, -1)
			}
			return t, nil
		}
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time: want %s", s, timeFlagHelp)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("%q: durations count back from now and must not be negative", s)
	}
	return now.Add(-d).UTC(), nil
}

func checkYear(t time.Time) (time.Time, error) {
	if y := t.Year(); y < 1970 || y > 9999 {
		return time.Time{}, fmt.Errorf("year %d is out of range", y)
	}
	return t, nil
}
