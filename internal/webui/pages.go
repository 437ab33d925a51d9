package webui

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// page is what the layout shows around every page.
type page struct {
	// Title is the page's title (evidence text is escaped by the layout).
	Title string
	// Source names the store or folder.
	Source string
	// IncidentID, when set, adds the incident's tabs; Tab names the
	// current one.
	IncidentID string
	Tab        string
	// Refresh, when set, reloads the page after so many seconds.
	Refresh int
}

// readingRefresh is how often, in seconds, a page waiting for evidence
// being read reloads itself.
const readingRefresh = 3

type errorPage struct {
	page
	Message string
}

func (s *Server) page(title, id, tab string) page {
	return page{Title: title, Source: s.ev.String(), IncidentID: id, Tab: tab}
}

// listFilter is the incidents page's form: every field narrows the list.
type listFilter struct {
	// Q matches the ID or the title, case-insensitively.
	Q, Service, Severity, Status, Label, Deploy string
	// From and To keep the incidents active at some moment between them.
	From, To time.Time
	// Problems name the fields that could not be read.
	Problems []string
}

func parseFilter(q url.Values) listFilter {
	f := listFilter{
		Q: strings.TrimSpace(q.Get("q")), Service: strings.TrimSpace(q.Get("service")),
		Severity: q.Get("severity"), Status: q.Get("status"), Label: strings.TrimSpace(q.Get("label")),
		Deploy: strings.TrimSpace(q.Get("deploy")),
	}
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := strings.TrimSpace(q.Get(t.key))
		if v == "" {
			continue
		}
		at, err := parseFormTime(v)
		if err != nil {
			f.Problems = append(f.Problems, "'"+t.key+"' must be a time such as 2026-03-02T09:30 (UTC), got "+Text(v))
			continue
		}
		*t.to = at
	}
	return f
}

// parseFormTime reads a datetime-local value (UTC) or an RFC 3339 time.
func parseFormTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return time.Time{}, err
}

func (f listFilter) needsEvidence() bool { return f.Service != "" || f.Deploy != "" }

// keep applies every filter but those that need the evidence.
func (f listFilter) keep(r *catalog.Incident) bool {
	if f.Q != "" && !strings.Contains(strings.ToLower(r.ID+"\x00"+r.Title), strings.ToLower(f.Q)) {
		return false
	}
	if f.Severity != "" && !strings.EqualFold(r.Severity, f.Severity) {
		return false
	}
	if f.Status != "" && r.Status != f.Status {
		return false
	}
	if f.Label != "" && !hasLabel(r.Record, f.Label) {
		return false
	}
	if !f.From.IsZero() && !r.ActiveSince(f.From) {
		return false
	}
	if !f.To.IsZero() {
		start := r.SortTime()
		if start.IsZero() || start.After(f.To) {
			return false
		}
	}
	return true
}

// hasLabel matches "key=value" or "key" against the incident's labels.
func hasLabel(rec *incident.Incident, label string) bool {
	if rec == nil {
		return false
	}
	key, value, withValue := strings.Cut(label, "=")
	v, ok := rec.Labels[strings.TrimSpace(key)]
	return ok && (!withValue || v == strings.TrimSpace(value))
}

// keepEvidence applies the service and deploy filters: a service matches
// the incident's scope (service.name=...) or a service with telemetry or
// a deploy in its evidence; a deploy matches a deploy ID or version in
// its evidence.
func (f listFilter) keepEvidence(r *catalog.Incident, facts *filterFacts) bool {
	if f.Service != "" {
		found := facts.services[f.Service]
		if r.Record != nil {
			for _, m := range r.Record.Scope {
				found = found || (m.Key == "service.name" && m.Value == f.Service)
			}
		}
		if !found {
			return false
		}
	}
	return f.Deploy == "" || facts.deploys[f.Deploy]
}

type incidentRow struct {
	*catalog.Incident
	// Losses and Signature say what the bundle records of its losses and
	// signatures.
	Losses, Signature string
}

// lossesText sums up what the collectors' manifests say is missing:
// "none" only when every manifest records its losses and names none.
func lossesText(r *catalog.Incident) string {
	known := len(r.Collectors) > 0
	var items int64
	var reasons []string
	for _, c := range r.Collectors {
		known = known && c.LossesKnown
		for _, l := range c.Losses {
			items += l.Items
			if !slices.Contains(reasons, l.Reason) {
				reasons = append(reasons, l.Reason)
			}
		}
	}
	switch {
	case !known && items == 0:
		return "not recorded"
	case r.Lossless:
		return "none"
	case items > 0:
		return number(items) + " items missing (" + strings.Join(reasons, ", ") + ")"
	}
	return "some missing"
}

// signatureText says whether the collectors' manifests are signed; the
// bundle page checks the signatures against the trusted keys.
func signatureText(r *catalog.Incident) string {
	signed, unsigned := 0, 0
	var keys []string
	for _, c := range r.Collectors {
		switch {
		case c.Signature == nil:
			unsigned++
		case c.Signature.State == bundle.SigUnsigned:
			unsigned++
		default:
			signed++
			for _, k := range c.Signature.KeyIDs {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	switch {
	case signed == 0:
		return "unsigned"
	case unsigned > 0:
		return fmt.Sprintf("%d of %d manifests signed", signed, signed+unsigned)
	}
	return "signed (" + strings.Join(keys, ", ") + ")"
}

// WindowText is the evidence window relative to the incident's start.
func (r incidentRow) WindowText() string {
	if r.Window == nil {
		return "—"
	}
	return window(r.Window.Start, r.Window.End, r.StartedAt)
}

type incidentsPage struct {
	page
	Filter     listFilter
	Rows       []incidentRow
	Total      int
	Severities []string
	Statuses   []string
	// Unread counts the incidents the service or deploy filter could not
	// read, which are left out.
	Unread int
	// Reading counts the incidents the service or deploy filter has not
	// read yet, which are left out: they are read in the background and
	// the page reloads itself until they are.
	Reading int
}

func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	all, err := s.ev.List(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := incidentsPage{page: s.page("Incidents", "", ""), Filter: parseFilter(r.URL.Query()), Total: len(all)}
	sev := map[string]bool{}
	// reading are the incidents the filters need read.
	var reading []string
	for _, row := range all {
		if row.Severity != "" {
			sev[row.Severity] = true
		}
		if !p.Filter.keep(row) {
			continue
		}
		if p.Filter.needsEvidence() {
			facts, err := s.factsFor(ctx, row.ID)
			switch {
			case ctx.Err() != nil:
				return
			case err == nil && facts == nil:
				p.Reading++
				reading = append(reading, row.ID)
				continue
			case err == nil && facts.err != nil, err != nil:
				p.Unread++
				continue
			}
			if !p.Filter.keepEvidence(row, facts) {
				continue
			}
		}
		p.Rows = append(p.Rows, incidentRow{Incident: row, Losses: lossesText(row), Signature: signatureText(row)})
	}
	p.Severities = slices.Sorted(maps.Keys(sev))
	ids := make([]string, len(p.Rows))
	for i, row := range p.Rows {
		ids[i] = row.ID
	}
	s.prefetchAll(ids)
	if len(reading) > 0 {
		s.readAhead(reading)
		p.Refresh = readingRefresh
	}
	p.Statuses = []string{string(incident.StatusOpen), string(incident.StatusResolved), catalog.StatusUnknown}
	s.render(w, http.StatusOK, "incidents", p)
}

type incidentPage struct {
	page
	// Inc is the incident record and Labels its labels; Row is what the
	// record and the collectors' manifests say, with its Losses and
	// Signature as the incidents page shows them. They are shown first:
	// reading them reads no part.
	Inc               *timeline.Incident
	Labels            []label
	Row               *catalog.Incident
	Losses, Signature string
	// The analysis of every part.
	TL      *timeline.Timeline
	Entries []timeline.Entry
	Draft   template.HTML
	Charts  []serviceCharts
	// Derived is the incident as the events in the evidence tell it, when
	// it has no record.
	Derived *incidentFacts
	// Problem is why the analysis failed, once the first view is sent.
	Problem string
}

// incidentFacts are the incident facts of the page.
type incidentFacts struct {
	Inc    *timeline.Incident
	Labels []label
}

type label struct{ Key, Value string }

// incidentPage shows an incident. What reading no part can show (the
// record, the manifests' counts, losses and signatures) is sent first;
// the analysis of every part, which takes seconds on a large incident,
// follows on the same page as soon as it is done, unless the incident
// is analysed already. The page stays usable without script: the
// browser shows the first view while the rest arrives.
func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := incident.ValidateID(id); err != nil {
		s.fail(w, r, notFound(id, err))
		return
	}
	version, err := s.ev.Version(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	row, err := s.ev.Summary(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := incidentPage{page: s.page(id, id, "summary"), Row: row, Losses: lossesText(row), Signature: signatureText(row)}
	if row.Record != nil {
		p.Inc = timeline.SummarizeIncident(row.Record)
		if row.Record.Title != "" {
			p.Title = id + ": " + row.Record.Title
		}
		for _, k := range slices.Sorted(maps.Keys(row.Record.Labels)) {
			p.Labels = append(p.Labels, label{k, row.Record.Labels[k]})
		}
	}
	if a := s.cached(id, version); a != nil {
		if err := p.analysis(a); err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, http.StatusOK, "incident", p)
		return
	}
	st := s.stream(w, pages["incident"], p, "top", "first")
	a, err := s.analyseVersion(ctx, id, version)
	if err == nil {
		err = p.analysis(a)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("evidence page failed", zap.String("path", r.URL.Path), zap.Error(err))
		p.Problem = err.Error()
		st.write(p, "failed", "bottom")
		return
	}
	st.write(p, "analysis", "bottom")
}

// analysis fills the page's analysis from the incident's timeline.
func (p *incidentPage) analysis(a *analysed) error {
	tl := a.tl
	p.TL, p.Entries = tl, tl.Entries()
	if p.Inc == nil && tl.Incident != nil {
		p.Derived = &incidentFacts{Inc: tl.Incident}
	}
	var md bytes.Buffer
	if err := tl.WriteMarkdown(&md); err != nil {
		return err
	}
	var err error
	if p.Draft, err = renderMarkdown(md.Bytes()); err != nil {
		return err
	}
	p.Charts = charts(tl)
	return nil
}

// incident validates the ID and analyses the incident's evidence.
func (s *Server) incident(ctx context.Context, id string) (*analysed, error) {
	if err := incident.ValidateID(id); err != nil {
		return nil, notFound(id, err)
	}
	return s.analyse(ctx, id)
}

func (s *Server) postmortem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, err := s.incident(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var md bytes.Buffer
	if err := a.tl.WriteMarkdown(&md); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-postmortem.md"`)
	_, _ = w.Write(md.Bytes())
}
