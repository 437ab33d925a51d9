package perf

import (
	"regexp"
	"strconv"
)

// GCTraceEnv is the setting the perf runs give the collector so that the Go
// runtime writes one line per garbage collection to its output
// (GODEBUG=gctrace=1); GCTrace reads them back.
const GCTraceEnv = "gctrace=1"

// gcLine matches a gctrace line: "gc 12 @3.1s 2%: ... , 9->10->4 MB, ...".
var gcLine = regexp.MustCompile(`(?m)^gc (\d+) @[^\n]*?, (\d+)->(\d+)->(\d+) MB`)

// GCTrace returns the number of the last garbage collection in a process's
// gctrace output and the live heap it left (MB, the third figure of
// "a->b->c MB"); ok is false when out holds no gctrace line.
func GCTrace(out []byte) (cycle int, liveMB int, ok bool) {
	all := gcLine.FindAllSubmatch(out, -1)
	if len(all) == 0 {
		return 0, 0, false
	}
	m := all[len(all)-1]
	cycle, _ = strconv.Atoi(string(m[1]))
	liveMB, _ = strconv.Atoi(string(m[4]))
	return cycle, liveMB, true
}
