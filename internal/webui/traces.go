package webui

import (
	"cmp"
	"context"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	// maxListedTraces bounds the rows of the traces page.
	maxListedTraces = 200
	// maxTraceSpans bounds the spans a waterfall shows.
	maxTraceSpans = 5000
	// maxTraceServices bounds the services a trace row names.
	maxTraceServices = 8
	// maxSpanAttributes bounds the attributes shown per span.
	maxSpanAttributes = 24
)

// traceRow sums up one trace.
type traceRow struct {
	ID                 string
	Start, End         time.Time
	Spans, Errors      int
	Root, RootService  string
	Services           []string
	matched, hasParent bool
}

// Duration is the time from the first span's start to the last span's end.
func (r *traceRow) Duration() time.Duration { return r.End.Sub(r.Start) }

// spanMatch selects the spans a search looks for.
type spanMatch func(res pcommon.Map, sp ptrace.Span) bool

// traceSearch is the traces page's form.
type traceSearch struct {
	Q          string
	ErrorsOnly bool
}

// matcher turns the search into a span predicate: a trace ID (or a prefix
// of one), key=value on a span's or its resource's attributes, else text
// in the span name; nil when there is no search.
func (q traceSearch) matcher() spanMatch {
	text := strings.TrimSpace(q.Q)
	if text == "" {
		return nil
	}
	if isHexID(text) {
		id := strings.ToLower(text)
		return func(_ pcommon.Map, sp ptrace.Span) bool {
			return strings.HasPrefix(traceIDString(sp.TraceID()), id)
		}
	}
	if key, value, ok := strings.Cut(text, "="); ok {
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		return func(res pcommon.Map, sp ptrace.Span) bool {
			for _, m := range []pcommon.Map{sp.Attributes(), res} {
				if v, ok := m.Get(key); ok && v.AsString() == value {
					return true
				}
			}
			return false
		}
	}
	lower := strings.ToLower(text)
	return func(_ pcommon.Map, sp ptrace.Span) bool {
		return strings.Contains(strings.ToLower(sp.Name()), lower)
	}
}

func isHexID(s string) bool {
	if len(s) < 8 || len(s) > 32 {
		return false
	}
	_, err := hex.DecodeString(s + strings.Repeat("0", len(s)%2))
	return err == nil
}

func traceIDString(id pcommon.TraceID) string { return hex.EncodeToString(id[:]) }
func spanIDString(id pcommon.SpanID) string   { return hex.EncodeToString(id[:]) }

func serviceOf(res pcommon.Map) string {
	if v, ok := res.Get("service.name"); ok && v.AsString() != "" {
		return v.AsString()
	}
	return "unknown_service"
}

// traceList reads every span and sums up each trace; with match, only the
// traces with a matching span are listed. Traces with errors come first,
// then by start.
func (s *Server) traceList(ctx context.Context, id string, match spanMatch, errorsOnly bool) ([]*traceRow, int, error) {
	byID := map[pcommon.TraceID]*traceRow{}
	err := s.scan(ctx, id, func(td ptrace.Traces) error {
		for _, rs := range td.ResourceSpans().All() {
			res := rs.Resource().Attributes()
			svc := serviceOf(res)
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					tid := sp.TraceID()
					r := byID[tid]
					if r == nil {
						r = &traceRow{ID: traceIDString(tid)}
						byID[tid] = r
					}
					addSpan(r, svc, sp)
					if match != nil && !r.matched && match(res, sp) {
						r.matched = true
					}
				}
			}
		}
		return nil
	}, nil)
	if err != nil {
		return nil, 0, err
	}
	rows := make([]*traceRow, 0, len(byID))
	for _, r := range byID {
		if (match == nil || r.matched) && (!errorsOnly || r.Errors > 0) {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b *traceRow) int {
		return cmp.Or(cmp.Compare(b.Errors, a.Errors), a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
	return rows, len(byID), nil
}

func addSpan(r *traceRow, svc string, sp ptrace.Span) {
	start, end := sp.StartTimestamp().AsTime(), sp.EndTimestamp().AsTime()
	if r.Spans == 0 || start.Before(r.Start) {
		r.Start = start
	}
	if end.After(r.End) {
		r.End = end
	}
	r.Spans++
	if sp.Status().Code() == ptrace.StatusCodeError {
		r.Errors++
	}
	root := sp.ParentSpanID().IsEmpty()
	if root || (!r.hasParent && r.Root == "") || (!r.hasParent && start.Before(r.Start)) {
		r.Root, r.RootService = sp.Name(), svc
		r.hasParent = root
	}
	if len(r.Services) < maxTraceServices && !slices.Contains(r.Services, svc) {
		r.Services = append(r.Services, svc)
	}
}

type tracesPage struct {
	page
	Search traceSearch
	Rows   []*traceRow
	// Matched is the number of traces that match; All of all traces.
	Matched, All int
}

func (s *Server) tracesPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.incident(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	q := traceSearch{Q: strings.TrimSpace(r.URL.Query().Get("q")), ErrorsOnly: r.URL.Query().Get("errors") != ""}
	rows, all, err := s.traceList(r.Context(), id, q.matcher(), q.ErrorsOnly)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(q.Q) == 32 && len(rows) == 1 && rows[0].ID == strings.ToLower(q.Q) {
		// A local path: the ID passed ValidateID, the trace ID is hex.
		http.Redirect(w, r, "/incidents/"+id+"/traces/"+rows[0].ID, http.StatusSeeOther) //nolint:gosec // see above
		return
	}
	p := tracesPage{page: s.page(id+": traces", id, "traces"), Search: q, Matched: len(rows), All: all}
	p.Rows = rows[:min(len(rows), maxListedTraces)]
	s.render(w, http.StatusOK, "traces", p)
}

// wfSpan is one row of a waterfall.
type wfSpan struct {
	SpanID, ParentID string
	Depth            int
	Service, Name    string
	Kind             string
	Start            time.Time
	Offset, Duration time.Duration
	Error            bool
	Status           string
	// X and W place the bar in a 0..1000 wide box.
	X, W   float64
	Attrs  []label
	parent pcommon.SpanID
	id     pcommon.SpanID
}

type tracePage struct {
	page
	TraceID string
	Spans   []*wfSpan
	// Total counts the trace's spans; only maxTraceSpans are shown.
	Total    int
	Services []string
	Duration time.Duration
	Start    time.Time
	Errors   int
}

func (s *Server) tracePage(w http.ResponseWriter, r *http.Request) {
	id, tid := r.PathValue("id"), strings.ToLower(r.PathValue("trace"))
	if _, err := s.incident(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	raw, err := hex.DecodeString(tid)
	if err != nil || len(raw) != 16 {
		s.fail(w, r, notFound(tid, errBadTraceID))
		return
	}
	want := pcommon.TraceID(raw)
	p := tracePage{page: s.page(id+": trace "+tid, id, "traces"), TraceID: tid}
	err = s.scan(r.Context(), id, func(td ptrace.Traces) error {
		for _, rs := range td.ResourceSpans().All() {
			svc := serviceOf(rs.Resource().Attributes())
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if sp.TraceID() != want {
						continue
					}
					p.Total++
					if len(p.Spans) < maxTraceSpans {
						p.Spans = append(p.Spans, newWFSpan(svc, sp))
					}
				}
			}
		}
		return nil
	}, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.Total == 0 {
		s.fail(w, r, notFound(tid, errNoTrace))
		return
	}
	layoutWaterfall(&p)
	s.render(w, http.StatusOK, "trace", p)
}

func newWFSpan(svc string, sp ptrace.Span) *wfSpan {
	start, end := sp.StartTimestamp().AsTime(), sp.EndTimestamp().AsTime()
	w := &wfSpan{
		SpanID: spanIDString(sp.SpanID()), Service: svc, Name: sp.Name(), Kind: sp.Kind().String(),
		Start: start, Duration: max(end.Sub(start), 0), Error: sp.Status().Code() == ptrace.StatusCodeError,
		Status: sp.Status().Message(), parent: sp.ParentSpanID(), id: sp.SpanID(),
	}
	if !w.parent.IsEmpty() {
		w.ParentID = spanIDString(w.parent)
	}
	for k, v := range sp.Attributes().All() {
		if len(w.Attrs) == maxSpanAttributes {
			break
		}
		w.Attrs = append(w.Attrs, label{k, v.AsString()})
	}
	slices.SortFunc(w.Attrs, func(a, b label) int { return strings.Compare(a.Key, b.Key) })
	return w
}

// layoutWaterfall orders the spans parent before children (children by
// start), roots (and spans whose parent is not in the evidence) by start,
// and places each bar on the trace's time axis.
func layoutWaterfall(p *tracePage) {
	byID := map[pcommon.SpanID]*wfSpan{}
	for _, sp := range p.Spans {
		byID[sp.id] = sp
	}
	children := map[pcommon.SpanID][]*wfSpan{}
	var roots []*wfSpan
	start, end := p.Spans[0].Start, p.Spans[0].Start
	for _, sp := range p.Spans {
		if _, ok := byID[sp.parent]; ok && sp.parent != sp.id {
			children[sp.parent] = append(children[sp.parent], sp)
		} else {
			roots = append(roots, sp)
		}
		if sp.Start.Before(start) {
			start = sp.Start
		}
		if e := sp.Start.Add(sp.Duration); e.After(end) {
			end = e
		}
		if sp.Error {
			p.Errors++
		}
		if !slices.Contains(p.Services, sp.Service) {
			p.Services = append(p.Services, sp.Service)
		}
	}
	byStart := func(a, b *wfSpan) int { return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.SpanID, b.SpanID)) }
	slices.SortFunc(roots, byStart)
	total := end.Sub(start)
	p.Start, p.Duration = start, total
	ordered := make([]*wfSpan, 0, len(p.Spans))
	seen := map[*wfSpan]bool{}
	var walk func(sp *wfSpan, depth int)
	walk = func(sp *wfSpan, depth int) {
		if seen[sp] { // a cycle of parent IDs in hostile evidence
			return
		}
		seen[sp] = true
		sp.Depth = min(depth, 10)
		sp.Offset = sp.Start.Sub(start)
		if total > 0 {
			sp.X = 1000 * float64(sp.Offset) / float64(total)
			sp.W = max(1000*float64(sp.Duration)/float64(total), 2)
		} else {
			sp.W = 1000
		}
		ordered = append(ordered, sp)
		kids := children[sp.id]
		slices.SortFunc(kids, byStart)
		for _, c := range kids {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	for _, sp := range p.Spans { // spans only reachable through a cycle
		if !seen[sp] {
			walk(sp, 0)
		}
	}
	p.Spans = ordered
}
