#!/bin/sh
# On purge (deb), remove the state and the generated token. The system user
# stays, as Debian's policy has it, so that no later user inherits files it
# owned.
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = "purge" ]; then
    rm -rf /var/lib/otelcol-evidence
    rm -f /etc/otelcol-evidence/webhook-token.env
    rmdir /etc/otelcol-evidence 2>/dev/null || true
fi
