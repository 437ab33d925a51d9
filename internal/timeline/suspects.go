package timeline

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// conclude fills the summary, the causal chains, the suspects and the
// mitigations; fill must have run.
func (an *analysis) conclude(t *Timeline, deploys []Deploy) {
	t.Chains = an.chains()
	t.Suspects = []Suspect{}
	t.Mitigations = []Mitigation{}
	an.summarize(t)
	s := &t.Summary
	if s.ImpactStart.IsZero() {
		if len(deploys) > 0 {
			t.NoSuspect = "no error or latency spike in the evidence, so no deploy is a suspect"
		} else {
			t.NoSuspect = "no error or latency spike in the evidence"
		}
		return
	}
	impact := s.ImpactStart
	from := impact.Add(-an.opts.DeployLookback)
	var later []Deploy
	for _, d := range deploys {
		switch {
		case d.StartedAt.After(impact):
			later = append(later, d)
		case !d.StartedAt.Before(from):
			t.Suspects = append(t.Suspects, an.suspect(t, d, deploys))
		}
	}
	slices.SortStableFunc(t.Suspects, compareSuspects)
	for i := range t.Suspects {
		t.Suspects[i].Rank = i + 1
	}
	if len(t.Suspects) == 0 {
		t.NoSuspect = fmt.Sprintf("no deploy preceded the first %s: none started in the %s before it",
			impactNoun(s.ImpactKind), fmtDur(an.opts.DeployLookback))
	}
	for _, d := range later {
		t.Mitigations = append(t.Mitigations, an.mitigation(t, d, deploys))
	}
}

// impactNoun names the first bad signal.
func impactNoun(kind string) string {
	if kind == SpikeLatency {
		return "latency regression"
	}
	return "error"
}

// summarize fills t.Summary from the spikes, the chains and the incident.
func (an *analysis) summarize(t *Timeline) {
	s := &t.Summary
	for i := range an.spikes {
		sp := &an.spikes[i]
		first := &s.FirstError
		if sp.Kind == SpikeLatency {
			first = &s.FirstLatencyRegression
		}
		if *first == nil || sp.Onset.Time.Before((*first).Time) {
			o := sp.Onset
			*first = &o
		}
	}
	// The first error, or without any error the first latency
	// regression: a deploy after an earlier latency regression may still
	// have caused the errors (a shorter timeout, say), so only the errors
	// rule it out.
	switch {
	case s.FirstError != nil:
		s.ImpactStart, s.ImpactKind = s.FirstError.Time, SpikeErrors
	case s.FirstLatencyRegression != nil:
		s.ImpactStart, s.ImpactKind = s.FirstLatencyRegression.Time, SpikeLatency
	}
	if inc := t.Incident; inc != nil {
		s.Opened, s.Resolved = inc.StartedAt, inc.ResolvedAt
	}
	if !s.ImpactStart.IsZero() {
		if !s.Opened.IsZero() {
			s.DetectionSeconds = seconds(s.Opened.Sub(s.ImpactStart))
		}
		if !s.Resolved.IsZero() {
			s.ResolveSeconds = seconds(s.Resolved.Sub(s.ImpactStart))
		}
	}
	if len(t.Chains) > 0 {
		c := t.Chains[0]
		s.ErrorOrigin = &c
	}
}

// seconds returns d in seconds, to the millisecond.
func seconds(d time.Duration) *float64 {
	v := math.Round(d.Seconds()*1000) / 1000
	return &v
}

// confidenceRank orders the confidence levels.
var confidenceRank = map[string]int{ConfidenceHigh: 3, ConfidenceMedium: 2, ConfidenceLow: 1, ConfidenceUnlikely: 0}

// compareSuspects orders suspects: higher confidence, then the origin of
// the causal chains, then the service of the first error, then the latest
// deploy (nearest the first error), then ID.
func compareSuspects(x, y Suspect) int {
	has := func(s Suspect, code string) bool {
		return slices.ContainsFunc(s.Reasons, func(r Reason) bool { return r.Code == code })
	}
	return cmp.Or(
		cmp.Compare(confidenceRank[y.Confidence], confidenceRank[x.Confidence]),
		compareBool(has(y, ReasonChainOrigin), has(x, ReasonChainOrigin)),
		compareBool(has(y, ReasonServiceSpikes), has(x, ReasonServiceSpikes)),
		cmp.Compare(x.LeadSeconds, y.LeadSeconds),
		strings.Compare(x.Deploy.ID, y.Deploy.ID),
	)
}

// serviceVariants returns the variants of a service (none for an unknown
// service).
func (an *analysis) serviceVariants(service string) []*vdata {
	if s := an.byName[service]; s != nil {
		return s.variants
	}
	return nil
}

// ownVariants returns the variants of d's service whose telemetry is d's:
// those tagged with its deployment.id, else, when none is and d has a
// version, those of that version with no deployment.id of another known
// deploy.
func (an *analysis) ownVariants(d Deploy, known map[string]bool) []int32 {
	var byID, byVersion []int32
	for _, v := range an.serviceVariants(d.Service) {
		switch {
		case v.key.deployment == d.ID:
			byID = append(byID, v.idx)
		case d.Version != "" && v.key.version == d.Version && (v.key.deployment == "" || !known[v.key.deployment]):
			byVersion = append(byVersion, v.idx)
		}
	}
	if len(byID) > 0 {
		return byID
	}
	return byVersion
}

// otherVariants returns the variants of service not in own.
func (an *analysis) otherVariants(service string, own []int32) []int32 {
	var out []int32
	for _, v := range an.serviceVariants(service) {
		if !slices.Contains(own, v.idx) {
			out = append(out, v.idx)
		}
	}
	return out
}

// group computes the figures of the items f selects, nil when it selects
// none.
func (an *analysis) group(f itemFilter) *Group {
	if len(f.variants) == 0 {
		return nil
	}
	fig, seen := an.figuresBy(f)
	if fig.Spans == 0 && fig.ErrorLogs == 0 {
		return nil
	}
	g := &Group{Figures: fig, Versions: []string{}}
	if f.from > math.MinInt64 {
		g.From = time.Unix(0, f.from).UTC()
	}
	if f.to < allTime {
		g.To = time.Unix(0, f.to).UTC()
	}
	for _, v := range seen {
		g.Versions = append(g.Versions, versionLabel(an.vars[v].key))
	}
	return g
}

// versionLabel names a variant: "v2 (deploy D2)", "v2", "deploy D2" or
// "untagged".
func versionLabel(k variantKey) string {
	switch {
	case k.version != "" && k.deployment != "":
		return k.version + " (deploy " + k.deployment + ")"
	case k.version != "":
		return k.version
	case k.deployment != "":
		return "deploy " + k.deployment
	}
	return "untagged"
}

// worse reports whether a's errors or latency are worse than b's by the
// spike rules: errors at least SpikeMinErrors, an error rate at least
// SpikeFactor times b's and a difference a two-proportion z-test puts at
// z >= 3; or a p95 at least LatencyFactor times b's and LatencyMinIncrease
// above it, both with LatencyMinSpans samples.
func (an *analysis) worse(a, b *Group) (errs, latency bool) {
	if a == nil || b == nil {
		return false, false
	}
	if a.Spans > 0 && b.Spans > 0 && a.ErrorSpans >= an.opts.SpikeMinErrors &&
		a.ErrorRate >= an.opts.SpikeFactor*b.ErrorRate && zScore(a.Figures, b.Figures) >= 3 {
		errs = true
	}
	if a.LatencySamples >= an.opts.LatencyMinSpans && b.LatencySamples >= an.opts.LatencyMinSpans &&
		a.P95Ms >= an.opts.LatencyFactor*b.P95Ms && a.P95Ms-b.P95Ms >= durationMs(int64(an.opts.LatencyMinIncrease)) {
		latency = true
	}
	return errs, latency
}

// zScore is the two-proportion z statistic of a's error rate above b's.
func zScore(a, b Figures) float64 {
	n1, n2 := float64(a.Spans), float64(b.Spans)
	p := float64(a.ErrorSpans+b.ErrorSpans) / (n1 + n2)
	if p <= 0 || p >= 1 {
		return 0
	}
	return (a.ErrorRate - b.ErrorRate) / math.Sqrt(p*(1-p)*(1/n1+1/n2))
}

// suspect weighs one deploy that started before the first error.
func (an *analysis) suspect(t *Timeline, d Deploy, deploys []Deploy) Suspect {
	start := d.StartedAt.UnixNano()
	lookback := int64(an.opts.DeployLookback)
	known := map[string]bool{}
	for _, v := range an.vars {
		if v.key.deployment != "" && v.key.deployment != d.ID {
			known[v.key.deployment] = true
		}
	}
	own := an.ownVariants(d, known)
	others := an.otherVariants(d.Service, own)
	sp := Suspect{
		Deploy:      d,
		LeadSeconds: *seconds(t.Summary.ImpactStart.Sub(d.StartedAt)),
		Own:         an.group(itemFilter{variants: own, from: math.MinInt64, to: allTime}),
		Before:      an.group(itemFilter{variants: others, from: start - lookback, to: start}),
	}
	// The control group: the service's other versions while the deploy's
	// own telemetry was there (the old version of a canary).
	if first, last, ok := an.span(own); ok {
		sp.Others = an.group(itemFilter{variants: others, from: max(first, start), to: last + 1})
	}
	svc := cmp.Or(d.Service, "an unnamed service")
	add := func(code, format string, args ...any) {
		sp.Reasons = append(sp.Reasons, Reason{Code: code, Text: fmt.Sprintf(format, args...)})
	}
	first := t.Summary.FirstError
	if t.Summary.ImpactKind == SpikeLatency {
		first = t.Summary.FirstLatencyRegression
	}
	add(ReasonPreceded, "started %s before the first %s (%s at %s)", fmtSeconds(sp.LeadSeconds),
		impactNoun(t.Summary.ImpactKind), first.Service, first.Time.Format(layoutMilli))

	// What the deploy's own telemetry says, against the service's before it
	// (or, without any, the service's other versions after it).
	base, baseName := sp.Before, "before it"
	if base == nil || base.Spans < an.opts.LatencyMinSpans {
		base, baseName = sp.Others, "at the same time (its other versions)"
	}
	errWorse, latWorse := an.worse(sp.Own, base)
	fails := errWorse || latWorse
	healthy := false
	switch {
	case sp.Own == nil || sp.Own.Spans == 0:
		add(ReasonNoTelemetry, "no span carries its deployment.id or version, so its own figures are unknown")
	case fails:
		add(ReasonVersionFails, "its telemetry is worse than the service's %s: %s → %s", baseName,
			groupFigures(base), groupFigures(sp.Own))
		oErr, oLat := an.worse(sp.Own, sp.Others)
		othersErr, othersLat := an.worse(sp.Others, sp.Before)
		if sp.Others != nil && sp.Others.Spans >= an.opts.LatencyMinSpans && (oErr || oLat) && !othersErr && !othersLat {
			add(ReasonVersionSpecific, "only this version fails: the service's other versions at the same time stay at %s",
				groupFigures(sp.Others))
		}
	case base != nil && sp.Own.Spans >= an.opts.LatencyMinSpans:
		healthy = true
		add(ReasonVersionHealthy, "its own telemetry is healthy: %s against %s %s", groupFigures(sp.Own),
			groupFigures(base), baseName)
	default:
		add(ReasonNoTelemetry, "no telemetry of the service before it or beside it to compare its own with")
	}

	// When the service itself went bad after the deploy, and no later
	// deploy of it came in between.
	spikes, superseded := false, false
	if sv := an.firstSpikeAfter(d.Service, d.StartedAt); sv != nil {
		if next := nextDeploy(deploys, d); next != nil && next.StartedAt.Before(sv.Onset.Time) {
			superseded = true
			add(ReasonLaterDeploy, "%s first %s came after a later deploy of it (%s)", possessive(svc),
				impactNoun(sv.Kind), next.ID)
		} else {
			spikes = true
			add(ReasonServiceSpikes, "%s first %s came %s after it started (%s)", possessive(svc), impactNoun(sv.Kind),
				fmtSeconds(*seconds(sv.Onset.Time.Sub(d.StartedAt))), sv.Onset.Time.Format(layoutMilli))
		}
	}
	origin, downstream := false, false
	next := nextDeploy(deploys, d)
	for _, c := range t.Chains {
		if c.FirstFailure.Before(d.StartedAt) || (next != nil && next.StartedAt.Before(c.FirstFailure)) {
			continue // not after this deploy, or after a later one
		}
		switch {
		case c.Origin == d.Service && !origin:
			origin = true
			add(ReasonChainOrigin, "errors start in %s: %s in %s (e.g. trace %s)", svc, strings.Join(c.Path, " → "),
				plural64(c.Traces, "trace"), c.ExampleTraceIDs[0])
		case c.Origin != d.Service && slices.Contains(c.Path, d.Service) && !downstream:
			downstream = true
		}
	}
	if downstream && !origin {
		add(ReasonDownstream, "%s errors come from a failing dependency it calls (%s), which this deploy did not change",
			possessive(svc), strings.Join(chainFor(t.Chains, d.Service).Path, " → "))
	}
	if !spikes && !origin && an.firstSpikeAfter(d.Service, d.StartedAt) == nil {
		add(ReasonNoSpike, "%s shows no error or latency spike after it", svc)
	}

	switch {
	case fails && (spikes || origin):
		sp.Confidence = ConfidenceHigh
	case fails:
		sp.Confidence = ConfidenceMedium
	case (healthy || superseded) && !origin:
		sp.Confidence = ConfidenceUnlikely
	case (sp.Own == nil || sp.Own.Spans == 0) && (spikes || origin):
		sp.Confidence = ConfidenceMedium
	default:
		sp.Confidence = ConfidenceLow
	}
	if downstream && !origin {
		switch sp.Confidence {
		case ConfidenceHigh:
			sp.Confidence = ConfidenceMedium
		case ConfidenceMedium:
			sp.Confidence = ConfidenceLow
		}
	}
	return sp
}

// possessive is "checkout's", "payments'".
func possessive(name string) string {
	if strings.HasSuffix(name, "s") {
		return name + "'"
	}
	return name + "'s"
}

// nextDeploy returns the first deploy of d's service after d.
func nextDeploy(deploys []Deploy, d Deploy) *Deploy {
	for i := range deploys {
		n := &deploys[i]
		if n.Service == d.Service && n.ID != d.ID && n.StartedAt.After(d.StartedAt) {
			return n
		}
	}
	return nil
}

// span returns the times of the first and last item of the variants.
func (an *analysis) span(vs []int32) (first, last int64, ok bool) {
	first, last = math.MaxInt64, math.MinInt64
	for _, v := range vs {
		if d := an.vars[v]; len(d.minutes) > 0 {
			first, last, ok = min(first, d.first), max(last, d.last), true
		}
	}
	return first, last, ok
}

// chainFor returns the first chain through service whose origin is
// another service.
func chainFor(chains []Chain, service string) Chain {
	for _, c := range chains {
		if c.Origin != service && slices.Contains(c.Path, service) {
			return c
		}
	}
	return Chain{}
}

// firstSpikeAfter returns the earliest spike of service with an onset at
// or after at, within the deploy lookback.
func (an *analysis) firstSpikeAfter(service string, at time.Time) *Spike {
	until := at.Add(an.opts.DeployLookback)
	for i := range an.spikes {
		sp := &an.spikes[i]
		if sp.Service == service && !sp.Onset.Time.Before(at) && !sp.Onset.Time.After(until) {
			return sp
		}
	}
	return nil
}

// mitigation describes a deploy that started after the first error.
func (an *analysis) mitigation(t *Timeline, d Deploy, deploys []Deploy) Mitigation {
	impact := t.Summary.ImpactStart
	m := Mitigation{Deploy: d, Kind: MitigationDeploy, AfterSeconds: *seconds(d.StartedAt.Sub(impact))}
	var all []int32
	for _, v := range an.serviceVariants(d.Service) {
		all = append(all, v.idx)
	}
	m.Before = an.group(itemFilter{variants: all, from: impact.UnixNano(), to: d.StartedAt.UnixNano()})
	m.After = an.group(itemFilter{variants: all, from: d.StartedAt.UnixNano(), to: allTime})
	if d.Version == "" {
		return m
	}
	// The version live just before is the latest earlier deploy's; a
	// rollback returns to a version the service ran before that one, by an
	// earlier deploy or by its telemetry.
	var earlier []Deploy
	for _, p := range deploys {
		if p.Service == d.Service && p.ID != d.ID && p.StartedAt.Before(d.StartedAt) {
			earlier = append(earlier, p)
		}
	}
	if len(earlier) == 0 {
		return m
	}
	prev := earlier[len(earlier)-1]
	ran := map[string]bool{}
	for _, p := range earlier[:len(earlier)-1] {
		ran[p.Version] = true
	}
	for _, v := range an.serviceVariants(d.Service) {
		if v.first < prev.StartedAt.UnixNano() {
			ran[v.key.version] = true
		}
	}
	if !ran[d.Version] || d.Version == prev.Version {
		return m
	}
	m.Kind, m.ReturnsTo = MitigationRollback, d.Version
	for _, s := range t.Suspects { // ranked
		if s.Deploy.Service == d.Service && s.Deploy.StartedAt.Before(d.StartedAt) &&
			s.Deploy.Version != d.Version && s.Confidence != ConfidenceUnlikely {
			m.Reverts = s.Deploy.ID
			break
		}
	}
	return m
}

// groupFigures prints a group's versions and figures: "v1 (deploy D1):
// 0.1% errors, p95 42 ms".
func groupFigures(g *Group) string {
	if g == nil {
		return "no telemetry"
	}
	name := strings.Join(g.Versions, ", ")
	if name == "" {
		name = "untagged"
	}
	return name + ": " + figuresText(g.Figures)
}

// figuresText prints "0.1% errors, p95 42 ms" (or "no spans").
func figuresText(f Figures) string {
	if f.Spans == 0 {
		return "no spans"
	}
	s := fmtPercent(f.ErrorRate) + " errors"
	if f.LatencySamples > 0 {
		s += ", p95 " + fmtMs(f.P95Ms)
	}
	return s
}
