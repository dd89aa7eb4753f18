#!/usr/bin/env bash
# The live test of the monitoring stack: builds crm_backend, then runs
# scripts/live_check.py, which starts the backends, real Prometheus servers
# (one per variant; agent-mode ones and a central one for the regions), a real
# Alertmanager and a webhook receiver on free loopback ports, and checks the
# targets, rules, alerts and their delivery, and the dashboards.
# Needs prometheus and promtool (Debian: apt-get install prometheus),
# prometheus-alertmanager (alertmanager and amtool), python3 and python3-yaml.
# Takes about 2 minutes once crm_backend is built.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --example crm_backend
backend="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/crm_backend"

# The checker stops what it starts. Should it die by a signal before it
# could, the trap stops the process groups it recorded as running (each child
# leads its own group; the checker rewrites the file whenever it starts or
# reaps a process, so a long-reaped PID, perhaps reused since, is never
# signalled).
INSA_LIVE_PIDFILE="$(mktemp)"
export INSA_LIVE_PIDFILE
status=
cleanup() {
    if [ -z "$status" ]; then
        kill -TERM "$checker" 2>/dev/null || true
        wait "$checker" 2>/dev/null || true
    fi
    if [ -z "$status" ] || [ "$status" -ge 128 ]; then
        while read -r pid; do
            [[ "$pid" =~ ^[0-9]+$ ]] || continue
            if kill -0 -- "-$pid" 2>/dev/null; then
                kill -KILL -- "-$pid" 2>/dev/null || true
            fi
        done <"$INSA_LIVE_PIDFILE"
    fi
    rm -f "$INSA_LIVE_PIDFILE"
}
python3 scripts/live_check.py --backend "$backend" "$@" &
checker=$!
trap cleanup EXIT
trap 'exit 130' INT TERM
wait "$checker" && status=0 || status=$?
exit "$status"
