package webui

import (
	"bytes"
	"embed"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/safetext"
)

//go:embed templates
var templateFiles embed.FS

// pages are the page templates by name, each with the layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"incidents", "incident", "traces", "trace", "logs", "bundle", "error"} {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles,
			"templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

var funcs = template.FuncMap{
	"ev":      Text,
	"when":    when,
	"clock":   clock,
	"secs":    seconds,
	"ms":      millis,
	"pct":     percent,
	"bytes":   catalog.HumanBytes,
	"num":     number,
	"window":  window,
	"lower":   strings.ToLower,
	"join":    func(sep string, s []string) string { return strings.Join(s, sep) },
	"inc":     func(i int) int { return i + 1 },
	"dateval": dateValue,
	"dur":     duration,
}

// duration shows a span or trace duration: 850µs, 12.3ms, 1.52s.
func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	}
	return d.Round(time.Second).String()
}

// Text is the project's one escaping rule (safetext.Escape) for every
// string that comes from the evidence, applied before html/template
// escapes it: control characters, the C1 range, bidirectional formatting
// and invalid bytes are shown as escapes (\x1b, \u202e), so an ESC
// sequence or a reversed title reads as what it is and changes nothing.
func Text(s string) string { return safetext.Escape(s) }

// TextLines is Text for text of several lines: it keeps the line feeds.
func TextLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Text(l)
	}
	return strings.Join(lines, "\n")
}

const (
	layoutTime  = "2006-01-02 15:04:05.000Z"
	layoutClock = "15:04:05.000"
)

func when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return "—"
		}
		t = *x
	}
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layoutTime)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layoutClock)
}

// dateValue is a time as an <input type="datetime-local"> value (UTC).
func dateValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func seconds(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case *float64:
		if x == nil {
			return "—"
		}
		f = *x
	}
	d := time.Duration(f * float64(time.Second))
	if d.Abs() < time.Minute {
		return strconv.FormatFloat(f, 'f', 1, 64) + " s"
	}
	return d.Round(time.Second).String()
}

func millis(f float64) string {
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " ms"
}

func percent(f float64) string {
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}

func number(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 || len(s) <= 3 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// window shows an evidence window relative to the incident start when
// known (-30m..+10m), else as UTC times.
func window(start, end time.Time, started *time.Time) string {
	if start.IsZero() && end.IsZero() {
		return "—"
	}
	if started != nil && !start.IsZero() && !end.IsZero() {
		return signed(start.Sub(*started)) + " … " + signed(end.Sub(*started))
	}
	return when(start) + " … " + when(end)
}

func signed(d time.Duration) string {
	s := d.Abs().Round(time.Second).String()
	for _, z := range []string{"h0m0s", "m0s"} {
		if strings.HasSuffix(s, z) {
			s = s[:len(s)-len(z)+1]
		}
	}
	if d < 0 {
		return "−" + s
	}
	return "+" + s
}

// markdown renders the timeline's Markdown draft. Raw HTML in it is
// dropped (goldmark's default); the draft escapes evidence text itself.
// Table cells are aligned with the align attribute: the policy allows no
// style attribute.
var markdown = goldmark.New(goldmark.WithExtensions(
	extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
	extension.Strikethrough))

func renderMarkdown(src []byte) (template.HTML, error) {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(TextLines(string(src))), &buf); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil //nolint:gosec // goldmark output without raw HTML
}

// finite replaces NaN and infinities, which no chart can place, with 0.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
