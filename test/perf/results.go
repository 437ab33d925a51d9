package perf

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Environment variables read by the perf runs and by scripts/bench.sh.
const (
	// EnvOut is the directory the runs write their result files to
	// (default: the test's temporary directory, i.e. discarded).
	EnvOut = "PERF_OUT"
	// EnvRate is the offered load of the CPU and memory runs in spans/s
	// (default 20000).
	EnvRate = "PERF_RATE"
	// EnvCPUDuration is the measured interval of each CPU run (default 30s).
	EnvCPUDuration = "PERF_CPU_DURATION"
	// EnvCPURepeat is the number of interleaved rounds over all CPU
	// configurations (default 3); medians are reported.
	EnvCPURepeat = "PERF_CPU_REPEAT"
	// EnvVariants limits the CPU runs to a comma-separated subset of the
	// variants (default: all); the baseline always runs. Figures whose
	// variants did not run are left out of the results.
	EnvVariants = "PERF_VARIANTS"
	// EnvSustained is the duration of the memory run (default 2m; the
	// issue's full run is 10m).
	EnvSustained = "PERF_SUSTAINED"
	// EnvMaxBytes is buffer.max_bytes of the memory run (default 64 MiB).
	EnvMaxBytes = "PERF_MAX_BYTES"
	// EnvFreezeSpans lists the span counts of the freeze runs (default
	// "100000,1000000").
	EnvFreezeSpans = "PERF_FREEZE_SPANS"
	// EnvFreezeStores lists the stores of the freeze runs (default
	// "filesystem,s3").
	EnvFreezeStores = "PERF_FREEZE_STORES"
	// EnvFreezeEncodings lists the evidence encodings the freeze runs
	// alternate (default: the exporter's default encoding only).
	EnvFreezeEncodings = "PERF_FREEZE_ENCODINGS"
	// EnvProfileDir, when set, makes every CPU run record the collector's
	// CPU profile over its measured interval into this directory as
	// <variant>-round<N>.pprof (through the pprof extension).
	EnvProfileDir = "PERF_PROFILE_DIR"
	// EnvOpenIncidents is the number of incidents the open-incident memory
	// run opens (default 1000; the issue speaks of 10000).
	EnvOpenIncidents = "PERF_OPEN_INCIDENTS"
	// EnvStormIncidents is the number of incidents open in the storm run
	// (default 100).
	EnvStormIncidents = "PERF_STORM_INCIDENTS"
)

// Names of the CPU figures that test/perf/benchmd cross-checks against the
// micro-benchmarks.
const (
	FigureCPUResource  = "CPU, incident_context level resource (all 5 keys)"
	FigureCPURecord    = "CPU, incident_context level record (2 keys)"
	FigureCPURecordAll = "CPU, incident_context level record (all 5 keys)"
)

// CPUFigure is the headline figure of a CPU configuration: its name in
// the report and the target its ratio to the baseline is held to (Limit 0:
// none; otherwise the ratio must be at most Limit).
type CPUFigure struct {
	Name   string
	Target string
	Limit  float64
}

// CPUFigures are the configurations' figures, shared by the CPU run and
// test/perf/benchmd.
var CPUFigures = map[Variant]CPUFigure{
	VariantFull:          {"CPU, full pipeline (incident_context + evidence)", "<= 1.15x", 1.15},
	VariantResource:      {FigureCPUResource, "< 1.01x (adds < 1%)", 1.01},
	VariantRecord:        {FigureCPURecord, "< 1.05x (adds < 5%)", 1.05},
	VariantRecordAll:     {FigureCPURecordAll, "", 0},
	VariantFreezing:      {"CPU, full pipeline while an incident window freezes", "<= 1.5x", 1.5},
	VariantFreezingJSON:  {"CPU, full pipeline while an incident window freezes, encoding otlp_json", "<= 1.5x", 1.5},
	VariantFreezingProto: {"CPU, full pipeline while an incident window freezes, encoding otlp_proto", "<= 1.5x", 1.5},
	VariantFileZstd:      {"CPU, fileexporter (proto, zstd) in evidence's place", "", 0},
}

// Figure is one headline number: a value, the peer it is compared with in
// the same run, their ratio, and the target it is held to.
type Figure struct {
	// Name says what was measured, e.g. "CPU per 1M spans, full pipeline".
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Peer names the comparison ("" when there is none).
	Peer      string  `json:"peer,omitempty"`
	PeerValue float64 `json:"peer_value,omitempty"`
	// Ratio is Value/PeerValue, or another stated ratio (see RatioOf).
	Ratio   float64 `json:"ratio,omitempty"`
	RatioOf string  `json:"ratio_of,omitempty"`
	// Target is the goal in words, e.g. "<= 1.3x"; Met says whether it was
	// reached (nil: no target).
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Table is a detailed result table in Markdown form.
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
	Notes  []string   `json:"notes,omitempty"`
}

// Result is what one perf run writes: its figures and tables.
type Result struct {
	// Section orders and titles the result in BENCHMARKS.md.
	Section string `json:"section"`
	Title   string `json:"title"`
	// Params are the run's settings, as shown in the report.
	Params  map[string]string `json:"params"`
	Figures []Figure          `json:"figures"`
	Tables  []Table           `json:"tables"`
	Notes   []string          `json:"notes,omitempty"`
	// Failed names the run's cases that failed: their rows and figures are
	// left out, and the report says so rather than showing a gap.
	Failed []string `json:"failed,omitempty"`
	// RoundRatios are, by configuration, the CPU run's per-round ratios to
	// the companion unrounded: the report computes with them, where its
	// table shows them to three decimals.
	RoundRatios map[string][]float64 `json:"round_ratios,omitempty"`
	// LoadBefore and LoadAfter are /proc/loadavg around the run.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Seconds is the run's wall time.
	Seconds float64 `json:"seconds"`
}

// Median returns the median of v, NaN if v is empty.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// SameRoundRatios divides a configuration's ratio to its companion in each
// round by the baseline's ratio to its own companion in the same round,
// in round order. Rounds missing from either, or where the baseline's
// ratio is not positive, are left out. Their median is the page's
// "same round" reading, beside the median of the ratios themselves.
func SameRoundRatios(ratios, baseline map[int]float64) []float64 {
	var out []float64
	for _, n := range slices.Sorted(maps.Keys(ratios)) {
		if b := baseline[n]; b > 0 {
			out = append(out, ratios[n]/b)
		}
	}
	return out
}

// Met returns a pointer to ok, for Figure.Met.
func Met(ok bool) *bool { return &ok }

// Write stores r as <dir>/<section>.json.
func (r *Result) Write(dir string) error {
	if strings.ContainsAny(r.Section, `/\`) || r.Section == "" || r.Section == "." || r.Section == ".." {
		return fmt.Errorf("section %q is not a plain file name", r.Section)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Section+".json"), append(data, '\n'), 0o644)
}

// ReadResults reads every *.json result in dir, ordered by section.
func ReadResults(dir string) ([]Result, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var (
		out  []Result
		errs []error
	)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r Result
		if err := json.Unmarshal(data, &r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Result) int { return strings.Compare(a.Section, b.Section) })
	return out, errors.Join(errs...)
}
