package bundle

import (
	"maps"
	"slices"

	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// IncidentObjects are the objects of one incident found by listing the
// store, grouped by collector.
type IncidentObjects struct {
	ID string
	// Incident is incident.json, nil when missing.
	Incident *store.ObjectInfo
	// Collectors by collector ID.
	Collectors map[string]*CollectorObjects
}

// CollectorObjects are one collector's manifest and parts.
type CollectorObjects struct {
	// Manifest is nil when the collector has no manifest (yet).
	Manifest *store.ObjectInfo
	// Parts by part number.
	Parts map[int]store.ObjectInfo
}

// PartBytes is the stored size of the collector's parts.
func (c *CollectorObjects) PartBytes() int64 {
	var n int64
	for _, p := range c.Parts {
		n += p.Size
	}
	return n
}

// CollectorIDs returns the collector IDs in order.
func (inc *IncidentObjects) CollectorIDs() []string {
	return slices.Sorted(maps.Keys(inc.Collectors))
}

// GroupObjects groups listed objects by incident. Keys outside the bundle
// layout are ignored.
func GroupObjects(objs []store.ObjectInfo) map[string]*IncidentObjects {
	out := make(map[string]*IncidentObjects)
	for _, o := range objs {
		k, err := ParseKey(o.Key)
		if err != nil {
			continue
		}
		inc := out[k.IncidentID]
		if inc == nil {
			inc = &IncidentObjects{ID: k.IncidentID, Collectors: make(map[string]*CollectorObjects)}
			out[k.IncidentID] = inc
		}
		if k.Kind == KindIncident {
			inc.Incident = &o
			continue
		}
		c := inc.Collectors[k.CollectorID]
		if c == nil {
			c = &CollectorObjects{Parts: make(map[int]store.ObjectInfo)}
			inc.Collectors[k.CollectorID] = c
		}
		if k.Kind == KindManifest {
			c.Manifest = &o
		} else {
			c.Parts[k.Part] = o
		}
	}
	return out
}
