package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/incidentsapi"
)

// maxCachedIncidents bounds the number of open incidents for which the
// joined incident.id value of every subset is cached (2^n entries). Above
// it, the value is joined per resource: correct, one allocation per
// resource, never per record.
const maxCachedIncidents = 12

// maxMemoKeys bounds the distinct scope keys whose values are looked up once
// per resource; beyond it each matcher looks its key up itself.
const maxMemoKeys = 16

// scopeMatcher is one matcher of an open incident, with its key resolved to
// an index into plan.keys.
type scopeMatcher struct {
	key   int
	value string
}

// serviceVersion keys the deploys whose match does not depend on time.
type serviceVersion struct{ service, version string }

// deployHit is a deploy's attributes, copied next to each other so a match
// reads one cache line instead of the scattered Deploy record.
type deployHit struct {
	id, name, environment, commit string
}

// plan is what the processor derives from one registry snapshot. It is
// built once per snapshot Version and shared by every batch using it.
type plan struct {
	snap *incidentsapi.Snapshot
	// unique holds, per service and version with exactly one deploy, that
	// deploy: Snapshot.DeployFor returns it whatever the time, so it is
	// looked up once here. Other cases call DeployFor.
	unique map[serviceVersion]deployHit
	// keys are the distinct attribute keys used by the open incidents' scopes.
	keys []string
	// scopes holds the matchers of each open incident, in opening order.
	scopes [][]scopeMatcher
	// ids holds the IDs of the open incidents, in opening order.
	ids []string
	// joined caches, per subset of open incidents (bit i = incident i), the
	// IDs joined with ","; nil when there are more than maxCachedIncidents.
	joined []atomic.Pointer[string]
}

func newPlan(snap *incidentsapi.Snapshot) *plan {
	p := &plan{snap: snap, unique: map[serviceVersion]deployHit{}}
	for _, svc := range snap.Services() {
		count := map[string]int{}
		for _, d := range snap.Deploys(svc) {
			count[d.Version]++
		}
		for _, d := range snap.Deploys(svc) {
			if d.Version != "" && count[d.Version] == 1 {
				p.unique[serviceVersion{svc, d.Version}] = deployHit{d.ID, d.Name, d.Environment, d.Commit}
			}
		}
	}

	// The scope keys and values are copied into one arena so that matching
	// reads a few adjacent cache lines.
	var arena strings.Builder
	for _, inc := range snap.Open {
		for _, m := range inc.Scope {
			arena.WriteString(m.Key)
			arena.WriteString(m.Value)
		}
	}
	all, off := arena.String(), 0
	take := func(n int) string {
		s := all[off : off+n]
		off += n
		return s
	}
	keyIdx := map[string]int{}
	for _, inc := range snap.Open {
		ms := make([]scopeMatcher, 0, len(inc.Scope))
		for _, m := range inc.Scope {
			key, value := take(len(m.Key)), take(len(m.Value))
			i, ok := keyIdx[key]
			if !ok {
				i = len(p.keys)
				keyIdx[key] = i
				p.keys = append(p.keys, key)
			}
			ms = append(ms, scopeMatcher{key: i, value: value})
		}
		p.scopes = append(p.scopes, ms)
		p.ids = append(p.ids, inc.ID)
	}
	if n := len(p.ids); n > 0 && n <= maxCachedIncidents {
		p.joined = make([]atomic.Pointer[string], 1<<n)
	}
	return p
}

// attrLookup memoizes the values of the plan's scope keys on one resource.
type attrLookup struct {
	attrs pcommon.Map
	keys  []string
	state [maxMemoKeys]uint8 // 0 unknown, 1 present, 2 absent
	vals  [maxMemoKeys]string
}

func (l *attrLookup) get(i int) (string, bool) {
	if i >= maxMemoKeys {
		return attrString(l.attrs, l.keys[i])
	}
	switch l.state[i] {
	case 1:
		return l.vals[i], true
	case 2:
		return "", false
	}
	v, ok := attrString(l.attrs, l.keys[i])
	if ok {
		l.state[i], l.vals[i] = 1, v
	} else {
		l.state[i] = 2
	}
	return v, ok
}

// attrString returns the attribute's value as a string. Non-string values
// are rendered (which allocates); scopes normally match string attributes.
func attrString(attrs pcommon.Map, key string) (string, bool) {
	v, ok := attrs.Get(key)
	if !ok {
		return "", false
	}
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str(), true
	}
	return v.AsString(), true
}

func (p *plan) matches(l *attrLookup, i int) bool {
	for _, m := range p.scopes[i] {
		v, ok := l.get(m.key)
		if !ok || v != m.value {
			return false
		}
	}
	return true
}

// incidents returns the IDs of the open incidents whose scope matches the
// resource, joined with "," in opening order, or "".
func (p *plan) incidents(attrs pcommon.Map) string {
	if len(p.ids) == 0 {
		return ""
	}
	l := attrLookup{attrs: attrs, keys: p.keys}
	if p.joined == nil {
		var b strings.Builder
		for i := range p.ids {
			if p.matches(&l, i) {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(p.ids[i])
			}
		}
		return b.String()
	}
	var mask uint64
	for i := range p.ids {
		if p.matches(&l, i) {
			mask |= 1 << i
		}
	}
	if mask == 0 {
		return ""
	}
	slot := &p.joined[mask]
	if s := slot.Load(); s != nil {
		return *s
	}
	var b strings.Builder
	for i := range p.ids {
		if mask&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p.ids[i])
		}
	}
	s := b.String()
	slot.Store(&s)
	return s
}
