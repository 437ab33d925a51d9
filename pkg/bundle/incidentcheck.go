package bundle

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// The incident record in the store (incident.json) is mutable: the
// incidents extension rewrites it as the incident is updated, resolved or
// reopened, and it carries no signature. What custody rests on are the
// copies of the record frozen into each part (hashed in part.json, which is
// signed). CheckIncident compares incident.json with them and says which
// fields changed and when; readers show the frozen record, brought up to
// date only with the changes the registry can have made after the freeze.

// FrozenRecord is an incident record as a part froze it.
type FrozenRecord struct {
	Incident *incident.Incident
	// File names the part it is in.
	File string
	// FrozenAt is the part's creation time.
	FrozenAt time.Time
}

// FieldChange is one field of incident.json that differs from the newest
// frozen record.
type FieldChange struct {
	Field   string `json:"field"`
	Frozen  string `json:"frozen"`
	Current string `json:"current"`
}

func (c FieldChange) String() string {
	return fmt.Sprintf("'%s' %s -> %s", c.Field, c.Frozen, c.Current)
}

// IncidentCheck is the outcome of CheckIncident.
type IncidentCheck struct {
	// FrozenIn and FrozenAt name the newest frozen record; Records counts
	// the frozen records compared.
	FrozenIn string    `json:"frozen_in"`
	FrozenAt time.Time `json:"frozen_at"`
	Records  int       `json:"records"`
	// Changes are the fields of incident.json that differ from the newest
	// frozen record; CurrentUpdatedAt is incident.json's updated_at.
	Changes          []FieldChange `json:"changes,omitempty"`
	CurrentUpdatedAt time.Time     `json:"current_updated_at,omitzero"`
	// Tampered says why incident.json cannot be a record the registry
	// wrote; empty when its changes are ones the registry makes (an update
	// with a later updated_at, a resolution, a reopen).
	Tampered string `json:"tampered,omitempty"`
	// Record is the record readers show: the newest frozen record, with
	// the lifecycle changes (resolution, reopen) of an untampered
	// incident.json applied.
	Record *incident.Incident `json:"record"`
}

// Summary says in one line what the check found.
func (c *IncidentCheck) Summary() string {
	at := c.FrozenAt.UTC().Format(time.RFC3339)
	switch {
	case c.Tampered != "":
		return c.Tampered
	case len(c.Changes) == 0:
		return fmt.Sprintf("incident.json matches the record frozen at %s (%d frozen records)", at, c.Records)
	}
	var parts []string
	for _, ch := range c.Changes {
		parts = append(parts, ch.String())
	}
	return fmt.Sprintf("incident.json changed after the record frozen at %s (updated at %s): %s; the frozen record is shown",
		at, c.CurrentUpdatedAt.UTC().Format(time.RFC3339), strings.Join(parts, ", "))
}

// CheckIncident compares current (incident.json, nil when missing or
// invalid) with the frozen records (at least one).
func CheckIncident(current *incident.Incident, frozen []FrozenRecord) IncidentCheck {
	newest := frozen[0]
	for _, f := range frozen[1:] {
		if f.FrozenAt.After(newest.FrozenAt) || (f.FrozenAt.Equal(newest.FrozenAt) && f.Incident.UpdatedAt.After(newest.Incident.UpdatedAt)) {
			newest = f
		}
	}
	out := IncidentCheck{FrozenIn: newest.File, FrozenAt: newest.FrozenAt, Records: len(frozen)}
	rec := cloneRecord(newest.Incident)
	out.Record = rec
	if current == nil {
		return out
	}
	out.CurrentUpdatedAt = current.UpdatedAt
	out.Changes = diffRecords(newest.Incident, current)
	if len(out.Changes) == 0 {
		return out
	}
	out.Tampered = tamperReason(current, newest, frozen)
	if out.Tampered != "" {
		out.Tampered = fmt.Sprintf("tampered with: %s (the record frozen in %s at %s differs: %s)", out.Tampered, newest.File,
			newest.FrozenAt.UTC().Format(time.RFC3339), changeList(out.Changes))
		return out
	}
	// The lifecycle may have moved on after the freeze.
	rec.Status = current.Status
	rec.ResolvedAt = current.ResolvedAt
	if !current.StartedAt.Equal(rec.StartedAt) {
		rec.StartedAt, rec.OpenedBy = current.StartedAt, current.OpenedBy
	}
	return out
}

func changeList(cs []FieldChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// tamperReason returns why current cannot have been written by the
// registry after the frozen records, or "".
func tamperReason(current *incident.Incident, newest FrozenRecord, frozen []FrozenRecord) string {
	if current.ID != newest.Incident.ID {
		return "'id' differs"
	}
	// A stale incident.json (a rewrite that failed, retried later) equals
	// an older frozen record.
	for _, f := range frozen {
		if len(diffRecords(f.Incident, current)) == 0 {
			return ""
		}
	}
	if current.UpdatedAt.Before(newest.Incident.UpdatedAt) {
		return fmt.Sprintf("'updated_at' %s is before the frozen record's %s and matches no frozen record",
			current.UpdatedAt.UTC().Format(time.RFC3339Nano), newest.Incident.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	// The registry sets updated_at whenever a descriptive field changes.
	for _, f := range frozen {
		if f.Incident.UpdatedAt.Equal(current.UpdatedAt) && !sameMeta(f.Incident, current) {
			return "a descriptive field (title, severity, source, scope, labels, links) changed without a new 'updated_at'"
		}
	}
	// The start only changes with a reopen: a new episode after the
	// resolution a frozen record saw.
	reopen := false
	for _, f := range frozen {
		if f.Incident.StartedAt.Equal(current.StartedAt) {
			if f.Incident.OpenedBy != current.OpenedBy {
				return "'opened_by' differs from the frozen records of the same start"
			}
			return ""
		}
		if r := f.Incident.ResolvedAt; f.Incident.Status == incident.StatusResolved && r != nil && current.StartedAt.After(*r) {
			reopen = true
		}
	}
	if !reopen {
		return "'started_at' differs from every frozen record and is not a reopen after a resolution"
	}
	return ""
}

func sameMeta(a, b *incident.Incident) bool {
	return a.Title == b.Title && a.Severity == b.Severity && a.Source == b.Source &&
		reflect.DeepEqual(nilIfEmpty(a.Scope), nilIfEmpty(b.Scope)) &&
		reflect.DeepEqual(nilIfEmptyMap(a.Labels), nilIfEmptyMap(b.Labels)) &&
		reflect.DeepEqual(nilIfEmpty(a.Links), nilIfEmpty(b.Links))
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// diffRecords lists the fields in which b differs from a, in JSON.
func diffRecords(a, b *incident.Incident) []FieldChange {
	fa, fb := fieldsOf(a), fieldsOf(b)
	var out []FieldChange
	for _, name := range incidentFields {
		if fa[name] != fb[name] {
			out = append(out, FieldChange{Field: name, Frozen: fa[name], Current: fb[name]})
		}
	}
	return out
}

// incidentFields are incident.json's fields, in order.
var incidentFields = func() []string {
	var out []string
	t := reflect.TypeFor[incident.Incident]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}()

// fieldsOf encodes each field of inc as compact JSON ("-" when absent).
func fieldsOf(inc *incident.Incident) map[string]string {
	c := cloneRecord(inc)
	c.StartedAt, c.UpdatedAt = c.StartedAt.UTC(), c.UpdatedAt.UTC()
	if c.ResolvedAt != nil {
		r := c.ResolvedAt.UTC()
		c.ResolvedAt = &r
	}
	b, _ := json.Marshal(c)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := make(map[string]string, len(incidentFields))
	for _, name := range incidentFields {
		if v, ok := m[name]; ok && string(v) != "[]" && string(v) != "{}" {
			out[name] = string(v)
		} else {
			out[name] = "-"
		}
	}
	return out
}

func cloneRecord(inc *incident.Incident) *incident.Incident {
	c := *inc
	c.Scope = slices.Clone(inc.Scope)
	c.Links = slices.Clone(inc.Links)
	if inc.Labels != nil {
		c.Labels = make(map[string]string, len(inc.Labels))
		for k, v := range inc.Labels {
			c.Labels[k] = v
		}
	}
	if inc.ResolvedAt != nil {
		r := *inc.ResolvedAt
		c.ResolvedAt = &r
	}
	return &c
}
