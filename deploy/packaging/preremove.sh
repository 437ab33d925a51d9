#!/bin/sh
# Stop the service before its files go (not on an upgrade: the new
# package's postinstall restarts it).
set -e
case "$1" in
    upgrade|1) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
    systemctl stop otelcol-evidence.service >/dev/null 2>&1 || true
    systemctl disable otelcol-evidence.service >/dev/null 2>&1 || true
fi
