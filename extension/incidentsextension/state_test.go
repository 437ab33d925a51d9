package incidentsextension

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func ptr[T any](v T) *T { return &v }

func openRec(id string, start int, by string) *incident.Incident {
	return &incident.Incident{
		ID: id, Status: incident.StatusOpen, StartedAt: at(start), UpdatedAt: at(start),
		OpenedBy: by, Source: incident.SourceGeneric,
	}
}

func resolvedRec(id string, start, end int) *incident.Incident {
	r := openRec(id, start, "a")
	r.Status, r.ResolvedAt = incident.StatusResolved, ptr(at(end))
	return r
}

func TestStateWalk(t *testing.T) {
	tests := []struct {
		name        string
		records     []*incident.Incident
		wantStatus  incident.Status
		wantStart   int
		wantEnd     int // when resolved
		wantOpenedB string
	}{
		{name: "open", records: []*incident.Incident{openRec("x", 0, "a")}, wantStatus: incident.StatusOpen, wantOpenedB: "a"},
		{
			name:       "earliest start wins",
			records:    []*incident.Incident{openRec("x", 5, "b"), openRec("x", 2, "a")},
			wantStatus: incident.StatusOpen, wantStart: 2, wantOpenedB: "a",
		},
		{
			name:       "resolved wins over the open it ends",
			records:    []*incident.Incident{openRec("x", 0, "a"), resolvedRec("x", 0, 30)},
			wantStatus: incident.StatusResolved, wantEnd: 30, wantOpenedB: "a",
		},
		{
			name:       "resolved wins when resolved_at equals started_at",
			records:    []*incident.Incident{resolvedRec("x", 0, 10), openRec("x", 10, "b")},
			wantStatus: incident.StatusResolved, wantEnd: 10, wantOpenedB: "a",
		},
		{
			name:       "a late re-send of the open does not reopen",
			records:    []*incident.Incident{resolvedRec("x", 0, 30), openRec("x", 0, "b")},
			wantStatus: incident.StatusResolved, wantEnd: 30, wantOpenedB: "a",
		},
		{
			name:       "an open after the resolution reopens",
			records:    []*incident.Incident{resolvedRec("x", 0, 30), openRec("x", 40, "b")},
			wantStatus: incident.StatusOpen, wantStart: 40, wantOpenedB: "b",
		},
		{
			name:       "reopened and resolved again",
			records:    []*incident.Incident{resolvedRec("x", 0, 30), resolvedRec("x", 40, 50)},
			wantStatus: incident.StatusResolved, wantStart: 40, wantEnd: 50, wantOpenedB: "a",
		},
		{
			name:       "first resolution ends the episode",
			records:    []*incident.Incident{resolvedRec("x", 0, 30), resolvedRec("x", 0, 20)},
			wantStatus: incident.StatusResolved, wantEnd: 20, wantOpenedB: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStateFromRecord(tt.records[0])
			for _, r := range tt.records[1:] {
				s.mergeRecord(r)
			}
			require.Equal(t, tt.wantStatus, s.rec.Status)
			assert.Equal(t, at(tt.wantStart), s.rec.StartedAt)
			assert.Equal(t, tt.wantOpenedB, s.rec.OpenedBy)
			if tt.wantStatus == incident.StatusResolved {
				require.NotNil(t, s.rec.ResolvedAt)
				assert.Equal(t, at(tt.wantEnd), *s.rec.ResolvedAt)
			} else {
				assert.Nil(t, s.rec.ResolvedAt)
			}
		})
	}
}

func TestMetaLastWriterWins(t *testing.T) {
	a := openRec("x", 0, "a")
	a.Title, a.Labels = "old", map[string]string{"team": "a"}
	b := openRec("x", 0, "b")
	b.UpdatedAt, b.Title, b.Labels = at(5), "new", map[string]string{"team": "b"}

	for _, order := range [][]*incident.Incident{{a, b}, {b, a}} {
		s := newStateFromRecord(order[0])
		s.mergeRecord(order[1])
		assert.Equal(t, "new", s.rec.Title)
		assert.Equal(t, map[string]string{"team": "b"}, s.rec.Labels)
		assert.Equal(t, at(5), s.rec.UpdatedAt)
	}

	// Equal UpdatedAt: both orders pick the same one.
	c := openRec("x", 0, "c")
	c.Title = "other"
	s1 := newStateFromRecord(a)
	s1.mergeRecord(c)
	s2 := newStateFromRecord(c)
	s2.mergeRecord(a)
	assert.Equal(t, s1.rec.Title, s2.rec.Title)
}

// randomRecord draws a record of incident "x" from a small space of times
// so that collisions, reopens and ties are frequent.
func randomRecord(r *rand.Rand) *incident.Incident {
	by := []string{"a", "b", "c"}[r.IntN(3)]
	rec := openRec("x", r.IntN(8)*10, by)
	rec.UpdatedAt = at(r.IntN(4))
	rec.Title = fmt.Sprintf("title-%d", r.IntN(3))
	if r.IntN(2) == 0 {
		rec.Status = incident.StatusResolved
		rec.ResolvedAt = ptr(rec.StartedAt.Add(time.Duration(r.IntN(4)*10) * time.Minute))
	}
	return rec
}

// TestMergeOrderIndependent checks that replicas applying the same records
// in any order, and merging each other's states in any grouping, agree.
func TestMergeOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		recs := make([]*incident.Incident, 2+r.IntN(6))
		for i := range recs {
			recs[i] = randomRecord(r)
		}
		fold := func(order []int) *incidentState {
			s := newStateFromRecord(recs[order[0]])
			for _, i := range order[1:] {
				s.mergeRecord(recs[i])
			}
			return s
		}
		base := fold(r.Perm(len(recs)))
		again := fold(r.Perm(len(recs)))
		require.True(t, sameIncident(&base.rec, &again.rec), "round %d: %+v vs %+v", round, base.rec, again.rec)

		// Split into two replicas and merge their states.
		perm := r.Perm(len(recs))
		cut := 1 + r.IntN(len(recs)-1)
		left, right := fold(perm[:cut]), fold(perm[cut:])
		left.mergeState(right)
		require.True(t, sameIncident(&base.rec, &left.rec), "round %d: split merge differs", round)

		// Idempotent.
		left.mergeState(left.clone())
		require.True(t, sameIncident(&base.rec, &left.rec), "round %d: not idempotent", round)
	}
}

func TestMergeDeploy(t *testing.T) {
	started := incident.Deploy{ID: "d1", Service: "checkout", Version: "1.2", StartedAt: at(0), Status: incident.DeployStarted}
	finished := incident.Deploy{ID: "d1", Service: "checkout", Commit: "abc", StartedAt: at(1), FinishedAt: ptr(at(5)), Status: incident.DeploySucceeded}
	tests := []struct {
		name string
		a, b incident.Deploy
		want incident.Deploy
	}{
		{
			name: "start then finish",
			a:    started, b: finished,
			want: incident.Deploy{
				ID: "d1", Service: "checkout", Version: "1.2", Commit: "abc", StartedAt: at(0),
				FinishedAt: ptr(at(5)), Status: incident.DeploySucceeded,
			},
		},
		{
			name: "same record",
			a:    started, b: started, want: started,
		},
		{
			name: "conflicting strings pick the greater",
			a:    incident.Deploy{ID: "d", Service: "s", Version: "1", StartedAt: at(0)},
			b:    incident.Deploy{ID: "d", Service: "s", Version: "2", StartedAt: at(0)},
			want: incident.Deploy{ID: "d", Service: "s", Version: "2", StartedAt: at(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ab := mergeDeploy(&tt.a, &tt.b)
			ba := mergeDeploy(&tt.b, &tt.a)
			assert.True(t, sameDeploy(&tt.want, &ab), "a+b: %+v", ab)
			assert.True(t, sameDeploy(&tt.want, &ba), "b+a: %+v", ba)
		})
	}
}

func TestDiffIncident(t *testing.T) {
	open := openRec("x", 0, "a")
	extended := openRec("x", 0, "a")
	extended.Title = "more"
	resolved := resolvedRec("x", 0, 30)
	reopened := openRec("x", 40, "a")
	tests := []struct {
		name       string
		prev, next *incident.Incident
		kind       incident.EventKind
		want       []string
	}{
		{name: "new open", next: open, want: []string{"opened"}},
		{name: "learned resolved", next: resolved, want: []string{"opened", "resolved"}},
		{name: "extended", prev: open, next: extended, want: []string{"extended"}},
		{name: "same", prev: open, next: open},
		{name: "resolved", prev: open, next: resolved, want: []string{"resolved"}},
		{name: "expired", prev: open, next: resolved, kind: incident.EventIncidentExpired, want: []string{"expired"}},
		{name: "reopened", prev: resolved, next: reopened, want: []string{"opened"}},
		{name: "new episode resolved", prev: resolved, next: resolvedRec("x", 40, 50), want: []string{"opened", "resolved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range diffIncident(tt.prev, tt.next, tt.kind) {
				got = append(got, c.Kind.String())
				if c.Kind.String() == "opened" {
					assert.Equal(t, incident.StatusOpen, c.Incident.Status)
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
