#!/bin/sh
# Create the dedicated system user and group the service runs as.
set -e
if ! getent group otelcol-evidence >/dev/null; then
    groupadd --system otelcol-evidence
fi
if ! getent passwd otelcol-evidence >/dev/null; then
    useradd --system --gid otelcol-evidence --home-dir /var/lib/otelcol-evidence \
        --no-create-home --shell /usr/sbin/nologin \
        --comment "otel-evidence collector" otelcol-evidence
fi
