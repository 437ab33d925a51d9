package timeline

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"
)

// maxPathsPerTrace bounds the paths one trace contributes, so that a
// pathological trace cannot make the walk quadratic.
const maxPathsPerTrace = 64

// maxExamples is how many example traces a chain names.
const maxExamples = 3

// chains finds the paths across services along which failing spans called
// failing spans. Within a trace, a failing span whose parent failed too is
// a step down; a failing span without a failing child is where the
// failure starts. Each path from a failing span whose parent did not fail
// down to such a span, with consecutive spans of one service merged, is a
// path of services; paths through two services or more are chains. Chains
// are sorted by first failure, then traces (most first), then path.
func (an *analysis) chains() []Chain {
	spans := slices.Clone(an.a.errSpans)
	// Group by trace; within a trace by time, then span ID, so the walk
	// is independent of the order spans were read in.
	slices.SortFunc(spans, func(x, y errSpan) int {
		return cmp.Or(bytes.Compare(x.trace[:], y.trace[:]), cmp.Compare(x.at, y.at), bytes.Compare(x.span[:], y.span[:]))
	})
	type agg struct {
		path     []string
		traces   int64
		first    int64
		examples []example
	}
	byPath := map[string]*agg{}
	for start := 0; start < len(spans); {
		end := start + 1
		for end < len(spans) && spans[end].trace == spans[start].trace {
			end++
		}
		for key, p := range an.tracePaths(spans[start:end]) {
			g := byPath[key]
			if g == nil {
				g = &agg{path: p.path, first: p.origin}
				byPath[key] = g
			}
			g.traces++
			g.first = min(g.first, p.origin)
			g.examples = addExample(g.examples, example{at: p.origin, trace: spans[start].trace.String()})
		}
		start = end
	}
	out := []Chain{}
	for _, g := range byPath {
		if len(g.path) < 2 {
			continue
		}
		ids := make([]string, len(g.examples))
		for i, e := range g.examples {
			ids[i] = e.trace
		}
		out = append(out, Chain{
			Path: g.path, Origin: g.path[len(g.path)-1], Traces: g.traces,
			FirstFailure: time.Unix(0, g.first).UTC(), ExampleTraceIDs: ids,
		})
	}
	slices.SortFunc(out, func(x, y Chain) int {
		return cmp.Or(x.FirstFailure.Compare(y.FirstFailure), cmp.Compare(y.Traces, x.Traces),
			slices.Compare(x.Path, y.Path))
	})
	return out
}

// example is a trace that shows a chain, with the time of its origin's
// failing span.
type example struct {
	at    int64
	trace string
}

// addExample keeps the maxExamples earliest examples, by time then ID.
func addExample(list []example, e example) []example {
	i, _ := slices.BinarySearchFunc(list, e, func(x, y example) int {
		return cmp.Or(cmp.Compare(x.at, y.at), strings.Compare(x.trace, y.trace))
	})
	if i >= maxExamples {
		return list
	}
	list = slices.Insert(list, i, e)
	if len(list) > maxExamples {
		list = list[:maxExamples]
	}
	return list
}

// tracePath is one path of services in a trace, with the time of the
// failing span where it ends.
type tracePath struct {
	path   []string
	origin int64
}

// tracePaths returns the distinct service paths of one trace's failing
// spans (sorted by time), keyed by the joined path; for a path seen twice,
// the earliest origin.
func (an *analysis) tracePaths(spans []errSpan) map[string]tracePath {
	index := make(map[[8]byte]int, len(spans))
	for i, s := range spans {
		index[s.span] = i
	}
	children := make([][]int, len(spans))
	var roots []int
	for i, s := range spans {
		if p, ok := index[s.parent]; ok && !s.parent.IsEmpty() && p != i {
			children[p] = append(children[p], i)
			continue
		}
		roots = append(roots, i)
	}
	out := map[string]tracePath{}
	var walk func(i int, path []string, depth int)
	walk = func(i int, path []string, depth int) {
		if len(out) >= maxPathsPerTrace || depth > len(spans) {
			return // a cycle of parent IDs, or enough paths
		}
		svc := an.vars[spans[i].variant].key.service
		if len(path) == 0 || path[len(path)-1] != svc {
			path = append(path[:len(path):len(path)], svc)
		}
		if len(children[i]) == 0 {
			key := strings.Join(path, "\x00")
			if cur, ok := out[key]; !ok || spans[i].at < cur.origin {
				out[key] = tracePath{path: path, origin: spans[i].at}
			}
			return
		}
		for _, c := range children[i] {
			walk(c, path, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, nil, 0)
	}
	return out
}
