#!/bin/sh
# State directory (systemd's StateDirectory= creates it too; this also
# serves hosts that start the collector without systemd), a webhook token
# when there is none yet, and the service enabled and started where
# systemd runs.
set -e
install -d -o otelcol-evidence -g otelcol-evidence -m 0750 /var/lib/otelcol-evidence
token=/etc/otelcol-evidence/webhook-token.env
if [ ! -e "$token" ]; then
    umask 027
    printf 'OTEL_EVIDENCE_WEBHOOK_TOKEN=%s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > "$token"
    chgrp otelcol-evidence "$token"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable otelcol-evidence.service >/dev/null || true
    systemctl restart otelcol-evidence.service >/dev/null || true
fi
