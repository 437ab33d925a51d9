#!/usr/bin/env bash
# make demo: run otel-evidence on the embedded default (config/default.yaml,
# evidence in ./var/evidence), record a deploy, send telemetry with the real
# telemetrygen, open an incident, and print the bundle the collector froze.
# The only change to the default is a short window.after (5 s instead of
# 10 m) so the bundle completes while you watch.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=./bin/otelcol-evidence
CTL=./bin/evidencectl
TG=./.tools/bin/telemetrygen
TOKEN="${OTEL_EVIDENCE_WEBHOOK_TOKEN:-demo-token}"
export OTEL_EVIDENCE_WEBHOOK_TOKEN="$TOKEN"
WEBHOOK=http://127.0.0.1:8088
STORE=./var/evidence
LOG=./var/demo-collector.log
INCIDENT="demo-$(date -u +%Y%m%dT%H%M%SZ)"

for f in "$BIN" "$TG"; do
  [[ -x "$f" ]] || { echo "demo: $f is missing: run 'make demo' (it builds and installs the tools)" >&2; exit 1; }
done
for port in 4317 4318 8088 13133 8888; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: 127.0.0.1:$port is in use; stop whatever listens there (another 'make run'?) and try again" >&2
    exit 1
  fi
done

mkdir -p var
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "starting the collector on config/default.yaml (log: $LOG)"
"$BIN" --config config/default.yaml \
  --feature-gates=+extension.healthcheck.useComponentStatus \
  --set=exporters::evidence::window::after=5s \
  --set=exporters::evidence::flush_interval=2s >"$LOG" 2>&1 &
COLLECTOR=$!
cleanup() {
  if kill -0 "$COLLECTOR" 2>/dev/null; then
    kill -TERM "$COLLECTOR"; wait "$COLLECTOR" || true
  fi
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  curl -fsS http://127.0.0.1:13133/ >/dev/null 2>&1 && break
  kill -0 "$COLLECTOR" 2>/dev/null || { echo "demo: the collector exited:"; cat "$LOG"; exit 1; }
  sleep 0.2
done
curl -fsS http://127.0.0.1:13133/ && echo

post() { # path json
  curl -sS -X POST "$WEBHOOK$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$2"
  echo
}

step "recording deploy demo-deploy-1 of service telemetrygen (as a CI pipeline would)"
post /v1/deploys "{\"id\":\"demo-deploy-1\",\"service\":\"telemetrygen\",\"version\":\"1.4.2\",\"environment\":\"demo\",\"commit\":\"3f2c1e9\",\"status\":\"succeeded\",\"started_at\":\"$(date -u -d '-5 min' +%Y-%m-%dT%H:%M:%SZ)\"}"

step "sending traces, logs and metrics with telemetrygen"
"$TG" traces --otlp-endpoint 127.0.0.1:4317 --otlp-insecure --rate 0 --traces 200 2>/dev/null
"$TG" logs --otlp-endpoint 127.0.0.1:4317 --otlp-insecure --rate 0 --logs 200 2>/dev/null
"$TG" metrics --otlp-endpoint 127.0.0.1:4317 --otlp-insecure --rate 0 --metrics 200 2>/dev/null
echo "sent 200 traces (400 spans), 200 log records, 200 data points"

step "opening incident $INCIDENT (as Alertmanager, Grafana or PagerDuty would)"
post /v1/incidents "{\"id\":\"$INCIDENT\",\"title\":\"demo: checkout error rate above SLO\",\"severity\":\"critical\"}"

step "resolving it (the window, extended until resolution, closes window.after later)"
post /v1/incidents/resolve "{\"id\":\"$INCIDENT\"}"

step "waiting for the bundle to complete (window.after is 5 s in the demo)"
for _ in $(seq 1 300); do
  if compgen -G "$STORE/incidents/$INCIDENT/collectors/*/manifest.json" >/dev/null &&
    grep -qs '"complete": *true' "$STORE"/incidents/"$INCIDENT"/collectors/*/manifest.json; then
    break
  fi
  kill -0 "$COLLECTOR" 2>/dev/null || { echo "demo: the collector exited:"; cat "$LOG"; exit 1; }
  sleep 0.2
done
grep -qs '"complete": *true' "$STORE"/incidents/"$INCIDENT"/collectors/*/manifest.json ||
  { echo "demo: the bundle did not complete within 60 s; see $LOG" >&2; exit 1; }

step "the bundle in $STORE"
find "$STORE/incidents/$INCIDENT" -type f -printf '%10s  %p\n' | sort -k2
if [[ -x "$CTL" ]]; then
  step "evidencectl list / verify / get"
  "$CTL" --store "file://$STORE" list
  "$CTL" --store "file://$STORE" verify "$INCIDENT"
  "$CTL" --store "file://$STORE" get "$INCIDENT" -o "./var/demo-bundles/$INCIDENT"
  step "evidencectl timeline (draft postmortem)"
  "$CTL" timeline "./var/demo-bundles/$INCIDENT" | head -60 || true
else
  step "manifest"
  cat "$STORE"/incidents/"$INCIDENT"/collectors/*/manifest.json
fi
step "done: incident $INCIDENT is frozen in $STORE"
