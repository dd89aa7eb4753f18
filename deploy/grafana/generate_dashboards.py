#!/usr/bin/env python3
"""Generates the six Grafana dashboards of the INSA platform into dashboards/.

    python3 deploy/grafana/generate_dashboards.py

The JSON files are committed; edit this script and run it again rather than
editing them by hand, so the six stay consistent (variables, units, layout).
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
JOB = 'job="insa-workers"'
INST = 'instance=~"$instance"'
AGENT = 'agent_type=~"$agent_type"'
RI = "$__rate_interval"


# --- variables ---------------------------------------------------------------

def datasource_var():
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_var(name, label, metric, label_name):
    query = f"label_values({metric}, {label_name})"
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-query"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


INSTANCE_VAR = ("instance", "Instance", f"up{{{JOB}}}", "instance")
AGENT_VAR = ("agent_type", "Agent", "insa_agent_requests_total", "agent_type")
WORKER_VAR = ("worker_name", "Worker", "insa_worker_health_status", "worker_name")
CACHE_VAR = ("cache_type", "Cache", "insa_cache_hits_total", "cache_type")


# --- panels ------------------------------------------------------------------

def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    t = {
        "datasource": DS,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "format": fmt,
    }
    return t


def panel(kind, title, targets, unit, description="", **extra):
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [
            target(*t) if isinstance(t, tuple) else t
            for t in targets
        ],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    for t, ref in zip(p["targets"], "ABCDEFGH"):
        t["refId"] = ref
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10}
        p["options"] = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    elif kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    p.update(extra)
    return p


def ts(title, targets, unit, description="", **extra):
    return panel("timeseries", title, targets, unit, description, **extra)


def stat(title, expr, unit, description="", thresholds=None, mappings=None):
    p = panel("stat", title, [(expr, "")], unit, description)
    if thresholds:
        p["fieldConfig"]["defaults"]["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": c, "value": v} for v, c in thresholds],
        }
    if mappings:
        p["fieldConfig"]["defaults"]["mappings"] = mappings
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


BREAKER_MAPPINGS = [{
    "type": "value",
    "options": {
        "0": {"text": "closed", "color": "green"},
        "1": {"text": "open", "color": "red"},
        "2": {"text": "half open", "color": "orange"},
    },
}]
HEALTH_MAPPINGS = [{
    "type": "value",
    "options": {"0": {"text": "unhealthy", "color": "red"}, "1": {"text": "healthy", "color": "green"}},
}]


def quantiles(metric, by, selector):
    """Targets for p50/p95/p99 of a histogram, aggregated by `by`."""
    by_le = ", ".join([*by, "le"])
    legend = " ".join("{{%s}}" % b for b in by)
    return [
        (f"histogram_quantile({q}, sum by ({by_le}) (rate({metric}_bucket{{{selector}}}[{RI}])))",
         f"{legend} p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]


# --- the dashboards ----------------------------------------------------------

def overview():
    sel = f"{JOB}, {INST}, {AGENT}"
    return "01_overview", "Overview", [AGENT_VAR], [
        row("Service level"),
        stat("Request rate", f"sum(rate(insa_agent_requests_total{{{sel}}}[{RI}]))", "reqps",
             "Agent requests per second, every status."),
        stat("Error ratio", f'sum(rate(insa_agent_requests_total{{{sel}, status=~"error|timeout"}}[{RI}])) / sum(rate(insa_agent_requests_total{{{sel}}}[{RI}]))',
             "percentunit", "Share of requests that ended in an error or a timeout.",
             thresholds=[(None, "green"), (0.02, "orange"), (0.05, "red")]),
        stat("p95 latency", f"max(agent_type:insa_agent_request_duration_seconds:p95_rate5m{{{AGENT}}})", "s",
             "Slowest agent's 95th percentile (recording rule, 5 m window).",
             thresholds=[(None, "green"), (2.5, "orange"), (5, "red")]),
        stat("Cache hit ratio", 'avg(cache_type:insa_cache_hit_ratio:rate5m{cache_type="orchestrator"})', "percentunit",
             "Orchestrator cache lookups that hit (recording rule).",
             thresholds=[(None, "red"), (0.2, "orange"), (0.5, "green")]),
        stat("Targets up", f"sum(up{{{JOB}, {INST}}})", "short", "Worker processes Prometheus scrapes successfully."),
        stat("Healthy workers", f"sum(insa_worker_health_status{{{JOB}, {INST}}})", "short",
             "Workers whose health check passes."),
        stat("Active sessions", f"sum(insa_active_sessions_total{{{JOB}, {INST}}})", "short", "User sessions open now."),
        stat("Open circuit breakers", f"count(insa_circuit_breaker_state{{{JOB}, {INST}}} == 1) or vector(0)", "short",
             "Breakers refusing calls.", thresholds=[(None, "green"), (1, "red")]),
        row("Traffic"),
        ts("Requests by agent", [(f"agent_type:insa_agent_requests:rate5m{{{AGENT}}}", "{{agent_type}}")], "reqps",
           "Requests per second by agent (recording rule)."),
        ts("Error ratio by agent", [(f"agent_type:insa_agent_requests_errors:ratio_rate5m{{{AGENT}}}", "{{agent_type}}")],
           "percentunit", "Share of failed requests by agent (recording rule)."),
        panel("table", "Build and environment",
              [target(f"insa_system_info{{{JOB}, {INST}}}", "", instant=True, fmt="table")], "none",
              "insa_system_info of every instance: version, environment, platform."),
    ]


def requests():
    sel = f"{JOB}, {INST}, {AGENT}"
    return "02_requests", "Requests", [AGENT_VAR], [
        row("Requests"),
        ts("Requests by status", [(f"sum by (agent_type, status) (rate(insa_agent_requests_total{{{sel}}}[{RI}]))",
                                   "{{agent_type}} {{status}}")], "reqps",
           "success, error, timeout and cancelled (the caller gave up)."),
        ts("Requests by instance", [(f"sum by (instance) (rate(insa_agent_requests_total{{{sel}}}[{RI}]))", "{{instance}}")],
           "reqps", "How the load spreads over the worker processes."),
        ts("Request payload size", quantiles("insa_agent_request_size_bytes", ["agent_type"], sel), "bytes",
           "Request sizes (p50, p95, p99)."),
        ts("Response payload size", quantiles("insa_agent_response_size_bytes", ["agent_type"], sel), "bytes",
           "Response sizes (p50, p95, p99)."),
        ts("Average payload size", [
            (f"sum by (agent_type) (rate(insa_agent_request_size_bytes_sum{{{sel}}}[{RI}])) / sum by (agent_type) (rate(insa_agent_request_size_bytes_count{{{sel}}}[{RI}]))", "{{agent_type}} request"),
            (f"sum by (agent_type) (rate(insa_agent_response_size_bytes_sum{{{sel}}}[{RI}])) / sum by (agent_type) (rate(insa_agent_response_size_bytes_count{{{sel}}}[{RI}]))", "{{agent_type}} response"),
        ], "bytes", "Mean sizes."),
        row("Message bus"),
        ts("Messages by route", [(f"sum by (from_agent, to_agent, message_type) (rate(insa_message_bus_messages_total{{{JOB}, {INST}}}[{RI}]))",
                                  "{{from_agent}} → {{to_agent}} {{message_type}}")], "suffix: msg/s",
           "Messages sent over the agent message bus."),
        ts("Queue depth", [(f"sum by (agent_type) (insa_message_bus_queue_depth{{{JOB}, {INST}}})", "{{agent_type}}")], "short",
           "Messages waiting in each agent's inbox."),
        row("Sessions"),
        ts("Active sessions", [(f"sum(insa_active_sessions_total{{{JOB}, {INST}}})", "active")], "short", "Sessions open."),
        ts("Session messages", [(f"sum by (session_type) (rate(insa_session_messages_total{{{JOB}, {INST}}}[{RI}]))", "{{session_type}}")],
           "suffix: msg/s", "Messages exchanged in sessions, by session type."),
        ts("Session duration", quantiles("insa_session_duration_seconds", [], f"{JOB}, {INST}"), "s",
           "How long sessions last (p50, p95, p99)."),
        ts("Session cleanups", [(f"sum by (reason) (increase(insa_session_cleanup_total{{{JOB}, {INST}}}[$__range]))", "{{reason}}")],
           "short", "Sessions ended in the time range, by reason (logout, idle_timeout, shutdown)."),
    ]


def latency():
    sel = f"{JOB}, {INST}, {AGENT}"
    return "03_latency", "Latency", [AGENT_VAR], [
        row("Agent requests"),
        ts("Request latency (all instances)", [
            (f"agent_type:insa_agent_request_duration_seconds:p50_rate5m{{{AGENT}}}", "{{agent_type}} p50"),
            (f"agent_type:insa_agent_request_duration_seconds:p95_rate5m{{{AGENT}}}", "{{agent_type}} p95"),
            (f"agent_type:insa_agent_request_duration_seconds:p99_rate5m{{{AGENT}}}", "{{agent_type}} p99"),
        ], "s", "Quantiles from the recording rules (5 m window)."),
        ts("p95 latency by instance", [(f"histogram_quantile(0.95, sum by (instance, agent_type, le) (rate(insa_agent_request_duration_seconds_bucket{{{sel}}}[{RI}])))",
                                        "{{instance}} {{agent_type}}")], "s", "The 95th percentile per process."),
        ts("Average request duration", [(f"sum by (agent_type) (rate(insa_agent_request_duration_seconds_sum{{{sel}}}[{RI}])) / sum by (agent_type) (rate(insa_agent_request_duration_seconds_count{{{sel}}}[{RI}]))",
                                         "{{agent_type}}")], "s", "Mean request duration."),
        panel("heatmap", "Request duration distribution",
              [target(f"sum by (le) (increase(insa_agent_request_duration_seconds_bucket{{{sel}}}[{RI}]))", "{{le}}", fmt="heatmap")],
              "s", "Requests per duration bucket.",
              options={"calculate": False, "yAxis": {"unit": "s"}, "cellGap": 1, "color": {"scheme": "Oranges", "mode": "scheme"}}),
        row("Message bus and database"),
        ts("Message processing time", quantiles("insa_message_bus_processing_duration_seconds", ["agent_type"], f"{JOB}, {INST}"), "s",
           "Time to process one message, by agent."),
        ts("Database operation p95", [(f"histogram_quantile(0.95, sum by (operation, table, le) (rate(insa_database_operation_duration_seconds_bucket{{{JOB}, {INST}}}[{RI}])))",
                                       "{{operation}} {{table}}")], "s", "95th percentile by operation and table."),
    ]


def cache():
    sel = f'{JOB}, {INST}, cache_type=~"$cache_type"'
    return "04_cache", "Cache", [CACHE_VAR], [
        row("Effectiveness"),
        ts("Hit ratio", [('cache_type:insa_cache_hit_ratio:rate5m{cache_type=~"$cache_type"}', "{{cache_type}}")], "percentunit",
           "Lookups that hit (recording rule, 5 m window).", fieldConfig={"defaults": {"unit": "percentunit", "min": 0, "max": 1}, "overrides": []}),
        ts("Hits and misses", [
            (f"sum by (cache_type) (rate(insa_cache_hits_total{{{sel}}}[{RI}]))", "{{cache_type}} hits"),
            (f"sum by (cache_type) (rate(insa_cache_misses_total{{{sel}}}[{RI}]))", "{{cache_type}} misses"),
        ], "ops", "Lookups per second."),
        ts("Lookups (all instances)", [('cache_type:insa_cache_requests:rate5m{cache_type=~"$cache_type"}', "{{cache_type}}")], "ops",
           "Lookups per second (recording rule)."),
        row("Contents"),
        ts("Entries", [(f"sum by (cache_type) (insa_cache_size_entries{{{sel}}})", "{{cache_type}}")], "short", "Entries held."),
        ts("Evictions by reason", [(f"sum by (cache_type, reason) (rate(insa_cache_evictions_total{{{sel}}}[{RI}]))", "{{cache_type}} {{reason}}")],
           "ops", "capacity: the least recently used made room; expired: past the TTL."),
    ]


def workers():
    sel = f'{JOB}, {INST}, worker_name=~"$worker_name"'
    return "05_workers", "Workers", [WORKER_VAR], [
        row("Health"),
        panel("state-timeline", "Worker health", [(f"min by (instance, worker_name) (insa_worker_health_status{{{sel}}})", "{{instance}} {{worker_name}}")],
              "none", "1 healthy, 0 unhealthy (restarting or failing).",
              fieldConfig={"defaults": {"unit": "none", "mappings": HEALTH_MAPPINGS}, "overrides": []}),
        ts("Targets up", [(f"up{{{JOB}, {INST}}}", "{{instance}}")], "none", "1 when Prometheus scrapes the process."),
        ts("Restarts", [(f"sum by (worker_name, reason) (increase(insa_worker_restarts_total{{{sel}}}[$__range]))", "{{worker_name}} {{reason}}")],
           "short", "Restarts in the time range, by reason (max_tasks, health_check)."),
        row("Load"),
        ts("Active requests", [(f"sum by (worker_name) (insa_worker_active_requests{{{sel}}})", "{{worker_name}}")], "short", "Requests in flight."),
        ts("Queued tasks", [(f"sum by (worker_name) (insa_worker_queue_size{{{sel}}})", "{{worker_name}}")], "short", "Tasks waiting for a free slot."),
        ts("CPU", [(f"rate(process_cpu_seconds_total{{{JOB}, {INST}}}[{RI}])", "{{instance}}")], "percentunit", "CPU time of each process."),
        ts("Resident memory", [(f"process_resident_memory_bytes{{{JOB}, {INST}}}", "{{instance}}")], "bytes", "Memory of each process."),
        row("Database"),
        ts("Database operations", [(f"sum by (operation, table) (rate(insa_database_operations_total{{{JOB}, {INST}}}[{RI}]))", "{{operation}} {{table}}")],
           "ops", "Statements per second."),
        ts("Connection pool", [(f"sum by (database_name) (insa_database_connection_pool_size{{{JOB}, {INST}}})", "{{database_name}}")],
           "short", "Open connections."),
    ]


def errors():
    sel = f"{JOB}, {INST}, {AGENT}"
    return "06_errors", "Errors", [AGENT_VAR], [
        row("Failures"),
        ts("Error ratio by agent", [(f"agent_type:insa_agent_requests_errors:ratio_rate5m{{{AGENT}}}", "{{agent_type}}")], "percentunit",
           "Errors and timeouts over all requests (recording rule); alert above 5 %."),
        ts("Errors, timeouts and cancellations", [
            (f'sum by (agent_type, status) (rate(insa_agent_requests_total{{{sel}, status=~"error|timeout|cancelled"}}[{RI}]))', "{{agent_type}} {{status}}"),
        ], "reqps", "Failed requests per second by status."),
        ts("Database errors", [(f"sum by (operation, error_type) (increase(insa_database_errors_total{{{JOB}, {INST}}}[$__range]))", "{{operation}} {{error_type}}")],
           "short", "Failed statements in the time range."),
        row("Resilience"),
        ts("Retry attempts", [(f"sum by (agent_type, retry_number) (rate(insa_retry_attempts_total{{{sel}}}[{RI}]))", "{{agent_type}} retry {{retry_number}}")],
           "ops", "Retries per second by retry number."),
        ts("Successful retries", [(f"sum by (agent_type) (increase(insa_retry_success_total{{{sel}}}[$__range]))", "{{agent_type}}")],
           "short", "Calls that succeeded after retrying, in the time range."),
        panel("state-timeline", "Circuit breaker state", [(f"max by (instance, agent_type) (insa_circuit_breaker_state{{{sel}}})", "{{instance}} {{agent_type}}")],
              "none", "closed, open or half open.",
              fieldConfig={"defaults": {"unit": "none", "mappings": BREAKER_MAPPINGS}, "overrides": []}),
        ts("Circuit breaker transitions", [(f"sum by (agent_type, from_state, to_state) (increase(insa_circuit_breaker_transitions_total{{{sel}}}[$__range]))",
                                            "{{agent_type}} {{from_state}} → {{to_state}}")], "short", "Transitions in the time range."),
        row("Dead letters"),
        ts("Dead letter queue size", [(f"sum by (agent_type) (insa_dead_letter_queue_size{{{JOB}, {INST}}})", "{{agent_type}}")], "short",
           "Messages waiting for a replay."),
        ts("Dead letter replays", [(f"sum by (status) (increase(insa_dead_letter_replay_total{{{JOB}, {INST}}}[$__range]))", "{{status}}")], "short",
           "Replays in the time range, by outcome."),
    ]


def layout(panels):
    """Rows span the width; stats are 3 wide and 4 high, tables 24 wide, the rest 12 by 8."""
    y, x, row_h = 0, 0, 0
    for next_id, p in enumerate(panels, start=1):
        p["id"] = next_id
        if p["type"] == "row":
            y, x, row_h = y + row_h, 0, 0
            p["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
            continue
        w, h = (3, 4) if p["type"] == "stat" else (24, 8) if p["type"] == "table" else (12, 8)
        if x + w > 24:
            y, x, row_h = y + row_h, 0, 0
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x, row_h = x + w, max(row_h, h)
    return panels


def dashboard(file, title, variables, panels):
    uid = "insa-" + file.split("_", 1)[1]
    links = [{"type": "dashboards", "tags": ["insa"], "asDropdown": True, "title": "INSA dashboards", "includeVars": True, "keepTime": True}]
    return {
        "uid": uid,
        "title": f"INSA / {title}",
        "tags": ["insa", "insa-metrics"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "links": links,
        "annotations": {"list": []},
        "templating": {"list": [datasource_var()] + [query_var(*v) for v in [INSTANCE_VAR, *variables]]},
        "panels": layout(panels),
    }


def main():
    OUT.mkdir(exist_ok=True)
    for build in (overview, requests, latency, cache, workers, errors):
        file, title, variables, panels = build()
        path = OUT / f"{file}.json"
        path.write_text(json.dumps(dashboard(file, title, variables, panels), indent=2, ensure_ascii=False) + "\n")
        print(path)


if __name__ == "__main__":
    main()
