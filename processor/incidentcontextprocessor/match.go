package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// maxCachedIncidents bounds the number of open incidents for which the
// joined incident.id value of every subset is cached (2^n entries). Above
// it, the value is joined per resource: correct, one allocation per
// resource, never per record.
const maxCachedIncidents = 12

// maxMemoKeys bounds the plan keys (service.name, service.version and the
// scope keys) read in the one pass over a resource's attributes; beyond it
// each matcher looks its key up itself.
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
	// keys are the distinct resource attribute keys the plan reads:
	// service.name and service.version first (keyIdxService,
	// keyIdxVersion), then the keys of the open incidents' scopes.
	keys []string
	// keyLens has bit n set when a key of length n < 64 is in keys, and
	// bit 63 for longer keys, so the one pass over a resource's attributes
	// skips most of them on their length alone.
	keyLens uint64
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
	for _, k := range []string{attrServiceName, attrServiceVersion} {
		keyIdx[k] = len(p.keys)
		p.keys = append(p.keys, k)
	}
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
	for _, k := range p.keys[:min(len(p.keys), maxMemoKeys)] {
		p.keyLens |= lenBit(k)
	}
	return p
}

// Indexes of plan.keys that every plan has.
const (
	keyIdxService = 0
	keyIdxVersion = 1
)

func lenBit(k string) uint64 { return 1 << min(len(k), 63) }

// attrLookup holds the values of the plan's keys on one resource. The
// first maxMemoKeys keys are read in one pass over the attributes; any
// further key is looked up on its own when asked for.
type attrLookup struct {
	attrs pcommon.Map
	keys  []string
	found uint32 // bit i: keys[i] is present, with value vals[i]
	vals  [maxMemoKeys]string
}

// newAttrLookup reads the values of p's keys from attrs. Like Map.Get, it
// takes the first of duplicate keys.
func (p *plan) newAttrLookup(attrs pcommon.Map) attrLookup {
	l := attrLookup{attrs: attrs, keys: p.keys}
	memo := p.keys[:min(len(p.keys), maxMemoKeys)]
	for k, v := range attrs.All() {
		if p.keyLens&lenBit(k) == 0 {
			continue
		}
		for i, want := range memo {
			if k == want && l.found&(1<<i) == 0 {
				l.found |= 1 << i
				l.vals[i] = valueString(v)
				break
			}
		}
	}
	return l
}

func (l *attrLookup) get(i int) (string, bool) {
	if i >= maxMemoKeys {
		return attrString(l.attrs, l.keys[i])
	}
	return l.vals[i], l.found&(1<<i) != 0
}

// attrString returns the attribute's value as a string. Non-string values
// are rendered (which allocates); scopes normally match string attributes.
func attrString(attrs pcommon.Map, key string) (string, bool) {
	v, ok := attrs.Get(key)
	if !ok {
		return "", false
	}
	return valueString(v), true
}

func valueString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
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
func (p *plan) incidents(l *attrLookup) string {
	if len(p.ids) == 0 {
		return ""
	}
	if p.joined == nil {
		var b strings.Builder
		for i := range p.ids {
			if p.matches(l, i) {
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
		if p.matches(l, i) {
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
