package incidentcontextprocessor

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// FuzzIncidentMatching checks the cached, bitmask-based incident matching
// against the registry's own rule (Snapshot.AppendMatching) for arbitrary
// scopes and resource attributes, with few and with many open incidents.
func FuzzIncidentMatching(f *testing.F) {
	f.Add("checkout", "eu-west-1", "checkout", "eu-west-1", uint8(3), uint8(0b101))
	f.Add("cart", "", "checkout", "us-east-1", uint8(14), uint8(0xff))
	f.Add("", "eu-west-1", "", "", uint8(1), uint8(0))
	f.Add("a,b", "=", "a,b", "=", uint8(20), uint8(0x5a))
	f.Fuzz(func(t *testing.T, resService, resRegion, scopeService, scopeRegion string, n, shape uint8) {
		count := int(n % 24)
		var incs []incident.Incident
		for i := range count {
			inc := incident.Incident{
				ID:        "inc-" + strings.Repeat("x", i%3) + string(rune('a'+i)),
				Status:    incident.StatusOpen,
				StartedAt: at(count - i), // later incidents opened earlier
			}
			// shape decides, per incident, which matchers its scope has.
			if shape>>(i%8)&1 == 1 {
				inc.Scope = append(inc.Scope, incident.Matcher{Key: "service.name", Value: scopeService})
			}
			if shape>>((i+3)%8)&1 == 1 {
				inc.Scope = append(inc.Scope, incident.Matcher{Key: "cloud.region", Value: scopeRegion})
			}
			incs = append(incs, inc)
		}
		snap := incidentsapi.NewSnapshot(1, incs, nil)
		attrs := pcommon.NewMap()
		attrs.PutStr("service.name", resService)
		if resRegion != "" {
			attrs.PutStr("cloud.region", resRegion)
		}

		var ids []string
		for _, inc := range snap.AppendMatching(nil, func(k string) (string, bool) { return attrString(attrs, k) }) {
			ids = append(ids, inc.ID)
		}
		want := strings.Join(ids, ",")

		pl := newPlan(snap)
		for range 2 { // the second call reads the cache
			l := pl.newAttrLookup(attrs)
			if got := pl.incidents(&l); got != want {
				t.Fatalf("incident.id = %q, want %q", got, want)
			}
		}
	})
}
