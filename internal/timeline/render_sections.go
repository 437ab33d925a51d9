package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

func (t *Timeline) mdSuspects(m *md) {
	m.line("## Suspects")
	m.line("")
	if len(t.Suspects) == 0 {
		m.line("%s.", capitalize(text(cmp.Or(t.NoSuspect, "no suspect"))))
		m.line("")
	}
	for _, s := range t.Suspects {
		m.line("%d. **%s** — %s confidence, started %s before the first %s.", s.Rank, text(deployText(s.Deploy)),
			s.Confidence, fmtSeconds(s.LeadSeconds), impactNoun(t.Summary.ImpactKind))
		for _, r := range s.Reasons {
			m.line("   - %s", text(r.Text))
		}
	}
	if len(t.Suspects) > 0 {
		m.line("")
	}
	if len(t.Mitigations) > 0 {
		m.line("Deploys after the first %s are never suspects; they are mitigation candidates:",
			impactNoun(t.Summary.ImpactKind))
		m.line("")
		for _, mt := range t.Mitigations {
			m.line("- %s", text(mitigationText(mt)))
		}
		m.line("")
	}
	t.mdVersions(m)
	t.mdChains(m)
}

// mdVersions writes the per-version table of the services with several
// versions or a spike.
func (t *Timeline) mdVersions(m *md) {
	show := map[string]bool{}
	for _, s := range t.Services {
		if s.Versions > 1 || s.FirstError != nil || s.FirstLatencyRegression != nil {
			show[s.Name] = true
		}
	}
	var rows []VersionStats
	for _, v := range t.Versions {
		if show[v.Service] {
			rows = append(rows, v)
		}
	}
	if len(rows) == 0 {
		return
	}
	m.line("### Versions")
	m.line("")
	m.line("Each version is the telemetry carrying the same service.version and deployment.id. Error rate is " +
		"error spans over spans; p50 and p95 are nearest-rank span latencies.")
	m.line("")
	m.row("Service", "Version", "First item", "Last item", "Spans", "Error rate", "p50 ms", "p95 ms", "Error logs")
	m.row("---", "---", "---", "---", "---:", "---:", "---:", "---:", "---:")
	for _, v := range rows {
		rate, p50, p95 := "-", "-", "-"
		if v.Spans > 0 {
			rate = fmtPercent(v.ErrorRate)
		}
		if v.LatencySamples > 0 {
			p50, p95 = fmtFloat(v.P50Ms), fmtFloat(v.P95Ms)
		}
		m.row(cell(v.Service), cell(versionLabel(variantKey{version: v.Version, deployment: v.DeploymentID})),
			v.First.Format(layoutMilli), v.Last.Format(layoutMilli), itoa(v.Spans), rate, p50, p95, itoa(v.ErrorLogs))
	}
	m.line("")
}

func (t *Timeline) mdChains(m *md) {
	if len(t.Chains) == 0 {
		return
	}
	m.line("### Causal chains")
	m.line("")
	m.line("Failing spans that called failing spans in another service, from the outermost caller to the " +
		"deepest failing service (where the errors start).")
	m.line("")
	m.row("Chain", "Errors start in", "Traces", "First failure", "Example traces")
	m.row("---", "---", "---:", "---", "---")
	for _, c := range t.Chains {
		m.row(cell(strings.Join(c.Path, " → ")), cell(c.Origin), itoa(c.Traces), c.FirstFailure.Format(layoutMilli),
			cell(strings.Join(c.ExampleTraceIDs, ", ")))
	}
	m.line("")
}

func (t *Timeline) mdTimeline(m *md) {
	m.line("## Timeline")
	m.line("")
	entries := t.Entries()
	if len(entries) == 0 {
		m.line("No events or findings in the evidence.")
	} else {
		m.row("Time (UTC)", "Kind", "ID", "Source", "What happened")
		m.row("---", "---", "---", "---", "---")
		for _, e := range entries {
			m.row(e.Time.Format(layoutMilli), cell(e.Kind), cell(e.ID), cell(e.Source), cell(e.Summary))
		}
	}
	m.line("")
	m.line("%s add what people did and when: detection, escalation, diagnosis, mitigation, recovery.", todo)
	m.line("")
	if len(t.Minutes) == 0 {
		return
	}
	m.line("### Telemetry per minute")
	m.line("")
	m.line("Errors are error spans plus ERROR and FATAL log records. Latency is span duration; p50 and p95 " +
		"are nearest-rank percentiles of the spans that started in the minute.")
	m.line("")
	notes := map[string]string{}
	for _, s := range t.Spikes {
		if s.Level != LevelService {
			continue
		}
		k := s.Service + "\x00" + s.Minute.String()
		note := "error spike"
		if s.Kind == SpikeLatency {
			note = "latency spike"
		}
		notes[k] = strings.TrimPrefix(notes[k]+", "+note, ", ")
	}
	m.row("Minute", "Service", "Spans", "Errors", "Error spans", "p50 ms", "p95 ms",
		"Logs error", "Logs warn", "Logs info", "Logs other", "Data points", "Note")
	m.row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---")
	for _, x := range t.Minutes {
		p50, p95 := "-", "-"
		if x.LatencySamples > 0 {
			p50, p95 = fmtFloat(x.P50Ms), fmtFloat(x.P95Ms)
		}
		m.row(x.Minute.Format(layoutMinute), cell(x.Service), itoa(x.Spans), itoa(x.Errors), itoa(x.ErrorSpans),
			p50, p95, itoa(x.Logs.Error), itoa(x.Logs.Warn), itoa(x.Logs.Info), itoa(x.Logs.Other),
			itoa(x.DataPoints), notes[x.Service+"\x00"+x.Minute.String()])
	}
	m.line("")
}

func (t *Timeline) mdFactors(m *md) {
	m.line("## Contributing factors")
	m.line("")
	if len(t.Suspects) > 0 {
		s := t.Suspects[0]
		m.line("- Suspect: %s (%s confidence). %s confirm or rule out as a cause; what changed?",
			text(deployText(s.Deploy)), s.Confidence, todo)
	}
	if c := t.Summary.ErrorOrigin; c != nil {
		m.line("- The errors start in %s (%s). %s why did its failures reach its callers?", text(c.Origin),
			text(strings.Join(c.Path, " → ")), todo)
	}
	if len(t.Gaps) > 0 {
		gaps := make([]string, len(t.Gaps))
		for i, g := range t.Gaps {
			gaps[i] = fmt.Sprintf("%s %s to %s (%s)", text(g.Service), g.Start.Format(layoutClock),
				g.End.Format(layoutClock), plural(g.Minutes, "minute"))
		}
		m.line("- Telemetry gaps: %s. %s an outage of the service, or lost telemetry?", strings.Join(gaps, "; "), todo)
	}
	m.line("- %s triggers, latent conditions, and what made detection or mitigation harder.", todo)
	m.line("")
}

func (t *Timeline) mdActions(m *md) {
	m.line("## Action items")
	m.line("")
	m.row("Action", "Type (prevent / detect / mitigate)", "Owner", "Due", "Tracking")
	m.row("---", "---", "---", "---", "---")
	m.row(todo, todo, todo, todo, todo)
	m.line("")
}

func (t *Timeline) mdEvidence(m *md) {
	r := t.Rules
	m.line("## Evidence")
	m.line("")
	m.line("- Error spike rule: the first minute in which the errors of a service (or of one of its versions) "+
		"reach at least %d and at least %s × the median of its earlier minutes.", r.SpikeMinErrors, fmtFloat(r.SpikeFactor))
	m.line("- Latency spike rule: the first minute with at least %d spans whose p95 reaches %s × the median p95 of "+
		"the earlier minutes and exceeds it by at least %s.", r.LatencyMinSpans, fmtFloat(r.LatencyFactor),
		fmtMs(r.LatencyMinIncreaseMs))
	m.line("- First error and first latency regression: the first error (or slow span) of the rise that made the "+
		"spike, found at item precision within %s before the spike minute.",
		fmtDur(time.Duration(r.OnsetWindowSeconds)*time.Second))
	m.line("- Suspects: the deploys that started at most %s before the first error, ranked by what their own "+
		"telemetry (its deployment.id, else its version) shows against the service's before it; a deploy that "+
		"started after the first error is a mitigation candidate, never a suspect.",
		fmtDur(time.Duration(r.DeployLookbackSeconds)*time.Second))
	if t.Totals.UntimedItems > 0 {
		m.line("- %s had no time and appear in no minute.", plural64(t.Totals.UntimedItems, "item"))
	}
	for _, n := range t.UnreadableNotes {
		m.line("- A note could not be read and is left out: %s.", text(n))
	}
	if t.Totals.CollectorRecords > 0 {
		m.line("- %s of the collector's own (service %s) are events, not telemetry.",
			plural64(t.Totals.CollectorRecords, "record"), CollectorService)
	}
	if inc := t.Incident; inc != nil {
		for _, l := range inc.Links {
			m.line("- Link: <%s>", text(l))
		}
	}
	m.line("- %s links to dashboards, logs and the evidence bundle.", todo)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func sortEntries(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.ID, b.ID), strings.Compare(a.Source, b.Source),
			strings.Compare(a.Summary, b.Summary))
	})
}
