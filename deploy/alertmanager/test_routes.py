#!/usr/bin/env python3
"""Routing and inhibition tests of alertmanager.yml, with amtool (Debian:
prometheus-alertmanager).

    python3 deploy/alertmanager/test_routes.py

Runs `amtool check-config`, then `amtool config routes test` for every alert
of deploy/prometheus/rules with the labels it fires with (its severity), in
production and in staging: a critical alert reaches the pager in production
and the ticket queue in staging, a warning the ticket queue, the Watchdog the
heartbeat. Then a few label sets no rule has yet (an unknown severity, none).

amtool has no inhibition test: the inhibit_rules are then applied here, as
the Alertmanager applies them (every `equal` label the same on both sides, a
label missing on both counting as the same), to the label sets the rules fire
with: those the promtool tests (deploy/prometheus/tests) expect of them.
"""

import re
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "alertmanager.yml"
RULES = HERE.parent / "prometheus" / "rules"
TESTS = HERE.parent / "prometheus" / "tests"
RECEIVER = {"critical": "pager", "warning": "ticket"}
# Staging pages nobody: its critical alerts open tickets.
STAGING_RECEIVER = {"critical": "ticket", "warning": "ticket"}


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
    fired = fired_labels()
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                severity = rule["labels"]["severity"]
                if rule["alert"] == "Watchdog":
                    cases.append(({"alertname": "Watchdog", "severity": severity}, "heartbeat"))
                    continue
                if severity not in RECEIVER:
                    print(f"FAIL {path.name}: {rule['alert']} has severity {severity!r}, routed nowhere on purpose")
                    return 1
                labels = {"alertname": rule["alert"], "severity": severity, "region": "eu-west-1"}
                if "environment" not in fired.get((rule["alert"], severity), {"environment": None}):
                    # Prometheus' own alerts: no environment, they page.
                    cases.append((labels, RECEIVER[severity]))
                    continue
                for environment, receivers in (("production", RECEIVER), ("staging", STAGING_RECEIVER)):
                    cases.append(({**labels, "environment": environment}, receivers[severity]))
    cases += [
        ({"alertname": "SomethingNew", "severity": "info"}, "ticket"),
        ({"alertname": "SomethingNew"}, "ticket"),
        ({"alertname": "SomethingNew", "severity": "info", "environment": "staging"}, "ticket"),
        ({"alertname": "Watchdog", "severity": "none"}, "heartbeat"),
    ]
    failed = sum(not route(labels, expected) for labels, expected in cases)
    print(f"routes: {len(cases) - failed} passed, {failed} failed")
    inhibition_failed = inhibitions()
    return 1 if failed or inhibition_failed else 0


# --- inhibitions ---------------------------------------------------------------

MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def matches(matchers, labels):
    for m in matchers:
        parsed = MATCHER.match(m)
        if not parsed:
            raise SystemExit(f"inhibit_rules: cannot read the matcher {m!r}")
        name, op, value = parsed.groups()
        got = labels.get(name, "")
        ok = {"=": got == value, "!=": got != value,
              "=~": re.fullmatch(value, got) is not None, "!~": re.fullmatch(value, got) is None}[op]
        if not ok:
            return False
    return True


def inhibited(config, target, firing):
    """Whether any of `firing` mutes `target` under the config's inhibit_rules."""
    for rule in config.get("inhibit_rules", []):
        if not matches(rule.get("target_matchers", []), target):
            continue
        for source in firing:
            if source != target and matches(rule.get("source_matchers", []), source) and \
                    all(source.get(l, "") == target.get(l, "") for l in rule.get("equal", [])):
                return True
    return False


def fired_labels():
    """(alertname, severity) -> the labels the promtool tests expect the alert to fire with."""
    out = {}
    for path in sorted(TESTS.glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test") or []:
                for alert in case.get("exp_alerts") or []:
                    labels = {k: str(v) for k, v in alert.get("exp_labels", {}).items()}
                    labels["alertname"] = case["alertname"]
                    out.setdefault((case["alertname"], labels.get("severity")), labels)
    return out


def inhibitions():
    config = yaml.safe_load(CONFIG.read_text())
    fired = fired_labels()

    def alert(name, severity, **overrides):
        labels = dict(fired[(name, severity)])
        labels.update({"environment": "production", "region": "eu-west-1", **overrides})
        return labels

    worker_down = alert("InsaWorkerDown", "warning")
    targets_down = alert("InsaTargetsDown", "critical")
    targets_gone = alert("InsaTargetsGone", "critical")
    no_requests = alert("InsaNoRequests", "critical")
    slo_page = alert("InsaAvailabilityBudgetBurn", "critical", agent_type="crm_agent")
    slo_ticket = alert("InsaAvailabilityBudgetBurn", "warning", agent_type="crm_agent")
    cases = [
        # (what, target, firing sources, muted?)
        ("a page mutes the same alert's ticket", slo_ticket, [slo_page], True),
        ("... not another agent's", {**slo_ticket, "agent_type": "sizing_agent"}, [slo_page], False),
        ("... not another region's", {**slo_ticket, "region": "us-east-1"}, [slo_page], False),
        ("InsaTargetsDown mutes the region's InsaWorkerDown", worker_down, [targets_down], True),
        ("... not another region's", {**worker_down, "region": "us-east-1"}, [targets_down], False),
        ("... not another environment's", {**worker_down, "environment": "staging"}, [targets_down], False),
        ("InsaTargetsDown mutes the region's InsaNoRequests", no_requests, [targets_down], True),
        ("InsaTargetsGone mutes the region's InsaNoRequests", no_requests, [targets_gone], True),
        ("... not another region's", {**no_requests, "region": "us-east-1"}, [targets_down, targets_gone], False),
        ("one InsaWorkerDown does not mute the region's InsaNoRequests", no_requests, [worker_down], False),
        ("nor does it mute another region's", {**no_requests, "region": "us-east-1"}, [worker_down], False),
    ]
    failed = 0
    for what, target, firing, expected in cases:
        got = inhibited(config, target, firing)
        ok = got == expected
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {target['alertname']} {'muted' if got else 'not muted'}"
              f"{'' if ok else ' (expected ' + ('muted' if expected else 'not muted') + ')'}")
    print(f"inhibitions: {len(cases) - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())
