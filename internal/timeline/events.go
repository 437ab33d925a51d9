package timeline

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// eventSet holds the distinct timed events.
type eventSet struct {
	events  []incident.Event
	sums    [][sha256.Size]byte // of events, for a stable order
	seen    map[[sha256.Size]byte]bool
	untimed int64
}

func newEventSet() *eventSet {
	return &eventSet{seen: make(map[[sha256.Size]byte]bool)}
}

// eventTime is the event's time, else the time of the deploy or incident it
// carries.
func eventTime(ev *incident.Event) time.Time {
	switch {
	case !ev.Time.IsZero():
		return utc(ev.Time)
	case ev.Deploy != nil && !ev.Deploy.StartedAt.IsZero():
		return utc(ev.Deploy.StartedAt)
	case ev.Incident != nil && !ev.Incident.StartedAt.IsZero() && ev.Kind == incident.EventIncidentOpened:
		return utc(ev.Incident.StartedAt)
	}
	return time.Time{}
}

func (s *eventSet) add(ev incident.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("%s event at %s: %w", ev.Kind, ev.Time, err)
	}
	sum := sha256.Sum256(data)
	if s.seen[sum] {
		return nil
	}
	s.seen[sum] = true
	ev.Time = eventTime(&ev)
	if ev.Time.IsZero() {
		s.untimed++
		return nil
	}
	s.events = append(s.events, ev)
	s.sums = append(s.sums, sum)
	return nil
}

// sort orders the events by time, then by the hash of their JSON, so that
// every later choice is independent of the order they were read in.
func (s *eventSet) sort() {
	idx := make([]int, len(s.events))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(s.events[a].Time.Compare(s.events[b].Time), bytes.Compare(s.sums[a][:], s.sums[b][:]))
	})
	evs := make([]incident.Event, len(idx))
	sums := make([][sha256.Size]byte, len(idx))
	for i, j := range idx {
		evs[i], sums[i] = s.events[j], s.sums[j]
	}
	s.events, s.sums = evs, sums
}

// incidentID returns the ID an event concerns, if any.
func incidentID(ev *incident.Event) string {
	if ev.IncidentID != "" {
		return ev.IncidentID
	}
	if ev.Incident != nil {
		return ev.Incident.ID
	}
	return ""
}

// incident returns the incident the timeline is about: rec when given,
// else the newest snapshot among the (sorted) events of id (or of the only incident
// the events name, when id is empty). It returns nil when none is known.
func (s *eventSet) incident(rec *incident.Incident, id string) *incident.Incident {
	if rec != nil {
		return rec
	}
	if id == "" {
		ids := map[string]bool{}
		for i := range s.events {
			if x := incidentID(&s.events[i]); x != "" {
				ids[x] = true
			}
		}
		if len(ids) != 1 {
			return nil
		}
		for x := range ids {
			id = x
		}
	}
	var best *incident.Event
	for i := range s.events {
		ev := &s.events[i]
		if ev.Incident == nil || incidentID(ev) != id {
			continue
		}
		if best == nil || !ev.Time.Before(best.Time) {
			best = ev
		}
	}
	if best == nil {
		return &incident.Incident{ID: id}
	}
	snap := *best.Incident
	if snap.ID == "" {
		snap.ID = id
	}
	return &snap
}

// entries returns the events as timeline entries, sorted, with the
// incident's start and resolution derived from the record when no event
// records them.
func (s *eventSet) entries(inc *incident.Incident) []Entry {
	out := make([]Entry, 0, len(s.events)+2)
	var opened, resolved bool
	for i := range s.events {
		ev := &s.events[i]
		if inc != nil && incidentID(ev) == inc.ID {
			switch ev.Kind {
			case incident.EventIncidentOpened:
				opened = true
			case incident.EventIncidentResolved:
				resolved = true
			}
		}
		out = append(out, entryOf(ev))
	}
	if inc != nil {
		if !opened && !inc.StartedAt.IsZero() {
			out = append(out, Entry{
				Time: utc(inc.StartedAt), Kind: string(incident.EventIncidentOpened), ID: inc.ID,
				Source: SourceIncidentRecord, Summary: openedSummary(inc.ID, inc),
			})
		}
		if !resolved && inc.ResolvedAt != nil && !inc.ResolvedAt.IsZero() {
			out = append(out, Entry{
				Time: utc(*inc.ResolvedAt), Kind: string(incident.EventIncidentResolved), ID: inc.ID,
				Source: SourceIncidentRecord, Summary: "incident " + inc.ID + " resolved",
			})
		}
	}
	sortEntries(out)
	return out
}

func sortEntries(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.ID, b.ID), strings.Compare(a.Source, b.Source),
			strings.Compare(a.Summary, b.Summary))
	})
}

func entryOf(ev *incident.Event) Entry {
	e := Entry{Time: ev.Time, Kind: string(ev.Kind), Source: ev.Source}
	if ev.Kind == incident.EventDeploy || (ev.DeployID != "" && incidentID(ev) == "") {
		e.ID = ev.DeployID
		if ev.Deploy != nil {
			if e.ID == "" {
				e.ID = ev.Deploy.ID
			}
			e.Service = ev.Deploy.Service
		}
		e.Summary = deploySummary(e.ID, ev.Deploy)
		return e
	}
	e.ID = incidentID(ev)
	switch ev.Kind {
	case incident.EventIncidentOpened:
		e.Summary = openedSummary(e.ID, ev.Incident)
	case incident.EventIncidentResolved:
		e.Summary = "incident " + e.ID + " resolved"
	case incident.EventIncidentExtended:
		e.Summary = "incident " + e.ID + " updated"
		if ev.Incident != nil && ev.Incident.Title != "" {
			e.Summary += ": " + ev.Incident.Title
		}
	case incident.EventIncidentExpired:
		e.Summary = "incident " + e.ID + " expired without a resolution"
	case incident.EventAlert:
		e.Summary = "alert recorded (opened no incident)"
		if ev.Incident != nil && ev.Incident.Title != "" {
			e.Summary = "alert recorded (opened no incident): " + ev.Incident.Title
		}
	default:
		e.Summary = "event " + string(ev.Kind)
		if e.ID != "" {
			e.Summary += " for incident " + e.ID
		}
	}
	return e
}

func openedSummary(id string, inc *incident.Incident) string {
	s := "incident " + id + " opened"
	if inc == nil {
		return s
	}
	if inc.Title != "" {
		s += ": " + inc.Title
	}
	if inc.Severity != "" {
		s += " (severity " + inc.Severity + ")"
	}
	return s
}

func deploySummary(id string, d *incident.Deploy) string {
	if d == nil {
		return "deploy " + id
	}
	s := "deploy " + id + " of " + cmp.Or(d.Service, "an unnamed service")
	if d.Version != "" {
		s += " version " + d.Version
	}
	var details []string
	if d.Status != "" {
		details = append(details, "status "+d.Status)
	}
	if d.Environment != "" {
		details = append(details, "environment "+d.Environment)
	}
	if d.Commit != "" {
		details = append(details, "commit "+d.Commit)
	}
	if len(details) > 0 {
		s += " (" + strings.Join(details, ", ") + ")"
	}
	return s
}

// suspectDeploy returns the latest deploy of the spike's service in
// [spike minute - lookback, spike minute + 1m), else the latest deploy of
// any service in that range, else nil.
func (s *eventSet) suspectDeploy(sp Spike, lookback time.Duration) *SuspectDeploy {
	from, until := sp.Minute.Add(-lookback), sp.Minute.Add(time.Minute)
	var same, anySvc *incident.Event
	for i := range s.events {
		ev := &s.events[i]
		if ev.Kind != incident.EventDeploy || ev.Time.Before(from) || !ev.Time.Before(until) {
			continue
		}
		if later(ev, anySvc) {
			anySvc = ev
		}
		if ev.Deploy != nil && ev.Deploy.Service == sp.Service && later(ev, same) {
			same = ev
		}
	}
	ev, match := same, MatchSameService
	if ev == nil {
		ev, match = anySvc, MatchAnyService
	}
	if ev == nil {
		return nil
	}
	out := &SuspectDeploy{
		DeployID:     ev.DeployID,
		Time:         ev.Time,
		LeadSeconds:  int64(sp.Minute.Sub(ev.Time) / time.Second),
		Match:        match,
		SpikeService: sp.Service,
		SpikeMinute:  sp.Minute,
	}
	if d := ev.Deploy; d != nil {
		out.DeployID = cmp.Or(out.DeployID, d.ID)
		out.Service = d.Service
		out.Version = d.Version
		out.Commit = d.Commit
		out.Environment = d.Environment
		out.Status = d.Status
	}
	return out
}

// later reports whether ev should replace cur as the latest deploy: a later
// time, or the same time and a greater deploy ID (so the choice does not
// depend on event order).
func later(ev, cur *incident.Event) bool {
	if cur == nil {
		return true
	}
	if c := ev.Time.Compare(cur.Time); c != 0 {
		return c > 0
	}
	return deployID(ev) > deployID(cur)
}

func deployID(ev *incident.Event) string {
	if ev.DeployID != "" || ev.Deploy == nil {
		return ev.DeployID
	}
	return ev.Deploy.ID
}
