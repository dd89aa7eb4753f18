#!/usr/bin/env python3
"""Generates rules/slo.yml from slo/objectives.yml: the SLO recording rules
and the multi-window, multi-burn-rate alerts of every agent.

    python3 deploy/prometheus/generate_slo_rules.py          # writes rules/slo.yml
    python3 deploy/prometheus/generate_slo_rules.py --check  # fails if it is out of date

The objectives, the period and the burn-rate windows are written once, in
slo/objectives.yml; this script only derives. Recording rules, for each
window the alerts use (5m, 30m, 1h, 2h, 6h, 1d, 3d):

  environment_region_agent_type:insa_slo_availability_errors:ratio_rate<w>
      failed requests (error, timeout, rejected) over requests (cancelled
      ones aside), by environment, region and agent;
  environment_region_agent_type:insa_slo_latency_slow:ratio_rate<w>
      requests slower than the agent's threshold over the requests timed.

and the objectives themselves, one series per agent seen in
insa_agent_requests_total (its own, or the default):

  environment_region_agent_type:insa_slo_{availability,latency}:objective

Alerts: InsaAvailabilityBudgetBurn and InsaLatencyBudgetBurn, once with the
page severity (either page window pair burning faster than its rate) and once
with the ticket severity; the thresholds join the objective series.
"""

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OBJECTIVES = HERE / "slo" / "objectives.yml"
OUT = HERE / "rules" / "slo.yml"

JOB = 'job="insa-workers"'
BY = "environment, region, agent_type"
SLIS = {
    "availability": {
        "record": "environment_region_agent_type:insa_slo_availability_errors:ratio_rate{w}",
        "alert": "InsaAvailabilityBudgetBurn",
        "dashboard": "insa-errors",
    },
    "latency": {
        "record": "environment_region_agent_type:insa_slo_latency_slow:ratio_rate{w}",
        "alert": "InsaLatencyBudgetBurn",
        "dashboard": "insa-latency",
    },
}
OBJECTIVE = "environment_region_agent_type:insa_slo_{sli}:objective"
# Requests that count for availability, and those that failed.
VALID_STATUS = 'status!="cancelled"'
BAD_STATUS = 'status=~"error|timeout|rejected"'

DURATION = re.compile(r"^(\d+)([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration):
    m = DURATION.match(duration)
    if not m:
        raise SystemExit(f"{OBJECTIVES}: not a duration: {duration!r}")
    return int(m.group(1)) * SECONDS[m.group(2)]


def duration_buckets():
    """The bucket boundaries of insa_agent_request_duration_seconds, from the catalogue."""
    text = (ROOT / "insa-metrics/src/catalogue.rs").read_text()
    m = re.search(r"REQUEST_DURATION_BUCKETS: &\[f64\] = &\[([^\]]*)\]", text)
    return [float(x) for x in m.group(1).split(",") if x.strip()]


def le(value):
    """A bucket boundary as the runtime writes it in `le` (1.0 -> "1")."""
    return "%g" % value


def load():
    """The objectives, checked: {period, alerting, groups: [(agent or None, objectives)]}."""
    spec = yaml.safe_load(OBJECTIVES.read_text())
    buckets = duration_buckets()
    groups = [(agent, o) for agent, o in (spec.get("agents") or {}).items()]
    groups.append((None, spec["default"]))
    for agent, o in groups:
        where = agent or "default"
        for ratio in (o["availability"], o["latency"]["objective"]):
            if not 0 < ratio < 1:
                raise SystemExit(f"{OBJECTIVES}: {where}: an objective is a ratio in (0, 1), got {ratio}")
        if float(o["latency"]["threshold_seconds"]) not in buckets:
            raise SystemExit(f"{OBJECTIVES}: {where}: latency threshold {o['latency']['threshold_seconds']} "
                             f"is not a bucket boundary of insa_agent_request_duration_seconds {buckets}")
    seconds(spec["period"])
    for severity in spec["alerting"].values():
        for w in severity["windows"]:
            seconds(w["long"]), seconds(w["short"])
    return {"period": spec["period"], "alerting": spec["alerting"], "groups": groups}


def windows(spec):
    """Every window the alerts read, shortest first."""
    ws = {w[k] for s in spec["alerting"].values() for w in s["windows"] for k in ("long", "short")}
    return sorted(ws, key=seconds)


def agent_matcher(agent, groups):
    """The agent_type matcher of a group: the agent, or every agent not listed."""
    if agent:
        return f'agent_type="{agent}"'
    listed = [a for a, _ in groups if a]
    return f'agent_type!~"{"|".join(listed)}"' if listed else 'agent_type=~".+"'


def objective(sli, o):
    return o["availability"] if sli == "availability" else o["latency"]["objective"]


def percent(ratio):
    return f"{ratio * 100:.10g} %"


def availability_expr(w):
    return (f"sum by ({BY}) (rate(insa_agent_requests_total{{{JOB}, {BAD_STATUS}}}[{w}]))\n"
            f"/\n"
            f"sum by ({BY}) (rate(insa_agent_requests_total{{{JOB}, {VALID_STATUS}}}[{w}]))")


def latency_expr(w, groups):
    good = "\n  or\n".join(
        f"  sum by ({BY}) (rate(insa_agent_request_duration_seconds_bucket{{{JOB}, "
        f"{agent_matcher(agent, groups)}, le=\"{le(o['latency']['threshold_seconds'])}\"}}[{w}]))"
        for agent, o in groups)
    return (f"1 - (\n{good}\n)\n/\n"
            f"sum by ({BY}) (rate(insa_agent_request_duration_seconds_count{{{JOB}}}[{w}]))")


def indent(text, n):
    return "\n".join((" " * n + line) if line else line for line in text.splitlines())


def link(kind, anchor_or_path):
    label = "runbook_url" if kind == "runbook" else "grafana_url"
    return ("'{{ with query \"insa_alert_links\" }}{{ . | first | label \"%s\" }}{{ end }}%s'"
            % (label, anchor_or_path))


def objective_expr(sli, groups):
    """The objective of every agent that has requests, by environment, region and agent."""
    return "\nor\n".join(
        f"{objective(sli, o):.10g} + 0 * group by ({BY}) (insa_agent_requests_total{{{JOB}, {agent_matcher(agent, groups)}}})"
        for agent, o in groups)


def alert(sli, severity, spec):
    sev = spec["alerting"][severity]
    record = SLIS[sli]["record"]
    goal = OBJECTIVE.format(sli=sli)
    pairs = []
    for w in sev["windows"]:
        threshold = f"on ({BY}) ({w['burn_rate']:g} * (1 - {goal}))"
        pairs.append(f"(\n  {record.format(w=w['long'])} > {threshold}\n  and\n"
                     f"  {record.format(w=w['short'])} > {threshold}\n)")
    expr = "\nor\n".join(pairs)
    period_s = seconds(spec["period"])
    burns = ", or ".join(
        f"{w['burn_rate']:g}x over {w['long']} and {w['short']} (the budget gone in "
        f"{human(period_s / w['burn_rate'])})" for w in sev["windows"])
    what = ("of its requests failed (error, timeout or rejected)" if sli == "availability"
            else "of its requests were slower than its latency threshold")
    value = ("{{ with printf `%s{environment='%s',region='%s',agent_type='%s'}` "
             f"\"{goal}\" $labels.environment $labels.region $labels.agent_type | query }}}}"
             "{{ . | first | value | humanizePercentage }}{{ else }}(unknown){{ end }}")
    description = (
        f"{{{{ $labels.agent_type }}}} in {{{{ $labels.environment }}}} / {{{{ $labels.region }}}}: "
        f"{{{{ $value | humanizePercentage }}}} {what} over the last {sev['windows'][0]['long']} "
        f"(or {sev['windows'][-1]['long']}), against an objective of {value} good over {spec['period']}: "
        f"the error budget burns at least {burns}. First: the SLO dashboard for which window "
        "burns, then the "
        + ("Errors dashboard for which status dominates."
           if sli == "availability" else "Latency dashboard's p95 by instance."))
    summary = (f"An agent burns its {sli} error budget "
               + ("fast (page)" if severity == "page" else "steadily (ticket)"))
    dashboard = (f"/d/insa-slo?var-environment={{{{ $labels.environment }}}}"
                 f"&var-region={{{{ $labels.region }}}}&var-agent_type={{{{ $labels.agent_type }}}}")
    name = SLIS[sli]["alert"]
    return "\n".join([
        f"- alert: {name}",
        "  expr: |",
        indent(expr, 4),
        f"  for: {sev['for']}",
        "  labels:",
        f"    severity: {sev['severity']}",
        f"    slo: {sli}",
        "  annotations:",
        f"    summary: \"{summary}\"",
        "    description: >-",
        indent(wrap(description, 70), 6),
        f"    runbook_url: {link('runbook', '#' + name.lower())}",
        f"    dashboard_url: {link('grafana', dashboard)}",
    ])


def human(secs):
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= n:
            v = secs / n
            return f"{v:.3g} {unit}".replace(" d", " days").replace(" h", " hours").replace(" m", " minutes")
    return f"{secs:g} s"


def wrap(text, width):
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def render(spec):
    groups = spec["groups"]
    out = [
        "# GENERATED by deploy/prometheus/generate_slo_rules.py from slo/objectives.yml:",
        "# edit those and run it again; do not edit this file.",
        "#",
        "# Per agent, environment and region: the availability and latency SLIs over",
        "# every window of the burn-rate alerts, and the alerts (page: fast burn,",
        "# ticket: slow burn). Objectives:",
    ]
    for agent, o in groups:
        out.append(f"#   {agent or 'default':14} availability {o['availability']:g}, "
                   f"latency {o['latency']['objective']:g} within {o['latency']['threshold_seconds']:g} s")
    # One group: rules of a group are evaluated in order, so each alert reads
    # the ratios recorded at the same evaluation, never the previous one.
    out += ["groups:", "  - name: insa_slo", "    rules:"]
    for sli in SLIS:
        out.append(indent(f"# The {sli} objective of every agent with requests.", 6))
        out.append(indent(f"- record: {OBJECTIVE.format(sli=sli)}\n  expr: |\n{indent(objective_expr(sli, groups), 4)}", 6))
    for sli in SLIS:
        for w in windows(spec):
            expr = availability_expr(w) if sli == "availability" else latency_expr(w, groups)
            out.append(indent(f"- record: {SLIS[sli]['record'].format(w=w)}\n  expr: |\n{indent(expr, 4)}", 6))
    out.append("")
    for sli in SLIS:
        for severity in ("page", "ticket"):
            out.append(indent(alert(sli, severity, spec), 6))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    text = render(load())
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python3 {Path(__file__).relative_to(ROOT)}")
            return 1
        print(f"{OUT.relative_to(ROOT)} is up to date with {OBJECTIVES.relative_to(ROOT)}")
        return 0
    OUT.write_text(text)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
