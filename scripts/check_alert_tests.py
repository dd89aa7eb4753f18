#!/usr/bin/env python3
"""Every alert of deploy/prometheus/rules has promtool test cases showing it
firing and not firing (the Watchdog, which always fires, only firing).

    python3 scripts/check_alert_tests.py

promtool runs the cases (`promtool test rules deploy/prometheus/tests/*.yml`);
this only checks that none is missing.
"""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ALWAYS_FIRING = {"Watchdog"}


def main():
    alerts = set()
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            alerts |= {r["alert"] for r in group["rules"] if "alert" in r}
    firing, quiet = set(), set()
    for path in sorted((ROOT / "deploy/prometheus/tests").glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test") or []:
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    errors = [f"{a}: no test case where it fires" for a in sorted(alerts - firing)]
    errors += [f"{a}: no test case where it does not fire" for a in sorted(alerts - quiet - ALWAYS_FIRING)]
    errors += [f"{a}: tested but not defined" for a in sorted((firing | quiet) - alerts)]
    for e in errors:
        print("FAIL", e)
    if errors:
        return 1
    print(f"ok: {len(alerts)} alerts, each tested firing and not firing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
