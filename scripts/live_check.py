#!/usr/bin/env python3
"""Live test of the monitoring stack: crm_backend scraped by a real Prometheus.

    python3 scripts/live_check.py --backend target/debug/examples/crm_backend

Runs two variants, each with its own Prometheus on a free loopback port,
started from deploy/prometheus/prometheus_config.yml adapted for the test
(1 s scrape and evaluation intervals, the file_sd targets file pointing at the
backends, the real rule files with every `for:` shortened to 5 s):

single  one crm_backend with the CRM agent's breaker forced open. Asserts: the
        target is up (discovered through file_sd); all 30 families are
        scraped; every recording rule has a value and every rule evaluates
        without error; every expression of every panel of the six dashboards
        (Grafana variables substituted) and every dashboard variable query
        returns data; InsaCircuitBreakerOpen reaches `firing`.
multi   three crm_backend processes on three ports, all discovered through
        file_sd and all up; every top-level `sum` query of the dashboards,
        evaluated at one instant, equals the sum of its per-instance values,
        and the request counters really come from all three; requests of all
        four statuses (success, error, timeout, cancelled) are recorded.

Every process started is stopped on exit (also on failure or Ctrl-C).
Standard library only.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import check_dashboards  # noqa: E402

PROCESSES = []
FAILURES = []

# Grafana's variables, as the test substitutes them.
VARIABLES = {
    "__rate_interval": "30s",
    "__interval": "5s",
    "__range": "5m",
    "agent_type": ".*",
    "instance": ".*",
    "worker_name": ".*",
    "cache_type": ".*",
}


def log(msg):
    print(f"[live {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fail(msg):
    FAILURES.append(msg)
    log(f"FAIL {msg}")


# --- processes ---------------------------------------------------------------

def spawn(cmd, log_path, **kw):
    out = open(log_path, "w")
    p = subprocess.Popen(cmd, stdout=kw.pop("stdout", out), stderr=out, start_new_session=True, **kw)
    PROCESSES.append(p)
    # For live_test.sh's trap, should this script be killed before its cleanup.
    pidfile = os.environ.get("INSA_LIVE_PIDFILE")
    if pidfile:
        with open(pidfile, "a") as f:
            f.write(f"{p.pid}\n")
    return p


def stop_all():
    for p in PROCESSES:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 10
    for p in PROCESSES:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    PROCESSES.clear()


def start_backend(binary, workdir, name, extra):
    cmd = [binary, "--port", "0", "--duration", "240", "--environment", "test", *extra]
    p = spawn(cmd, workdir / f"{name}.log", stdout=subprocess.PIPE)
    ready, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline().decode() if ready else ""
    m = re.search(r"http://([\d.]+:\d+)/metrics", line)
    if not m:
        raise SystemExit(f"{name} did not report its address (got {line!r}); see {workdir / (name + '.log')}")
    log(f"{name} serves on {m.group(1)} (pid {p.pid})")
    return m.group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Prometheus ----------------------------------------------------------------

def test_config(workdir, prom_addr, targets):
    """The real config and rules, adapted: short intervals, test targets, short `for`."""
    (workdir / "targets").mkdir(exist_ok=True)
    with open(workdir / "targets" / "test.yml", "w") as f:
        f.write("- targets:\n")
        for t in targets:
            f.write(f'    - "{t}"\n')
        f.write("  labels:\n    environment: test\n")
    text = (ROOT / "deploy/prometheus/prometheus_config.yml").read_text()
    replacements = [
        (r"scrape_interval: 15s", "scrape_interval: 1s"),
        (r"scrape_timeout: 10s", "scrape_timeout: 1s"),
        (r"evaluation_interval: 15s", "evaluation_interval: 1s"),
        (r"- targets/production\.yml\n(\s*)- targets/staging\.yml", r"- targets/test.yml"),
        (r"refresh_interval: 1m", "refresh_interval: 5s"),
        (r"localhost:9090", prom_addr),
    ]
    for pattern, repl in replacements:
        text, n = re.subn(pattern, repl, text)
        if n == 0:
            raise SystemExit(f"prometheus_config.yml changed: no match for {pattern!r}")
    (workdir / "prometheus.yml").write_text(text)
    rules = workdir / "rules"
    rules.mkdir(exist_ok=True)
    for path in (ROOT / "deploy/prometheus/rules").glob("*.yml"):
        r = re.sub(r"\bfor: \S+", "for: 5s", path.read_text())
        r = re.sub(r"\binterval: 15s", "interval: 1s", r)
        (rules / path.name).write_text(r)
    check = subprocess.run(["promtool", "check", "config", str(workdir / "prometheus.yml")],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"the test config does not pass promtool:\n{check.stdout}{check.stderr}")


def start_prometheus(workdir, targets):
    for _ in range(3):
        port = free_port()
        addr = f"127.0.0.1:{port}"
        test_config(workdir, addr, targets)
        data = workdir / f"data-{port}"
        p = spawn(["prometheus", f"--config.file={workdir / 'prometheus.yml'}",
                   f"--storage.tsdb.path={data}", f"--web.listen-address={addr}",
                   "--log.level=warn"], workdir / f"prometheus-{port}.log")
        url = f"http://{addr}"
        deadline = time.time() + 30
        while time.time() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        log(f"Prometheus ready on {addr} (pid {p.pid})")
                        return url
            except OSError:
                pass
            time.sleep(0.3)
        log(f"Prometheus on {addr} did not start, retrying on another port")
    raise SystemExit("Prometheus did not start; see its log in " + str(workdir))


def api(url, path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(f"{url}/api/v1/{path}?{q}", timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {body}")
    return body["data"]


def query(url, expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return api(url, "query", **params)["result"]


def wait_for(what, check, timeout, interval=1.0):
    """Polls `check` until it returns a true value; returns the last value."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        try:
            value = check()
        except (OSError, RuntimeError) as e:
            value = None
            last_error = e
        if value:
            return value
        time.sleep(interval)
    fail(f"timed out after {timeout} s waiting for {what}")
    return value


# --- what is asserted ------------------------------------------------------------

def substitute(expr):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in VARIABLES:
            raise KeyError(f"unknown Grafana variable ${name} in {expr}")
        return VARIABLES[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


def dashboard_exprs():
    for name, d in check_dashboards.load_dashboards().items():
        for title, expr in check_dashboards.expressions(d):
            yield name, title, substitute(expr)


def variable_queries():
    for name, d in check_dashboards.load_dashboards().items():
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                yield name, v["name"], v["definition"]


def targets_up(url, expected):
    targets = api(url, "targets", state="active")["activeTargets"]
    workers = [t for t in targets if t["labels"].get("job") == "insa-workers"]
    up = [t for t in workers if t["health"] == "up"]
    discovered = all(t["discoveredLabels"].get("__meta_filepath", "").endswith("targets/test.yml") for t in workers)
    return len(workers) == expected and len(up) == expected and discovered


def families_present(url):
    names = {r["metric"]["__name__"] for r in query(url, 'count by (__name__) ({__name__=~"insa_.+", job="insa-workers"})')}
    missing = [f for f in check_dashboards.catalogue_families()
               if not ({f, f + "_bucket", f + "_count"} & names)]
    return missing


def check_single(binary, workdir):
    log("variant single: one crm_backend, CRM breaker forced open")
    backend = start_backend(binary, workdir, "backend", ["--force-breaker-open"])
    url = start_prometheus(workdir, [backend])

    if wait_for("the target to be up through file_sd", lambda: targets_up(url, 1), 30):
        log("target up, discovered through file_sd")

    missing = None

    def all_families():
        nonlocal missing
        missing = families_present(url)
        return not missing
    if wait_for("all 30 families", all_families, 75):
        log("all 30 families scraped")
    elif missing:
        fail(f"families without data: {', '.join(missing)}")
    statuses = {r["metric"]["status"] for r in query(url, 'insa_agent_requests_total{job="insa-workers"}')}
    if statuses != {"success", "error", "timeout", "cancelled"}:
        fail(f"insa_agent_requests_total statuses: {sorted(statuses)}")
    time.sleep(3)  # a few more scrapes, so every rate window holds two samples

    # Recording rules: each has a value; no rule fails to evaluate.
    groups = api(url, "rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    for r in rules:
        if r.get("health") != "ok":
            fail(f"rule {r['name']}: health {r.get('health')} {r.get('lastError', '')}")
    records = [r["name"] for r in rules if r["type"] == "recording"]
    for name in records:
        if not wait_for(f"recording rule {name}", lambda n=name: query(url, n), 15):
            fail(f"recording rule {name} has no value")
    log(f"{len(records)} recording rules have values, {len(rules)} rules healthy")

    # Every panel query returns data.
    count = 0
    for dash, title, expr in dashboard_exprs():
        count += 1
        if not wait_for(f"{dash} / {title}", lambda e=expr: query(url, e), 10):
            fail(f"{dash} / {title}: no series for {expr}")
    log(f"{count} panel queries of the six dashboards return data")

    # Every dashboard variable lists values.
    for dash, var, definition in variable_queries():
        m = re.fullmatch(r"label_values\((.+), (\w+)\)", definition)
        values = {s.get(m.group(2)) for s in api(url, "series", **{"match[]": m.group(1)})} - {None}
        if not values:
            fail(f"{dash}: variable {var} ({definition}) has no value")
    log("dashboard variables list values")

    def breaker_alert_firing():
        alerts = api(url, "alerts")["alerts"]
        return [a for a in alerts if a["labels"].get("alertname") == "InsaCircuitBreakerOpen"
                and a["labels"].get("agent_type") == "crm_agent" and a["state"] == "firing"]
    if wait_for("InsaCircuitBreakerOpen to fire", breaker_alert_firing, 30):
        log("InsaCircuitBreakerOpen{agent_type=\"crm_agent\"} is firing")
    stop_all()


def top_level_sum(expr):
    """`sum [by (labels)] (inner)` as (labels, inner), or None."""
    m = re.match(r"sum(?: by \(([^)]*)\))? \(", expr)
    if not m:
        return None
    depth = 0
    for i in range(m.end() - 1, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            if i != len(expr) - 1:
                return None
            labels = [x.strip() for x in (m.group(1) or "").split(",") if x.strip()]
            return labels, expr[m.end():-1]
    return None


def check_multi(binary, workdir):
    log("variant multi: three crm_backend processes")
    backends = [start_backend(binary, workdir, f"backend-{i}", []) for i in range(3)]
    url = start_prometheus(workdir, backends)
    if wait_for("3 targets up through file_sd", lambda: targets_up(url, 3), 30):
        log("3 targets up, discovered through file_sd")

    def requests_from_all():
        rows = query(url, 'sum by (instance) (insa_agent_requests_total{job="insa-workers"})')
        return len(rows) == 3 and all(float(r["value"][1]) > 0 for r in rows)
    if wait_for("requests recorded by all three instances", requests_from_all, 45):
        log("all three instances record requests")
    if wait_for("all 30 families", lambda: not families_present(url), 75):
        log("all 30 families scraped")

    def every_status():
        rows = query(url, 'sum by (status) (insa_agent_requests_total{job="insa-workers"}) > 0')
        return {r["metric"]["status"] for r in rows} == {"success", "error", "timeout", "cancelled"}
    if wait_for("requests of every status (success, error, timeout, cancelled)", every_status, 45):
        log("requests of all four statuses recorded")
    time.sleep(3)

    at = time.time() - 2
    compared = 0
    for dash, title, expr in dashboard_exprs():
        parsed = top_level_sum(expr)
        if not parsed:
            continue
        labels, inner = parsed
        total = query(url, expr, at)
        per_instance = query(url, f"sum by ({', '.join(labels + ['instance'])}) ({inner})", at)
        expected = {}
        instances = set()
        for r in per_instance:
            key = tuple(r["metric"].get(l, "") for l in labels)
            instances.add(r["metric"].get("instance"))
            v = float(r["value"][1])
            expected[key] = expected.get(key, 0.0) + v
        got = {tuple(r["metric"].get(l, "") for l in labels): float(r["value"][1]) for r in total}
        if not got:
            fail(f"{dash} / {title}: no series for {expr}")
            continue
        for key, v in got.items():
            e = expected.get(key)
            if e is None or not (abs(v - e) <= 1e-9 * max(1.0, abs(e)) or (v != v and e != e)):
                fail(f"{dash} / {title} {dict(zip(labels, key))}: sum {v} != per-instance total {e}")
        if "insa_agent_requests_total" in inner and len(instances) != 3:
            fail(f"{dash} / {title}: instances {sorted(instances)}, expected 3")
        compared += 1
    log(f"{compared} sum queries equal the sums of their per-instance values")
    stop_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=str(ROOT / "target/debug/examples/crm_backend"))
    parser.add_argument("--variant", choices=["single", "multi", "all"], default="all")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    args = parser.parse_args()
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (Debian: apt-get install prometheus)")
    if check_dashboards.main() != 0:
        raise SystemExit("dashboards fail the static checks")
    workdir = Path(tempfile.mkdtemp(prefix="insa-live-"))
    started = time.time()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.variant in ("single", "all"):
            check_single(args.backend, workdir)
        if args.variant in ("multi", "all"):
            check_multi(args.backend, workdir)
    finally:
        stop_all()
        if FAILURES or args.keep:
            log(f"logs and configs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    took = time.time() - started
    if FAILURES:
        log(f"{len(FAILURES)} failure(s) in {took:.0f} s")
        return 1
    log(f"live test passed in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
