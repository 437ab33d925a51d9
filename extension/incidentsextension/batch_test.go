package incidentsextension

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// alertOps is what the webhook receiver asks for one Alertmanager group:
// the opening of its incident and one event per alert that opens nothing.
func alertOps(id string, alerts int) []incidentsapi.Op {
	inc := incident.Incident{ID: id, Title: "error rate", Source: incident.SourceAlertmanager, Severity: "critical"}
	ops := []incidentsapi.Op{{Open: &inc, Event: incident.Event{Kind: incident.EventIncidentOpened, Source: incident.SourceAlertmanager,
		IncidentID: id, Payload: []byte(`{"status":"firing"}`)}}}
	for i := range alerts {
		ops = append(ops, incidentsapi.Op{Event: incident.Event{Kind: incident.EventAlert, Source: incident.SourceAlertmanager,
			IncidentID: id, Payload: fmt.Appendf(nil, `{"labels":{"i":"%d"}}`, i)}})
	}
	return ops
}

// syncObjects lists the sync log objects in the filesystem store at dir.
func syncObjects(t require.TestingT, dir string) []string {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(incidentsapi.EventsPrefix)))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestBatchIsOneStoreWrite: a request of 1,000 events is one sync log
// object, which another replica applies whole, each event once.
func TestBatchIsOneStoreWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := startTestExt(t, dir, "replica-a", testOptions{})
	b := startTestExt(t, dir, "replica-b", testOptions{})
	before := len(syncObjects(t, dir))

	changed, err := a.RecordBatch(ctx, alertOps("INC-batch", 999))
	require.NoError(t, err)
	require.Len(t, changed, 1000)
	assert.True(t, changed[0])
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Len(c, syncObjects(c, dir), before+1) }, waitFor, 5*time.Millisecond)
	assert.Len(t, a.Events(time.Time{}, time.Now().Add(time.Minute)), 1000)

	require.Eventually(t, func() bool { return b.status("INC-batch") == incident.StatusOpen }, waitFor, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		return len(b.Events(time.Time{}, time.Now().Add(time.Minute))) == 1000
	}, waitFor, 5*time.Millisecond)
	seen := map[string]int{}
	for _, ev := range b.Events(time.Time{}, time.Now().Add(time.Minute)) {
		seen[string(ev.Payload)]++
	}
	assert.Len(t, seen, 1000)
	for p, n := range seen {
		assert.Equal(t, 1, n, p)
	}
}

// TestBatchIsAllOrNothing: an invalid op fails the whole batch, and a
// failed store write changes nothing.
func TestBatchIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	e := startTestExt(t, t.TempDir(), "replica-a", testOptions{})
	ops := alertOps("INC-ok", 2)
	ops = append(ops, incidentsapi.Op{Open: &incident.Incident{ID: "../bad"}})
	_, err := e.RecordBatch(ctx, ops)
	require.Error(t, err)
	assert.Empty(t, e.Snapshot().Incidents)
	assert.Empty(t, e.Events(time.Time{}, time.Now().Add(time.Minute)))
}

// discardStore accepts every write and keeps nothing, so that a benchmark
// measures the registry's own memory, not an in-memory store's.
type discardStore struct{ store.Store }

func (discardStore) Put(_ context.Context, _ string, r io.Reader, _ int64, _ store.PutOptions) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (discardStore) Get(context.Context, string) (io.ReadCloser, store.ObjectInfo, error) {
	return nil, store.ObjectInfo{}, store.ErrNotFound
}

func (discardStore) List(context.Context, string, string) ([]store.ObjectInfo, error) {
	return nil, nil
}

func (discardStore) Delete(context.Context, string) error { return nil }

func (discardStore) String() string { return "discard://" }

// BenchmarkOpenIncidentMemory reports the heap each open incident costs
// the registry (its state, its opening event and payload kept for the
// bundles' events.jsonl, the snapshot), opened as the webhook receiver
// does for an Alertmanager group of one alert.
func BenchmarkOpenIncidentMemory(b *testing.B) {
	const n = 10000
	// The whole webhook body of a group of one alert, as the receiver
	// keeps it in the opening event (Alertmanager's own, compacted).
	payload := []byte(`{"version":"4","groupKey":"{}/{severity=\"critical\"}:{alertname=\"CheckoutErrorRate\"}","truncatedAlerts":0,"status":"firing","receiver":"otel-evidence","groupLabels":{"alertname":"CheckoutErrorRate"},"commonLabels":{"alertname":"CheckoutErrorRate","job":"checkout","service":"checkout","severity":"critical"},"commonAnnotations":{"summary":"Checkout is failing more than 5% of requests"},"externalURL":"http://alertmanager.example.com:9093","alerts":[{"status":"firing","labels":{"alertname":"CheckoutErrorRate","instance":"checkout-1:8080","job":"checkout","service":"checkout","severity":"critical"},"annotations":{"summary":"Checkout is failing more than 5% of requests"},"startsAt":"2026-03-10T11:50:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example.com:9090/graph?g0.expr=up","fingerprint":"1a30ba71cca2921f"}]}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e := newTestExt(b, b.TempDir(), "bench", testOptions{wrap: func(store.Store) store.Store { return discardStore{} }})
		require.NoError(b, e.Start(ctx, e.host))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for i := range n {
			id := fmt.Sprintf("am-%016x", i)
			inc := incident.Incident{
				ID: id, Title: "HighErrorRate: Error rate above 5%", Source: incident.SourceAlertmanager, Severity: "critical",
				Scope:  []incident.Matcher{{Key: "service.name", Value: fmt.Sprintf("svc-%d", i%50)}},
				Labels: map[string]string{"alertname": "HighErrorRate", "severity": "critical", "service": fmt.Sprintf("svc-%d", i%50)},
			}
			ev := incident.Event{Kind: incident.EventIncidentOpened, Source: incident.SourceAlertmanager, IncidentID: id, Payload: slices.Clone(payload)} // each request its own body
			if _, err := e.RecordBatch(ctx, []incidentsapi.Op{{Open: &inc, Event: ev}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/open-incident")
		require.Len(b, e.Snapshot().Open, n)
		require.NoError(b, e.Shutdown(ctx))
		b.StartTimer()
	}
}
