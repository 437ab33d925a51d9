package perf

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BenchResult is one benchmark of `go test -bench` output, with every
// metric it reported. With -count > 1 the runs of one benchmark are merged:
// Values holds each run's value per unit, Median their median.
type BenchResult struct {
	// Pkg is the import path from the preceding "pkg:" line.
	Pkg string
	// Name is the benchmark name without the -GOMAXPROCS suffix.
	Name string
	// Runs is the number of result lines merged.
	Runs   int
	Values map[string][]float64
}

// Median returns the median value of unit and whether it was reported.
func (b *BenchResult) Median(unit string) (float64, bool) {
	v := slices.Clone(b.Values[unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// BenchSet is parsed benchmark output.
type BenchSet struct {
	// Results in order of first appearance.
	Results []*BenchResult
	byKey   map[string]*BenchResult
}

// Get returns the result of the benchmark name in package pkg, or nil.
func (s *BenchSet) Get(pkg, name string) *BenchResult { return s.byKey[pkg+" "+name] }

var procsSuffix = regexp.MustCompile(`-\d+$`)

// ParseBench reads `go test -bench` output. Lines that are not results
// (pkg:, goos:, PASS, ok, logs) are skipped except "pkg:", which sets the
// package of the results that follow. A result line is
// "BenchmarkX-N <iterations> <value> <unit> [<value> <unit>]...".
func ParseBench(r io.Reader) (*BenchSet, error) {
	set := &BenchSet{byKey: map[string]*BenchResult{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	pkg := ""
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's log output, not a result
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		key := pkg + " " + name
		res := set.byKey[key]
		if res == nil {
			res = &BenchResult{Pkg: pkg, Name: name, Values: map[string][]float64{}}
			set.byKey[key] = res
			set.Results = append(set.Results, res)
		}
		res.Runs++
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: value %q of %s: %w", n, name, f[i], f[i+1], err)
			}
			res.Values[f[i+1]] = append(res.Values[f[i+1]], v)
		}
	}
	return set, sc.Err()
}
