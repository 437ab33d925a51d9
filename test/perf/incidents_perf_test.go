//go:build perf

package perf

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// openIncidentTarget is issue #16's bound on the collector's memory per
// open incident.
const openIncidentTarget = 4 << 10

// openIncidentFlush is the evidence exporter's flush_interval in the
// open-incident run: longer than the run.
const openIncidentFlush = "1h"

// heapSamples is how many heap readings each side of the comparison takes
// (the smallest counts).
const heapSamples = 5

// openIncidentTimeout bounds each wait of the open-incident run.
const openIncidentTimeout = 10 * time.Minute

// amGroup is an Alertmanager notification of a group of one firing
// critical alert: its own group key, so that it opens an incident of its
// own (Alertmanager's shape, as the registry benchmark uses).
const amGroup = `{"version":"4","groupKey":"{}/{severity=\"critical\"}:{alertname=\"HighErrorRate\",instance=\"svc-%[1]d:8080\"}","truncatedAlerts":0,"status":"firing","receiver":"otel-evidence",` +
	`"groupLabels":{"alertname":"HighErrorRate","instance":"svc-%[1]d:8080"},"commonLabels":{"alertname":"HighErrorRate","instance":"svc-%[1]d:8080","job":"svc-%[2]d","service":"svc-%[2]d","severity":"critical"},` +
	`"commonAnnotations":{"summary":"Error rate above 5%%"},"externalURL":"http://alertmanager.example.com:9093","alerts":[{"status":"firing",` +
	`"labels":{"alertname":"HighErrorRate","instance":"svc-%[1]d:8080","job":"svc-%[2]d","service":"svc-%[2]d","severity":"critical"},"annotations":{"summary":"Error rate above 5%%"},` +
	`"startsAt":%[3]q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example.com:9090/graph?g0.expr=up","fingerprint":"%016[1]x"}]}`

// TestPerfOpenIncidentMemory measures what an open incident costs the
// whole collector: the full pipeline (incidents extension, incident_webhook
// receiver, incident_context processor, evidence exporter) opens N
// incidents through the Alertmanager webhook, each freezing its window,
// and the Go heap after a garbage collection (pprof extension) and VmRSS
// are compared with the same collector before the first incident.
func TestPerfOpenIncidentMemory(t *testing.T) {
	page := startPerf(t)
	n := envInt(t, EnvOpenIncidents, 1000)
	ctx := context.Background()

	p := newPorts(t)
	p.Pprof = harness.FreeAddr(t)
	cfg, err := CollectorConfig(VariantFull, p, ConfigOptions{
		Webhook: map[string]any{
			// The run opens incidents as fast as the collector takes them.
			"limits": map[string]any{"events_per_second": 0, "max_open_incidents": 0},
		},
		// Each incident's first flush runs when it opens; no periodic
		// flush runs during the readings, whose working memory (a part
		// being compressed) is not what an open incident keeps.
		Evidence: map[string]any{"flush_interval": openIncidentFlush},
	})
	require.NoError(t, err)
	c := startCollector(t, p, cfg)
	postFixtures(c, false)
	// The deploys' log records reach the evidence exporter's ring before
	// the baseline is taken.
	c.waitMetric("otelcol_exporter_evidence_buffer_items", map[string]string{"signal": "logs"}, float64(len(fixtureVersions)*4), openIncidentTimeout)

	// Half the incidents before the first reading, so that what grows
	// once with the parts' size is on both sides: the figure is what each
	// further open incident costs. The bundle writer's encoders and part
	// buffers are not: they are given back 2 s after the last part, and
	// the smallest of the readings (over 4 s) is taken.
	half := n / 2
	c.openAlertGroups(0, half)
	c.waitOpenIncidents(half)

	heap0, err := HeapAfterGCMin(ctx, p.Pprof, heapSamples, time.Second)
	require.NoError(t, err)
	rss0 := c.memory().RSS
	c.saveHeapProfile(ctx, fmt.Sprintf("open-incidents-%d.heap.pprof", half))

	opened := time.Now()
	c.openAlertGroups(half, n)
	openSeconds := time.Since(opened).Seconds()
	c.waitOpenIncidents(n)

	heap1, err := HeapAfterGCMin(ctx, p.Pprof, heapSamples, time.Second)
	require.NoError(t, err)
	rss1 := c.memory().RSS
	c.saveHeapProfile(ctx, fmt.Sprintf("open-incidents-%d.heap.pprof", n))

	parts := storeParts(t, filepath.Join(c.dir, "var", "evidence"))

	added := float64(n - half)
	heapPer := float64(heap1.HeapAlloc-heap0.HeapAlloc) / added
	inusePer := float64(heap1.HeapInuse-heap0.HeapInuse) / added
	rssPer := float64(rss1-rss0) / added
	t.Logf("%d and %d open incidents: heap after GC %d -> %d B (%.0f B each), heap in use %d -> %d B (%.0f B each), VmRSS %d -> %d B (%.0f B each)",
		half, n, heap0.HeapAlloc, heap1.HeapAlloc, heapPer, heap0.HeapInuse, heap1.HeapInuse, inusePer, rss0, rss1, rssPer)

	res := Result{
		Section: "5-incidents",
		Title:   "Memory per open incident, whole collector",
		Params: map[string]string{
			"incidents": fmt.Sprintf("%d (%s), each opened by an Alertmanager notification of its own group (one critical alert), %.1f s to open", n, EnvOpenIncidents, openSeconds),
			"pipeline":  VariantFull.Describe() + "; incidents extension (filesystem store), incident_webhook, pprof",
			"measured":  "after every incident is open in the registry, has its freeze job and its first part in the store; evidence flush_interval " + openIncidentFlush + " (each incident's first flush runs when it opens), so that no flush's working memory is read",
			"heap":      fmt.Sprintf("HeapAlloc after a forced GC (pprof extension, /debug/pprof/heap?gc=1), smallest of %d readings 1 s apart, with N open minus with N/2, divided by N/2 (the bundle writer's zstd encoders and part buffers, given back 2 s after the last part, are in neither)", heapSamples),
			"rss":       "VmRSS from /proc/<pid>/status at the same two moments",
		},
		Tables: []Table{{
			Title:  "Collector memory with N/2 and N open incidents",
			Header: []string{"open incidents", "heap after GC", "heap in use", "VmRSS"},
			Rows: [][]string{
				{fmt.Sprint(half), mib(heap0.HeapAlloc), mib(heap0.HeapInuse), mib(rss0)},
				{fmt.Sprint(n), mib(heap1.HeapAlloc), mib(heap1.HeapInuse), mib(rss1)},
				{"per incident", fmt.Sprintf("%.0f B", heapPer), fmt.Sprintf("%.0f B", inusePer), fmt.Sprintf("%.0f B", rssPer)},
			},
			Notes: []string{"VmRSS also holds what the garbage collector has not given back yet (GOGC headroom), so it is noisier than the live heap."},
		}, {
			Title:  fmt.Sprintf("Bundle parts in the store with %d open incidents (each incident's first part)", n),
			Header: []string{"parts", "bytes", "mean per part", "largest part"},
			Rows: [][]string{{
				fmt.Sprint(parts.count), mib(parts.bytes),
				fmt.Sprintf("%.0f B", float64(parts.bytes)/float64(max(parts.count, 1))), fmt.Sprintf("%d B", parts.largest),
			}},
			Notes: []string{"A part holds the registry's events of its window, so every open incident's opening event is in every other incident's part: store bytes grow with the square of the open incidents."},
		}},
	}
	res.Figures = append(res.Figures, Figure{
		Name:  "Heap per open incident, whole collector",
		Value: heapPer, Unit: "B",
		Target: fmt.Sprintf("<= %d B", openIncidentTarget), Met: Met(heapPer <= openIncidentTarget),
		Note: fmt.Sprintf("%d incidents, live heap after GC; VmRSS %.0f B each", n, rssPer),
	})
	page.write(res)
}

// flushRunInterval is the evidence exporter's flush_interval in the
// open-incident flush run, and flushRunWindow the time over which its CPU
// is read: three flushes of every open incident.
const (
	flushRunInterval = 10 * time.Second
	flushRunWindow   = 3 * flushRunInterval
)

// TestPerfOpenIncidentFlushCPU measures what open incidents cost an idle
// collector: every flush_interval each incident's job looks for what is new
// in its window, and every window holds every other incident's events. The
// collector's CPU over three flushes of every job, with nothing arriving, is
// read with no incident open, then twice with N open: the first window
// holds what is left of the flushes in which each incident's bundle takes
// the opening events of the incidents opened after its first part (written
// once), the second what open incidents cost from then on.
func TestPerfOpenIncidentFlushCPU(t *testing.T) {
	page := startPerf(t)
	n := envInt(t, EnvOpenIncidents, 1000)

	c := startStormCollector(t)
	c.waitMetric("otelcol_exporter_evidence_buffer_items", map[string]string{"signal": "logs"}, float64(len(fixtureVersions)*4), openIncidentTimeout)

	// Each window is a CPU profile of flushRunWindow: the profile is the
	// measurement window and shows where the time goes.
	profDir := windowProfileDir(t)
	type window struct {
		cpu   time.Duration
		parts float64
	}
	read := func(name string) window {
		cpu0 := c.cpu()
		parts0, _ := c.metric("otelcol_exporter_evidence_parts_written", nil)
		require.NoError(t, c.profile(filepath.Join(profDir, name), flushRunWindow))
		parts1, _ := c.metric("otelcol_exporter_evidence_parts_written", nil)
		return window{cpu: c.cpu() - cpu0, parts: parts1 - parts0}
	}
	none := read("open-incidents-flush-0.pprof")
	opened := time.Now()
	c.openAlertGroups(0, n)
	c.waitOpenIncidents(n)
	openSeconds := time.Since(opened).Seconds()
	first := read(fmt.Sprintf("open-incidents-flush-%d-first.pprof", n))
	steady := read(fmt.Sprintf("open-incidents-flush-%d.pprof", n))
	t.Logf("idle collector CPU over %s: %s with no incident open; with %d open, %s (%.0f parts) then %s (%.0f parts)",
		flushRunWindow, none.cpu, n, first.cpu, first.parts, steady.cpu, steady.parts)

	flushes := float64(flushRunWindow / flushRunInterval)
	perSecond := func(w window) float64 { return w.cpu.Seconds() / flushRunWindow.Seconds() }
	perJob := (steady.cpu - none.cpu).Seconds() / float64(n) / flushes
	row := func(label string, w window) []string {
		return []string{label, fmt.Sprintf("%.2f s", w.cpu.Seconds()), fmt.Sprintf("%.4f s", perSecond(w)), fmt.Sprintf("%.0f", w.parts)}
	}
	res := Result{
		Section: "6-flush",
		Title:   "CPU of an idle collector with open incidents",
		Params: map[string]string{
			"incidents": fmt.Sprintf("%d (%s), opened as in the memory run, %.1f s to open", n, EnvOpenIncidents, openSeconds),
			"pipeline":  VariantFull.Describe() + "; incidents extension (filesystem store), incident_webhook, pprof",
			"measured":  fmt.Sprintf("the collector's CPU (utime+stime) over windows of %s with nothing arriving: evidence flush_interval %s, so every open incident's job flushes %.0f times in each; one window before the first incident, two once every incident is open with its first part in the store", flushRunWindow, flushRunInterval, flushes),
		},
		Tables: []Table{{
			Title:  "Idle collector CPU over three flushes, no incident open and N open",
			Header: []string{"window", "CPU", "CPU per second", "parts written"},
			Rows: [][]string{
				row("no incident open", none),
				row(fmt.Sprintf("%d open, first window", n), first),
				row(fmt.Sprintf("%d open, next window", n), steady),
			},
			Notes: []string{
				"Every window holds every other open incident's events. An incident's first part holds those recorded before it opened; its next flush writes a part with the opening events of the incidents opened after it, n(n-1)/2 events in all, once. Those flushes run while the incidents open and just after: the first window holds what is left of them (its parts written). A flush reads from the registry only the events new to its incident.",
				fmt.Sprintf("From then on a flush with nothing new costs about %.0f us per open incident (the next window's CPU less the window with none open, over %d incidents and %.0f flushes).", perJob*1e6, n, flushes),
			},
		}},
	}
	fig := Figure{
		Name:  fmt.Sprintf("Idle collector CPU per second, %d open incidents, flush_interval %s", n, flushRunInterval),
		Value: perSecond(steady), Unit: "CPU s/s",
		Peer: "the same collector before the first incident", PeerValue: perSecond(none),
		Note: fmt.Sprintf("about %.0f us per open incident per flush; the window before, with each bundle's catch-up part: %.4f CPU s/s", perJob*1e6, perSecond(first)),
	}
	if none.cpu > 0 {
		fig.Ratio = perSecond(steady) / perSecond(none)
	}
	res.Figures = append(res.Figures, fig)
	page.write(res)
}

// startStormCollector starts the full pipeline with a pprof endpoint,
// incident_webhook without limits, the evidence exporter flushing every
// flushRunInterval, and the registry's fixtures.
func startStormCollector(t *testing.T) *collector {
	t.Helper()
	p := newPorts(t)
	p.Pprof = harness.FreeAddr(t)
	cfg, err := CollectorConfig(VariantFull, p, ConfigOptions{
		Webhook:  map[string]any{"limits": map[string]any{"events_per_second": 0, "max_open_incidents": 0}},
		Evidence: map[string]any{"flush_interval": flushRunInterval.String()},
	})
	require.NoError(t, err)
	c := startCollector(t, p, cfg)
	postFixtures(c, false)
	return c
}

// windowProfileDir is where the runs' window profiles go: PERF_PROFILE_DIR,
// else a directory removed after the test.
func windowProfileDir(t *testing.T) string {
	if d := os.Getenv(EnvProfileDir); d != "" {
		return d
	}
	return t.TempDir()
}

// stormRate is the offered load of the storm run, in spans/s: low enough
// that this 2-core machine keeps up with every open incident's bundle.
const stormRate = 5000

// TestPerfOpenIncidentsUnderLoad measures what open incidents cost a
// collector under load, as in an alert storm: every open incident's window
// holds the telemetry arriving now, and each bundle freezes its own copy.
// The same load is sent for flushRunWindow with no incident open and with N
// open; the collector's CPU over each, and what the recorder counts as
// lost, are read.
func TestPerfOpenIncidentsUnderLoad(t *testing.T) {
	page := startPerf(t)
	n := envInt(t, EnvStormIncidents, 100)

	c := startStormCollector(t)
	now := time.Now()
	batches, err := BuildBatches(cpuBatches, 1000, 1, func(b, i int) time.Time {
		return now.Add(time.Duration(b*1000+i) * time.Millisecond / 20)
	})
	require.NoError(t, err)
	s := c.dial()

	profDir := windowProfileDir(t)
	type window struct {
		cpu          time.Duration
		spans        int
		frozen, lost float64
	}
	// A window runs from the start of the load until every span sent is in
	// every open incident's bundle.
	run := func(name string, open int) window {
		cpu0 := c.cpu()
		frozen0, _ := c.metric("otelcol_exporter_evidence_items_frozen", nil)
		prof := make(chan error, 1)
		go func() { prof <- c.profile(filepath.Join(profDir, name), flushRunWindow) }()
		st, err := s.SendAtRate(context.Background(), batches, RateOptions{SpansPerSecond: stormRate, Duration: flushRunWindow})
		require.NoError(t, err)
		require.NoError(t, <-prof)
		c.drain(cpuDrainTimeout)
		var frozen float64
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			f, _ := c.metricFor(ct, "otelcol_exporter_evidence_items_frozen", nil)
			frozen = f - frozen0
			assert.GreaterOrEqualf(ct, frozen, float64(st.Spans*open), "%v items frozen, want the %d spans in each of %d bundles", frozen, st.Spans, open)
		}, openIncidentTimeout, 200*time.Millisecond)
		lost, _ := c.metric("otelcol_exporter_evidence_items_lost", nil)
		return window{cpu: c.cpu() - cpu0, spans: st.Spans, frozen: frozen, lost: lost}
	}
	none := run("storm-0.pprof", 0)
	c.openAlertGroups(0, n)
	c.waitOpenIncidents(n)
	storm := run(fmt.Sprintf("storm-%d.pprof", n), n)
	t.Logf("collector CPU under %d spans/s for %s: %s with no incident open, %s with %d open (%.0f items frozen, %.0f lost)",
		stormRate, flushRunWindow, none.cpu, storm.cpu, n, storm.frozen, storm.lost)
	require.Zero(t, storm.lost, "the recorder kept up with every open incident")

	perSecond := func(w window) float64 { return w.cpu.Seconds() / flushRunWindow.Seconds() }
	perIncident := (storm.cpu - none.cpu).Seconds() / float64(storm.spans) / float64(n)
	row := func(label string, w window) []string {
		return []string{label, fmt.Sprint(w.spans), fmt.Sprintf("%.2f s", w.cpu.Seconds()), fmt.Sprintf("%.3f s", perSecond(w)), fmt.Sprintf("%.0f", w.frozen), fmt.Sprintf("%.0f", w.lost)}
	}
	res := Result{
		Section: "7-storm",
		Title:   "CPU of a collector under load with many open incidents",
		Params: map[string]string{
			"incidents": fmt.Sprintf("%d (%s), opened as in the memory run, after the first window", n, EnvStormIncidents),
			"load":      fmt.Sprintf("%d spans/s (1000-span pre-built batches over OTLP/gRPC, 4 concurrent calls) for %s in each window", stormRate, flushRunWindow),
			"pipeline":  VariantFull.Describe() + "; evidence flush_interval " + flushRunInterval.String(),
			"measured":  "the collector's CPU (utime+stime) from the start of the load until every span sent is in every open incident's bundle (items_frozen); items frozen and lost from the evidence exporter's metrics",
		},
		Tables: []Table{{
			Title:  "The same load with no incident open and with N open",
			Header: []string{"window", "spans sent", "CPU", "CPU per second", "items frozen", "items lost (total)"},
			Rows:   [][]string{row("no incident open", none), row(fmt.Sprintf("%d open", n), storm)},
			Notes:  []string{fmt.Sprintf("Each bundle is self-contained, so every open incident freezes its own copy of what arrives in its window: about %.2f us of CPU per span per open incident here (zstd, SHA-256, the time filter and the ring's decompression, once per bundle; the profiles are in the profile directory as storm-*.pprof). The cost grows with the number of incidents open together; limits.max_open_incidents of incident_webhook bounds it.", perIncident*1e6)},
		}},
	}
	fig := Figure{
		Name:  fmt.Sprintf("CPU per second under %d spans/s, %d open incidents", stormRate, n),
		Value: perSecond(storm), Unit: "CPU s/s",
		Peer: "the same load with no incident open", PeerValue: perSecond(none),
		Note: fmt.Sprintf("about %.2f us per span per open incident; nothing lost", perIncident*1e6),
	}
	if none.cpu > 0 {
		fig.Ratio = perSecond(storm) / perSecond(none)
	}
	res.Figures = append(res.Figures, fig)
	page.write(res)
}

// partStats sums the bundle parts in a filesystem store.
type partStats struct {
	count          int
	bytes, largest int64
}

// storeParts walks the filesystem store at dir and sums its part objects.
func storeParts(t *testing.T, dir string) partStats {
	t.Helper()
	var st partStats
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "part-") || !strings.HasSuffix(d.Name(), ".tar.zst") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st.count++
		st.bytes += info.Size()
		st.largest = max(st.largest, info.Size())
		return nil
	})
	require.NoError(t, err)
	return st
}

// saveHeapProfile keeps the collector's heap profile (after a GC) as name
// in PERF_PROFILE_DIR, when it is set.
func (c *collector) saveHeapProfile(ctx context.Context, name string) {
	c.t.Helper()
	d := os.Getenv(EnvProfileDir)
	if d == "" {
		return
	}
	prof, err := pprofGet(ctx, "http://"+c.ports.Pprof+"/debug/pprof/heap?gc=1")
	require.NoError(c.t, err)
	require.NoError(c.t, os.MkdirAll(d, 0o755))
	require.NoError(c.t, os.WriteFile(filepath.Join(d, name), prof, 0o644))
}

// waitOpenIncidents waits until n incidents are open, each with its freeze
// job and its first part in the store.
func (c *collector) waitOpenIncidents(n int) {
	c.t.Helper()
	c.waitMetric("otelcol_extension_incidents_open", nil, float64(n), openIncidentTimeout)
	c.waitMetric("otelcol_exporter_evidence_freezes", nil, float64(n), openIncidentTimeout)
	c.waitMetric("otelcol_exporter_evidence_parts_uploaded", nil, float64(n), openIncidentTimeout)
}

// openAlertGroups opens the incidents of alert groups [from, to) through
// the Alertmanager endpoint, a few requests at a time.
func (c *collector) openAlertGroups(from, to int) {
	c.t.Helper()
	const workers = 4
	url := "http://" + c.ports.Webhook + "/v1/alertmanager"
	started := time.Now().UTC().Format(time.RFC3339)
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				if err := postWebhook(url, fmt.Sprintf(amGroup, i, i%50, started)); err != nil {
					errs <- fmt.Errorf("alert group %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(c.t, err)
	}
}

// postWebhook sends body to url with the webhook token and expects 200.
// Unlike harness.PostJSON it returns its error, so it can run off the
// test's goroutine.
func postWebhook(url, body string) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+WebhookToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return nil
}

// drain waits until the batch processor has sent on every item the
// receivers accepted (spans from OTLP, log records from incident_webhook).
func (c *collector) drain(timeout time.Duration) {
	c.t.Helper()
	require.EventuallyWithT(c.t, func(ct *assert.CollectT) {
		spans, _ := c.metricFor(ct, "otelcol_receiver_accepted_spans", nil)
		logs, _ := c.metricFor(ct, "otelcol_receiver_accepted_log_records", nil)
		sent, _ := c.metricFor(ct, "otelcol_processor_batch_batch_send_size_sum", map[string]string{"processor": "batch"})
		assert.GreaterOrEqualf(ct, sent, spans+logs, "the batch processor sent %v of the %v items accepted", sent, spans+logs)
	}, timeout, 50*time.Millisecond)
}

// waitMetric waits until the collector's metric name (summed over the
// samples whose labels include match) reaches at least want.
func (c *collector) waitMetric(name string, match map[string]string, want float64, timeout time.Duration) {
	c.t.Helper()
	require.EventuallyWithT(c.t, func(ct *assert.CollectT) {
		got, _ := c.metricFor(ct, name, match)
		assert.GreaterOrEqualf(ct, got, want, "%s reached %v, want %v", name, got, want)
	}, timeout, 200*time.Millisecond)
}
