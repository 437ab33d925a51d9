package timeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/safetext"
)

// SourceTelemetry is the source of the findings Entries adds.
const SourceTelemetry = "telemetry"

// Time layouts of the Markdown rendering (always UTC).
const (
	layoutMilli  = "2006-01-02 15:04:05.000"
	layoutSecond = "2006-01-02 15:04:05"
	layoutMinute = "2006-01-02 15:04"
	layoutClock  = "15:04"
)

// Entries returns the events together with the findings: the onset of
// every service's first error and latency spike (KindErrorSpike,
// KindLatencySpike) and every gap (KindGap), in time order.
func (t *Timeline) Entries() []Entry {
	out := make([]Entry, 0, len(t.Events)+len(t.Spikes)+len(t.Gaps))
	out = append(out, t.Events...)
	for _, s := range t.Spikes {
		if s.Level != LevelService {
			continue // the version-level spikes are in the Suspects section
		}
		kind := KindErrorSpike
		if s.Kind == SpikeLatency {
			kind = KindLatencySpike
		}
		out = append(out, Entry{
			Time: s.Onset.Time, Kind: kind, ID: s.Service, Source: SourceTelemetry, Service: s.Service,
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
	var msg string
	if s.Kind == SpikeLatency {
		msg = fmt.Sprintf("first latency regression of %s: p95 %s in the minute of %s against a baseline of %s; "+
			"the first span slower than %s", s.Service, fmtMs(s.P95Ms), s.Minute.Format(layoutClock),
			fmtMs(s.BaselineP95Ms), fmtMs(s.ThresholdMs))
	} else {
		msg = fmt.Sprintf("first error of %s: %d errors in the minute of %s (%d error spans, %d error logs, "+
			"%d spans); baseline median %s over %s", s.Service, s.Errors, s.Minute.Format(layoutClock), s.ErrorSpans,
			s.ErrorLogs, s.Spans, fmtFloat(s.BaselineMedian), plural(s.BaselineMinutes, "earlier minute"))
	}
	return msg + onsetDetail(s.Onset)
}

// onsetDetail names the item of an onset: "; span of v2 (deploy D2), trace
// 4bf9...".
func onsetDetail(o Onset) string {
	s := "; " + o.Signal
	if l := versionLabel(variantKey{version: o.Version, deployment: o.DeploymentID}); l != "untagged" {
		s += " of " + l
	}
	if o.TraceID != "" {
		s += ", trace " + o.TraceID
	}
	if o.LatencyMs > 0 {
		s += ", " + fmtMs(o.LatencyMs)
	}
	return s
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
// Impact, Suspects, Timeline, Contributing factors and Action items, filled
// with what the evidence shows and TODO placeholders for the rest. What the
// evidence lacks comes first in the Summary, before any conclusion.
func (t *Timeline) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := &md{w: bw}
	t.mdHeader(m)
	t.mdLossWarning(m)
	t.mdSummary(m)
	t.mdImpact(m)
	t.mdSuspects(m)
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
	if r := t.Range; r != nil {
		m.line("- **Evidence:** %s to %s (%s), %s, %s, %s, %s, %s",
			r.Start.Format(layoutMinute), r.End.Format(layoutMinute), plural(r.Minutes, "minute"),
			plural(len(t.Services), "service"), plural64(t.Totals.Spans, "span"),
			plural64(t.Totals.LogRecords, "log record"), plural64(t.Totals.DataPoints, "data point"),
			plural64(t.Totals.Events, "event"))
	} else {
		m.line("- **Evidence:** no telemetry; %s.", plural64(t.Totals.Events, "event"))
	}
	t.mdCompleteness(m)
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
			started = inc.StartedAt.Format(layoutMilli)
		}
		resolved := "not resolved in the evidence"
		if !inc.ResolvedAt.IsZero() {
			resolved = inc.ResolvedAt.Format(layoutMilli)
			if !inc.StartedAt.IsZero() {
				resolved += " (open for " + fmtDur(inc.ResolvedAt.Sub(inc.StartedAt)) + ")"
			}
		}
		m.line("- **Opened:** %s · **Resolved:** %s", started, resolved)
	} else {
		m.line("- **Incident:** %s the evidence names no incident; add its ID and title.", todo)
	}
	s := t.Summary
	if o := s.FirstError; o != nil {
		m.line("- **First error:** %s in %s%s", o.Time.Format(layoutMilli), text(o.Service), text(onsetDetail(*o)))
	} else {
		m.line("- **First error:** no error spike (see the rules under Evidence)")
	}
	if o := s.FirstLatencyRegression; o != nil {
		m.line("- **First latency regression:** %s in %s%s", o.Time.Format(layoutMilli), text(o.Service), text(onsetDetail(*o)))
	} else {
		m.line("- **First latency regression:** none")
	}
	switch {
	case s.DetectionSeconds != nil:
		m.line("- **Time to detect:** %s from the first %s to the incident opening", fmtSeconds(*s.DetectionSeconds),
			impactNoun(s.ImpactKind))
	case !s.ImpactStart.IsZero():
		m.line("- **Time to detect:** %s the evidence does not say when the incident opened", todo)
	}
	if s.ResolveSeconds != nil {
		m.line("- **Time to resolve:** %s from the first %s to the resolution", fmtSeconds(*s.ResolveSeconds),
			impactNoun(s.ImpactKind))
	}
	if c := s.ErrorOrigin; c != nil {
		m.line("- **Errors start in:** %s — %s", text(c.Origin), text(chainText(*c)))
	}
	if len(t.Suspects) > 0 {
		sp := t.Suspects[0]
		m.line("- **Suspect:** %s — %s confidence: %s", text(deployText(sp.Deploy)), sp.Confidence,
			text(strongestReason(sp)))
	} else if t.NoSuspect != "" {
		m.line("- **Suspect:** %s.", text(t.NoSuspect))
	}
	for _, mt := range t.Mitigations {
		if mt.Kind == MitigationRollback {
			m.line("- **Mitigation:** %s", text(mitigationText(mt)))
		}
	}
	m.line("- **What happened:** %s two or three sentences in plain words.", todo)
	m.line("")
}

// mdLossWarning puts what the collectors say the evidence lacks on top of
// the document, one line per signal and reason, before anything is read
// from it.
func (t *Timeline) mdLossWarning(m *md) {
	c := t.Completeness
	if c == nil || len(c.Losses) == 0 {
		return
	}
	m.line("> **Warning: evidence is missing.** The collectors name %s this bundle lacks; every conclusion below "+
		"may miss what these items held:", plural(len(c.Losses), "loss"))
	m.line(">")
	for _, l := range c.Losses {
		m.line("> - %s", text(lossWarningText(l)))
	}
	m.line("")
}

// lossWarningText names signal, reason, count and time range of a loss,
// with the times to the nanosecond.
func lossWarningText(l Loss) string {
	n := "an unknown number of " + signalItem(l.Signal)
	if l.Items > 0 {
		n = plural64(l.Items, strings.TrimSuffix(signalItem(l.Signal), "s"))
	}
	return evidencedir.LossText(l.Signal+": "+n+", "+l.Reason, l.From, l.To, l.Collector)
}

// mdCompleteness says what the evidence lacks, before any conclusion.
func (t *Timeline) mdCompleteness(m *md) {
	c := t.Completeness
	switch {
	case c == nil:
		m.line("- **Completeness:** the evidence does not record whether anything is missing; the gaps under " +
			"Contributing factors are what the telemetry itself shows.")
	case len(c.Losses) > 0:
		parts := make([]string, len(c.Losses))
		for i, l := range c.Losses {
			parts[i] = lossText(l)
		}
		m.line("- **Evidence is incomplete:** the collectors name %s: %s. Every conclusion below may miss what "+
			"these items held.", plural(len(c.Losses), "loss"), text(strings.Join(parts, "; ")))
	case c.Lossless:
		m.line("- **Completeness:** the collectors recorded this evidence as lossless.")
	default:
		m.line("- **Completeness:** the collectors do not vouch for this evidence (not lossless), but name no loss.")
	}
}

func lossText(l Loss) string {
	s := plural64(l.Items, strings.TrimSuffix(signalItem(l.Signal), "s"))
	if l.Reason != "" {
		s += " (" + l.Reason + ")"
	}
	if !l.From.IsZero() {
		s += " from " + l.From.Format(layoutSecond)
		if !l.To.IsZero() {
			s += " to " + l.To.Format(layoutSecond)
		}
	}
	if l.Collector != "" {
		s += ", collector " + l.Collector
	}
	return s
}

// signalItem names the items of a signal.
func signalItem(signal string) string {
	switch signal {
	case "traces":
		return "spans"
	case "logs":
		return "log records"
	case "metrics":
		return "data points"
	case "events":
		return "events"
	}
	return signal + " items"
}

// deployText is "deploy D2 of checkout version v2 at 10:02:00.550".
func deployText(d Deploy) string {
	s := "deploy " + d.ID
	if d.Service != "" {
		s += " of " + d.Service
	}
	if d.Version != "" {
		s += " version " + d.Version
	}
	return s + " at " + d.StartedAt.Format(layoutMilli)
}

// strongestReason is the reason that best explains a suspect's place.
func strongestReason(s Suspect) string {
	for _, code := range []string{ReasonVersionFails, ReasonChainOrigin, ReasonServiceSpikes, ReasonVersionHealthy,
		ReasonDownstream, ReasonPreceded} {
		for _, r := range s.Reasons {
			if r.Code == code {
				return r.Text
			}
		}
	}
	return ""
}

func mitigationText(mt Mitigation) string {
	s := deployText(mt.Deploy) + ", " + fmtSeconds(mt.AfterSeconds) + " after the first error"
	if mt.Kind == MitigationRollback {
		s += ": a rollback to " + mt.ReturnsTo
		if mt.Reverts != "" {
			s += " (replacing " + mt.Reverts + ")"
		}
	}
	if mt.Before != nil && mt.After != nil {
		s += "; " + mt.Deploy.Service + " went from " + figuresText(mt.Before.Figures) + " to " +
			figuresText(mt.After.Figures)
	}
	return s
}

func chainText(c Chain) string {
	s := strings.Join(c.Path, " → ") + " in " + plural64(c.Traces, "trace") + ", first at " +
		c.FirstFailure.Format(layoutMilli)
	if len(c.ExampleTraceIDs) > 0 {
		s += " (e.g. trace " + c.ExampleTraceIDs[0] + ")"
	}
	return s
}

func (t *Timeline) mdImpact(m *md) {
	m.line("## Impact")
	m.line("")
	var names []string
	for _, s := range t.Services {
		if s.FirstError != nil || s.FirstLatencyRegression != nil {
			names = append(names, text(s.Name))
		}
	}
	if len(names) > 0 {
		m.line("Services with an error or latency spike: %s.", strings.Join(names, ", "))
	} else {
		m.line("No service had an error or latency spike.")
	}
	m.line("")
	if len(t.Services) > 0 {
		m.row("Service", "Versions", "Spans", "Error spans", "Error logs", "Warn logs", "Peak errors/min",
			"Peak p95 (ms)", "First error", "First latency regression")
		m.row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---")
		for _, s := range t.Services {
			peakErr := "0"
			if s.PeakErrors > 0 {
				peakErr = fmt.Sprintf("%d at %s", s.PeakErrors, s.PeakErrorsMinute.Format(layoutClock))
			}
			peakP95 := "-"
			if !s.PeakP95Minute.IsZero() {
				peakP95 = fmtFloat(s.PeakP95Ms) + " at " + s.PeakP95Minute.Format(layoutClock)
			}
			m.row(cell(s.Name), strconv.Itoa(s.Versions), itoa(s.Spans), itoa(s.ErrorSpans), itoa(s.Logs.Error),
				itoa(s.Logs.Warn), peakErr, peakP95, onsetCell(s.FirstError), onsetCell(s.FirstLatencyRegression))
		}
		m.line("")
	}
	if d := t.Summary.DetectionSeconds; d != nil {
		m.line("- **Detection:** the incident opened %s after the first %s. %s how was it detected, and could "+
			"it have been sooner?", fmtSeconds(*d), impactNoun(t.Summary.ImpactKind), todo)
	} else {
		m.line("- **Detection:** %s how was the incident detected?", todo)
	}
	m.line("- **Customer impact:** %s who was affected, how many, for how long.", todo)
	m.line("- **SLO and error budget:** %s which SLOs were breached and how much budget was spent.", todo)
	m.line("")
}

func onsetCell(o *Onset) string {
	if o == nil {
		return "-"
	}
	return o.Time.Format("15:04:05.000")
}

// text makes outside text safe on one Markdown line: escaped as all
// human output is (safetext), and HTML angle brackets escaped.
func text(s string) string {
	return htmlAngles.Replace(safetext.Escape(s))
}

var htmlAngles = strings.NewReplacer("<", "&lt;", ">", "&gt;")

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
	if strings.HasSuffix(what, "s") {
		return itoa(n) + " " + what + "es"
	}
	return itoa(n) + " " + what + "s"
}

// fmtFloat prints up to three decimals, without trailing zeros.
func fmtFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fmtMs prints milliseconds: "42 ms", "0.5 ms", "1234.5 ms".
func fmtMs(ms float64) string {
	if ms >= 10 {
		return strconv.FormatFloat(math.Round(ms), 'f', 0, 64) + " ms"
	}
	return fmtFloat(math.Round(ms*10)/10) + " ms"
}

// fmtPercent prints a rate (0 to 1) as a percentage: "48%", "0.1%",
// "0.05%", "0%".
func fmtPercent(r float64) string {
	p := r * 100
	switch {
	case p == 0:
		return "0%"
	case p >= 10:
		return strconv.FormatFloat(math.Round(p), 'f', 0, 64) + "%"
	case p >= 0.1:
		return fmtFloat(math.Round(p*10)/10) + "%"
	}
	return strconv.FormatFloat(p, 'g', 1, 64) + "%"
}

// fmtSeconds prints seconds to the millisecond below a minute ("0.125s",
// "6.9s"), else as fmtDur.
func fmtSeconds(s float64) string {
	if math.Abs(s) < 60 {
		return fmtFloat(s) + "s"
	}
	return fmtDur(time.Duration(s * float64(time.Second)))
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
