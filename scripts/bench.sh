#!/usr/bin/env bash
# bench.sh - the performance run of otel-evidence (`make bench`).
#
# 1. Builds a private copy of the collector (go build -trimpath, as
#    `make build` does), so that a concurrent build cannot swap the binary
#    in the middle of a measurement.
# 2. Runs the end-to-end perf runs of test/perf (build tag perf) against it:
#    CPU per million spans by configuration, freeze latency and bundle size
#    (filesystem and versitygw), resident memory under sustained load, and
#    the slo connector's detection latency beside a Prometheus ->
#    Alertmanager chain on the same traffic, and the whole collector's
#    memory per open incident (incidents opened through the webhook).
# 3. Runs the Go micro-benchmarks (incident_context vs transformprocessor,
#    evidence ring vs marshal floor vs fileexporter, otlpwire vs pdata,
#    ring, bundle, the timeline of a 1M-span bundle vs reading it, the web
#    page of a 1M-span incident vs its timeline, the slo
#    connector vs a no-op connector).
# 4. Writes BENCHMARKS.md with test/perf/benchmd, comparing the end-to-end
#    CPU ratios (each configuration over the same run's baseline) with
#    those of the BENCHMARKS.md committed at HEAD, if any (the acceptance:
#    no regression by more than 5%).
#
# Settings (environment; defaults in brackets):
#   BENCH_TIME [200x]       -benchtime of the micro-benchmarks
#   BENCH_COUNT [3]         -count of the micro-benchmarks (medians reported)
#   PERF_RATE [20000]       offered load of the CPU and memory runs, spans/s
#   PERF_CPU_DURATION [30s] measured interval of each CPU run
#   PERF_CPU_REPEAT [3]     interleaved rounds over the CPU configurations
#   PERF_VARIANTS [all]     comma-separated subset of the CPU configurations
#                           (baseline always runs; for quick comparisons)
#   PERF_SUSTAINED [2m]     duration of the memory run (the issue asks 10m)
#   PERF_MAX_BYTES [67108864] buffer.max_bytes of the memory run
#   PERF_FREEZE_SPANS [100000,1000000]  span counts of the freeze runs
#   PERF_FREEZE_STORES [filesystem,s3]  stores of the freeze runs
#   PERF_SLO_ROUNDS [3]     error bursts of the SLO detection run
#   PERF_OPEN_INCIDENTS [1000]  incidents the open-incident memory run opens
#   PERF_TIMEOUT [120m]     go test -timeout of the perf runs
#   PERF_PROFILE_DIR [var/bench/profiles]  CPU profiles of every CPU run
#                           (both collectors) and the heap profile of the
#                           open-incident run (pprof extension); the report
#                           compares the profiles of a configuration that
#                           misses its CPU target with its companions'
#                           ("none": no profiles)
#   BENCH_OUT [BENCHMARKS.md]  the report
# Raw output: bench.txt (micro-benchmarks) and var/bench/ (perf log and
# result files).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
export BENCH_TIME=${BENCH_TIME:-200x}
export BENCH_COUNT=${BENCH_COUNT:-3}
export PERF_RATE=${PERF_RATE:-20000}
export PERF_CPU_DURATION=${PERF_CPU_DURATION:-30s}
export PERF_CPU_REPEAT=${PERF_CPU_REPEAT:-3}
export PERF_SUSTAINED=${PERF_SUSTAINED:-2m}
export PERF_MAX_BYTES=${PERF_MAX_BYTES:-67108864}
export PERF_FREEZE_SPANS=${PERF_FREEZE_SPANS:-100000,1000000}
export PERF_FREEZE_STORES=${PERF_FREEZE_STORES:-filesystem,s3}
PERF_TIMEOUT=${PERF_TIMEOUT:-120m}
BENCH_OUT=${BENCH_OUT:-BENCHMARKS.md}

raw="$PWD/var/bench"
results="$raw/results"
rm -rf "$results"
mkdir -p "$results"
# The profiles of this run only: the default directory starts empty (one
# given in PERF_PROFILE_DIR is the user's, and is left as it is).
if [[ -z "${PERF_PROFILE_DIR:-}" ]]; then
	export PERF_PROFILE_DIR="$raw/profiles"
	rm -rf "$PERF_PROFILE_DIR"
elif [[ "$PERF_PROFILE_DIR" == none ]]; then
	unset PERF_PROFILE_DIR
fi
[[ -z "${PERF_PROFILE_DIR:-}" ]] || mkdir -p "$PERF_PROFILE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)
echo "bench: start at load average $load_start, commit $commit"

echo "bench: building the collector"
(cd cmd/otelcol-evidence && GOWORK=off "$GO" build -trimpath -o "$work/otelcol-evidence" .)

status=0
echo "bench: end-to-end perf runs (log: var/bench/perf.log)"
if ! OTEL_EVIDENCE_BINARY="$work/otelcol-evidence" PERF_OUT="$results" \
	"$GO" test -tags perf -run '^TestPerf' -count=1 -timeout "$PERF_TIMEOUT" -v ./test/perf/ >"$raw/perf.log" 2>&1; then
	echo "bench: a perf run FAILED; the report lists what is missing" >&2
	grep -E -- '--- FAIL|panic|Error' "$raw/perf.log" | head -20 >&2 || true
	status=1
fi
grep -E '^\s*(--- (PASS|FAIL)|\S+_perf_test\.go:[0-9]+:)' "$raw/perf.log" || true

echo "bench: micro-benchmarks (-benchtime=$BENCH_TIME -count=$BENCH_COUNT, output: bench.txt)"
: >bench.txt
# micro PACKAGE PATTERN [BENCHTIME]: BENCHTIME overrides BENCH_TIME for
# benchmarks whose operation is too short for BENCH_TIME to get past the
# warm-up.
micro() {
	"$GO" test -run '^$' -bench "$2" -benchmem -benchtime="${3:-$BENCH_TIME}" -count="$BENCH_COUNT" -timeout 60m "$1" | tee -a bench.txt
}
# At level resource one operation (a 1000-record batch) takes 10-30 us: 200
# of them are 3 ms of measurement, at the mercy of a stray scheduling delay.
micro ./test/peerbench/incidentcontextprocessor/ '^BenchmarkContext$/./keys=./level=record' || status=1
micro ./test/peerbench/incidentcontextprocessor/ '^BenchmarkContext$/./keys=./level=resource' 2000x || status=1
micro ./test/peerbench/evidenceexporter/ '^BenchmarkIngest' || status=1
micro ./exporter/evidenceexporter/internal/otlpwire/ . || status=1
micro ./exporter/evidenceexporter/internal/ring/ . || status=1
micro ./pkg/bundle/ . || status=1
# The timeline of a 1M-span bundle takes seconds per run: one run per count.
"$GO" test -run '^$' -bench '^BenchmarkTimeline1M$' -benchmem -benchtime=1x -count="$BENCH_COUNT" -timeout 30m \
	./internal/timeline/ | tee -a bench.txt || status=1
# The web page of a 1M-span incident, opened cold, beside the timeline.
"$GO" test -run '^$' -bench '^BenchmarkIncidentPage1M$' -benchmem -benchtime=1x -count="$BENCH_COUNT" -timeout 30m \
	./internal/webui/ | tee -a bench.txt || status=1
# One operation is a 100-span batch (a few microseconds): 200 of them take
# about a millisecond, and the first case measured carried the warm-up.
micro ./connector/sloconnector/ '^BenchmarkConsumeTraces$' 20000x || status=1

# The previous committed run, to compare the end-to-end CPU ratios with.
previous=()
if git show "HEAD:$BENCH_OUT" >"$work/previous-BENCHMARKS.md" 2>/dev/null; then
	previous=(-previous "$work/previous-BENCHMARKS.md")
else
	echo "bench: no $BENCH_OUT committed at HEAD; the report compares with no previous run"
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
settings=$(env | grep -E '^(BENCH_TIME|BENCH_COUNT|PERF_[A-Z_]+)=' | grep -v -e '^PERF_OUT=' -e "^PERF_PROFILE_DIR=$raw/profiles\$" | sort)
"$GO" run ./test/perf/benchmd -results "$results" -micro bench.txt -out "$BENCH_OUT" \
	-command "make bench   # runs scripts/bench.sh" -settings "$settings" -commit "$commit" \
	-load-start "$load_start" -load-end "$load_end" -seconds "$(($(date +%s) - started))" \
	${previous[@]+"${previous[@]}"}
echo "bench: wrote $BENCH_OUT (load average at the end: $load_end)"
exit "$status"
