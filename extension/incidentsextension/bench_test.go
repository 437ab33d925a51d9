package incidentsextension

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// benchRegistry starts a replica over an in-memory store holding n open
// incidents scoped to varied services, and m deploys.
func benchRegistry(b *testing.B, n, m int) *testExt {
	b.Helper()
	e := newTestExt(b, b.TempDir(), "bench", testOptions{wrap: inMemory(newMemStore())})
	require.NoError(b, e.Start(context.Background(), e.host))
	b.Cleanup(func() { require.NoError(b, e.Shutdown(context.Background())) })
	r := rand.New(rand.NewPCG(7, 9))
	ctx := context.Background()
	for i := range n {
		_, err := e.OpenIncident(ctx, incident.Incident{
			ID:     fmt.Sprintf("INC-%08x", r.Uint32()),
			Title:  "error rate above SLO",
			Scope:  []incident.Matcher{{Key: "service.name", Value: fmt.Sprintf("svc-%d", i%20)}},
			Labels: map[string]string{"team": fmt.Sprintf("team-%d", i%5), "severity": "critical"},
		}, incident.Event{})
		require.NoError(b, err)
	}
	for i := range m {
		require.NoError(b, e.RecordDeploy(ctx, incident.Deploy{
			ID: fmt.Sprintf("dep-%08x", r.Uint32()), Service: fmt.Sprintf("svc-%d", i%20),
			Version: fmt.Sprintf("1.%d.%d", i/20, r.IntN(10)), StartedAt: time.Now().Add(-time.Duration(i) * time.Minute),
		}, incident.Event{}))
	}
	return e
}

// BenchmarkSnapshotRead is the processor's hot path: one lock-free
// snapshot load, the incidents matching a resource and its deploy.
func BenchmarkSnapshotRead(b *testing.B) {
	e := benchRegistry(b, 20, 200)
	attrs := map[string]string{"service.name": "svc-7"}
	get := func(k string) (string, bool) { v, ok := attrs[k]; return v, ok }
	var dst []*incident.Incident
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		snap := e.Snapshot()
		dst = snap.AppendMatching(dst[:0], get)
		_ = snap.DeployFor("svc-7", "", now)
	}
}

// BenchmarkOpenIncidentResend measures an idempotent re-send (merge,
// compare, one event written to an in-memory store).
func BenchmarkOpenIncidentResend(b *testing.B) {
	e := benchRegistry(b, 20, 0)
	inc := incident.Incident{ID: "INC-resend", Title: "t", StartedAt: time.Now().Add(-time.Minute)}
	ctx := context.Background()
	_, err := e.OpenIncident(ctx, inc, incident.Event{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.OpenIncident(ctx, inc, incident.Event{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeRecord measures merging a record learned from a replica.
func BenchmarkMergeRecord(b *testing.B) {
	s := newStateFromRecord(resolvedRec("x", 0, 30))
	rec := openRec("x", 40, "b")
	rec.Labels = map[string]string{"team": "payments", "region": "eu"}
	b.ReportAllocs()
	for b.Loop() {
		c := s.clone()
		c.mergeRecord(rec)
	}
}
