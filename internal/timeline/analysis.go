package timeline

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// analysis turns the aggregated buckets into the timeline's statistics and
// findings.
type analysis struct {
	a    *aggregator
	opts Options
	// vars is indexed by variant.
	vars []*vdata
	// services by name.
	services []*sdata
	byName   map[string]*sdata
	spikes   []Spike
	// scratch is reused for latency samples.
	scratch []int64
}

// vdata is one variant: its buckets by minute.
type vdata struct {
	key     variantKey
	idx     int32
	minutes []vbucket
	// first and last are the times of its first and last timed item.
	first, last int64
}

// vbucket is one variant's minute.
type vbucket struct {
	minute  int64
	variant int32
	b       *bucket
}

// sdata is one service: its variants and its minutes.
type sdata struct {
	name     string
	variants []*vdata // by first item
	minutes  []sminute
}

// sminute is one service's minute: the buckets of its variants.
type sminute struct {
	minute int64
	bs     []vbucket
	stats  MinuteStats
}

func newAnalysis(a *aggregator, opts Options) *analysis {
	an := &analysis{a: a, opts: opts, byName: map[string]*sdata{}}
	an.vars = make([]*vdata, len(a.keys))
	for i, k := range a.keys {
		an.vars[i] = &vdata{key: k, idx: int32(i), first: math.MaxInt64, last: math.MinInt64}
	}
	for k, b := range a.buckets {
		v := an.vars[k.variant]
		v.minutes = append(v.minutes, vbucket{minute: k.minute, variant: k.variant, b: b})
		for _, s := range b.spans {
			v.first, v.last = min(v.first, s.at), max(v.last, s.at)
		}
		for _, at := range b.errLogs {
			v.first, v.last = min(v.first, at), max(v.last, at)
		}
		if len(b.spans) == 0 && len(b.errLogs) == 0 {
			// Only log records below error or data points: the minute is
			// all that is known.
			v.first, v.last = min(v.first, k.minute*1e9), max(v.last, k.minute*1e9)
		}
	}
	for _, v := range an.vars {
		if len(v.minutes) == 0 {
			continue // a variant seen only on untimed items
		}
		slices.SortFunc(v.minutes, func(x, y vbucket) int { return cmp.Compare(x.minute, y.minute) })
		s := an.byName[v.key.service]
		if s == nil {
			s = &sdata{name: v.key.service}
			an.byName[s.name] = s
			an.services = append(an.services, s)
		}
		s.variants = append(s.variants, v)
	}
	slices.SortFunc(an.services, func(x, y *sdata) int { return strings.Compare(x.name, y.name) })
	for _, s := range an.services {
		slices.SortFunc(s.variants, func(x, y *vdata) int {
			return cmp.Or(cmp.Compare(x.first, y.first), compareKeys(x.key, y.key))
		})
		byMinute := map[int64][]vbucket{}
		for _, v := range s.variants {
			for _, vb := range v.minutes {
				byMinute[vb.minute] = append(byMinute[vb.minute], vb)
			}
		}
		for m, bs := range byMinute {
			s.minutes = append(s.minutes, sminute{minute: m, bs: bs})
		}
		slices.SortFunc(s.minutes, func(x, y sminute) int { return cmp.Compare(x.minute, y.minute) })
	}
	return an
}

func compareKeys(x, y variantKey) int {
	return cmp.Or(strings.Compare(x.service, y.service), strings.Compare(x.version, y.version),
		strings.Compare(x.deployment, y.deployment))
}

// fill computes minutes, services, versions, spikes and gaps.
func (an *analysis) fill(t *Timeline) {
	t.Minutes = []MinuteStats{}
	t.Services = make([]ServiceSummary, 0, len(an.services))
	for _, s := range an.services {
		sum := ServiceSummary{Name: s.name, Versions: len(s.variants)}
		for i := range s.minutes {
			sm := &s.minutes[i]
			sm.stats = an.minuteStats(s.name, sm.minute, sm.bs)
			m := sm.stats
			t.Minutes = append(t.Minutes, m)
			if i == 0 {
				sum.FirstMinute = m.Minute
			}
			sum.LastMinute = m.Minute
			sum.Spans += m.Spans
			sum.ErrorSpans += m.ErrorSpans
			sum.Logs.add(m.Logs)
			sum.DataPoints += m.DataPoints
			sum.Errors += m.Errors
			if m.Errors > sum.PeakErrors {
				sum.PeakErrors, sum.PeakErrorsMinute = m.Errors, m.Minute
			}
			if m.LatencySamples > 0 && m.P95Ms > sum.PeakP95Ms {
				sum.PeakP95Ms, sum.PeakP95Minute = m.P95Ms, m.Minute
			}
		}
		t.Services = append(t.Services, sum)
	}
	slices.SortFunc(t.Minutes, func(x, y MinuteStats) int {
		return cmp.Or(x.Minute.Compare(y.Minute), strings.Compare(x.Service, y.Service))
	})
	if len(t.Minutes) > 0 {
		start := t.Minutes[0].Minute
		end := t.Minutes[len(t.Minutes)-1].Minute.Add(time.Minute)
		t.Range = &Range{Start: start, End: end, Minutes: minutesBetween(start, end)}
	}
	t.Versions = an.versions()
	t.VersionMinutes = an.versionMinutes()
	an.spikes = an.findSpikes()
	t.Spikes = an.spikes
	for i := range t.Services {
		sum := &t.Services[i]
		for j := range an.spikes {
			sp := &an.spikes[j]
			if sp.Service != sum.Name {
				continue
			}
			first := &sum.FirstError
			if sp.Kind == SpikeLatency {
				first = &sum.FirstLatencyRegression
			}
			if *first == nil || sp.Onset.Time.Before((*first).Time) {
				o := sp.Onset
				*first = &o
			}
		}
	}
	t.Gaps = findGaps(an.services, t.Range)
}

// minuteStats computes one service's statistics for one minute from the
// buckets of its variants.
func (an *analysis) minuteStats(service string, minute int64, bs []vbucket) MinuteStats {
	m := MinuteStats{Minute: time.Unix(minute, 0).UTC(), Service: service}
	lat := an.scratch[:0]
	for _, vb := range bs {
		b := vb.b
		m.Spans += int64(len(b.spans))
		m.ErrorSpans += b.errorSpans
		m.Logs.add(b.logs)
		m.DataPoints += b.dataPoints
		for _, s := range b.spans {
			if s.dur >= 0 {
				lat = append(lat, s.dur)
			}
		}
	}
	m.Errors = m.ErrorSpans + m.Logs.Error
	m.LatencySamples = int64(len(lat))
	if len(lat) > 0 {
		slices.Sort(lat)
		m.P50Ms = durationMs(percentile(lat, 50))
		m.P95Ms = durationMs(percentile(lat, 95))
	}
	an.scratch = lat
	return m
}

// itemFilter selects items of some variants in [from, to) (Unix ns).
type itemFilter struct {
	variants []int32
	from, to int64
}

// figures computes the figures of the items f selects.
func (an *analysis) figures(f itemFilter) Figures {
	out, _ := an.figuresBy(f)
	return out
}

// figuresBy computes the figures of the items f selects and returns the
// variants that had any, in the order of f.
func (an *analysis) figuresBy(f itemFilter) (Figures, []int32) {
	var out Figures
	var seen []int32
	lat := an.scratch[:0]
	fromMin, toMin := minuteOf(max(f.from, 0)), minuteOf(max(f.to, 0))
	for _, v := range f.variants {
		n := out.Spans + out.ErrorLogs
		for _, vb := range an.vars[v].minutes {
			if vb.minute < fromMin || vb.minute > toMin {
				continue
			}
			for _, s := range vb.b.spans {
				if s.at < f.from || s.at >= f.to {
					continue
				}
				out.Spans++
				if s.err {
					out.ErrorSpans++
				}
				if s.dur >= 0 {
					lat = append(lat, s.dur)
				}
			}
			for _, at := range vb.b.errLogs {
				if at >= f.from && at < f.to {
					out.ErrorLogs++
				}
			}
		}
		if out.Spans+out.ErrorLogs > n {
			seen = append(seen, v)
		}
	}
	if out.Spans > 0 {
		out.ErrorRate = float64(out.ErrorSpans) / float64(out.Spans)
	}
	out.LatencySamples = int64(len(lat))
	if len(lat) > 0 {
		slices.Sort(lat)
		out.P50Ms = durationMs(percentile(lat, 50))
		out.P95Ms = durationMs(percentile(lat, 95))
	}
	an.scratch = lat
	return out, seen
}

// allTime selects every item.
const allTime = math.MaxInt64

// versions returns the figures of every variant, by service then first
// item.
func (an *analysis) versions() []VersionStats {
	out := []VersionStats{}
	for _, s := range an.services {
		for _, v := range s.variants {
			vs := VersionStats{
				Service: s.name, Version: v.key.version, DeploymentID: v.key.deployment,
				First: time.Unix(0, v.first).UTC(), Last: time.Unix(0, v.last).UTC(),
				Figures: an.figures(itemFilter{variants: []int32{v.idx}, from: math.MinInt64, to: allTime}),
			}
			for _, vb := range v.minutes {
				vs.LogRecords += vb.b.logs.Total()
			}
			out = append(out, vs)
		}
	}
	return out
}

// versionMinutes computes the statistics of every version's minutes.
func (an *analysis) versionMinutes() []MinuteStats {
	out := []MinuteStats{}
	for _, s := range an.services {
		for _, v := range s.variants {
			for _, vb := range v.minutes {
				m := an.minuteStats(s.name, vb.minute, []vbucket{vb})
				m.Version, m.DeploymentID = v.key.version, v.key.deployment
				out = append(out, m)
			}
		}
	}
	return out
}

// point is one minute of a series (a service, or one variant).
type point struct {
	minute                    int64
	spans, errors, errorSpans int64
	errorLogs, samples        int64
	p95                       float64
	bs                        []vbucket
}

// servicePoints returns the points of a service's minutes.
func servicePoints(s *sdata) []point {
	pts := make([]point, len(s.minutes))
	for i, sm := range s.minutes {
		pts[i] = point{
			minute: sm.minute, spans: sm.stats.Spans, errors: sm.stats.Errors, errorSpans: sm.stats.ErrorSpans,
			errorLogs: sm.stats.Logs.Error, samples: sm.stats.LatencySamples, p95: sm.stats.P95Ms, bs: sm.bs,
		}
	}
	return pts
}

// variantPoints returns the points of one variant's minutes.
func (an *analysis) variantPoints(v *vdata) []point {
	pts := make([]point, len(v.minutes))
	for i, vb := range v.minutes {
		st := an.minuteStats(v.key.service, vb.minute, []vbucket{vb})
		pts[i] = point{
			minute: vb.minute, spans: st.Spans, errors: st.Errors, errorSpans: st.ErrorSpans,
			errorLogs: st.Logs.Error, samples: st.LatencySamples, p95: st.P95Ms, bs: []vbucket{vb},
		}
	}
	return pts
}

// findSpikes finds the first error and latency spike of every service,
// and of every variant of a service with several (see the package
// documentation), sorted by onset, then kind, service, version and
// deployment.
func (an *analysis) findSpikes() []Spike {
	spikes := []Spike{}
	for _, s := range an.services {
		pts := servicePoints(s)
		base := spikeBase{Level: LevelService, Service: s.name}
		spikes = an.appendSpikes(spikes, base, pts, nil)
		if len(s.variants) < 2 {
			continue
		}
		n := len(spikes)
		for _, v := range s.variants {
			vpts := an.variantPoints(v)
			// The service's minutes before the variant appeared are its
			// baseline too: a new version is compared with what ran before.
			// Without any, the other versions in the variant's first minute
			// are: a deploy right after the evidence begins still has what
			// ran beside it to be compared with.
			var prior []point
			for _, p := range pts {
				if p.minute >= vpts[0].minute {
					break
				}
				prior = append(prior, p)
			}
			if len(prior) == 0 {
				prior = an.othersPoint(s, v, vpts[0].minute)
			}
			base := spikeBase{Level: LevelVersion, Service: s.name, Version: v.key.version, DeploymentID: v.key.deployment}
			spikes = an.appendSpikes(spikes, base, vpts, prior)
		}
		// A version's spike that begins with the very item that began the
		// service's adds nothing: the onset names the version already.
		spikes = slices.DeleteFunc(spikes, func(sp Spike) bool {
			if sp.Level != LevelVersion || sp.Service != s.name {
				return false
			}
			return slices.ContainsFunc(spikes[:n], func(o Spike) bool {
				return o.Service == s.name && o.Kind == sp.Kind && o.Onset.Time.Equal(sp.Onset.Time) &&
					o.Onset.Version == sp.Version && o.Onset.DeploymentID == sp.DeploymentID
			})
		})
	}
	slices.SortFunc(spikes, func(x, y Spike) int {
		return cmp.Or(x.Onset.Time.Compare(y.Onset.Time), strings.Compare(x.Kind, y.Kind),
			strings.Compare(x.Service, y.Service), strings.Compare(x.Level, y.Level),
			strings.Compare(x.Version, y.Version), strings.Compare(x.DeploymentID, y.DeploymentID))
	})
	return spikes
}

// othersPoint returns, as a one-point series, the minute of service s
// without variant v's items, when other variants sent spans in it.
func (an *analysis) othersPoint(s *sdata, v *vdata, minute int64) []point {
	i, ok := slices.BinarySearchFunc(s.minutes, minute, func(m sminute, t int64) int { return cmp.Compare(m.minute, t) })
	if !ok {
		return nil
	}
	var bs []vbucket
	for _, vb := range s.minutes[i].bs {
		if vb.variant != v.idx {
			bs = append(bs, vb)
		}
	}
	if len(bs) == 0 {
		return nil
	}
	st := an.minuteStats(s.name, minute, bs)
	if st.Spans == 0 {
		return nil
	}
	return []point{{minute: minute, spans: st.Spans, errors: st.Errors, errorSpans: st.ErrorSpans,
		errorLogs: st.Logs.Error, samples: st.LatencySamples, p95: st.P95Ms, bs: bs}}
}

// spikeBase holds what every spike of a series shares.
type spikeBase struct {
	Level, Service, Version, DeploymentID string
}

func (b spikeBase) spike(kind string, p point) Spike {
	return Spike{
		Kind: kind, Level: b.Level, Service: b.Service, Version: b.Version, DeploymentID: b.DeploymentID,
		Minute: time.Unix(p.minute, 0).UTC(), Spans: p.spans,
	}
}

// appendSpikes appends the series' first error spike and first latency
// spike, with their onsets.
func (an *analysis) appendSpikes(out []Spike, base spikeBase, pts, prior []point) []Spike {
	if i, med, n, ok := an.errorRule(pts, prior); ok {
		p := pts[i]
		sp := base.spike(SpikeErrors, p)
		sp.Errors, sp.ErrorSpans, sp.ErrorLogs = p.errors, p.errorSpans, p.errorLogs
		sp.BaselineMedian, sp.BaselineMinutes = med, n
		items := an.badItems(pts, p.minute, func(s spanSample) bool { return s.err }, true)
		sp.Onset = an.onsetOf(items, p.minute, base.Service, false)
		out = append(out, sp)
	}
	if i, med, n, ok := an.latencyRule(pts, prior); ok {
		p := pts[i]
		sp := base.spike(SpikeLatency, p)
		sp.BaselineMinutes = n
		sp.P95Ms, sp.BaselineP95Ms = p.p95, med
		threshold := an.opts.LatencyFactor * med
		sp.ThresholdMs = threshold
		minDur := int64(math.Ceil(threshold * float64(time.Millisecond)))
		items := an.badItems(pts, p.minute, func(s spanSample) bool { return s.dur >= minDur }, false)
		sp.Onset = an.onsetOf(items, p.minute, base.Service, true)
		out = append(out, sp)
	}
	return out
}

// errorRule returns the first point whose errors reach SpikeMinErrors and
// SpikeFactor times the median errors of the prior points and the earlier
// points, with that median and how many points it was taken over. A point
// without any such point before it has no baseline and is never a spike:
// errors there since the start of the evidence are its baseline.
func (an *analysis) errorRule(pts, prior []point) (int, float64, int, bool) {
	counts := make([]int64, 0, len(prior)+len(pts)) // ascending
	insert := func(n int64) {
		i, _ := slices.BinarySearch(counts, n)
		counts = slices.Insert(counts, i, n)
	}
	for _, p := range prior {
		insert(p.errors)
	}
	for i, p := range pts {
		med := median(counts)
		if len(counts) > 0 && p.errors >= an.opts.SpikeMinErrors && float64(p.errors) >= an.opts.SpikeFactor*med {
			return i, med, len(counts), true
		}
		insert(p.errors)
	}
	return 0, 0, 0, false
}

// latencyRule returns the first point with at least LatencyMinSpans
// samples whose p95 reaches LatencyFactor times, and exceeds by
// LatencyMinIncrease, the median p95 of the prior and earlier points with
// enough samples; a point without such a baseline is never a spike.
func (an *analysis) latencyRule(pts, prior []point) (int, float64, int, bool) {
	p95s := make([]float64, 0, len(prior)+len(pts)) // ascending
	insert := func(v float64) {
		i, _ := slices.BinarySearch(p95s, v)
		p95s = slices.Insert(p95s, i, v)
	}
	minInc := durationMs(int64(an.opts.LatencyMinIncrease))
	for _, p := range prior {
		if p.samples >= an.opts.LatencyMinSpans {
			insert(p.p95)
		}
	}
	for i, p := range pts {
		if p.samples < an.opts.LatencyMinSpans {
			continue
		}
		if len(p95s) > 0 {
			med := medianFloat(p95s)
			if p.p95 >= an.opts.LatencyFactor*med && p.p95-med >= minInc {
				return i, med, len(p95s), true
			}
		}
		insert(p.p95)
	}
	return 0, 0, 0, false
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

func medianFloat(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// item is one bad item of a series: an error span or log record, or a slow
// span.
type item struct {
	at      int64
	variant int32
	span    bool
	trace   pcommon.TraceID
	dur     int64
}

// badItems returns the items of pts's minutes in the onset window of the
// spike minute: the spans bad says are bad and, with logs, the error log
// records; sorted by time, then trace.
func (an *analysis) badItems(pts []point, spikeMinute int64, bad func(spanSample) bool, logs bool) []item {
	from := spikeMinute - int64(OnsetWindow/time.Second)
	var out []item
	for _, p := range pts {
		if p.minute < from || p.minute > spikeMinute {
			continue
		}
		for _, vb := range p.bs {
			for _, s := range vb.b.spans {
				if bad(s) {
					out = append(out, item{at: s.at, variant: vb.variant, span: true, trace: s.trace, dur: s.dur})
				}
			}
			if logs {
				for _, at := range vb.b.errLogs {
					out = append(out, item{at: at, variant: vb.variant})
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y item) int {
		return cmp.Or(cmp.Compare(x.at, y.at), compareBool(y.span, x.span), slices.Compare(x.trace[:], y.trace[:]),
			cmp.Compare(x.dur, y.dur), compareKeys(an.vars[x.variant].key, an.vars[y.variant].key))
	})
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// onsetOf returns the onset of a spike whose minute is spikeMinute, from
// its bad items in the onset window (see changepoint).
func (an *analysis) onsetOf(items []item, spikeMinute int64, service string, slow bool) Onset {
	from := (spikeMinute - int64(OnsetWindow/time.Second)) * 1e9
	to := (spikeMinute + 60) * 1e9
	times := make([]int64, len(items))
	for i, it := range items {
		times[i] = it.at
	}
	it := items[changepoint(times, from, to)]
	k := an.vars[it.variant].key
	o := Onset{
		Time: time.Unix(0, it.at).UTC(), Service: service, Version: k.version, DeploymentID: k.deployment, Signal: "log",
	}
	if it.span {
		o.Signal = "span"
		if !it.trace.IsEmpty() {
			o.TraceID = it.trace.String()
		}
		if slow {
			o.LatencyMs = durationMs(it.dur)
		}
	}
	return o
}

// changepoint returns the index of the first event of the rise in the
// ascending event times ts, all in [from, to): the split that makes the
// events most likely as a constant rate before it and a higher constant
// rate from it on (the maximum-likelihood change point of a Poisson
// process). An isolated earlier event is therefore not the onset, while
// the first event of a burst is. ts must not be empty.
func changepoint(ts []int64, from, to int64) int {
	n := len(ts)
	ll := func(k int64, d float64) float64 {
		if k == 0 {
			return 0
		}
		return float64(k) * math.Log(float64(k)/d)
	}
	best, bestLL := 0, math.Inf(-1)
	for i, at := range ts {
		before, after := int64(i), int64(n-i)
		dBefore := float64(at-from) / 1e9
		dAfter := float64(to-at) / 1e9
		if dAfter <= 0 || (before > 0 && dBefore <= 0) {
			continue
		}
		if before > 0 && float64(before)/dBefore >= float64(after)/dAfter {
			continue // not a rise
		}
		if v := ll(before, dBefore) + ll(after, dAfter); v > bestLL {
			best, bestLL = i, v
		}
	}
	return best
}

// findGaps returns, for every service, the runs of minutes within r after
// its first minute with data in which it sent nothing; sorted by service,
// then start.
func findGaps(services []*sdata, r *Range) []Gap {
	gaps := []Gap{}
	if r == nil {
		return gaps
	}
	for _, s := range services {
		prev := s.minutes[0].minute
		for _, m := range s.minutes[1:] {
			if m.minute > prev+60 {
				gaps = append(gaps, newGap(s.name, prev+60, m.minute))
			}
			prev = m.minute
		}
		if next := prev + 60; next < r.End.Unix() {
			gaps = append(gaps, newGap(s.name, next, r.End.Unix()))
		}
	}
	return gaps
}

func newGap(service string, start, end int64) Gap {
	s, e := time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC()
	return Gap{Service: service, Start: s, End: e, Minutes: minutesBetween(s, e)}
}
