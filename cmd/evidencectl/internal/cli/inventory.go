package cli

import (
	"maps"
	"slices"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// incidentObjects are the objects of one incident found by listing the
// store, grouped by collector.
type incidentObjects struct {
	id string
	// incident is incident.json, nil when missing.
	incident *store.ObjectInfo
	// collectors by collector ID.
	collectors map[string]*collectorObjects
}

// collectorObjects are one collector's manifest and parts.
type collectorObjects struct {
	// manifest is nil when the collector has no manifest (yet).
	manifest *store.ObjectInfo
	// parts by part number.
	parts map[int]store.ObjectInfo
}

func (c *collectorObjects) partBytes() int64 {
	var n int64
	for _, p := range c.parts {
		n += p.Size
	}
	return n
}

// collectorIDs returns the collector IDs in order.
func (inc *incidentObjects) collectorIDs() []string {
	return slices.Sorted(maps.Keys(inc.collectors))
}

// groupObjects groups listed objects by incident. Keys outside the bundle
// layout are ignored.
func groupObjects(objs []store.ObjectInfo) map[string]*incidentObjects {
	out := make(map[string]*incidentObjects)
	for _, o := range objs {
		k, err := bundle.ParseKey(o.Key)
		if err != nil {
			continue
		}
		inc := out[k.IncidentID]
		if inc == nil {
			inc = &incidentObjects{id: k.IncidentID, collectors: make(map[string]*collectorObjects)}
			out[k.IncidentID] = inc
		}
		if k.Kind == bundle.KindIncident {
			inc.incident = &o
			continue
		}
		c := inc.collectors[k.CollectorID]
		if c == nil {
			c = &collectorObjects{parts: make(map[int]store.ObjectInfo)}
			inc.collectors[k.CollectorID] = c
		}
		if k.Kind == bundle.KindManifest {
			c.manifest = &o
		} else {
			c.parts[k.Part] = o
		}
	}
	return out
}
