package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// slo is the runtime state of one configured SLO: its classifier, its
// compiled policy and its groups (one without group_by).
type slo struct {
	cfg  *SLOConfig
	spec *sloSpec
	cls  *classifier
	// selector, sorted by key: every pair must match the resource.
	selector  []incident.Matcher
	maxGroups int

	// precomputed telemetry attributes
	attrGood, attrBad, attrCardinality, attrCondErr, attrSLO metric.MeasurementOption

	mu     sync.Mutex
	groups map[string]*group
}

func newSLO(cfg *Config, s *SLOConfig, cls *classifier) *slo {
	o := &slo{
		cfg:       s,
		spec:      newSpec(cfg, s),
		cls:       cls,
		maxGroups: cfg.MaxGroups,
		groups:    map[string]*group{},
	}
	for _, k := range slices.Sorted(maps.Keys(s.Selector.Resource)) {
		o.selector = append(o.selector, incident.Matcher{Key: k, Value: s.Selector.Resource[k]})
	}
	name := attribute.String("slo", s.Name)
	o.attrGood = metric.WithAttributeSet(attribute.NewSet(name, attribute.String("outcome", "good")))
	o.attrBad = metric.WithAttributeSet(attribute.NewSet(name, attribute.String("outcome", "bad")))
	o.attrCardinality = metric.WithAttributeSet(attribute.NewSet(name, attribute.String("reason", "cardinality")))
	o.attrCondErr = metric.WithAttributeSet(attribute.NewSet(name, attribute.String("reason", "condition_error")))
	o.attrSLO = metric.WithAttributeSet(attribute.NewSet(name))
	return o
}

// lookup outcomes of groupFor.
const (
	groupFound = iota
	groupNotSelected
	groupOverCap
)

// groupFor returns the group a resource's events count in, creating it
// when the SLO has room. created reports a new group.
func (o *slo) groupFor(attrs pcommon.Map, now time.Time) (g *group, outcome int, created bool) {
	for _, m := range o.selector {
		v, ok := attrs.Get(m.Key)
		if !ok || v.AsString() != m.Value {
			return nil, groupNotSelected, false
		}
	}
	key := ""
	gb := o.cfg.Selector.GroupBy
	if len(gb) > 0 {
		var b strings.Builder
		for _, k := range gb {
			v, ok := attrs.Get(k)
			if !ok {
				return nil, groupNotSelected, false
			}
			b.WriteString(v.AsString())
			b.WriteByte(0)
		}
		key = b.String()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if g = o.groups[key]; g != nil {
		return g, groupFound, false
	}
	if len(o.groups) >= o.maxGroups {
		return nil, groupOverCap, false
	}
	var values []string
	if len(gb) > 0 {
		values = splitKey(key)
	}
	g = newGroup(o, key, values, now)
	o.groups[key] = g
	return g, groupFound, true
}

// snapshotGroups returns the groups, sorted by key.
func (o *slo) snapshotGroups() []*group {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*group, 0, len(o.groups))
	for _, k := range slices.Sorted(maps.Keys(o.groups)) {
		out = append(out, o.groups[k])
	}
	return out
}

// group is one evaluated instance of an SLO: its windows, cumulative
// counts and incident episode.
type group struct {
	slo *slo
	key string
	// scope is the selector plus the group_by values: the incident scope
	// and the resource of the emitted series.
	scope []incident.Matcher
	// groupID is a short stable hash of the group_by values ("" without).
	groupID string

	mu      sync.Mutex
	windows []*window
	created time.Time
	goodTot uint64
	badTot  uint64
	episode *episode
}

// episode is one firing episode of a group: from the moment an
// incident-opening level first holds until none has held for the policy's
// resolve_after.
type episode struct {
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	// Level is the level the registry was last told about (-1: none yet).
	Level int `json:"level"`
	// ClearSince is the first evaluation since which no incident-opening
	// level holds (zero while one does).
	ClearSince time.Time `json:"clear_since,omitzero"`
	// BurnRate, Windows and Consumed describe the level when reached.
	BurnRate string `json:"burn_rate"`
	Windows  string `json:"windows"`
	Consumed string `json:"consumed"`
}

func newGroup(o *slo, key string, values []string, now time.Time) *group {
	g := &group{slo: o, key: key, created: now}
	g.scope = slices.Clone(o.selector)
	for i, k := range o.cfg.Selector.GroupBy {
		g.scope = append(g.scope, incident.Matcher{Key: k, Value: values[i]})
	}
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		g.groupID = hex.EncodeToString(sum[:4])
	}
	for _, w := range o.spec.widths {
		g.windows = append(g.windows, newWindow(w, o.spec.buckets))
	}
	return g
}

// add counts events at now. The caller holds no lock.
func (g *group) add(now int64, good, bad uint64) {
	g.mu.Lock()
	for _, w := range g.windows {
		w.add(now, good, bad)
	}
	g.goodTot += good
	g.badTot += bad
	g.mu.Unlock()
}

// splitKey returns the group_by values of a group key (each value followed
// by a NUL byte).
func splitKey(key string) []string {
	return strings.Split(strings.TrimSuffix(key, "\x00"), "\x00")
}
