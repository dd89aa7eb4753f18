#!/usr/bin/env python3
"""Generates the Grafana dashboards of the INSA platform into dashboards/.

    python3 deploy/grafana/generate_dashboards.py          # writes dashboards/*.json
    python3 deploy/grafana/generate_dashboards.py --check  # fails if they are out of date

The JSON files are committed; edit this script and run it again rather than
editing them by hand, so they stay consistent (variables, units, layout).
Six dashboards (Overview, Requests, Latency, Cache, Workers, Errors) and the
SLO dashboard, whose objectives come from deploy/prometheus/slo/objectives.yml
(read through generate_slo_rules.py, so they are written once).

Every dashboard has the `environment`, `region` and `instance` variables, and
every panel honours all three: panels read the raw series with
`environment=~"$environment", region=~"$region", instance=~"$instance"`,
never the recording rules (those aggregate over every instance and serve the
alerts). Totals over the dashboard's time range (`$__range`) appear only on
stat panels; time series show rates, or increases per `$__rate_interval`
drawn as bars. Latency panels show exemplars (trace ids) where the data
source has them.
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
sys.path.insert(0, str(HERE.parent / "prometheus"))
import generate_slo_rules as slo  # noqa: E402
DS = {"type": "prometheus", "uid": "${datasource}"}
JOB = 'job="insa-workers"'
ENV = 'environment=~"$environment"'
REGION = 'region=~"$region"'
INST = 'instance=~"$instance"'
# The selector of every panel query: the job, the environment, the region, the instance.
BASE = f"{JOB}, {ENV}, {REGION}, {INST}"
AGENT = 'agent_type=~"$agent_type"'
RI = "$__rate_interval"


# --- variables ---------------------------------------------------------------

def datasource_var():
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
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
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


ENVIRONMENT_VAR = ("environment", "Environment", f"up{{{JOB}}}", "environment")
REGION_VAR = ("region", "Region", f"up{{{JOB}, {ENV}}}", "region")
INSTANCE_VAR = ("instance", "Instance", f"up{{{JOB}, {ENV}, {REGION}}}", "instance")
AGENT_VAR = ("agent_type", "Agent", f"insa_agent_requests_total{{{JOB}, {ENV}, {REGION}}}", "agent_type")
WORKER_VAR = ("worker_name", "Worker", f"insa_worker_health_status{{{JOB}, {ENV}, {REGION}}}", "worker_name")
CACHE_VAR = ("cache_type", "Cache", f"insa_cache_hits_total{{{JOB}, {ENV}, {REGION}}}", "cache_type")


# --- panels ------------------------------------------------------------------

# Histograms whose samples carry exemplars (trace_id, span_id): their panels
# ask Prometheus for them, and Grafana links each to the trace (the data
# source's exemplarTraceIdDestinations, see provisioning/datasources).
EXEMPLAR_HISTOGRAMS = (
    "insa_agent_request_duration_seconds_bucket",
    "insa_database_operation_duration_seconds_bucket",
    "insa_message_bus_processing_duration_seconds_bucket",
)


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


def merge(into, extra):
    """Merges `extra` into `into`, dicts recursively: an override adds to or
    replaces single keys, never a whole block it does not name."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


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
        # Duration graphs of a histogram with exemplars draw them (stats and
        # tables cannot; on a ratio's axis a duration would be meaningless).
        if kind in ("timeseries", "heatmap") and unit == "s" and any(h in t["expr"] for h in EXEMPLAR_HISTOGRAMS):
            t["exemplar"] = True
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10}
        p["options"] = {"legend": {"showLegend": True, "displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    elif kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    merge(p, extra)
    return p


def ts(title, targets, unit, description="", **extra):
    return panel("timeseries", title, targets, unit, description, **extra)


def bars(title, targets, unit, description="", **extra):
    """A time series of counts per interval (`increase(...[$__rate_interval])`), drawn as bars."""
    p = panel("timeseries", title, targets, unit, description, **extra)
    p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "bars", "lineWidth": 1, "fillOpacity": 80, "stacking": {"mode": "normal"}}
    p["options"]["legend"]["calcs"] = ["sum", "max"]
    return p


def thresholds(steps):
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


# A count with no good or bad value (a rate, a number of sessions): one
# neutral colour. Without explicit thresholds Grafana colours a stat red from
# 80 on, so a healthy fleet of 150 targets would show red.
NEUTRAL = [(None, "blue")]


def stat(title, targets, unit, description="", steps=NEUTRAL, mappings=None, overrides=None):
    """A stat panel; every stat states its thresholds (`steps`: (value, colour), lowest first)."""
    if isinstance(targets, str):
        targets = [(targets, "")]
    p = panel("stat", title, targets, unit, description)
    p["fieldConfig"]["defaults"]["thresholds"] = thresholds(steps)
    if mappings:
        p["fieldConfig"]["defaults"]["mappings"] = mappings
    if overrides:
        p["fieldConfig"]["overrides"] = overrides
    return p


def field_thresholds(name, steps):
    """An override: the field named `name` (a target's legend) gets its own thresholds."""
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "thresholds", "value": thresholds(steps)}]}


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
UP_MAPPINGS = [{
    "type": "value",
    "options": {"0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}},
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


# Failed requests, and the requests that count, as the availability SLO
# counts them (generate_slo_rules.py).
FAILED = slo.BAD_STATUS
COUNTED = slo.VALID_STATUS
ERROR_RATIO_BY_AGENT = (
    f'sum by (agent_type) (rate(insa_agent_requests_total{{{{{{sel}}, {FAILED}}}}}[$__rate_interval]))'
    f" / sum by (agent_type) (rate(insa_agent_requests_total{{{{{{sel}}, {COUNTED}}}}}[$__rate_interval]))"
)
OBJECTIVES = slo.load()
_DEFAULT_BUDGET = 1 - OBJECTIVES["groups"][-1][1]["availability"]
_PAGE_BURN = max(w["burn_rate"] for w in OBJECTIVES["alerting"]["page"]["windows"])
# The error ratio's colours: orange once the default objective's budget is
# spent faster than it accrues, red at the burn rate that pages.
ERROR_RATIO_STEPS = [(None, "green"), (round(_DEFAULT_BUDGET, 10), "orange"), (round(_DEFAULT_BUDGET * _PAGE_BURN, 10), "red")]


# --- the dashboards ----------------------------------------------------------

def overview():
    sel = f"{BASE}, {AGENT}"
    return "01_overview", "Overview", [AGENT_VAR], [
        row("Service level"),
        stat("Request rate", f"sum(rate(insa_agent_requests_total{{{sel}}}[{RI}]))", "reqps",
             "Agent requests per second, every status."),
        stat("Error ratio", f'sum(rate(insa_agent_requests_total{{{sel}, {FAILED}}}[{RI}])) / sum(rate(insa_agent_requests_total{{{sel}, {COUNTED}}}[{RI}]))',
             "percentunit", "Share of requests that failed (error, timeout, or rejected by an open breaker; cancelled ones "
             "count neither way). Orange from the default availability objective's error budget, red from the burn rate "
             "that pages (deploy/prometheus/slo/objectives.yml).",
             steps=ERROR_RATIO_STEPS),
        stat("p95 latency", f"max(histogram_quantile(0.95, sum by (agent_type, le) (rate(insa_agent_request_duration_seconds_bucket{{{sel}}}[{RI}]))))", "s",
             "Slowest agent's 95th percentile.",
             steps=[(None, "green"), (2.5, "orange"), (5, "red")]),
        stat("Cache hit ratio", f'sum(rate(insa_cache_hits_total{{{BASE}, cache_type="orchestrator"}}[{RI}])) / (sum(rate(insa_cache_hits_total{{{BASE}, cache_type="orchestrator"}}[{RI}])) + sum(rate(insa_cache_misses_total{{{BASE}, cache_type="orchestrator"}}[{RI}])))', "percentunit",
             "Orchestrator cache lookups that hit.",
             steps=[(None, "red"), (0.2, "orange"), (0.5, "green")]),
        stat("Targets up / down", [(f"sum(up{{{BASE}}})", "up"), (f"count(up{{{BASE}}} == 0) or vector(0)", "down")], "short",
             "Worker processes Prometheus scrapes successfully, and those it cannot scrape (red from one). "
             "Hosts gone from the targets files are InsaTargetsGone's.",
             overrides=[field_thresholds("down", [(None, "green"), (1, "red")])]),
        stat("Workers healthy / unhealthy", [(f"sum(insa_worker_health_status{{{BASE}}})", "healthy"),
                                             (f"count(insa_worker_health_status{{{BASE}}} == 0) or vector(0)", "unhealthy")], "short",
             "Workers whose health check passes, and those whose check fails (red from one).",
             overrides=[field_thresholds("unhealthy", [(None, "green"), (1, "red")])]),
        stat("Active sessions", f"sum(insa_active_sessions_total{{{BASE}}})", "short", "User sessions open now."),
        stat("Breakers not closed (2 m)", f"count(max_over_time(insa_circuit_breaker_state{{{BASE}}}[2m]) > 0) or vector(0)", "short",
             "Breakers open or half open at any time in the last 2 minutes: a failing breaker flaps between open and half open "
             "(as the InsaCircuitBreakerOpen alert sees it).", steps=[(None, "green"), (1, "red")]),
        row("Traffic"),
        ts("Requests by agent", [(f"sum by (agent_type) (rate(insa_agent_requests_total{{{sel}}}[{RI}]))", "{{agent_type}}")], "reqps",
           "Requests per second by agent."),
        ts("Error ratio by agent", [(ERROR_RATIO_BY_AGENT.format(sel=sel), "{{agent_type}}")],
           "percentunit", "Share of failed requests (error, timeout or rejected) by agent."),
        panel("table", "Build and environment",
              [target(f"insa_system_info{{{BASE}}}", "", instant=True, fmt="table")], "none",
              "insa_system_info of every instance: version, platform, and reported_environment, the environment the "
              "process was started with (initialize_metrics), next to environment, the one of the targets file that lists "
              "it (InsaEnvironmentMismatch fires when they differ)."),
    ]


def requests():
    sel = f"{BASE}, {AGENT}"
    return "02_requests", "Requests", [AGENT_VAR], [
        row("Requests"),
        ts("Requests by status", [(f"sum by (agent_type, status) (rate(insa_agent_requests_total{{{sel}}}[{RI}]))",
                                   "{{agent_type}} {{status}}")], "reqps",
           "success, error, timeout, cancelled (the caller gave up) and rejected (refused by an open circuit breaker)."),
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
        ts("Messages by route", [(f"sum by (from_agent, to_agent, message_type) (rate(insa_message_bus_messages_total{{{BASE}}}[{RI}]))",
                                  "{{from_agent}} → {{to_agent}} {{message_type}}")], "suffix: msg/s",
           "Messages sent over the agent message bus."),
        ts("Queue depth", [(f"sum by (agent_type) (insa_message_bus_queue_depth{{{BASE}}})", "{{agent_type}}")], "short",
           "Messages waiting in each agent's inbox."),
        row("Sessions"),
        ts("Active sessions", [(f"sum(insa_active_sessions_total{{{BASE}}})", "active")], "short", "Sessions open."),
        ts("Session messages", [(f"sum by (session_type) (rate(insa_session_messages_total{{{BASE}}}[{RI}]))", "{{session_type}}")],
           "suffix: msg/s", "Messages exchanged in sessions, by session type."),
        ts("Session duration", quantiles("insa_session_duration_seconds", [], BASE), "s",
           "How long sessions last (p50, p95, p99)."),
        bars("Session cleanups", [(f"sum by (reason) (increase(insa_session_cleanup_total{{{BASE}}}[{RI}]))", "{{reason}}")],
             "short", "Sessions ended per interval, by reason (logout, idle_timeout, shutdown)."),
    ]


def latency():
    sel = f"{BASE}, {AGENT}"
    return "03_latency", "Latency", [AGENT_VAR], [
        row("Agent requests"),
        ts("Request latency", quantiles("insa_agent_request_duration_seconds", ["agent_type"], sel), "s",
           "p50, p95 and p99 by agent, over the selected instances."),
        ts("p95 latency by instance", [(f"histogram_quantile(0.95, sum by (instance, agent_type, le) (rate(insa_agent_request_duration_seconds_bucket{{{sel}}}[{RI}])))",
                                        "{{instance}} {{agent_type}}")], "s", "The 95th percentile per process."),
        ts("Average request duration", [(f"sum by (agent_type) (rate(insa_agent_request_duration_seconds_sum{{{sel}}}[{RI}])) / sum by (agent_type) (rate(insa_agent_request_duration_seconds_count{{{sel}}}[{RI}]))",
                                         "{{agent_type}}")], "s", "Mean request duration."),
        panel("heatmap", "Request duration distribution",
              [target(f"sum by (le) (increase(insa_agent_request_duration_seconds_bucket{{{sel}}}[{RI}]))", "{{le}}", fmt="heatmap")],
              "s", "Requests per duration bucket.",
              options={"calculate": False, "yAxis": {"unit": "s"}, "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange", "exponent": 0.5, "steps": 64, "reverse": False}}),
        row("Message bus and database"),
        ts("Message processing time", quantiles("insa_message_bus_processing_duration_seconds", ["agent_type"], BASE), "s",
           "Time to process one message, by agent."),
        ts("Database operation p95", [(f"histogram_quantile(0.95, sum by (operation, table, le) (rate(insa_database_operation_duration_seconds_bucket{{{BASE}}}[{RI}])))",
                                       "{{operation}} {{table}}")], "s", "95th percentile by operation and table."),
    ]


def cache():
    sel = f'{BASE}, cache_type=~"$cache_type"'
    return "04_cache", "Cache", [CACHE_VAR], [
        row("Effectiveness"),
        ts("Hit ratio", [(f"sum by (cache_type) (rate(insa_cache_hits_total{{{sel}}}[{RI}])) / (sum by (cache_type) (rate(insa_cache_hits_total{{{sel}}}[{RI}])) + sum by (cache_type) (rate(insa_cache_misses_total{{{sel}}}[{RI}])))",
                          "{{cache_type}}")], "percentunit",
           "Lookups that hit.", fieldConfig={"defaults": {"min": 0, "max": 1}}),
        ts("Hits and misses", [
            (f"sum by (cache_type) (rate(insa_cache_hits_total{{{sel}}}[{RI}]))", "{{cache_type}} hits"),
            (f"sum by (cache_type) (rate(insa_cache_misses_total{{{sel}}}[{RI}]))", "{{cache_type}} misses"),
        ], "ops", "Lookups per second."),
        ts("Lookups", [(f"sum by (cache_type) (rate(insa_cache_hits_total{{{sel}}}[{RI}])) + sum by (cache_type) (rate(insa_cache_misses_total{{{sel}}}[{RI}]))", "{{cache_type}}")], "ops",
           "Lookups per second, hits and misses."),
        row("Contents"),
        ts("Entries", [(f"sum by (cache_type) (insa_cache_size_entries{{{sel}}})", "{{cache_type}}")], "short", "Entries held."),
        ts("Evictions by reason", [(f"sum by (cache_type, reason) (rate(insa_cache_evictions_total{{{sel}}}[{RI}]))", "{{cache_type}} {{reason}}")],
           "ops", "capacity: the least recently used made room; expired: past the TTL."),
    ]


def workers():
    sel = f'{BASE}, worker_name=~"$worker_name"'
    return "05_workers", "Workers", [WORKER_VAR], [
        row("Health"),
        panel("state-timeline", "Worker health", [(f"min by (instance, worker_name) (insa_worker_health_status{{{sel}}})", "{{instance}} {{worker_name}}")],
              "none", "1 healthy, 0 unhealthy (restarting or failing).",
              fieldConfig={"defaults": {"mappings": HEALTH_MAPPINGS}}),
        panel("state-timeline", "Targets up", [(f"up{{{BASE}}}", "{{instance}}")], "none",
              "Each process: up when Prometheus scrapes it, down when the scrape fails.",
              fieldConfig={"defaults": {"mappings": UP_MAPPINGS}}),
        bars("Restarts", [(f"sum by (worker_name, reason) (increase(insa_worker_restarts_total{{{sel}}}[{RI}]))", "{{worker_name}} {{reason}}")],
             "short", "Restarts per interval, by reason (max_tasks, health_check)."),
        row("Load"),
        ts("Active requests", [(f"sum by (worker_name) (insa_worker_active_requests{{{sel}}})", "{{worker_name}}")], "short", "Requests in flight."),
        ts("Queued tasks", [(f"sum by (worker_name) (insa_worker_queue_size{{{sel}}})", "{{worker_name}}")], "short", "Tasks waiting for a free slot."),
        ts("CPU", [(f"rate(process_cpu_seconds_total{{{BASE}}}[{RI}])", "{{instance}}")], "percentunit", "CPU time of each process."),
        ts("Resident memory", [(f"process_resident_memory_bytes{{{BASE}}}", "{{instance}}")], "bytes", "Memory of each process."),
        row("Database"),
        ts("Database operations", [(f"sum by (operation, table) (rate(insa_database_operations_total{{{BASE}}}[{RI}]))", "{{operation}} {{table}}")],
           "ops", "Statements per second."),
        ts("Connection pool", [(f"sum by (database_name) (insa_database_connection_pool_size{{{BASE}}})", "{{database_name}}")],
           "short", "Open connections."),
    ]


def errors():
    sel = f"{BASE}, {AGENT}"
    return "06_errors", "Errors", [AGENT_VAR], [
        row("Failures"),
        ts("Error ratio by agent", [(ERROR_RATIO_BY_AGENT.format(sel=sel), "{{agent_type}}")], "percentunit",
           "Errors, timeouts and rejections over the requests that count (cancelled ones aside), as the availability "
           "SLO counts them; the SLO dashboard shows the error budget they spend."),
        ts("Errors, timeouts, rejections and cancellations", [
            (f'sum by (agent_type, status) (rate(insa_agent_requests_total{{{sel}, status=~"error|timeout|rejected|cancelled"}}[{RI}]))', "{{agent_type}} {{status}}"),
        ], "reqps", "Requests that did not succeed, per second by status: rejected ones were refused by an open circuit "
                    "breaker, cancelled ones given up by their caller."),
        bars("Database errors", [(f"sum by (operation, error_type) (increase(insa_database_errors_total{{{BASE}}}[{RI}]))", "{{operation}} {{error_type}}")],
             "short", "Failed statements per interval."),
        row("Resilience"),
        ts("Retry attempts", [(f"sum by (agent_type, retry_number) (rate(insa_retry_attempts_total{{{sel}}}[{RI}]))", "{{agent_type}} retry {{retry_number}}")],
           "ops", "Retries per second by retry number."),
        bars("Successful retries", [(f"sum by (agent_type) (increase(insa_retry_success_total{{{sel}}}[{RI}]))", "{{agent_type}}")],
             "short", "Calls that succeeded after retrying, per interval."),
        panel("state-timeline", "Circuit breaker state", [(f"max by (instance, agent_type) (insa_circuit_breaker_state{{{sel}}})", "{{instance}} {{agent_type}}")],
              "none", "closed, open or half open.",
              fieldConfig={"defaults": {"mappings": BREAKER_MAPPINGS}}),
        bars("Circuit breaker transitions", [(f"sum by (agent_type, from_state, to_state) (increase(insa_circuit_breaker_transitions_total{{{sel}}}[{RI}]))",
                                              "{{agent_type}} {{from_state}} → {{to_state}}")], "short", "Transitions per interval."),
        row("Dead letters"),
        ts("Dead letter queue size", [(f"sum by (agent_type) (insa_dead_letter_queue_size{{{BASE}}})", "{{agent_type}}")], "short",
           "Messages waiting for a replay."),
        bars("Dead letter replays", [(f"sum by (status) (increase(insa_dead_letter_replay_total{{{BASE}}}[{RI}]))", "{{status}}")], "short",
             "Replays per interval, by outcome."),
    ]


# --- the SLO dashboard ---------------------------------------------------------

def per_objective(build):
    """One expression over every agent: `build(agent matcher, objectives)` for
    each objectives group of slo/objectives.yml (each agent listed, then the
    default for every other agent), joined with `or`."""
    groups = OBJECTIVES["groups"]
    return " or ".join(f"({build(slo.agent_matcher(agent, groups), o)})" for agent, o in groups)


def failed_ratio(sel, window):
    return (f"sum by (agent_type) (increase(insa_agent_requests_total{{{sel}, {FAILED}}}[{window}]))"
            f" / sum by (agent_type) (increase(insa_agent_requests_total{{{sel}, {COUNTED}}}[{window}]))")


def slow_ratio(sel, window, o):
    le = slo.le(o["latency"]["threshold_seconds"])
    return (f'1 - sum by (agent_type) (increase(insa_agent_request_duration_seconds_bucket{{{sel}, le="{le}"}}[{window}]))'
            f" / sum by (agent_type) (increase(insa_agent_request_duration_seconds_count{{{sel}}}[{window}]))")


def budget(o, sli):
    return round(1 - (o["availability"] if sli == "availability" else o["latency"]["objective"]), 10)


def burn_lines():
    """Threshold lines at the burn rates of the page (red) and of the ticket (orange)."""
    ticket = min(w["burn_rate"] for w in OBJECTIVES["alerting"]["ticket"]["windows"] if w["burn_rate"] > 1)
    page = min(w["burn_rate"] for w in OBJECTIVES["alerting"]["page"]["windows"])
    return {"defaults": {"thresholds": thresholds([(None, "green"), (ticket, "orange"), (page, "red")]),
                         "custom": {"thresholdsStyle": {"mode": "line"}}}}


def slo_dashboard():
    period = OBJECTIVES["period"]
    sel = f"{BASE}, {AGENT}"
    page = OBJECTIVES["alerting"]["page"]["windows"]
    budget_steps = [(None, "red"), (0, "orange"), (0.25, "green")]
    objectives_text = "; ".join(
        f"{agent or 'other agents'}: {o['availability'] * 100:g} % available, {o['latency']['objective'] * 100:g} % "
        f"within {o['latency']['threshold_seconds']:g} s" for agent, o in OBJECTIVES["groups"])
    return "07_slo", "SLOs and error budgets", [AGENT_VAR], [
        row(f"Error budget left over {period}"),
        stat(f"Availability budget left ({period})",
             [(per_objective(lambda m, o: f"1 - ({failed_ratio(f'{sel}, {m}', period)}) / {budget(o, 'availability')}"),
               "{{agent_type}}")],
             "percentunit",
             f"Share of the {period} availability error budget not yet spent, by agent (below 0: the objective is missed). "
             f"Objectives ({objectives_text}) from deploy/prometheus/slo/objectives.yml.",
             steps=budget_steps),
        stat(f"Latency budget left ({period})",
             [(per_objective(lambda m, o: f"1 - ({slow_ratio(f'{sel}, {m}', period, o)}) / {budget(o, 'latency')}"),
               "{{agent_type}}")],
             "percentunit",
             f"Share of the {period} latency error budget not yet spent, by agent: requests slower than the agent's "
             "threshold spend it.", steps=budget_steps),
        stat(f"Availability ({period})",
             [(f"1 - ({failed_ratio(sel, period)})", "{{agent_type}}")], "percentunit",
             "Requests that succeeded, of those that count (error, timeout and rejected fail; cancelled count neither way)."),
        stat(f"Within the latency threshold ({period})",
             [(per_objective(lambda m, o: f"1 - ({slow_ratio(f'{sel}, {m}', period, o)})"), "{{agent_type}}")],
             "percentunit", "Requests that finished within their agent's latency threshold."),
        row("Burn rate (1 = the budget lasts exactly the period)"),
        ts("Availability burn rate",
           [(per_objective(lambda m, o: f"({failed_ratio(f'{sel}, {m}', w['long'])}) / {budget(o, 'availability')}"),
             f"{{{{agent_type}}}} {w['long']}") for w in page],
           "none",
           "How fast each agent spends its availability budget over the page's long windows. The page fires above the "
           "red line (with the short window above it too), the ticket above the orange one.",
           fieldConfig=burn_lines()),
        ts("Latency burn rate",
           [(per_objective(lambda m, o: f"({slow_ratio(f'{sel}, {m}', w['long'], o)}) / {budget(o, 'latency')}"),
             f"{{{{agent_type}}}} {w['long']}") for w in page],
           "none", "How fast each agent spends its latency budget over the page's long windows.",
           fieldConfig=burn_lines()),
        row("Indicators"),
        ts("Failed requests", [(f"({failed_ratio(sel, RI)})", "{{agent_type}}")], "percentunit",
           "Share of requests that failed (error, timeout, rejected), as the availability SLO counts them."),
        ts("Slower than the threshold", [(per_objective(lambda m, o: slow_ratio(f"{sel}, {m}", RI, o)), "{{agent_type}}")],
           "percentunit", "Share of requests slower than their agent's latency threshold."),
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
    links = [{"type": "dashboards", "tags": ["insa"], "asDropdown": True, "title": "INSA dashboards", "includeVars": True,
              "keepTime": True, "icon": "external link", "targetBlank": False, "tooltip": ""}]
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
        "templating": {"list": [datasource_var()] + [query_var(*v) for v in [ENVIRONMENT_VAR, REGION_VAR, INSTANCE_VAR, *variables]]},
        "panels": layout(panels),
    }


BUILDERS = (overview, requests, latency, cache, workers, errors, slo_dashboard)


def rendered():
    """{path: JSON text} of every dashboard."""
    out = {}
    for build in BUILDERS:
        file, title, variables, panels = build()
        out[OUT / f"{file}.json"] = json.dumps(dashboard(file, title, variables, panels), indent=2, ensure_ascii=False) + "\n"
    return out


def main():
    files = rendered()
    if "--check" in sys.argv[1:]:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        stale += [p for p in OUT.glob("*.json") if p not in files]
        for p in stale:
            print(f"{p.relative_to(HERE.parent.parent)} is out of date: run python3 deploy/grafana/generate_dashboards.py")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
