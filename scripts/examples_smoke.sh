#!/usr/bin/env bash
# Smoke test of the worker examples: builds sizing_agent_worker,
# crm_agent_worker and orchestrator, runs each once (each runs a bounded
# workload, a few seconds (the orchestrator until each of its stories is
# told, at most 40 s), and prints the metrics text when done; a timeout
# guards against a hang) and asserts that the output holds samples of the
# families that component is responsible for. Called from scripts/test.sh.
# Takes about 20 seconds once built.
set -euo pipefail
cd "$(dirname "$0")/.."

TIMEOUT=${INSA_EXAMPLE_TIMEOUT:-60}
examples=(sizing_agent_worker crm_agent_worker orchestrator)

cargo build --quiet $(printf -- '--example %s ' "${examples[@]}")
dir="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failures=0

# need FILE MODE SAMPLE: a line of FILE is a sample whose name and labels
# match the extended regex SAMPLE (anchored at the start); MODE "any"
# accepts any value, "positive" needs one sample above zero.
need() {
    local file=$1 mode=$2 sample=$3
    if ! awk -v re="^${sample}" -v mode="$mode" '
        /^#/ { next }
        {
            split($0, parts, " ")
            name = $0; sub(/ [^ ]+$/, "", name)
            if (name ~ re && (mode == "any" || parts[length(parts)] + 0 > 0)) { found = 1; exit }
        }
        END { exit !found }' "$file"; then
        echo "FAIL $(basename "$file" .txt): no ${mode/any/} sample matching ${sample}" | tr -s ' '
        failures=$((failures + 1))
    fi
}

run() {
    local example=$1 started
    started=$(date +%s)
    if ! timeout --kill-after=5 "$TIMEOUT" "$dir/$example" >"$out/$example.txt" 2>"$out/$example.err"; then
        echo "FAIL $example did not finish cleanly within ${TIMEOUT} s:"
        tail -n 20 "$out/$example.err"
        failures=$((failures + 1))
        return
    fi
    echo "$example ran in $(($(date +%s) - started)) s: $(grep -vc '^#' "$out/$example.txt") samples"
}

for example in "${examples[@]}"; do
    run "$example"
done

# Every example: the build info, the worker health it sets on start.
for example in "${examples[@]}"; do
    need "$out/$example.txt" any 'insa_system_info\{'
done

# The sizing agent worker: its requests (all outcomes), durations, payload
# sizes, and its worker's health, load and queue.
f="$out/sizing_agent_worker.txt"
need "$f" positive 'insa_agent_requests_total\{agent_type="sizing_agent",status="success"\}'
need "$f" any 'insa_agent_requests_total\{agent_type="sizing_agent",status="(error|timeout|cancelled)"\}'
need "$f" positive 'insa_agent_request_duration_seconds_count\{agent_type="sizing_agent"\}'
need "$f" positive 'insa_agent_request_size_bytes_count\{agent_type="sizing_agent"\}'
need "$f" positive 'insa_agent_response_size_bytes_count\{agent_type="sizing_agent"\}'
need "$f" any 'insa_worker_health_status\{worker_name="sizing_agent",'
need "$f" any 'insa_worker_active_requests\{worker_name="sizing_agent"\}'
need "$f" any 'insa_worker_queue_size\{worker_name="sizing_agent"\}'

# The CRM agent worker: the same for crm_agent, plus its database.
f="$out/crm_agent_worker.txt"
need "$f" positive 'insa_agent_requests_total\{agent_type="crm_agent",status="success"\}'
need "$f" positive 'insa_agent_requests_total\{agent_type="crm_agent",status="(error|timeout)"\}'
need "$f" positive 'insa_agent_request_duration_seconds_count\{agent_type="crm_agent"\}'
need "$f" positive 'insa_agent_request_size_bytes_count\{agent_type="crm_agent"\}'
need "$f" positive 'insa_agent_response_size_bytes_count\{agent_type="crm_agent"\}'
need "$f" any 'insa_worker_health_status\{worker_name="crm_agent",'
need "$f" positive 'insa_database_operations_total\{'
need "$f" positive 'insa_database_operation_duration_seconds_count\{'
need "$f" positive 'insa_database_errors_total\{'
need "$f" any 'insa_database_connection_pool_size\{database_name="crm"\}'

# The orchestrator: cache, message bus, retries, circuit breakers, dead
# letters, sessions.
f="$out/orchestrator.txt"
need "$f" positive 'insa_cache_hits_total\{cache_type="orchestrator"\}'
need "$f" positive 'insa_cache_misses_total\{cache_type="orchestrator"\}'
need "$f" any 'insa_cache_size_entries\{cache_type="orchestrator"\}'
need "$f" positive 'insa_cache_evictions_total\{cache_type="orchestrator",reason="capacity"\}'
need "$f" positive 'insa_cache_evictions_total\{cache_type="orchestrator",reason="expired"\}'
need "$f" positive 'insa_message_bus_messages_total\{from_agent="orchestrator",'
need "$f" any 'insa_message_bus_queue_depth\{'
need "$f" positive 'insa_message_bus_processing_duration_seconds_count\{'
need "$f" positive 'insa_retry_attempts_total\{'
need "$f" positive 'insa_retry_success_total\{'
need "$f" any 'insa_circuit_breaker_state\{agent_type="crm_agent"\}'
need "$f" any 'insa_circuit_breaker_state\{agent_type="sizing_agent"\}'
need "$f" positive 'insa_circuit_breaker_transitions_total\{'
need "$f" any 'insa_dead_letter_queue_size\{'
need "$f" positive 'insa_dead_letter_replay_total\{'
need "$f" any 'insa_active_sessions_total'
need "$f" positive 'insa_session_duration_seconds_count'
need "$f" positive 'insa_session_messages_total\{'
need "$f" positive 'insa_session_cleanup_total\{'

if ((failures)); then
    for example in "${examples[@]}"; do
        echo "--- $example, standard error:"
        tail -n 10 "$out/$example.err"
    done
    echo "examples smoke test: $failures failure(s)"
    exit 1
fi
echo "examples smoke test passed"
