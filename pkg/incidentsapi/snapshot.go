package incidentsapi

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Snapshot is an immutable view of the registry. Build it with NewSnapshot;
// it is never modified afterwards, so readers need no lock.
type Snapshot struct {
	// Version increases with every change; equal versions mean equal content.
	Version uint64
	// Open holds the open incidents in opening order (StartedAt, then ID).
	Open []*incident.Incident
	// Incidents holds every known incident by ID, open or resolved.
	Incidents map[string]*incident.Incident
	// deploys by service, ordered by StartedAt then ID.
	deploys map[string][]*incident.Deploy
}

// NewSnapshot builds a snapshot from copies of the given records.
func NewSnapshot(version uint64, incidents []incident.Incident, deploys []incident.Deploy) *Snapshot {
	s := &Snapshot{
		Version:   version,
		Incidents: make(map[string]*incident.Incident, len(incidents)),
		deploys:   make(map[string][]*incident.Deploy),
	}
	for i := range incidents {
		inc := incidents[i]
		s.Incidents[inc.ID] = &inc
		if inc.Status == incident.StatusOpen {
			s.Open = append(s.Open, &inc)
		}
	}
	slices.SortFunc(s.Open, compareOpening)
	for i := range deploys {
		d := deploys[i]
		s.deploys[d.Service] = append(s.deploys[d.Service], &d)
	}
	for _, ds := range s.deploys {
		slices.SortFunc(ds, func(a, b *incident.Deploy) int {
			if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	return s
}

// Update returns a snapshot of version that holds s's records with copies
// of changed put in (added or replaced by ID) and the incidents in removed
// taken out; when deploys is not nil it replaces s's deploys. It costs
// O(len(s.Incidents)) pointer copies and O(len(changed)) record copies, so
// that a registry of many incidents can publish every change.
func (s *Snapshot) Update(version uint64, changed []incident.Incident, removed []string, deploys []incident.Deploy) *Snapshot {
	recs := make([]*incident.Incident, len(changed))
	for i := range changed {
		inc := changed[i]
		recs[i] = &inc
	}
	return s.UpdateShared(version, recs, removed, deploys)
}

// UpdateShared is Update with the changed records themselves put in, not
// copies: for a registry whose records are never modified once published,
// so that the snapshot does not hold a second copy of each.
func (s *Snapshot) UpdateShared(version uint64, changed []*incident.Incident, removed []string, deploys []incident.Deploy) *Snapshot {
	n := &Snapshot{Version: version, Incidents: maps.Clone(s.Incidents), deploys: s.deploys}
	if n.Incidents == nil {
		n.Incidents = make(map[string]*incident.Incident, len(changed))
	}
	touched := make(map[string]struct{}, len(changed)+len(removed))
	for _, id := range removed {
		delete(n.Incidents, id)
		touched[id] = struct{}{}
	}
	for _, inc := range changed {
		n.Incidents[inc.ID] = inc // the last of an ID wins
		touched[inc.ID] = struct{}{}
	}
	var opened []*incident.Incident
	for id := range touched {
		if inc := n.Incidents[id]; inc != nil && inc.Status == incident.StatusOpen {
			opened = append(opened, inc)
		}
	}
	slices.SortFunc(opened, compareOpening)
	n.Open = make([]*incident.Incident, 0, len(s.Open)+len(opened))
	for _, inc := range s.Open {
		if _, ok := touched[inc.ID]; ok {
			continue
		}
		for len(opened) > 0 && compareOpening(opened[0], inc) < 0 {
			n.Open, opened = append(n.Open, opened[0]), opened[1:]
		}
		n.Open = append(n.Open, inc)
	}
	n.Open = append(n.Open, opened...)
	if len(n.Open) == 0 {
		n.Open = nil
	}
	if deploys != nil {
		n.deploys = NewSnapshot(version, nil, deploys).deploys
	}
	return n
}

func compareOpening(a, b *incident.Incident) int {
	if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Deploys returns the deploys of one service, ordered by start time.
func (s *Snapshot) Deploys(service string) []*incident.Deploy { return s.deploys[service] }

// Services returns the services that have deploys, sorted.
func (s *Snapshot) Services() []string {
	out := make([]string, 0, len(s.deploys))
	for svc := range s.deploys {
		out = append(out, svc)
	}
	slices.Sort(out)
	return out
}

// DeployFor returns the deploy that produced telemetry of service (and
// version, when known) at time t, or nil.
//
// With a version: the latest deploy of that service and version started at
// or before t; if none had started by t, the latest deploy of that version
// (clocks are not perfectly in step, and during a rolling or canary deploy
// two versions run at once); if the registry knows no deploy of that
// version, the latest deploy recorded without a version started at or before
// t. A deploy of another version is never returned: during a rolling deploy
// the old pods' telemetry must not be blamed on the new deploy. Without a
// version: the latest deploy of the service started at or before t.
func (s *Snapshot) DeployFor(service, version string, t time.Time) *incident.Deploy {
	ds := s.deploys[service]
	if len(ds) == 0 {
		return nil
	}
	if version != "" {
		var latest *incident.Deploy
		for i := len(ds) - 1; i >= 0; i-- {
			d := ds[i]
			if d.Version != version {
				continue
			}
			if !d.StartedAt.After(t) {
				return d
			}
			if latest == nil {
				latest = d
			}
		}
		if latest != nil {
			return latest
		}
	}
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if version != "" && d.Version != "" {
			continue // a deploy of another version did not produce it
		}
		if !d.StartedAt.After(t) {
			return d
		}
	}
	return nil
}

// AppendMatching appends to dst the open incidents, in opening order, whose
// scope matches a resource with the given attribute lookup.
func (s *Snapshot) AppendMatching(dst []*incident.Incident, get func(key string) (string, bool)) []*incident.Incident {
	for _, inc := range s.Open {
		if inc.Matches(get) {
			dst = append(dst, inc)
		}
	}
	return dst
}
