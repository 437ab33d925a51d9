package perf

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// ProfileArea is a part of a collector's CPU that a profile comparison
// reports whatever its size: the samples with any function that Match
// accepts on their stack (areas may overlap).
type ProfileArea struct {
	Name  string
	Match func(fn string) bool
}

// CPUAreas are the parts of a collector's CPU the comparison of a missed
// CPU target reports: its own components, the OTLP decoding every
// configuration does alike, and the runtime's allocation and collection.
var CPUAreas = []ProfileArea{
	{"otel-evidence components (incident_context, evidence, ...)", func(fn string) bool {
		return strings.HasPrefix(fn, "github.com/otel-evidence/otel-evidence/")
	}},
	{"OTLP protobuf decoding (pdata UnmarshalProto)", func(fn string) bool {
		return strings.HasPrefix(fn, "go.opentelemetry.io/collector/pdata/") && strings.HasSuffix(fn, ".UnmarshalProto")
	}},
	{"allocation (runtime.mallocgc)", func(fn string) bool { return fn == "runtime.mallocgc" }},
	{"garbage collection (mark workers, assists, sweeping)", func(fn string) bool {
		switch fn {
		case "runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.sweepone", "runtime.bgscavenge":
			return true
		}
		return false
	}},
	{"gRPC transport", func(fn string) bool { return strings.HasPrefix(fn, "google.golang.org/grpc/internal/transport.") }},
}

// ProfileRow is one line of a ProfileDiff: CPU seconds sampled in the
// measured collector's profiles and in its companions'.
type ProfileRow struct {
	Name                string
	Measured, Companion float64
}

// Diff is Measured - Companion.
func (r ProfileRow) Diff() float64 { return r.Measured - r.Companion }

// ProfileDiff compares the merged CPU profiles of a measured collector
// with those of its companions, taken over the same intervals.
type ProfileDiff struct {
	// Total is every sample of each side.
	Total ProfileRow
	// Areas follow CPUAreas (cumulative: a sample counts for an area if
	// any function on its stack belongs to it).
	Areas []ProfileRow
	// Top are the functions whose own (flat) CPU differs most between the
	// two sides, largest difference first.
	Top []ProfileRow
}

// CompareProfiles reads and merges the CPU profiles of both sides and
// compares them by CPUAreas and by the top functions' own CPU.
func CompareProfiles(measured, companion []string, top int) (ProfileDiff, error) {
	m, err := readCPU(measured)
	if err != nil {
		return ProfileDiff{}, err
	}
	c, err := readCPU(companion)
	if err != nil {
		return ProfileDiff{}, err
	}
	d := ProfileDiff{Total: ProfileRow{Name: "all samples", Measured: m.total, Companion: c.total}}
	for i, a := range CPUAreas {
		d.Areas = append(d.Areas, ProfileRow{Name: a.Name, Measured: m.areas[i], Companion: c.areas[i]})
	}
	for fn := range m.flat {
		d.Top = append(d.Top, ProfileRow{Name: fn, Measured: m.flat[fn], Companion: c.flat[fn]})
	}
	for fn := range c.flat {
		if _, ok := m.flat[fn]; !ok {
			d.Top = append(d.Top, ProfileRow{Name: fn, Companion: c.flat[fn]})
		}
	}
	slices.SortFunc(d.Top, func(a, b ProfileRow) int {
		if a.Diff() != b.Diff() {
			if a.Diff() > b.Diff() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	d.Top = d.Top[:min(top, len(d.Top))]
	return d, nil
}

// cpuSums are one side's CPU seconds: in all, per area and per function's
// own (flat) samples.
type cpuSums struct {
	total float64
	areas []float64
	flat  map[string]float64
}

// readCPU merges the CPU profiles at paths and sums their CPU time.
func readCPU(paths []string) (cpuSums, error) {
	if len(paths) == 0 {
		return cpuSums{}, errors.New("no profiles")
	}
	var ps []*profile.Profile
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return cpuSums{}, err
		}
		p, err := profile.Parse(f)
		_ = f.Close() // read only
		if err != nil {
			return cpuSums{}, fmt.Errorf("%s: %w", path, err)
		}
		ps = append(ps, p)
	}
	p, err := profile.Merge(ps)
	if err != nil {
		return cpuSums{}, fmt.Errorf("merge %s: %w", strings.Join(paths, ", "), err)
	}
	vi := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" && t.Unit == "nanoseconds" })
	if vi < 0 {
		return cpuSums{}, fmt.Errorf("%s: not a CPU profile (no cpu/nanoseconds sample type)", strings.Join(paths, ", "))
	}
	s := cpuSums{areas: make([]float64, len(CPUAreas)), flat: map[string]float64{}}
	for _, sm := range p.Sample {
		sec := float64(sm.Value[vi]) / 1e9
		s.total += sec
		in := make([]bool, len(CPUAreas))
		leaf := true
		for _, loc := range sm.Location {
			// A location's lines run from the innermost inlined function
			// to the one it was inlined into.
			for _, ln := range loc.Line {
				if ln.Function == nil {
					continue
				}
				fn := ln.Function.Name
				if leaf {
					s.flat[fn] += sec
					leaf = false
				}
				for i, a := range CPUAreas {
					in[i] = in[i] || a.Match(fn)
				}
			}
		}
		for i, ok := range in {
			if ok {
				s.areas[i] += sec
			}
		}
	}
	return s, nil
}

// ProfileTable renders d as the table that explains a missed CPU target
// of variant v, from the profiles of rounds rounds.
func ProfileTable(v Variant, figure string, d ProfileDiff, rounds int) Table {
	t := Table{
		Title:  profileTitle(v, figure),
		Header: []string{"where", fmt.Sprintf("%s, CPU s sampled", v), "baseline companions, CPU s sampled", "difference", "difference / companions' total"},
	}
	row := func(name string, r ProfileRow) []string {
		pct := "-"
		if d.Total.Companion > 0 {
			pct = fmt.Sprintf("%+.1f%%", 100*r.Diff()/d.Total.Companion)
		}
		return []string{name, fmt.Sprintf("%.2f", r.Measured), fmt.Sprintf("%.2f", r.Companion), fmt.Sprintf("%+.2f", r.Diff()), pct}
	}
	t.Rows = append(t.Rows, row(d.Total.Name, d.Total))
	for _, r := range d.Areas {
		t.Rows = append(t.Rows, row(r.Name, r))
	}
	for _, r := range d.Top {
		t.Rows = append(t.Rows, row("own CPU of "+r.Name, r))
	}
	t.Notes = append(t.Notes, fmt.Sprintf("CPU profiles of both collectors, taken through the pprof extension from the first CPU reading of each of %d rounds to %s, and merged per side. An area counts every sample with one of its functions on the stack (areas overlap: allocation happens inside decoding and inside the components); \"own CPU\" counts only the samples a function was running itself, and the functions are those whose own CPU differs most. Work both sides do alike (OTLP decoding, gRPC) shows the noise between the two collectors. The profiles are kept in var/bench/profiles; `go tool pprof -top -diff_base <companion profile> <profile>` compares one round.", rounds, profileTailText))
	return t
}

// profileTail is how long the CPU profiles of a CPU run go on past the end
// of its load: the last CPU reading, taken once the pipelines have drained,
// falls inside it. profileTailText says it on the page.
const profileTail = 3 * time.Second

var profileTailText = fmt.Sprintf("%.0f s after the load ends (the last reading comes once the pipelines have drained)", profileTail.Seconds())

// profileTitle is the title of the profile table of variant v's figure.
func profileTitle(v Variant, figure string) string {
	return fmt.Sprintf("Profile behind a missed target: %s (%s)", v, figure)
}
