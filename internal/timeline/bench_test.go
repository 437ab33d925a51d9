package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// benchInput is a 40-minute window (the default 30m before and 10m after)
// of realistic telemetry: 100,000 spans and 50,000 log records over 10
// resources, 12,000 data points, in batches of 1,000 items, and a few
// deploys.
func benchInput() Input {
	const window = 40 * time.Minute
	start := testgen.DefaultStart
	var (
		tds []ptrace.Traces
		lds []plog.Logs
		mds []pmetric.Metrics
		evs []incident.Event
	)
	const batch = 1000
	for i := range 100 {
		step := window / (100 * batch)
		tds = append(tds, testgen.Traces(int64(i), batch, testgen.DefaultResources, start.Add(time.Duration(i*batch)*step), step))
	}
	for i := range 50 {
		step := window / (50 * batch)
		lds = append(lds, testgen.Logs(int64(i), batch, testgen.DefaultResources, start.Add(time.Duration(i*batch)*step), step))
	}
	for i := range 12 {
		step := window / (12 * batch)
		mds = append(mds, testgen.Metrics(int64(i), batch, testgen.DefaultResources, start.Add(time.Duration(i*batch)*step), step))
	}
	for i, svc := range testgen.DefaultServices {
		evs = append(evs, deployEvent("D"+svc, svc, "1.0."+string(rune('0'+i)), start.Add(time.Duration(i)*5*time.Minute)))
	}
	return Input{Traces: seq(tds...), Logs: seq(lds...), Metrics: seq(mds...), Events: seq(evs...)}
}

func BenchmarkBuild(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/162_000, "ns/item")
}

func BenchmarkWriteMarkdown(b *testing.B) {
	tl, err := Build(benchInput())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := tl.WriteMarkdown(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	tl, err := Build(benchInput())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := tl.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// bundle1M is an incident's evidence in a filesystem store: 1,000,000
// spans, 100,000 log records and 20,000 data points over a 40-minute
// window, 10 resources of 6 services in 4 versions, in parts of the
// exporter's default size (64 MiB) encoded as enc, with deploys before and
// after an error spike of checkout in the last ten minutes.
type bundle1M struct {
	st    store.Store
	id    string
	spans int64
}

var (
	bundle1MOnce sync.Once
	bundle1MData bundle1M
	bundle1MErr  error
	// bundle1MDir is removed by TestMain.
	bundle1MDir string

	bundle1MProtoOnce sync.Once
	bundle1MProtoData bundle1M
	bundle1MProtoErr  error
	// bundle1MProtoDir is removed by TestMain.
	bundle1MProtoDir string
)

const bundle1MSpans = 1_000_000

func makeBundle1M(dir, enc string) (bundle1M, error) {
	ctx := context.Background()
	st, err := storage.NewFilesystem(dir)
	if err != nil {
		return bundle1M{}, err
	}
	const (
		id     = "INC-BENCH-1M"
		batch  = 1000
		window = 40 * time.Minute
	)
	start := testgen.DefaultStart
	spike := start.Add(30 * time.Minute)
	var (
		w     *bundle.PartWriter
		seq   int
		total int64
	)
	flush := func() error {
		if w == nil {
			return nil
		}
		data, _, err := w.Finish()
		w = nil
		if err != nil {
			return err
		}
		key, err := bundle.PartKey(id, "collector-0", seq)
		if err != nil {
			return err
		}
		return st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.PutOptions{})
	}
	add := func(f func(*bundle.PartWriter) error) error {
		if w == nil {
			seq++
			var err error
			w, err = bundle.NewPartWriter(bundle.PartInfo{
				IncidentID: id, CollectorID: "collector-0", Seq: seq, Encoding: enc,
				CreatedAt: start.Add(window), Window: bundle.Window{Start: start, End: start.Add(window)},
			})
			if err != nil {
				return err
			}
		}
		if err := f(w); err != nil {
			return err
		}
		if w.Size() > 64<<20 {
			return flush()
		}
		return nil
	}
	step := window / bundle1MSpans
	for i := range bundle1MSpans / batch {
		at := start.Add(time.Duration(i*batch) * step)
		rate := 0.01
		if !at.Before(spike) {
			rate = 0.3
		}
		td := testgen.Traces(int64(i), batch, testgen.DefaultResources, at, step, testgen.WithErrorRate(rate))
		total += int64(td.SpanCount())
		if err := add(func(w *bundle.PartWriter) error { return w.AddTraces(td) }); err != nil {
			return bundle1M{}, err
		}
		if i%10 == 0 {
			ld := testgen.Logs(int64(i), batch, testgen.DefaultResources, at, 10*step)
			if err := add(func(w *bundle.PartWriter) error { return w.AddLogs(ld) }); err != nil {
				return bundle1M{}, err
			}
		}
		if i%50 == 0 {
			md := testgen.Metrics(int64(i), batch, testgen.DefaultResources, at, 50*step)
			if err := add(func(w *bundle.PartWriter) error { return w.AddMetrics(md) }); err != nil {
				return bundle1M{}, err
			}
		}
	}
	for i, svc := range testgen.DefaultServices {
		ev := deployEvent("D-"+svc, svc, "2.0.1", spike.Add(time.Duration(i-3)*time.Minute))
		if err := add(func(w *bundle.PartWriter) error { return w.AddEvent(ev) }); err != nil {
			return bundle1M{}, err
		}
	}
	if err := flush(); err != nil {
		return bundle1M{}, err
	}
	key, err := bundle.IncidentKey(id)
	if err != nil {
		return bundle1M{}, err
	}
	inc, err := json.Marshal(incident.Incident{
		ID: id, Title: "checkout errors", Source: incident.SourceGeneric, Status: incident.StatusOpen,
		StartedAt: spike.Add(90 * time.Second),
	})
	if err != nil {
		return bundle1M{}, err
	}
	if err := st.Put(ctx, key, bytes.NewReader(inc), int64(len(inc)), store.PutOptions{}); err != nil {
		return bundle1M{}, err
	}
	return bundle1M{st: st, id: id, spans: total}, nil
}

func loadBundle1M(b *testing.B) bundle1M {
	b.Helper()
	bundle1MOnce.Do(func() {
		bundle1MDir, bundle1MErr = os.MkdirTemp("", "timeline-bench-")
		if bundle1MErr == nil {
			bundle1MData, bundle1MErr = makeBundle1M(bundle1MDir, bundle.EncodingJSON)
		}
	})
	if bundle1MErr != nil {
		b.Fatal(bundle1MErr)
	}
	return bundle1MData
}

// loadBundle1MProto is loadBundle1M with otlp_proto parts.
func loadBundle1MProto(b *testing.B) bundle1M {
	b.Helper()
	bundle1MProtoOnce.Do(func() {
		bundle1MProtoDir, bundle1MProtoErr = os.MkdirTemp("", "timeline-bench-proto-")
		if bundle1MProtoErr == nil {
			bundle1MProtoData, bundle1MProtoErr = makeBundle1M(bundle1MProtoDir, bundle.EncodingProto)
		}
	})
	if bundle1MProtoErr != nil {
		b.Fatal(bundle1MProtoErr)
	}
	return bundle1MProtoData
}

// BenchmarkTimeline1M is `evidencectl timeline INCIDENT` on a 1M-span
// bundle of otlp_json parts in a filesystem store: listing, reading and
// verifying the parts, scanning them, analysing and writing the Markdown
// draft (timeline). Its peers, in the same run: the same with every record
// decoded by pdata instead of scanned (timeline_pdata), the same on the
// bundle written as otlp_proto parts, the exporter's default
// (timeline_proto), and the floor of reading and verifying the JSON parts,
// as concurrently, decoding nothing (read_floor).
func BenchmarkTimeline1M(b *testing.B) {
	bd := loadBundle1M(b)
	ctx := context.Background()
	timeline := func(wrap func(Source) Source) func(b *testing.B) {
		return timelineOf(ctx, bd, wrap)
	}
	b.Run("timeline", timeline(func(s Source) Source { return s }))
	b.Run("timeline_pdata", timeline(func(src Source) Source {
		return func(s Sink) error { return src(pdataSink{s}) }
	}))
	b.Run("timeline_proto", func(b *testing.B) {
		timelineOf(ctx, loadBundle1MProto(b), func(s Source) Source { return s })(b)
	})
	b.Run("read_floor", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			if err := readFloor(ctx, bd); err != nil {
				b.Fatal(err)
			}
		}
		reportPerBundle(b, bd.spans, processCPU()-cpu)
	})
}

// timelineOf returns the benchmark of the timeline of bd, its sources
// wrapped by wrap.
func timelineOf(ctx context.Context, bd bundle1M, wrap func(Source) Source) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			in, err := FromStore(ctx, bd.st, bd.id)
			if err != nil {
				b.Fatal(err)
			}
			for i, src := range in.Sources {
				in.Sources[i] = wrap(src)
			}
			tl, err := Build(in)
			if err != nil {
				b.Fatal(err)
			}
			if tl.Totals.Spans != bd.spans || len(tl.Suspects) == 0 {
				b.Fatalf("read %d spans of %d, %d suspects", tl.Totals.Spans, bd.spans, len(tl.Suspects))
			}
			if err := tl.WriteMarkdown(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		reportPerBundle(b, bd.spans, processCPU()-cpu)
	}
}

// pdataSink hides Build's sink from the sources, so that they decode every
// record with pdata.
type pdataSink struct{ Sink }

// readFloor reads and verifies every part of the bundle, and walks its
// records, with Build's concurrency, decoding nothing.
func readFloor(ctx context.Context, bd bundle1M) error {
	prefix, err := bundle.CollectorsPrefix(bd.id)
	if err != nil {
		return err
	}
	objs, err := bd.st.List(ctx, prefix, "")
	if err != nil {
		return err
	}
	var sources []Source
	for _, o := range objs {
		if k, err := bundle.ParseKey(o.Key); err != nil || k.Kind != bundle.KindPart {
			continue
		}
		sources = append(sources, func(Sink) error {
			rc, _, err := bd.st.Get(ctx, o.Key)
			if err != nil {
				return err
			}
			defer func() { _ = rc.Close() }()
			ps, err := bundle.OpenPart(rc, bundle.ReadOptions{})
			if err != nil {
				return err
			}
			defer ps.Close()
			return ps.Walk(func(string, []byte) error { return nil })
		})
	}
	return runDiscarding(sources)
}

// reportPerBundle reports the wall time per bundle (the target's measure)
// and per span, and the CPU time of the whole process per bundle, which
// other work on a shared machine disturbs far less.
func reportPerBundle(b *testing.B, spans int64, cpu time.Duration) {
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(per/1e9, "s/bundle")
	b.ReportMetric(per/float64(spans), "ns/span")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/bundle")
}

// processCPU is the CPU time (user and system) of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runDiscarding runs the sources as Build does, into a sink that keeps
// nothing.
func runDiscarding(sources []Source) error {
	workers := min(runtime.GOMAXPROCS(0), maxWorkers, len(sources))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, len(sources))
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sources) {
					return
				}
				errs[i] = sources[i](discard{})
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

type discard struct{}

func (discard) Traces(ptrace.Traces) error    { return nil }
func (discard) Logs(plog.Logs) error          { return nil }
func (discard) Metrics(pmetric.Metrics) error { return nil }
func (discard) Event(incident.Event) error    { return nil }

// BenchmarkScanTraces is the JSON scan alone: the 100 batches of 1,000
// spans of benchInput as OTLP JSON lines, scanned into an aggregator, as
// a part's otlp_json records are.
func BenchmarkScanTraces(b *testing.B) {
	var (
		lines [][]byte
		size  int64
	)
	for td, err := range benchInput().Traces {
		if err != nil {
			b.Fatal(err)
		}
		line, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, line)
		size += int64(len(line))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		s := &sink{a: newAggregator(), stopped: new(atomic.Bool)}
		for _, line := range lines {
			if err := tracesLines.feed(s, line); err != nil {
				b.Fatal(err)
			}
		}
		if s.a.totals.Spans != 100_000 {
			b.Fatalf("scanned %d spans", s.a.totals.Spans)
		}
	}
}
