#!/usr/bin/env python3
"""Routing tests of alertmanager.yml, with amtool (Debian: prometheus-alertmanager).

    python3 deploy/alertmanager/test_routes.py

Runs `amtool check-config`, then `amtool config routes test` for every alert
of deploy/prometheus/rules with the labels it fires with (its severity): a
critical alert reaches the pager, a warning the ticket queue, the Watchdog the
heartbeat. Then a few label sets no rule has yet (an unknown severity, none).
"""

import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "alertmanager.yml"
RULES = HERE.parent / "prometheus" / "rules"
RECEIVER = {"critical": "pager", "warning": "ticket"}


def route(labels, expected):
    cmd = ["amtool", "config", "routes", "test", f"--config.file={CONFIG}",
           f"--verify.receivers={expected}", *(f"{k}={v}" for k, v in labels.items())]
    r = subprocess.run(cmd, capture_output=True, text=True)
    got = r.stdout.strip()
    ok = r.returncode == 0
    print(f"{'ok  ' if ok else 'FAIL'} {labels} -> {got} (expected {expected})")
    return ok


def main():
    check = subprocess.run(["amtool", "check-config", str(CONFIG)], capture_output=True, text=True)
    if check.returncode != 0:
        print(check.stdout, check.stderr)
        return 1
    cases = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                severity = rule["labels"]["severity"]
                labels = {"alertname": rule["alert"], "severity": severity,
                          "environment": "production", "region": "eu-west-1"}
                expected = "heartbeat" if rule["alert"] == "Watchdog" else RECEIVER.get(severity)
                if expected is None:
                    print(f"FAIL {path.name}: {rule['alert']} has severity {severity!r}, routed nowhere on purpose")
                    return 1
                cases.append((labels, expected))
    cases += [
        ({"alertname": "SomethingNew", "severity": "info"}, "ticket"),
        ({"alertname": "SomethingNew"}, "ticket"),
        ({"alertname": "Watchdog", "severity": "none"}, "heartbeat"),
    ]
    failed = sum(not route(labels, expected) for labels, expected in cases)
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
