//go:build perf

package perf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// cpuRun is one measured interval of one variant.
type cpuRun struct {
	cpu     time.Duration
	spans   int
	rate    float64
	late    int
	peakRSS int64
	load    string
	frozen  float64 // spans frozen by the end of the run (freezing only)
	gcs     int     // garbage collections during the run
	liveMB  int     // live heap after the last collection
	// companionCPU and companionSpans are those of the baseline collector
	// measured beside this run over the same interval.
	companionCPU   time.Duration
	companionSpans int
	companionGCs   int // the companion's garbage collections during the run
	round          int // which of the two went first follows from it (companionFirst)
	// prof and compProf are the CPU profiles of the run and its companion
	// (PERF_PROFILE_DIR), or "".
	prof, compProf string
}

func (r cpuRun) perMillion() float64 { return r.cpu.Seconds() / float64(r.spans) * 1e6 }

// companionPerMillion is the CPU seconds per 1M spans of the baseline
// companion of the run.
func (r cpuRun) companionPerMillion() float64 {
	return r.companionCPU.Seconds() / float64(r.companionSpans) * 1e6
}

// paired is the run's CPU per span over that of the baseline companion
// measured at the same time.
func (r cpuRun) paired() float64 { return r.perMillion() / r.companionPerMillion() }

// cpuBatches are the pre-built batches every CPU and memory run cycles
// through: 64 distinct 1,000-span batches with current span times.
const cpuBatches = 64

// cpuWarmup is the unmeasured load sent after start-up and fixtures.
const cpuWarmup = 5 * time.Second

// cpuDrainTimeout fails a run whose pipelines still hold items this long
// after the load generator's last answer (the batch processor's timeout is
// 200ms).
const cpuDrainTimeout = 30 * time.Second

// TestPerfCPU measures the collector's CPU seconds per million spans at a
// fixed offered load for every Variant, in interleaved rounds so that a
// change in the machine's load touches every variant alike.
func TestPerfCPU(t *testing.T) {
	page := startPerf(t)
	rate := envFloat(t, EnvRate, 20000)
	dur := envDuration(t, EnvCPUDuration, 30*time.Second)
	rounds := envInt(t, EnvCPURepeat, 3)
	variants := selectVariants(t)

	runs := map[Variant][]cpuRun{}
	var cs cases
	for round := 1; round <= rounds; round++ {
		// Each round sends the same spans, stamped from its own start: a
		// freezing run's incident window reaches 30 minutes back from the
		// run, and spans stamped once for the whole test fell out of it
		// after the 30th minute (such a run froze nothing).
		now := time.Now()
		batches, err := BuildBatches(cpuBatches, 1000, 1, func(b, i int) time.Time {
			return now.Add(time.Duration(b*1000+i) * time.Millisecond / 20)
		})
		require.NoError(t, err)
		for _, v := range variants {
			cs.run(t, fmt.Sprintf("%s/round%d", v, round), func(t *testing.T) {
				r := runCPU(t, v, round, batches, rate, dur)
				runs[v] = append(runs[v], r)
				t.Logf("%s round %d: %.3f CPU s for %d spans = %.3f CPU s per 1M spans at %.0f spans/s (late %d), peak RSS %s, %d GC cycles, live heap %d MB; baseline companion %.3f CPU s for %d spans = %.3f per 1M spans, %d GC cycles; ratio %.3f; load %s",
					v, round, r.cpu.Seconds(), r.spans, r.perMillion(), r.rate, r.late, mib(r.peakRSS), r.gcs, r.liveMB,
					r.companionCPU.Seconds(), r.companionSpans, r.companionPerMillion(), r.companionGCs, r.paired(), r.load)
			})
		}
	}

	res := Result{
		Section: "1-cpu",
		Title:   "End-to-end CPU per million spans",
		Params: map[string]string{
			"offered load":    fmt.Sprintf("%.0f spans/s (%d-span pre-built batches over OTLP/gRPC, 4 concurrent calls)", rate, 1000),
			"measured":        fmt.Sprintf("%s per run after %s warm-up, %d interleaved rounds, medians reported", dur, cpuWarmup, rounds),
			"peer":            "every run (the baseline's too) has a baseline companion: a second collector running the baseline configuration, started with it and sent the same batches at the same rate at the same time by the same test process (which of the two goes first alternates by round); a run's ratio is its CPU per span over its companion's in the same interval",
			"CPU source":      "utime+stime of the collector process from /proc/<pid>/stat (10 ms ticks), read before and after",
			"registry":        "24 deploys (6 services x 4 versions) and 3 open incidents posted to incident_webhook before the warm-up",
			"evidence config": "exporter defaults (256 MiB s2 memory ring, flush 1m) with a filesystem store",
		},
		Failed:      cs.failed,
		RoundRatios: map[string][]float64{},
	}
	if os.Getenv(EnvProfileDir) != "" {
		res.Params["CPU profiles"] = "both collectors of every run, from the interval's first CPU reading to " + profileTailText + ", through the pprof extension at 100 Hz, alike for every configuration and its companion; the collectors write their profiles after the last reading, so only the sampling is measured"
	}
	// med is a variant's median CPU per 1M spans, compMed its companions',
	// ratio the median of its runs' ratios to their companions: the
	// headline. The per-round ratios show the spread.
	med, compMed, ratio := map[Variant]float64{}, map[Variant]float64{}, map[Variant]float64{}
	for _, v := range variants {
		var per, comp, ratios []float64
		for _, r := range runs[v] {
			per = append(per, r.perMillion())
			comp = append(comp, r.companionPerMillion())
			ratios = append(ratios, r.paired())
		}
		med[v], compMed[v], ratio[v] = Median(per), Median(comp), Median(ratios)
		if len(ratios) > 0 {
			res.RoundRatios[string(v)] = ratios
		}
	}
	table := Table{
		Title:  "CPU seconds per 1M spans, by configuration",
		Header: []string{"config", "pipeline", "per round", "median", "baseline companion per round", "vs baseline (median)", "per-round ratios", "achieved rate", "peak RSS", "GC cycles/s", "companion GC cycles/s", "live heap after GC"},
	}
	for _, v := range variants {
		if len(runs[v]) == 0 {
			continue // every round failed: named in Failed
		}
		var per, comp, ratios, rates, gcRates, compGCRates, live []string
		var peak int64
		for _, r := range runs[v] {
			per = append(per, fmt.Sprintf("%.2f", r.perMillion()))
			comp = append(comp, fmt.Sprintf("%.2f", r.companionPerMillion()))
			ratios = append(ratios, fmt.Sprintf("%.3f", r.paired()))
			rates = append(rates, fmt.Sprintf("%.0f", r.rate))
			peak = max(peak, r.peakRSS)
			gcRates = append(gcRates, fmt.Sprintf("%.1f", float64(r.gcs)/dur.Seconds()))
			compGCRates = append(compGCRates, fmt.Sprintf("%.1f", float64(r.companionGCs)/dur.Seconds()))
			live = append(live, fmt.Sprintf("%d", r.liveMB))
		}
		table.Rows = append(table.Rows, []string{
			string(v), v.Describe(), strings.Join(per, ", "), fmt.Sprintf("%.2f", med[v]), strings.Join(comp, ", "),
			fmt.Sprintf("%.3fx", ratio[v]), strings.Join(ratios, ", "),
			strings.Join(rates, ", ") + " spans/s", mib(peak),
			strings.Join(gcRates, ", "), strings.Join(compGCRates, ", "), strings.Join(live, ", ") + " MB",
		})
	}
	table.Notes = append(table.Notes,
		"Each run is measured beside a baseline companion: a second collector running the baseline configuration, sent the same batches at the same rate over the same interval. A run's ratio is its CPU per span over its companion's, and the headline is the median of those ratios. The machine's other work, its clock and the state of its caches change from one round to the next by more than the effects measured here; the two collectors of a run share them, so the ratio cancels most of that. Every configuration gets the same treatment, and the collectors are not pinned to CPUs. The baseline's own ratios (the baseline beside its companion, the same configuration twice) are the noise floor.",
		"\"plain\" has no otel-evidence component at all; \"baseline\" (the peer of every ratio) adds the idle incidents extension and incident_webhook receiver holding the same deploys and incidents as the others, so the ratios isolate incident_context and evidence.",
		"GC cycles/s and live heap come from the collector's GODEBUG=gctrace=1 output (given to every configuration alike): the Go runtime collects whenever the heap has grown by GOGC=100% of what the last collection left live, so a component that keeps more live heap makes every collection of the whole process rarer, and one that allocates more makes them more frequent. \"companion GC cycles/s\" is the baseline companion's rate over the same interval: a configuration that collects more often than its companion pays for those collections in its ratio, whatever the cause. evidence keeps its ring outside the Go heap (an mmap'd arena), so it lowers RSS but does not make collections rarer; compare the live heap of \"file_zstd\".",
		"\"file_zstd\" puts contrib's fileexporter (zstd, proto) where evidence is: the peer a platform team would run instead to keep a copy of its telemetry.")
	if n := orderNote(runs[VariantBaseline]); n != "" {
		table.Notes = append(table.Notes, n)
	}
	if frozen := runs[VariantFreezing]; len(frozen) > 0 {
		table.Notes = append(table.Notes, fmt.Sprintf("\"freezing\" is informational: it shows what an open incident window costs while the evidence exporter freezes everything that arrives into parts every 10 s (spans frozen by the end of each round, warm-up included: %s).", frozenList(frozen)))
	}
	res.Tables = append(res.Tables, table)

	fig := func(v Variant) Figure {
		cf := CPUFigures[v]
		f := Figure{
			Name: cf.Name, Value: med[v], Unit: "CPU s / 1M spans",
			Peer: "baseline companion, measured beside each run: " + VariantBaseline.Describe(), PeerValue: compMed[v], Ratio: ratio[v],
		}
		if cf.Limit > 0 {
			f.Target, f.Met = cf.Target, Met(ratio[v] <= cf.Limit)
		}
		return f
	}
	// A figure is reported only when every variant it compares ran (see
	// PERF_VARIANTS) and passed at least one round (Failed names the rest).
	add := func(f Figure, vs ...Variant) {
		for _, v := range vs {
			if len(runs[v]) == 0 {
				return
			}
		}
		res.Figures = append(res.Figures, f)
	}
	add(fig(VariantFull), VariantFull)
	add(fig(VariantResource), VariantResource)
	add(fig(VariantRecord), VariantRecord)
	add(fig(VariantRecordAll), VariantRecordAll)
	add(fig(VariantFreezing), VariantFreezing)
	add(fig(VariantFreezingJSON), VariantFreezingJSON)
	add(fig(VariantFreezingProto), VariantFreezingProto)
	add(fig(VariantFileZstd), VariantFileZstd)
	add(Figure{
		Name: "CPU, full pipeline vs fileexporter (proto, zstd) in evidence's place (ratios to each one's companion)", Value: med[VariantFull], Unit: "CPU s / 1M spans",
		Peer: VariantFileZstd.Describe(), PeerValue: med[VariantFileZstd], Ratio: ratio[VariantFull] / ratio[VariantFileZstd],
	}, VariantFull, VariantFileZstd)
	add(Figure{
		Name: "CPU, baseline (idle incidents extension + webhook) (ratios to each one's companion)", Value: med[VariantBaseline], Unit: "CPU s / 1M spans",
		Peer: "plain: " + VariantPlain.Describe(), PeerValue: med[VariantPlain], Ratio: ratio[VariantBaseline] / ratio[VariantPlain],
	}, VariantBaseline, VariantPlain)
	res.Tables = append(res.Tables, missProfiles(variants, runs, ratio)...)
	page.write(res)
}

// missProfiles returns, for every variant that misses its CPU target by
// either reading of the report (its own ratio, or the median of its
// ratios over the baseline's in the same round), the comparison of its CPU
// profiles with its companions': the profile that explains the miss.
// Without PERF_PROFILE_DIR there are none.
func missProfiles(variants []Variant, runs map[Variant][]cpuRun, ratio map[Variant]float64) []Table {
	base := pairedByRound(runs[VariantBaseline])
	var out []Table
	for _, v := range variants {
		cf := CPUFigures[v]
		same := SameRoundRatios(pairedByRound(runs[v]), base)
		missed := ratio[v] > cf.Limit || (len(same) > 0 && Median(same) > cf.Limit)
		if cf.Limit == 0 || len(runs[v]) == 0 || !missed {
			continue
		}
		var prof, comp []string
		for _, r := range runs[v] {
			if r.prof != "" {
				prof, comp = append(prof, r.prof), append(comp, r.compProf)
			}
		}
		if len(prof) == 0 {
			continue
		}
		d, err := CompareProfiles(prof, comp, 10)
		if err != nil {
			// The run's figures stand without it: say so on the page.
			out = append(out, Table{Title: profileTitle(v, cf.Name),
				Notes: []string{fmt.Sprintf("The profiles could not be compared: %v.", err)}})
			continue
		}
		out = append(out, ProfileTable(v, cf.Name, d, len(prof)))
	}
	return out
}

// pairedByRound maps each run's round to its ratio to its companion.
func pairedByRound(runs []cpuRun) map[int]float64 {
	m := make(map[int]float64, len(runs))
	for _, r := range runs {
		m[r.round] = r.paired()
	}
	return m
}

// selectVariants returns the variants named by PERF_VARIANTS (default:
// all), in report order and always with the baseline every ratio needs.
func selectVariants(t *testing.T) []Variant {
	names := envList(EnvVariants, "")
	if len(names) == 0 {
		return Variants
	}
	want := map[Variant]bool{VariantBaseline: true}
	for _, n := range names {
		require.Containsf(t, append(Variants[:len(Variants):len(Variants)], ExtraVariants...), Variant(n), "%s: unknown variant %q", EnvVariants, n)
		want[Variant(n)] = true
	}
	var out []Variant
	for _, v := range append(Variants[:len(Variants):len(Variants)], ExtraVariants...) {
		if want[v] {
			out = append(out, v)
		}
	}
	return out
}

// orderNote says how the baseline's own ratios split by which collector
// went first (see runCPU): if going first were an advantage, the rounds
// with the measured one first would read below 1 and the others above.
func orderNote(base []cpuRun) string {
	var first, second []float64
	for _, r := range base {
		if companionFirst(r.round) {
			second = append(second, r.paired())
		} else {
			first = append(first, r.paired())
		}
	}
	if len(first) == 0 || len(second) == 0 {
		return ""
	}
	return fmt.Sprintf("The measured collector is started, sent its batches and read first in odd rounds, its companion in even rounds, so that an advantage of going first does not fall on the same side in every round. The baseline's own ratios split by that order: median %.3fx over %d rounds with the measured one first, %.3fx over %d with the companion first.",
		Median(first), len(first), Median(second), len(second))
}

func frozenList(runs []cpuRun) string {
	var out []string
	for _, r := range runs {
		out = append(out, strconv.FormatFloat(r.frozen, 'f', 0, 64))
	}
	return strings.Join(out, ", ")
}

// cpuSide is one collector of a measured interval and its load generator.
type cpuSide struct {
	c       *collector
	s       *Sender
	prof    string // CPU profile path, if profiled
	sampler *RSSSampler
	// the readings at the start and the end of the measured interval
	cpu0, cpu1 time.Duration
	gc0, gc1   int
	liveMB     int
	samples    []int64   // RSS
	sent       SendStats // of the measured interval
}

// companionFirst reports whether the companion goes first in round (see
// runCPU): in even rounds.
func companionFirst(round int) bool { return round%2 == 0 }

// startSide starts a collector running variant v with its fixtures.
func startSide(t *testing.T, v Variant, prof string) *cpuSide {
	p := newPorts(t)
	if prof != "" {
		p.Pprof = harness.FreeAddr(t)
	}
	cfg, err := CollectorConfig(v, p, ConfigOptions{})
	require.NoError(t, err)
	c := startCollector(t, p, cfg)
	if v.HasIncidents() {
		postFixtures(c, true)
	}
	return &cpuSide{c: c, s: c.dial(), prof: prof}
}

// sendBoth sends the same batches at the same rate to every side at once
// and returns each side's statistics.
func sendBoth(t *testing.T, sides []*cpuSide, batches []Batch, rate float64, dur time.Duration) []SendStats {
	stats := make([]SendStats, len(sides))
	errs := make([]error, len(sides))
	var wg sync.WaitGroup
	for i, sd := range sides {
		wg.Go(func() {
			stats[i], errs[i] = sd.s.SendAtRate(context.Background(), batches, RateOptions{SpansPerSecond: rate, Duration: dur})
		})
	}
	wg.Wait()
	for i := range sides {
		require.NoError(t, errs[i])
		require.Zerof(t, stats[i].Errors, "export errors: %v", stats[i].FirstError)
	}
	return stats
}

// drainAll waits until every side's batch processor has sent on every span
// and log record its receivers accepted: then the exporters, which the
// batch processor calls synchronously, have consumed them too.
func drainAll(t *testing.T, sides []*cpuSide) {
	t.Helper()
	for _, sd := range sides { // in turn: the others drain meanwhile
		sd.c.drain(cpuDrainTimeout)
	}
}

// startProfiles starts the CPU profile of every profiled side for d and
// returns a function that waits for them.
func startProfiles(t *testing.T, sides []*cpuSide, d time.Duration) (wait func()) {
	var wg sync.WaitGroup
	for _, sd := range sides {
		if sd.prof == "" {
			continue
		}
		wg.Go(func() {
			if err := sd.c.profile(sd.prof, d); err != nil {
				t.Errorf("profile %s: %v", sd.prof, err)
			}
		})
	}
	return wg.Wait
}

// runCPU starts variant v beside a baseline companion, records the
// fixtures, warms both up and measures one interval of both: the same
// batches are sent to both at the same rate at the same time, so that the
// machine's other work, its clock and its caches touch both alike, and
// the round's ratio (v over its companion) cancels them.
//
// Whatever one of the two goes through first (its start, its batches'
// sending, its readings), the measured collector goes through first in
// odd rounds and the companion in even rounds (companionFirst), so that
// an advantage of going first is not the measured configuration's in
// every round.
func runCPU(t *testing.T, v Variant, round int, batches []Batch, rate float64, dur time.Duration) cpuRun {
	var prof, compProf string
	if dir := os.Getenv(EnvProfileDir); dir != "" {
		prof = filepath.Join(dir, fmt.Sprintf("%s-round%d.pprof", v, round))
		compProf = filepath.Join(dir, fmt.Sprintf("%s-round%d-companion.pprof", v, round))
	}
	var main, comp *cpuSide
	sides := make([]*cpuSide, 2)
	if companionFirst(round) {
		comp = startSide(t, VariantBaseline, compProf)
		main = startSide(t, v, prof)
		sides[0], sides[1] = comp, main
	} else {
		main = startSide(t, v, prof)
		comp = startSide(t, VariantBaseline, compProf)
		sides[0], sides[1] = main, comp
	}
	sendBoth(t, sides, batches, rate, cpuWarmup)
	if v.Freezes() {
		// The window [now-30m, now+10m] covers everything sent from now on.
		main.c.post("/v1/incidents", `{"id":"INC-PERF-FREEZING","title":"perf freezing","severity":"critical"}`)
	}
	drainAll(t, sides) // the warm-up is delivered before the first reading

	for _, sd := range sides {
		sd.sampler = SampleRSS(sd.c.pid, time.Second)
		sd.cpu0 = sd.c.cpu()
		sd.gc0, _ = sd.c.gc()
	}
	// A collector writes its profile when the profile ends, at a cost that
	// grows with the number of distinct stacks, so with the pipeline: the
	// profiles end after the last reading, so that writing them is not
	// measured. Only the sampling (alike on both sides) is.
	profiled := time.Now()
	waitProfiles := startProfiles(t, sides, dur+profileTail)
	load := LoadAvg()
	st := sendBoth(t, sides, batches, rate, dur)
	drainAll(t, sides) // the pipelines deliver the last batches
	if prof != "" && time.Since(profiled) >= dur+profileTail {
		t.Logf("the load and the drain took %s: the CPU profiles ended before the last reading", time.Since(profiled).Round(time.Millisecond))
	}
	for i, sd := range sides {
		sd.cpu1 = sd.c.cpu()
		sd.gc1, sd.liveMB = sd.c.gc()
		sd.sent = st[i]
	}
	for _, sd := range sides {
		var err error
		sd.samples, err = sd.sampler.Stop()
		require.NoError(t, err)
	}
	waitProfiles()

	r := cpuRun{cpu: main.cpu1 - main.cpu0, spans: main.sent.Spans, rate: main.sent.Rate(), late: main.sent.Late, peakRSS: maxOf(main.samples), load: load,
		gcs: main.gc1 - main.gc0, liveMB: main.liveMB, companionCPU: comp.cpu1 - comp.cpu0, companionSpans: comp.sent.Spans, companionGCs: comp.gc1 - comp.gc0,
		round: round, prof: prof, compProf: compProf}
	if v.Freezes() {
		var ok bool
		r.frozen, ok = main.c.metric("otelcol_exporter_evidence_items_frozen", map[string]string{"signal": "traces"})
		require.True(t, ok, "the evidence exporter reports no frozen spans")
	}
	return r
}
