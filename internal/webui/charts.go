package webui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// The charts are SVG drawn on the server: one row per service with its
// errors, requests (spans) and p95 latency per minute, one line per
// version, and vertical markers for deploys, the incident's opening and
// resolution, and notes. Each chart has a text title and description for
// screen readers and a table of its figures.

// Chart geometry, in SVG user units.
const (
	chartW      = 360
	chartH      = 170
	plotLeft    = 46
	plotRight   = chartW - 16
	plotTop     = 10
	plotBottom  = chartH - 24
	maxVersions = 6 // series styles; more versions share the last
)

type serviceCharts struct {
	Service string
	// Versions name the series, in the style order.
	Versions []seriesName
	Charts   []chart
	Markers  []marker
	// Rows are the figures per minute and version.
	Rows []timeline.MinuteStats
}

type seriesName struct {
	Label string
	Style int
}

type chart struct {
	ID, Title, Desc string
	W, H            int
	Left, Right     float64
	Top, Bottom     float64
	XTicks, YTicks  []tick
	Series          []series
	Markers         []marker
}

type tick struct {
	At    float64
	Label string
}

type series struct {
	Label    string
	Style    int
	Segments []string
	// Dots are the points of single-minute segments, which a line cannot
	// show.
	Dots []point
}

type point struct{ X, Y float64 }

// marker is an event drawn across the charts.
type marker struct {
	X float64
	// Kind is deploy, incident or note; ID the deploy or incident.
	Kind, ID, Label string
	Time            time.Time
	// Suspect ranks a deploy among the suspects (0: not a suspect).
	Suspect int
}

type metric struct {
	name, unit string
	value      func(timeline.MinuteStats) (float64, bool)
}

var metrics = []metric{
	{"errors", "errors per minute", func(m timeline.MinuteStats) (float64, bool) { return float64(m.Errors), true }},
	{"requests", "spans per minute", func(m timeline.MinuteStats) (float64, bool) { return float64(m.Spans), true }},
	{"p95", "p95 latency (ms)", func(m timeline.MinuteStats) (float64, bool) { return m.P95Ms, m.LatencySamples > 0 }},
}

// charts lays out every service's charts over the evidence range.
func charts(tl *timeline.Timeline) []serviceCharts {
	if tl.Range == nil {
		return nil
	}
	start, end := chartDomain(tl)
	span := end.Sub(start)
	if span <= 0 {
		return nil
	}
	x := func(t time.Time) float64 {
		return plotLeft + (plotRight-plotLeft)*float64(t.Sub(start))/float64(span)
	}
	suspectRank := map[string]int{}
	for _, s := range tl.Suspects {
		suspectRank[s.Deploy.ID] = s.Rank
	}
	var out []serviceCharts
	for i, svc := range tl.Services {
		sc := serviceCharts{Service: svc.Name}
		var rows []timeline.MinuteStats
		for _, m := range tl.VersionMinutes {
			if m.Service == svc.Name {
				rows = append(rows, m)
			}
		}
		if len(rows) == 0 { // a timeline without per-version figures
			for _, m := range tl.Minutes {
				if m.Service == svc.Name {
					rows = append(rows, m)
				}
			}
		}
		sc.Rows = rows
		byVersion := map[string][]timeline.MinuteStats{}
		var order []string
		for _, m := range rows {
			k := versionLabel(m)
			if _, ok := byVersion[k]; !ok {
				order = append(order, k)
			}
			byVersion[k] = append(byVersion[k], m)
		}
		for j, k := range order {
			sc.Versions = append(sc.Versions, seriesName{k, min(j, maxVersions-1)})
		}
		sc.Markers = markers(tl, svc.Name, suspectRank, x, start, end)
		for _, mt := range metrics {
			c := chart{
				ID: fmt.Sprintf("chart-%d-%s", i, mt.name), W: chartW, H: chartH,
				Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom,
				Title:   svc.Name + ": " + mt.unit,
				Markers: sc.Markers,
			}
			peak := 0.0
			for _, m := range rows {
				if v, ok := mt.value(m); ok {
					peak = math.Max(peak, finite(v))
				}
			}
			top := niceCeil(peak)
			y := func(v float64) float64 { return plotBottom - (plotBottom-plotTop)*finite(v)/top }
			for _, f := range []float64{0, 0.5, 1} {
				c.YTicks = append(c.YTicks, tick{y(top * f), fmtTick(top * f)})
			}
			c.XTicks = timeTicks(start, end, x)
			for j, k := range order {
				c.Series = append(c.Series, line(k, min(j, maxVersions-1), byVersion[k], mt, x, y))
			}
			c.Desc = describe(svc.Name, mt, order, byVersion, len(sc.Markers))
			sc.Charts = append(sc.Charts, c)
		}
		out = append(out, sc)
	}
	return out
}

// maxDomainStretch bounds how far the charts reach beyond the telemetry
// to show the incident's and notes' markers.
const maxDomainStretch = 30 * time.Minute

// chartDomain is the evidence range, stretched to the minutes of the
// incident's opening and resolution and of the notes (up to
// maxDomainStretch either side), so that their markers show where the
// telemetry stops.
func chartDomain(tl *timeline.Timeline) (time.Time, time.Time) {
	start, end := tl.Range.Start, tl.Range.End
	lo, hi := start.Add(-maxDomainStretch), end.Add(maxDomainStretch)
	for _, e := range tl.Events {
		if e.Kind != string(incident.EventNote) && !strings.HasPrefix(e.Kind, "incident.") {
			continue
		}
		if e.Time.Before(lo) || e.Time.After(hi) {
			continue
		}
		if e.Time.Before(start) {
			start = e.Time.Truncate(time.Minute)
		}
		if !e.Time.Before(end) {
			end = e.Time.Truncate(time.Minute).Add(time.Minute)
		}
	}
	return start, end
}

func versionLabel(m timeline.MinuteStats) string {
	switch {
	case m.Version == "" && m.DeploymentID == "":
		return "no version"
	case m.DeploymentID == "":
		return m.Version
	case m.Version == "":
		return "deploy " + m.DeploymentID
	}
	return m.Version + " (" + m.DeploymentID + ")"
}

// line draws one version's minutes: consecutive minutes are joined, a
// minute without data breaks the line. Each value is placed at the middle
// of its minute.
func line(label string, style int, ms []timeline.MinuteStats, mt metric, x func(time.Time) float64, y func(float64) float64) series {
	s := series{Label: label, Style: style}
	var cur []point
	var last time.Time
	flush := func() {
		switch len(cur) {
		case 0:
		case 1:
			s.Dots = append(s.Dots, cur[0])
		default:
			parts := make([]string, len(cur))
			for i, p := range cur {
				parts[i] = coord(p.X) + "," + coord(p.Y)
			}
			s.Segments = append(s.Segments, strings.Join(parts, " "))
		}
		cur = cur[:0]
	}
	for _, m := range ms {
		v, ok := mt.value(m)
		if !ok {
			flush()
			continue
		}
		if len(cur) > 0 && m.Minute.Sub(last) > time.Minute {
			flush()
		}
		cur = append(cur, point{x(m.Minute.Add(30 * time.Second)), y(v)})
		last = m.Minute
	}
	flush()
	return s
}

// markers are the deploys of the service (suspects ranked), every
// incident opening and resolution, and the notes, inside the range.
func markers(tl *timeline.Timeline, service string, rank map[string]int, x func(time.Time) float64, start, end time.Time) []marker {
	var out []marker
	for _, e := range tl.Events {
		if e.Time.Before(start) || e.Time.After(end) {
			continue
		}
		m := marker{X: x(e.Time), Time: e.Time, ID: e.ID, Label: e.Summary}
		switch incident.EventKind(e.Kind) {
		case incident.EventDeploy:
			if e.Service != service {
				continue
			}
			m.Kind, m.Suspect = "deploy", rank[e.ID]
		case incident.EventNote:
			m.Kind = "note"
		default:
			if !strings.HasPrefix(e.Kind, "incident.") {
				continue
			}
			m.Kind = "incident"
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b marker) int { return a.Time.Compare(b.Time) })
	return out
}

func describe(service string, mt metric, order []string, by map[string][]timeline.MinuteStats, markers int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s per minute", mt.unit, service)
	for _, k := range order {
		peak, at := 0.0, time.Time{}
		for _, m := range by[k] {
			if v, ok := mt.value(m); ok && v > peak {
				peak, at = v, m.Minute
			}
		}
		if at.IsZero() {
			fmt.Fprintf(&b, "; %s: no data", k)
			continue
		}
		fmt.Fprintf(&b, "; %s: peak %s at %s", k, fmtTick(peak), at.UTC().Format("15:04"))
	}
	fmt.Fprintf(&b, "; %d markers.", markers)
	return b.String()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 5, 10} {
		if v <= f*p {
			return f * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// timeTicks labels up to six whole minutes (HH:MM) across the range.
func timeTicks(start, end time.Time, x func(time.Time) float64) []tick {
	minutes := int(end.Sub(start) / time.Minute)
	step := 1
	for _, s := range []int{1, 2, 5, 10, 15, 30, 60, 120, 240, 720, 1440} {
		step = s
		if minutes/s <= 5 {
			break
		}
	}
	var out []tick
	first := start.Truncate(time.Duration(step) * time.Minute)
	if first.Before(start) {
		first = first.Add(time.Duration(step) * time.Minute)
	}
	for t := first; !t.After(end); t = t.Add(time.Duration(step) * time.Minute) {
		out = append(out, tick{x(t), t.UTC().Format("15:04")})
	}
	return out
}

func coord(f float64) string { return strconv.FormatFloat(finite(f), 'f', 1, 64) }
