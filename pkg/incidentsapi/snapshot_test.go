package incidentsapi

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// TestSnapshotUpdateEqualsRebuild applies random changes incrementally and
// checks each result against a snapshot built from scratch.
func TestSnapshotUpdateEqualsRebuild(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	all := map[string]incident.Incident{}
	snap := NewSnapshot(0, nil, nil)
	for v := uint64(1); v <= 300; v++ {
		var changed []incident.Incident
		var removed []string
		step := map[string]bool{}
		for range r.IntN(4) + 1 {
			id := fmt.Sprintf("inc-%02d", r.IntN(40))
			if step[id] {
				continue // Update takes removals first: one action per ID
			}
			step[id] = true
			if r.IntN(5) == 0 {
				delete(all, id)
				removed = append(removed, id)
				continue
			}
			inc := incident.Incident{ID: id, Status: incident.StatusOpen, StartedAt: t0.Add(time.Duration(r.IntN(10)) * time.Second)}
			if r.IntN(3) == 0 {
				inc.Status = incident.StatusResolved
			}
			all[id] = inc
			changed = append(changed, inc)
		}
		var deploys []incident.Deploy
		if v%50 == 0 {
			deploys = []incident.Deploy{{ID: fmt.Sprintf("d-%d", v), Service: "svc"}}
		}
		snap = snap.Update(v, changed, removed, deploys)
		list := make([]incident.Incident, 0, len(all))
		for _, inc := range all {
			list = append(list, inc)
		}
		want := NewSnapshot(v, list, nil)
		require.Equal(t, want.Incidents, snap.Incidents, "version %d", v)
		require.Equal(t, want.Open, snap.Open, "version %d", v)
	}
	assert.Equal(t, []string{"svc"}, snap.Services())
	assert.Equal(t, "d-300", snap.Deploys("svc")[0].ID)
}
