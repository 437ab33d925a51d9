// Package perf measures otel-evidence end to end: the real collector binary
// under a fixed OTLP load, compared in the same run with the same binary on
// a configuration without our components.
//
// The package itself holds the light parts, which `go test ./...` tests:
// the load generator (pre-built OTLP batches sent over gRPC at a fixed
// rate), readers of /proc (process CPU time and resident memory), a reader
// of the collector's Prometheus metrics, the parser of `go test -bench`
// output, and the result files the runs write.
//
// The runs themselves are tests behind the build tag perf, so neither
// `go test ./...` nor `make test` starts them:
//
//	go test -tags perf -run TestPerf -timeout 90m ./test/perf/
//
// scripts/bench.sh (`make bench`) runs them together with the Go
// micro-benchmarks and writes BENCHMARKS.md with test/perf/benchmd. Environment
// variables tune the runs; see the Env constants.
package perf // import "github.com/otel-evidence/otel-evidence/test/perf"
