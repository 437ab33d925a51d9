package triggers

import (
	"maps"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// SLOLabels are the alert labels that name an SLO, in order of preference:
// Sloth's sloth_slo and Pyrra's slo.
var SLOLabels = []string{"sloth_slo", incident.LabelSLO}

// sloName returns the SLO an alert group's labels name, or "".
func sloName(labels map[string]string) string {
	for _, l := range SLOLabels {
		if v := labels[l]; v != "" {
			return v
		}
	}
	return ""
}

// FindSLOIncident returns the open incident the slo connector opened for
// an SLO, or nil.
type FindSLOIncident func(slo string) *incident.Incident

// JoinSLOIncidents makes alerts for an SLO that the slo connector already
// has an incident open for join that incident instead of opening a second
// one, and returns the IDs joined.
//
//   - An incident to open whose labels name an SLO (SLOLabels) with an open
//     slo incident, and that has no explicit incident ID label, becomes an
//     update of that incident: same ID and start, the connector's title,
//     severity, source and scope kept; the alert's labels the incident
//     lacks and its links are added. Its event becomes incident.extended.
//   - A resolution of an alert group that names such an SLO, where the
//     group's own ID is not an open incident (it joined rather than
//     opened), resolves nothing: the connector resolves its incident when
//     its own burn-rate condition clears. The event is kept as an alert
//     event of the joined incident.
func (res *Result) JoinSLOIncidents(pol *Policy, find FindSLOIncident, isOpen func(id string) bool) []string {
	if pol == nil {
		pol = DefaultPolicy()
	}
	var joined []string
	for i := range res.Open {
		inc := &res.Open[i]
		name := sloName(inc.Labels)
		if name == "" || inc.Labels[pol.idLabel()] != "" || inc.Source == incident.SourceSLO {
			continue
		}
		target := find(name)
		if target == nil || target.ID == inc.ID {
			continue
		}
		oldID := inc.ID
		labels := map[string]string{}
		for k, v := range inc.Labels {
			if _, has := target.Labels[k]; !has {
				labels[k] = v
			}
		}
		*inc = incident.Incident{
			ID: target.ID, Status: incident.StatusOpen, StartedAt: target.StartedAt, UpdatedAt: inc.UpdatedAt,
			Labels: labels, Links: inc.Links,
		}
		for j := range res.Events {
			ev := &res.Events[j]
			if ev.Kind == incident.EventIncidentOpened && ev.IncidentID == oldID {
				ev.Kind = incident.EventIncidentExtended
				ev.IncidentID = target.ID
				c := *inc
				c.Labels = maps.Clone(labels)
				ev.Incident = &c
			}
		}
		joined = append(joined, target.ID)
	}
	kept := res.Resolve[:0]
	for _, r := range res.Resolve {
		var target *incident.Incident
		if r.SLO != "" && !isOpen(r.ID) {
			target = find(r.SLO)
		}
		if target == nil {
			kept = append(kept, r)
			continue
		}
		for j := range res.Events {
			ev := &res.Events[j]
			if ev.Kind == incident.EventIncidentResolved && ev.IncidentID == r.ID {
				ev.Kind = incident.EventAlert
				ev.IncidentID = target.ID
			}
		}
		joined = append(joined, target.ID)
	}
	res.Resolve = kept
	return joined
}
