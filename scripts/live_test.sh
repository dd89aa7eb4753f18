#!/usr/bin/env bash
# The live test of the monitoring stack: builds crm_backend, then runs
# scripts/live_check.py, which starts the backends and a real Prometheus on
# free loopback ports and checks the targets, rules, alerts and dashboards.
# Needs prometheus and promtool (Debian: apt-get install prometheus) and
# python3. Takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --example crm_backend
backend="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/crm_backend"

# The checker stops what it starts; this trap catches what it could not
# (the checker itself killed): every process of this script's group.
python3 scripts/live_check.py --backend "$backend" "$@" &
checker=$!
trap 'kill -TERM "$checker" 2>/dev/null || true; wait "$checker" 2>/dev/null || true' EXIT INT TERM
status=0
wait "$checker" || status=$?
trap - EXIT
exit "$status"
