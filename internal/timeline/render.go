package timeline

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// SourceTelemetry is the source of the findings Entries adds.
const SourceTelemetry = "telemetry"

// Time layouts of the Markdown rendering (always UTC).
const (
	layoutSecond = "2006-01-02 15:04:05"
	layoutMinute = "2006-01-02 15:04"
	layoutClock  = "15:04"
)

// Entries returns the events together with the findings: each service's
// first error spike (KindErrorSpike) and every gap (KindGap), in time order.
func (t *Timeline) Entries() []Entry {
	out := make([]Entry, 0, len(t.Events)+len(t.Spikes)+len(t.Gaps))
	out = append(out, t.Events...)
	for _, s := range t.Spikes {
		out = append(out, Entry{
			Time: s.Minute, Kind: KindErrorSpike, ID: s.Service, Source: SourceTelemetry, Service: s.Service,
			Summary: spikeSummary(s),
		})
	}
	for _, g := range t.Gaps {
		out = append(out, Entry{
			Time: g.Start, Kind: KindGap, ID: g.Service, Source: SourceTelemetry, Service: g.Service,
			Summary: fmt.Sprintf("no telemetry from %s for %s (until %s)", g.Service, plural(g.Minutes, "minute"),
				g.End.Format(layoutClock)),
		})
	}
	sortEntries(out)
	return out
}

func spikeSummary(s Spike) string {
	msg := fmt.Sprintf("first error spike of %s: %d errors in the minute (%d error spans, %d error logs, %d spans)",
		s.Service, s.Errors, s.ErrorSpans, s.ErrorLogs, s.Spans)
	if s.BaselineMinutes == 0 {
		return msg + "; no earlier minute to compare with, errors may have started before the evidence"
	}
	return msg + fmt.Sprintf("; baseline median %s over %s", fmtFloat(s.BaselineMedian), plural(s.BaselineMinutes, "earlier minute"))
}

// WriteJSON writes the timeline as indented JSON followed by a newline.
func (t *Timeline) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return fmt.Errorf("writing timeline JSON: %w", err)
	}
	return nil
}

// todo marks what people must fill in.
const todo = "**TODO:**"

// WriteMarkdown writes the draft of a blameless postmortem: Summary,
// Impact, Timeline, Contributing factors and Action items, filled with
// what the evidence shows and TODO placeholders for the rest.
func (t *Timeline) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := &md{w: bw}
	t.mdHeader(m)
	t.mdSummary(m)
	t.mdImpact(m)
	t.mdTimeline(m)
	t.mdFactors(m)
	t.mdActions(m)
	t.mdEvidence(m)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing timeline Markdown: %w", err)
	}
	return nil
}

// md writes lines; bufio.Writer keeps the first error for Flush.
type md struct{ w *bufio.Writer }

func (m *md) line(format string, args ...any) {
	_, _ = fmt.Fprintf(m.w, format, args...)
	_ = m.w.WriteByte('\n')
}

func (m *md) row(cells ...string) {
	_, _ = m.w.WriteString("|")
	for _, c := range cells {
		_, _ = m.w.WriteString(" ")
		_, _ = m.w.WriteString(c)
		_, _ = m.w.WriteString(" |")
	}
	_ = m.w.WriteByte('\n')
}

func (t *Timeline) mdHeader(m *md) {
	title := "Postmortem (draft)"
	if inc := t.Incident; inc != nil {
		title += ": " + text(inc.ID)
		if inc.Title != "" {
			title += " — " + text(inc.Title)
		}
	}
	m.line("# %s", title)
	m.line("")
	m.line("> Draft generated from the incident's evidence by `evidencectl timeline`. Facts come from the "+
		"evidence; every %s is for the people writing the postmortem. Keep it blameless: describe what the "+
		"systems and the process did and why it made sense at the time, not who is to blame. All times are UTC.", todo)
	m.line("")
}

func (t *Timeline) mdSummary(m *md) {
	m.line("## Summary")
	m.line("")
	if inc := t.Incident; inc != nil {
		s := "- **Incident:** " + text(inc.ID)
		if inc.Title != "" {
			s += " — " + text(inc.Title)
		}
		m.line("%s", s)
		m.line("- **Severity:** %s · **Source:** %s · **Status:** %s",
			orTodo(inc.Severity), orTodo(inc.Source), orTodo(inc.Status))
		if len(inc.Scope) > 0 {
			m.line("- **Scope:** %s", text(strings.Join(inc.Scope, ", ")))
		}
		started := todo + " unknown"
		if !inc.StartedAt.IsZero() {
			started = inc.StartedAt.Format(layoutSecond)
		}
		resolved := "not resolved in the evidence"
		if !inc.ResolvedAt.IsZero() {
			resolved = inc.ResolvedAt.Format(layoutSecond)
			if !inc.StartedAt.IsZero() {
				resolved += " (duration " + fmtDur(inc.ResolvedAt.Sub(inc.StartedAt)) + ")"
			}
		}
		m.line("- **Started:** %s · **Resolved:** %s", started, resolved)
	} else {
		m.line("- **Incident:** %s the evidence names no incident; add its ID and title.", todo)
	}
	if r := t.Range; r != nil {
		m.line("- **Evidence:** %s to %s (%s), %s, %s, %s, %s, %s",
			r.Start.Format(layoutMinute), r.End.Format(layoutMinute), plural(r.Minutes, "minute"),
			plural(len(t.Services), "service"), plural64(t.Totals.Spans, "span"),
			plural64(t.Totals.LogRecords, "log record"), plural64(t.Totals.DataPoints, "data point"),
			plural64(t.Totals.Events, "event"))
	} else {
		m.line("- **Evidence:** no telemetry; %s.", plural64(t.Totals.Events, "event"))
	}
	if s := t.FirstSpike; s != nil {
		m.line("- **First error spike:** %s at %s (%d errors in the minute)", text(s.Service),
			s.Minute.Format(layoutMinute), s.Errors)
	} else {
		m.line("- **First error spike:** none detected (see the rules under Evidence)")
	}
	if d := t.SuspectDeploy; d != nil {
		m.line("- **Suspect deploy:** %s", suspectText(d))
	} else if t.FirstSpike != nil {
		m.line("- **Suspect deploy:** no deploy in the %s before the spike",
			fmtDur(time.Duration(t.Rules.DeployLookbackSeconds)*time.Second))
	}
	m.line("- **What happened:** %s two or three sentences in plain words.", todo)
	m.line("")
}

func suspectText(d *SuspectDeploy) string {
	s := "deploy " + text(d.DeployID)
	if d.Service != "" {
		s += " of " + text(d.Service)
	}
	if d.Version != "" {
		s += " version " + text(d.Version)
	}
	s += " at " + d.Time.Format(layoutSecond)
	switch lead := time.Duration(d.LeadSeconds) * time.Second; {
	case lead > 0:
		s += ", " + fmtDur(lead) + " before the first error spike"
	default:
		s += ", within the minute of the first error spike"
	}
	if d.Match == MatchAnyService {
		s += " of " + text(d.SpikeService) + " (no deploy of " + text(d.SpikeService) +
			" itself; this is the latest deploy of any service)"
	}
	return s
}

func (t *Timeline) mdImpact(m *md) {
	m.line("## Impact")
	m.line("")
	if len(t.Spikes) > 0 {
		names := make([]string, len(t.Spikes))
		for i, s := range t.Spikes {
			names[i] = text(s.Service) + " (from " + s.Minute.Format(layoutClock) + ")"
		}
		m.line("Services with an error spike: %s.", strings.Join(names, ", "))
	} else {
		m.line("No service had an error spike.")
	}
	m.line("")
	if len(t.Services) > 0 {
		firstSpike := map[string]string{}
		for _, s := range t.Spikes {
			firstSpike[s.Service] = s.Minute.Format(layoutClock)
		}
		m.row("Service", "Spans", "Error spans", "Error logs", "Warn logs", "Peak errors/min", "Peak p95 (ms)", "First error spike")
		m.row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---")
		for _, s := range t.Services {
			peakErr := "0"
			if s.PeakErrors > 0 {
				peakErr = fmt.Sprintf("%d at %s", s.PeakErrors, s.PeakErrorsMinute.Format(layoutClock))
			}
			peakP95 := "-"
			if !s.PeakP95Minute.IsZero() {
				peakP95 = fmtFloat(s.PeakP95Ms) + " at " + s.PeakP95Minute.Format(layoutClock)
			}
			spike := firstSpike[s.Name]
			if spike == "" {
				spike = "-"
			}
			m.row(cell(s.Name), itoa(s.Spans), itoa(s.ErrorSpans), itoa(s.Logs.Error), itoa(s.Logs.Warn),
				peakErr, peakP95, spike)
		}
		m.line("")
	}
	if inc, s := t.Incident, t.FirstSpike; inc != nil && s != nil && !inc.StartedAt.IsZero() {
		switch lag := inc.StartedAt.Sub(s.Minute); {
		case lag >= 0:
			m.line("- **Detection:** the incident opened %s after the start of the first error spike. %s "+
				"how was it detected, and could it have been sooner?", fmtDur(lag), todo)
		default:
			m.line("- **Detection:** the incident opened %s before the first error spike. %s how was it detected?",
				fmtDur(-lag), todo)
		}
	} else {
		m.line("- **Detection:** %s how was the incident detected?", todo)
	}
	m.line("- **Customer impact:** %s who was affected, how many, for how long.", todo)
	m.line("- **SLO and error budget:** %s which SLOs were breached and how much budget was spent.", todo)
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
			m.row(e.Time.Format(layoutSecond), cell(e.Kind), cell(e.ID), cell(e.Source), cell(e.Summary))
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
	spikes := map[string]bool{}
	for _, s := range t.Spikes {
		spikes[s.Service+"\x00"+s.Minute.String()] = true
	}
	m.row("Minute", "Service", "Spans", "Errors", "Error spans", "p50 ms", "p95 ms",
		"Logs error", "Logs warn", "Logs info", "Logs other", "Data points", "Note")
	m.row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---")
	for _, x := range t.Minutes {
		p50, p95 := "-", "-"
		if x.LatencySamples > 0 {
			p50, p95 = fmtFloat(x.P50Ms), fmtFloat(x.P95Ms)
		}
		note := ""
		if spikes[x.Service+"\x00"+x.Minute.String()] {
			note = "first error spike"
		}
		m.row(x.Minute.Format(layoutMinute), cell(x.Service), itoa(x.Spans), itoa(x.Errors), itoa(x.ErrorSpans),
			p50, p95, itoa(x.Logs.Error), itoa(x.Logs.Warn), itoa(x.Logs.Info), itoa(x.Logs.Other),
			itoa(x.DataPoints), note)
	}
	m.line("")
}

func (t *Timeline) mdFactors(m *md) {
	m.line("## Contributing factors")
	m.line("")
	if d := t.SuspectDeploy; d != nil {
		m.line("- Suspect deploy: %s. %s confirm or rule out as a cause; what changed?", suspectText(d), todo)
		var later []string
		for _, e := range t.Events {
			if e.Kind == string(incident.EventDeploy) && e.Time.After(d.Time) && (d.Service == "" || e.Service == d.Service) {
				later = append(later, text(e.ID)+" at "+e.Time.Format(layoutSecond))
			}
		}
		if len(later) > 0 {
			m.line("- Later deploys of %s: %s. %s was one of them the mitigation (rollback or fix)?",
				text(cmp.Or(d.Service, "the same service")), strings.Join(later, ", "), todo)
		}
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
	m.line("## Evidence")
	m.line("")
	m.line("- Error spike rule: the first minute in which a service's errors reach at least %d and at least "+
		"%s × the median of its earlier minutes.", t.Rules.SpikeMinErrors, fmtFloat(t.Rules.SpikeFactor))
	m.line("- Suspect deploy rule: the latest deploy of the spiking service (else of any service) at most %s "+
		"before the spike minute, or within it.", fmtDur(time.Duration(t.Rules.DeployLookbackSeconds)*time.Second))
	if t.Totals.UntimedItems > 0 {
		m.line("- %s had no time and appear in no minute.", plural64(t.Totals.UntimedItems, "item"))
	}
	if inc := t.Incident; inc != nil {
		for _, l := range inc.Links {
			m.line("- Link: <%s>", text(l))
		}
	}
	m.line("- %s links to dashboards, logs and the evidence bundle.", todo)
}

// text makes outside text safe on one Markdown line: control characters
// become spaces and HTML angle brackets are escaped.
func text(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s))
}

// cell is text that is also safe inside a table cell.
func cell(s string) string {
	return strings.ReplaceAll(text(s), "|", `\|`)
}

func orTodo(s string) string {
	if s == "" {
		return todo
	}
	return text(s)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func plural(n int, what string) string { return plural64(int64(n), what) }

func plural64(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return itoa(n) + " " + what + "s"
}

// fmtFloat prints up to three decimals, without trailing zeros.
func fmtFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fmtDur prints a duration as "1h2m", "7m", "1m30s" or "45s".
func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	h, mi, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if mi > 0 {
		fmt.Fprintf(&b, "%dm", mi)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}
