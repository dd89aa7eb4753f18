#!/usr/bin/env python3
"""Every alert of deploy/prometheus/rules has promtool test cases showing it
firing and not firing (the Watchdog, which always fires, only firing), a
section in deploy/prometheus/RUNBOOK.md (its runbook_url's anchor), a
`dashboard_url` opening one of deploy/grafana/dashboards (by its uid; the
Watchdog, which nobody reads, has none), and a `severity` the Alertmanager
routes (critical, warning, or none).

    python3 scripts/check_alert_tests.py

promtool runs the cases (`promtool test rules deploy/prometheus/tests/*.yml`);
this only checks that none is missing.
"""

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ALWAYS_FIRING = {"Watchdog"}
# Alerts no one opens a dashboard for: the Watchdog goes to the heartbeat
# service only.
NO_DASHBOARD = {"Watchdog"}
SEVERITIES = {"critical", "warning", "none"}


def main():
    alerts, errors = set(), []
    runbook = (ROOT / "deploy/prometheus/RUNBOOK.md").read_text()
    sections = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    uids = {json.loads(p.read_text())["uid"] for p in (ROOT / "deploy/grafana/dashboards").glob("*.json")}
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for r in group["rules"]:
                if "alert" not in r:
                    continue
                alerts.add(r["alert"])
                if r["alert"].lower() not in sections:
                    errors.append(f"{r['alert']}: no section in RUNBOOK.md")
                if not r["annotations"].get("runbook_url", "").endswith("#" + r["alert"].lower()):
                    errors.append(f"{r['alert']}: runbook_url does not end with #{r['alert'].lower()}")
                dashboard = r["annotations"].get("dashboard_url")
                if r["alert"] not in NO_DASHBOARD:
                    uid = re.search(r"/d/([^/?{]+)", dashboard or "")
                    if not dashboard:
                        errors.append(f"{r['alert']}: no dashboard_url annotation")
                    elif not uid or uid.group(1) not in uids:
                        errors.append(f"{r['alert']}: dashboard_url opens no dashboard of deploy/grafana/dashboards "
                                      f"(uids {sorted(uids)})")
                if r.get("labels", {}).get("severity") not in SEVERITIES:
                    errors.append(f"{r['alert']}: severity not one of {sorted(SEVERITIES)}")
    firing, quiet = set(), set()
    for path in sorted((ROOT / "deploy/prometheus/tests").glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test") or []:
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    errors += [f"{a}: no test case where it fires" for a in sorted(alerts - firing)]
    errors += [f"{a}: no test case where it does not fire" for a in sorted(alerts - quiet - ALWAYS_FIRING)]
    errors += [f"{a}: tested but not defined" for a in sorted((firing | quiet) - alerts)]
    stale = sorted(sections - {a.lower() for a in alerts})
    errors += [f"RUNBOOK.md: section {s} for no alert" for s in stale]
    for e in errors:
        print("FAIL", e)
    if errors:
        return 1
    print(f"ok: {len(alerts)} alerts, each tested firing and not firing, each with its runbook section "
          f"and a dashboard_url")
    return 0


if __name__ == "__main__":
    sys.exit(main())
