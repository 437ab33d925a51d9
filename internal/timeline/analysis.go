package timeline

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// byService groups minutes (sorted by minute, then service) by service,
// keeping each service's minutes in time order.
func byService(minutes []MinuteStats) map[string][]MinuteStats {
	out := map[string][]MinuteStats{}
	for _, m := range minutes {
		out[m.Service] = append(out[m.Service], m)
	}
	return out
}

// findSpikes returns every service's first error spike (see the package
// documentation), sorted by minute, then error count (highest first), then
// service.
func findSpikes(minutes []MinuteStats, opts Options) []Spike {
	spikes := []Spike{}
	for service, ms := range byService(minutes) {
		counts := make([]int64, 0, len(ms)) // earlier minutes' errors, ascending
		for _, m := range ms {
			med := median(counts)
			if m.Errors >= opts.SpikeMinErrors && float64(m.Errors) >= opts.SpikeFactor*med {
				spikes = append(spikes, Spike{
					Service:         service,
					Minute:          m.Minute,
					Errors:          m.Errors,
					ErrorSpans:      m.ErrorSpans,
					ErrorLogs:       m.Logs.Error,
					Spans:           m.Spans,
					BaselineMedian:  med,
					BaselineMinutes: len(counts),
				})
				break
			}
			i, _ := slices.BinarySearch(counts, m.Errors)
			counts = slices.Insert(counts, i, m.Errors)
		}
	}
	slices.SortFunc(spikes, func(a, b Spike) int {
		return cmp.Or(a.Minute.Compare(b.Minute), cmp.Compare(b.Errors, a.Errors), strings.Compare(a.Service, b.Service))
	})
	return spikes
}

// median returns the median of the ascending s (the mean of the two middle
// values for an even count), or 0 for none.
func median(s []int64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}

// findGaps returns, for every service, the runs of minutes within r after
// its first minute with data in which it sent nothing; sorted by service,
// then start.
func findGaps(minutes []MinuteStats, r *Range) []Gap {
	gaps := []Gap{}
	if r == nil {
		return gaps
	}
	for service, ms := range byService(minutes) {
		prev := ms[0].Minute
		for _, m := range ms[1:] {
			if m.Minute.After(prev.Add(time.Minute)) {
				gaps = append(gaps, newGap(service, prev.Add(time.Minute), m.Minute))
			}
			prev = m.Minute
		}
		if next := prev.Add(time.Minute); next.Before(r.End) {
			gaps = append(gaps, newGap(service, next, r.End))
		}
	}
	slices.SortFunc(gaps, func(a, b Gap) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), a.Start.Compare(b.Start))
	})
	return gaps
}

func newGap(service string, start, end time.Time) Gap {
	return Gap{Service: service, Start: start, End: end, Minutes: minutesBetween(start, end)}
}
