package incidentsextension // import "github.com/otel-evidence/otel-evidence/extension/incidentsextension"

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// maxMarks bounds the open and resolve marks kept per incident. Only the
// newest are kept; older ones describe episodes long over.
const maxMarks = 32

// openMark records that a replica saw the incident open at At.
type openMark struct {
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

// incidentMeta is the descriptive part of an incident, merged
// last-writer-wins by UpdatedAt.
type incidentMeta struct {
	UpdatedAt time.Time          `json:"updated_at"`
	Title     string             `json:"title,omitempty"`
	Severity  string             `json:"severity,omitempty"`
	Source    string             `json:"source,omitempty"`
	Scope     []incident.Matcher `json:"scope,omitempty"`
	Labels    map[string]string  `json:"labels,omitempty"`
	Links     []incident.Link    `json:"links,omitempty"`
}

// incidentState is this replica's knowledge of one incident.
//
// The lifecycle is kept as two sets of marks: the times the incident was
// seen opening (an open record's started_at) and resolving (a resolved
// record's resolved_at). The record is derived by walking the marks in time
// order (an open before a resolve at the same instant): the first open
// starts an episode, the first resolve after it ends the episode, the next
// open after that starts a new one (a reopen). Merging two states is the
// union of their marks (newest maxMarks of each kind) and the
// last-writer-wins of their meta, so merging is commutative, associative and
// idempotent: replicas that have seen the same records agree, whatever the
// order. Every record a replica publishes is derived from its marks, and it
// keeps only marks derivable from published records, so all replicas hold
// the same marks once they have read the same log.
//
// The meta is kept in the record's own fields (see meta and setMeta), so
// that a state holds one copy of it.
type incidentState struct {
	opens    []openMark        // ascending by At, distinct At
	resolves []time.Time       // ascending, distinct
	rec      incident.Incident // meta, and the lifecycle derived from the marks
}

// meta returns the state's meta.
func (s *incidentState) meta() incidentMeta {
	r := &s.rec
	return incidentMeta{
		UpdatedAt: r.UpdatedAt, Title: r.Title, Severity: r.Severity, Source: r.Source,
		Scope: r.Scope, Labels: r.Labels, Links: r.Links,
	}
}

// setMeta replaces the state's meta; derive then rebuilds the record.
// Only for a state not yet committed: a committed record is shared.
func (s *incidentState) setMeta(m incidentMeta) {
	r := &s.rec
	r.UpdatedAt, r.Title, r.Severity, r.Source = m.UpdatedAt, m.Title, m.Severity, m.Source
	r.Scope, r.Labels, r.Links = m.Scope, m.Labels, m.Links
}

// marksOf returns the marks a record stands for.
func marksOf(rec *incident.Incident) (openMark, *time.Time) {
	o := openMark{At: rec.StartedAt, By: rec.OpenedBy}
	if rec.Status == incident.StatusResolved && rec.ResolvedAt != nil {
		r := *rec.ResolvedAt
		return o, &r
	}
	return o, nil
}

// metaOf returns the meta of rec, for a state to keep. Label names, the
// severity and the source take few distinct values across incidents: one
// copy of each serves them all (unique), instead of one per received
// request.
func metaOf(rec *incident.Incident) incidentMeta {
	var labels map[string]string
	if rec.Labels != nil {
		labels = make(map[string]string, len(rec.Labels))
		for k, v := range rec.Labels {
			labels[unique.Make(k).Value()] = v
		}
	}
	return incidentMeta{
		UpdatedAt: rec.UpdatedAt,
		Title:     rec.Title,
		Severity:  unique.Make(rec.Severity).Value(),
		Source:    unique.Make(rec.Source).Value(),
		Scope:     slices.Clone(rec.Scope),
		Labels:    labels,
		Links:     slices.Clone(rec.Links),
	}
}

// newStateFromRecord returns the state of a record learned from the store.
func newStateFromRecord(rec *incident.Incident) *incidentState {
	s := &incidentState{rec: incident.Incident{ID: rec.ID}}
	s.mergeRecord(rec)
	return s
}

func (s *incidentState) clone() *incidentState {
	c := *s
	c.opens = slices.Clone(s.opens)
	c.resolves = slices.Clone(s.resolves)
	c.rec = cloneIncident(&s.rec)
	return &c
}

func (m incidentMeta) clone() incidentMeta {
	m.Scope = slices.Clone(m.Scope)
	m.Labels = maps.Clone(m.Labels)
	m.Links = slices.Clone(m.Links)
	return m
}

// mergeRecord merges the marks and meta of rec into s and re-derives s.rec.
func (s *incidentState) mergeRecord(rec *incident.Incident) {
	o, r := marksOf(rec)
	s.addOpen(o)
	if r != nil {
		s.addResolve(*r)
	}
	s.mergeMeta(metaOf(rec))
	s.derive()
}

// mergeState merges another state of the same incident into s.
func (s *incidentState) mergeState(o *incidentState) {
	for _, m := range o.opens {
		s.addOpen(m)
	}
	for _, r := range o.resolves {
		s.addResolve(r)
	}
	s.mergeMeta(o.meta())
	s.derive()
}

func (s *incidentState) addOpen(m openMark) {
	i, found := slices.BinarySearchFunc(s.opens, m.At, func(e openMark, t time.Time) int { return e.At.Compare(t) })
	if found {
		// Same instant seen by several replicas: the smallest non-empty name.
		if cur := s.opens[i].By; cur == "" || (m.By != "" && m.By < cur) {
			s.opens[i].By = m.By
		}
		return
	}
	s.opens = slices.Insert(s.opens, i, m)
	if len(s.opens) > maxMarks {
		s.opens = slices.Delete(s.opens, 0, len(s.opens)-maxMarks)
	}
}

func (s *incidentState) addResolve(t time.Time) {
	i, found := slices.BinarySearchFunc(s.resolves, t, time.Time.Compare)
	if found {
		return
	}
	s.resolves = slices.Insert(s.resolves, i, t)
	if len(s.resolves) > maxMarks {
		s.resolves = slices.Delete(s.resolves, 0, len(s.resolves)-maxMarks)
	}
}

// mergeMeta keeps the meta with the later UpdatedAt; ties are broken by
// comparing the JSON encodings, so every replica picks the same one. m is
// kept as it is (metas are never modified in place).
func (s *incidentState) mergeMeta(m incidentMeta) {
	switch c := m.UpdatedAt.Compare(s.rec.UpdatedAt); {
	case c > 0:
		s.setMeta(m)
	case c == 0:
		a, _ := json.Marshal(s.meta())
		b, _ := json.Marshal(m)
		if bytes.Compare(b, a) > 0 {
			s.setMeta(m)
		}
	}
}

// walk derives the current episode from the marks: whether the incident is
// open, when the episode started, who saw it start and when it ended.
func (s *incidentState) walk() (open bool, started time.Time, by string, resolved time.Time, ok bool) {
	i, j := 0, 0
	state := 0 // 0: never opened, 1: open, 2: resolved
	for i < len(s.opens) || j < len(s.resolves) {
		if i < len(s.opens) && (j >= len(s.resolves) || !s.opens[i].At.After(s.resolves[j])) {
			if state != 1 {
				state, started, by = 1, s.opens[i].At, s.opens[i].By
			}
			i++
			continue
		}
		if state == 1 {
			state, resolved = 2, s.resolves[j]
		}
		j++
	}
	return state == 1, started, by, resolved, state != 0
}

// derive recomputes s.rec from the marks and meta. The record shares the
// meta's scope, labels and links: neither is ever modified in place (a
// changed meta is a new one, see overlayMeta), so one copy of them serves
// the state, its published record and every change and event that carries
// it.
func (s *incidentState) derive() {
	open, started, by, resolved, ok := s.walk()
	m := s.meta()
	rec := incident.Incident{
		ID:        s.rec.ID,
		Title:     m.Title,
		Severity:  m.Severity,
		Source:    m.Source,
		Scope:     m.Scope,
		UpdatedAt: m.UpdatedAt,
		Labels:    m.Labels,
		Links:     m.Links,
	}
	if ok {
		rec.StartedAt, rec.OpenedBy = started, by
		if open {
			rec.Status = incident.StatusOpen
		} else {
			rec.Status = incident.StatusResolved
			rec.ResolvedAt = &resolved
		}
	}
	s.rec = rec
}

// overlayMeta returns cur updated with the fields of a received incident:
// non-empty title, severity, source and scope replace; labels and links are
// added to. The result's UpdatedAt is cur's; the caller sets it when the
// content changed.
func overlayMeta(cur incidentMeta, inc *incident.Incident) incidentMeta {
	out := cur.clone()
	if inc.Title != "" {
		out.Title = inc.Title
	}
	if inc.Severity != "" {
		out.Severity = inc.Severity
	}
	if inc.Source != "" {
		out.Source = inc.Source
	}
	if len(inc.Scope) > 0 {
		out.Scope = slices.Clone(inc.Scope)
	}
	if len(inc.Labels) > 0 {
		if out.Labels == nil {
			out.Labels = make(map[string]string, len(inc.Labels))
		}
		maps.Copy(out.Labels, inc.Labels)
	}
	for _, l := range inc.Links {
		if !slices.ContainsFunc(out.Links, func(e incident.Link) bool { return e.Href == l.Href }) {
			out.Links = append(out.Links, l)
		}
	}
	return out
}

// sameMetaContent reports whether a and b differ only in UpdatedAt.
func sameMetaContent(a, b incidentMeta) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	if len(a.Scope) == 0 {
		a.Scope = nil
	}
	if len(b.Scope) == 0 {
		b.Scope = nil
	}
	if len(a.Links) == 0 {
		a.Links = nil
	}
	if len(b.Links) == 0 {
		b.Links = nil
	}
	return reflect.DeepEqual(a, b)
}

// sameIncident reports whether two records are equal.
func sameIncident(a, b *incident.Incident) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ID != b.ID || a.Status != b.Status || !a.StartedAt.Equal(b.StartedAt) || a.OpenedBy != b.OpenedBy {
		return false
	}
	if (a.ResolvedAt == nil) != (b.ResolvedAt == nil) || (a.ResolvedAt != nil && !a.ResolvedAt.Equal(*b.ResolvedAt)) {
		return false
	}
	return a.UpdatedAt.Equal(b.UpdatedAt) && sameMetaContent(metaOf(a), metaOf(b))
}

func cloneIncident(i *incident.Incident) incident.Incident {
	c := *i
	c.Scope = slices.Clone(i.Scope)
	c.Labels = maps.Clone(i.Labels)
	c.Links = slices.Clone(i.Links)
	if i.ResolvedAt != nil {
		r := *i.ResolvedAt
		c.ResolvedAt = &r
	}
	return c
}

func cloneDeploy(d *incident.Deploy) incident.Deploy {
	c := *d
	if d.FinishedAt != nil {
		f := *d.FinishedAt
		c.FinishedAt = &f
	}
	return c
}

// mergeDeploy merges two records of the same deploy field by field:
// non-empty strings win over empty ones (the greater one when both are set
// and differ), the earliest started_at, the latest finished_at, and a final
// status over "started". Like the incident merge it is commutative,
// associative and idempotent.
func mergeDeploy(a, b *incident.Deploy) incident.Deploy {
	out := cloneDeploy(a)
	pick := func(x, y string) string {
		if x == "" || (y != "" && y > x) {
			return y
		}
		return x
	}
	out.Service = pick(a.Service, b.Service)
	out.Version = pick(a.Version, b.Version)
	out.Environment = pick(a.Environment, b.Environment)
	out.Commit = pick(a.Commit, b.Commit)
	out.Name = pick(a.Name, b.Name)
	if a.StartedAt.IsZero() || (!b.StartedAt.IsZero() && b.StartedAt.Before(a.StartedAt)) {
		out.StartedAt = b.StartedAt
	}
	if b.FinishedAt != nil && (a.FinishedAt == nil || b.FinishedAt.After(*a.FinishedAt)) {
		f := *b.FinishedAt
		out.FinishedAt = &f
	}
	rank := func(s string) int {
		switch strings.ToLower(s) {
		case "":
			return 0
		case incident.DeployStarted:
			return 1
		}
		return 2
	}
	switch ra, rb := rank(a.Status), rank(b.Status); {
	case rb > ra, rb == ra && b.Status > a.Status:
		out.Status = b.Status
	default:
		out.Status = a.Status
	}
	return out
}

// sameDeploy reports whether two deploy records are equal.
func sameDeploy(a, b *incident.Deploy) bool {
	if (a.FinishedAt == nil) != (b.FinishedAt == nil) || (a.FinishedAt != nil && !a.FinishedAt.Equal(*b.FinishedAt)) {
		return false
	}
	x, y := *a, *b
	return x.StartedAt.Equal(y.StartedAt) && x.ID == y.ID && x.Service == y.Service && x.Version == y.Version &&
		x.Environment == y.Environment && x.Commit == y.Commit && x.Name == y.Name && x.Status == y.Status
}
