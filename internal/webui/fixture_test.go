package webui

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// hostile is evidence text that must render as text: markup, an ESC
// sequence, a bidirectional override.
const hostile = "<script>alert(1)</script>\x1b[2J\u202egnp.exe"

// fixture describes a bundle written into a filesystem store.
type fixture struct {
	id    string
	title string
	// spans over window, with an error spike at spike after checkout's
	// deploy D-checkout-2 one minute before it.
	spans  int
	start  time.Time
	window time.Duration
	labels map[string]string
	// losses are what the manifest says is missing.
	losses []bundle.Loss
	// signer, when set, signs the manifest and every part, as the
	// exporter's signing option does.
	signer *bundle.Signer
	// encoding of the parts (default otlp_json).
	encoding string
}

func (f fixture) spike() time.Time { return f.start.Add(f.window * 3 / 4) }

// write puts the incident, its parts (64 MiB each at most, as the
// exporter writes them) and a complete manifest into st.
func (f fixture) write(tb testing.TB, st store.Store) {
	tb.Helper()
	ctx := context.Background()
	const cid, batch = "collector-0", 1000
	win := bundle.Window{Start: f.start, End: f.start.Add(f.window)}
	m, err := bundle.NewManifest(f.id, cid, win)
	require.NoError(tb, err)
	var w *bundle.PartWriter
	flush := func() {
		if w == nil {
			return
		}
		data, info, err := w.Finish()
		require.NoError(tb, err)
		w = nil
		key, err := bundle.PartKey(f.id, cid, info.Seq)
		require.NoError(tb, err)
		require.NoError(tb, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
		ref, err := bundle.NewPartRef(info, data)
		require.NoError(tb, err)
		require.NoError(tb, m.AddPart(ref))
	}
	add := func(fn func(*bundle.PartWriter) error) {
		if w == nil {
			w, err = bundle.NewPartWriter(bundle.PartInfo{
				IncidentID: f.id, CollectorID: cid, Seq: m.NextSeq(), Encoding: cmp.Or(f.encoding, bundle.EncodingJSON),
				CreatedAt: win.End, Window: win,
			})
			require.NoError(tb, err)
			w.SetSigner(f.signer)
		}
		require.NoError(tb, fn(w))
		if w.Size() > 64<<20 {
			flush()
		}
	}
	spike := f.spike()
	deployAt := spike.Add(-time.Minute)
	step := f.window / time.Duration(f.spans)
	for i := range max(f.spans/batch, 1) {
		at := f.start.Add(time.Duration(i*batch) * step)
		rate, version, deploy := 0.0, "1.4.8", "D-checkout-1"
		if !at.Before(deployAt) {
			version, deploy = "1.5.0", "D-checkout-2"
		}
		if !at.Before(spike) {
			rate = 0.3
		}
		n := min(batch, f.spans) / 2
		checkout := []testgen.Option{testgen.WithServices("checkout"),
			testgen.WithResourceAttributes(map[string]string{"service.version": version, "deployment.id": deploy})}
		cart := []testgen.Option{testgen.WithServices("cart"),
			testgen.WithResourceAttributes(map[string]string{"service.version": "3.0.9", "deployment.id": "D-cart-8"})}
		td := testgen.Traces(int64(i), n, 4, at, 2*step, append(checkout, testgen.WithErrorRate(rate))...)
		if i == 0 {
			hostileSpan(td)
		}
		add(func(w *bundle.PartWriter) error { return w.AddTraces(td) })
		td = testgen.Traces(int64(-i-1), n, 4, at.Add(step), 2*step, append(cart, testgen.WithErrorRate(0))...)
		add(func(w *bundle.PartWriter) error { return w.AddTraces(td) })
		if i%10 == 0 {
			ld := testgen.Logs(int64(i), batch/10, 4, at, 10*step, checkout...)
			add(func(w *bundle.PartWriter) error { return w.AddLogs(ld) })
		}
	}
	for _, ev := range []incident.Event{
		deployEvent("D-checkout-1", "checkout", "1.4.8", f.start.Add(-time.Hour)),
		deployEvent("D-checkout-2", "checkout", "1.5.0", deployAt),
		deployEvent("D-cart-9", "cart", "3.1.0", spike.Add(2*time.Minute)),
	} {
		add(func(w *bundle.PartWriter) error { return w.AddEvent(ev) })
	}
	flush()
	m.Complete = true
	m.Losses = f.losses
	data, err := m.Marshal()
	if f.signer != nil {
		data, err = m.MarshalSigned(f.signer)
	}
	require.NoError(tb, err)
	key, err := bundle.ManifestKey(f.id, cid)
	require.NoError(tb, err)
	require.NoError(tb, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))

	inc, err := json.Marshal(incident.Incident{
		ID: f.id, Title: f.title, Severity: "critical", Source: incident.SourceGeneric, Status: incident.StatusOpen,
		StartedAt: spike.Add(90 * time.Second), UpdatedAt: spike.Add(90 * time.Second), Labels: f.labels,
		Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}},
	})
	require.NoError(tb, err)
	key, err = bundle.IncidentKey(f.id)
	require.NoError(tb, err)
	require.NoError(tb, st.Put(ctx, key, bytes.NewReader(inc), int64(len(inc)), store.PutOptions{}))
}

// hostileSpan names the first span with hostile text.
func hostileSpan(td ptrace.Traces) {
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName(hostile)
}

func deployEvent(id, service, version string, t time.Time) incident.Event {
	return incident.Event{
		Kind: incident.EventDeploy, Time: t, Source: incident.SourceDeploy, DeployID: id,
		Deploy: &incident.Deploy{
			ID: id, Service: service, Version: version, Environment: "production",
			StartedAt: t, Status: incident.DeploySucceeded,
		},
	}
}

// newStore writes the fixtures into a new filesystem store.
func newStore(tb testing.TB, fs ...fixture) *storage.Filesystem {
	tb.Helper()
	st, err := storage.NewFilesystem(tb.TempDir())
	require.NoError(tb, err)
	for _, f := range fs {
		f.write(tb, st)
	}
	return st
}

// small is a quick incident: 20,000 spans over 40 minutes.
func small(id string) fixture {
	return fixture{
		id: id, title: "checkout errors " + hostile, spans: 20_000,
		start: testgen.DefaultStart, window: 40 * time.Minute,
		labels: map[string]string{"team": "payments", "note": hostile},
	}
}
