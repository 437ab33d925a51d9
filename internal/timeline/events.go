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

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// eventSet holds the distinct timed events.
type eventSet struct {
	events  []timedEvent
	sums    [][sha256.Size]byte // of events, for a stable order
	seen    map[[sha256.Size]byte]bool
	untimed int64
}

func newEventSet() *eventSet {
	return &eventSet{seen: make(map[[sha256.Size]byte]bool)}
}

// eventTime is the time of the event on the timeline: a deploy's start
// (when it was recorded does not matter), else the event's time, else the
// time of the incident it carries.
func eventTime(ev *incident.Event) time.Time {
	switch {
	case ev.Deploy != nil && !ev.Deploy.StartedAt.IsZero():
		return utc(ev.Deploy.StartedAt)
	case !ev.Time.IsZero():
		return utc(ev.Time)
	case ev.Incident != nil && !ev.Incident.StartedAt.IsZero() && ev.Kind == incident.EventIncidentOpened:
		return utc(ev.Incident.StartedAt)
	}
	return time.Time{}
}

// timedEvent is an event with its time on the timeline and the time it
// was recorded.
type timedEvent struct {
	incident.Event
	recorded time.Time
}

// add adds ev unless an identical event is there already. An event that
// does not marshal (a payload that is not JSON) is identified by its
// fields instead.
func (s *eventSet) add(ev incident.Event) {
	data, err := json.Marshal(ev)
	if err != nil {
		data = fmt.Appendf(nil, "%v\x00%v\x00%s\x00%s\x00%s\x00%q", ev.Kind, ev.Time.UnixNano(), ev.Source,
			ev.IncidentID, ev.DeployID, ev.Payload)
	}
	sum := sha256.Sum256(data)
	if s.seen[sum] {
		return
	}
	s.seen[sum] = true
	te := timedEvent{Event: ev, recorded: utc(ev.Time)}
	te.Time = eventTime(&ev)
	if te.Time.IsZero() {
		s.untimed++
		return
	}
	s.events = append(s.events, te)
	s.sums = append(s.sums, sum)
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
	evs := make([]timedEvent, len(idx))
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
			if x := incidentID(&s.events[i].Event); x != "" {
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
	var best *timedEvent
	for i := range s.events {
		ev := &s.events[i]
		if ev.Incident == nil || incidentID(&ev.Event) != id {
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
		if inc != nil && incidentID(&ev.Event) == inc.ID {
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

func entryOf(te *timedEvent) Entry {
	ev := &te.Event
	e := Entry{Time: te.Time, Kind: string(ev.Kind), Source: ev.Source}
	if ev.Kind == incident.EventDeploy || (ev.DeployID != "" && incidentID(ev) == "") {
		e.ID = deployID(ev)
		if ev.Deploy != nil {
			e.Service = ev.Deploy.Service
		}
		e.Summary = deploySummary(e.ID, ev.Deploy)
		if !te.recorded.IsZero() && te.recorded.Sub(te.Time).Abs() >= time.Second {
			e.Summary += "; recorded at " + te.recorded.Format(layoutMilli)
		}
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
	case incident.EventNote:
		e.Summary = "note"
		if n := ev.Note; n != nil {
			if n.Author != "" {
				e.Summary += " by " + n.Author
			}
			e.Summary += ": " + n.Text
		}
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

func deployID(ev *incident.Event) string {
	if ev.DeployID != "" || ev.Deploy == nil {
		return ev.DeployID
	}
	return ev.Deploy.ID
}

// deploys returns every deploy the events record, once per ID: its
// earliest start, and the latest non-empty value of every other field
// (a deploy's status changes as it proceeds). Sorted by start, then ID.
func (s *eventSet) deploys() []Deploy {
	byID := map[string]*Deploy{}
	var order []string
	for i := range s.events {
		ev := &s.events[i]
		if ev.Kind != incident.EventDeploy {
			continue
		}
		id := deployID(&ev.Event)
		if id == "" {
			continue
		}
		d := byID[id]
		if d == nil {
			d = &Deploy{ID: id, StartedAt: ev.Time}
			byID[id] = d
			order = append(order, id)
		}
		// Events are sorted by time: later events overwrite.
		d.StartedAt = minTime(d.StartedAt, ev.Time)
		if r := ev.Deploy; r != nil {
			d.Service = cmp.Or(r.Service, d.Service)
			d.Version = cmp.Or(r.Version, d.Version)
			d.Commit = cmp.Or(r.Commit, d.Commit)
			d.Environment = cmp.Or(r.Environment, d.Environment)
			d.Status = cmp.Or(r.Status, d.Status)
		}
	}
	out := make([]Deploy, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	slices.SortFunc(out, func(a, b Deploy) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// attrServiceInstanceID names the collector of its own event records.
const attrServiceInstanceID = "service.instance.id"

// addCollectorRecords turns the collector's own log records into events:
// they are the events the collector recorded, emitted into the logs
// pipeline, so they are never telemetry of a service. Records that name no
// event are counted and dropped.
func (a *aggregator) addCollectorRecords(rl plog.ResourceLogs) {
	collector := ""
	if v, ok := rl.Resource().Attributes().Get(attrServiceInstanceID); ok {
		collector = v.AsString()
	}
	sls := rl.ScopeLogs()
	for j := range sls.Len() {
		recs := sls.At(j).LogRecords()
		for k := range recs.Len() {
			a.totals.CollectorRecords++
			if ev, ok := recordToEvent(recs.At(k), collector); ok {
				a.records = append(a.records, ev)
			}
		}
	}
}

func recordToEvent(lr plog.LogRecord, collector string) (incident.Event, bool) {
	attrs := lr.Attributes()
	get := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	kind := cmp.Or(lr.EventName(), get(incident.AttrEventName))
	ts := otlptime.LogRecord(lr)
	if kind == "" || ts == 0 {
		return incident.Event{}, false
	}
	ev := incident.Event{
		Kind: incident.EventKind(kind), Time: ts.AsTime().UTC(), Source: get(incident.AttrIncidentSource),
		IncidentID: get(incident.AttrIncidentID), DeployID: get(incident.AttrDeploymentID), CollectorID: collector,
	}
	if ev.Kind == incident.EventNote {
		ev.Note = &incident.Note{Text: get(incident.AttrNoteText), Author: get(incident.AttrNoteAuthor)}
	}
	if title, sev, status := get(incident.AttrIncidentTitle), get(incident.AttrIncidentSeverity), get(incident.AttrIncidentStatus); title != "" || sev != "" || status != "" {
		inc := &incident.Incident{ID: ev.IncidentID, Title: title, Severity: sev, Status: incident.Status(status), Source: ev.Source}
		if t, err := time.Parse(time.RFC3339Nano, get(incident.AttrIncidentStartedAt)); err == nil {
			inc.StartedAt = t.UTC()
		}
		ev.Incident = inc
	}
	if ev.Kind == incident.EventDeploy && ev.DeployID != "" {
		ev.Deploy = &incident.Deploy{
			ID: ev.DeployID, Service: get(incident.AttrDeploymentService), Version: get(incident.AttrDeploymentVersion),
			Environment: get(incident.AttrDeploymentEnv), Commit: get(incident.AttrVCSRevision), Name: get(incident.AttrDeploymentName),
			Status: get(incident.AttrDeploymentStatus),
		}
	}
	return ev, true
}

// recordMatchWindow is how close in time a recorded event and a collector
// record of the same kind and IDs must be to be the same event.
const recordMatchWindow = time.Second

// addRecords adds the events read from the collector's records that the
// recorded events (events.jsonl) do not hold already: the same kind, the
// same incident and deploy, within recordMatchWindow. Call it after every
// recorded event was added.
func (s *eventSet) addRecords(records []incident.Event) {
	type key struct{ kind, incident, deploy string }
	have := map[key][]time.Time{}
	for i := range s.events {
		ev := &s.events[i].Event
		k := key{string(ev.Kind), incidentID(ev), deployID(ev)}
		have[k] = append(have[k], s.events[i].recorded, s.events[i].Time)
	}
	for _, ev := range records {
		k := key{string(ev.Kind), incidentID(&ev), deployID(&ev)}
		if slices.ContainsFunc(have[k], func(t time.Time) bool { return t.Sub(ev.Time).Abs() <= recordMatchWindow }) {
			continue
		}
		s.add(ev)
	}
}
