#!/usr/bin/env python3
"""Static checks of the Grafana dashboards (no Grafana or Prometheus needed).

    python3 scripts/check_dashboards.py

- the seven dashboards (the six of the spec and the SLO one) exist, parse and
  are what generate_dashboards.py writes; each has a `datasource` variable
  and every panel queries through it;
- every panel (rows aside) has a unit and at least one query;
- every family of the metric catalogue (insa-metrics/src/catalogue.rs)
  appears in at least one panel query;
- every dashboard has the `environment`, `region` and `instance` variables
  and every series selector of every panel filters on all three (no panel
  reads a recording rule, which would ignore them);
- `$__range` (a total over the whole time range) only on stat panels;
- every stat panel states its thresholds (Grafana's default turns a value
  of 80 or more red);
- every graph of a duration histogram's quantiles (unit: seconds) asks for
  exemplars.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ["01_overview", "02_requests", "03_latency", "04_cache", "05_workers", "06_errors", "07_slo"]
# The duration histograms whose buckets carry exemplars (the README's
# "Exemplars and OpenMetrics").
EXEMPLAR_HISTOGRAMS = (
    "insa_agent_request_duration_seconds_bucket",
    "insa_database_operation_duration_seconds_bucket",
    "insa_message_bus_processing_duration_seconds_bucket",
)


def catalogue_families():
    """The 30 family names declared in the catalogue (self-metrics aside)."""
    text = (ROOT / "insa-metrics/src/catalogue.rs").read_text()
    names = set(re.findall(r'"(insa_[a-z0-9_]+)"', text))
    return sorted(n for n in names if not n.startswith("insa_metrics_"))


def load_dashboards():
    out = {}
    for name in DASHBOARDS:
        path = ROOT / "deploy/grafana/dashboards" / f"{name}.json"
        out[name] = json.loads(path.read_text())
    return out


def panels(dashboard):
    for p in dashboard["panels"]:
        if p["type"] == "row":
            continue
        yield p


def expressions(dashboard, with_type=False):
    """(panel title, expr) of every query of every panel; (type, title, expr) with `with_type`."""
    for p in panels(dashboard):
        for t in p.get("targets", []):
            yield (p["type"], p["title"], t["expr"]) if with_type else (p["title"], t["expr"])


FILTERS = ['environment=~"$environment"', 'region=~"$region"', 'instance=~"$instance"']
VARIABLES = ("environment", "region", "instance")


def filter_errors(name, dashboard):
    """The panels that ignore the environment, region or instance variable, or misuse $__range."""
    errors = []
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for var in VARIABLES:
        if var not in variables:
            errors.append(f"{name}: no {var} variable")
    for kind, title, expr in expressions(dashboard, with_type=True):
        if re.search(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", expr):
            errors.append(f"{name} / {title}: reads a recording rule (ignores $environment/$region/$instance): {expr}")
        for metric, matchers in re.findall(r"([a-zA-Z_:][\w:]*)\{([^}]*)\}", expr):
            missing = [f for f in FILTERS if f not in matchers]
            if missing:
                errors.append(f"{name} / {title}: {metric} selector without {', '.join(missing)}")
        if "$__range" in expr and kind != "stat":
            errors.append(f"{name} / {title}: $__range in a {kind} panel (a rolling total); use $__rate_interval")
    return errors


def main():
    errors = []
    families = catalogue_families()
    if len(families) != 30:
        errors.append(f"expected 30 families in the catalogue, found {len(families)}")
    dashboards = load_dashboards()
    seen = set()
    for name, d in dashboards.items():
        variables = {v["name"]: v for v in d["templating"]["list"]}
        if variables.get("datasource", {}).get("type") != "datasource":
            errors.append(f"{name}: no datasource variable")
        for p in panels(d):
            unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
            if not unit:
                errors.append(f"{name} / {p['title']}: no unit")
            if p.get("datasource", {}).get("uid") != "${datasource}":
                errors.append(f"{name} / {p['title']}: not on the datasource variable")
            if not p.get("targets"):
                errors.append(f"{name} / {p['title']}: no query")
            if p["type"] == "stat" and not p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps"):
                errors.append(f"{name} / {p['title']}: a stat without thresholds (Grafana's default is red from 80)")
            for t in p.get("targets", []):
                if (p["type"] in ("timeseries", "heatmap") and unit == "s"
                        and any(h in t["expr"] for h in EXEMPLAR_HISTOGRAMS) and not t.get("exemplar")):
                    errors.append(f"{name} / {p['title']}: a latency graph without exemplars")
        errors.extend(filter_errors(name, d))
        for _, expr in expressions(d):
            for family in families:
                if re.search(rf"\b{family}(_bucket|_sum|_count)?\b", expr):
                    seen.add(family)
    # Families read through recording rules count too.
    rules = "".join(p.read_text() for p in (ROOT / "deploy/prometheus/rules").glob("*.yml"))
    for name, d in dashboards.items():
        for _, expr in expressions(d):
            for record in re.findall(r"record: (\S+)\n\s+expr: ([^\n]+(?:\n\s{10,}[^\n]+)*)", rules):
                if record[0] in expr:
                    for family in families:
                        if family in record[1]:
                            seen.add(family)
    missing = [f for f in families if f not in seen]
    if missing:
        errors.append(f"families on no panel: {', '.join(missing)}")
    generated = subprocess.run([sys.executable, str(ROOT / "deploy/grafana/generate_dashboards.py"), "--check"],
                               capture_output=True, text=True)
    if generated.returncode != 0:
        errors.append(f"the JSON files are not what the generator writes:\n{generated.stdout}{generated.stderr}")
    for e in errors:
        print("FAIL", e)
    total = sum(len(list(expressions(d))) for d in dashboards.values())
    if errors:
        return 1
    print(f"ok: {len(dashboards)} dashboards, {total} queries, all {len(families)} families on a panel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
