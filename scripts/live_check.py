#!/usr/bin/env python3
"""Live test of the monitoring stack: crm_backend scraped by a real Prometheus.

    python3 scripts/live_check.py --backend target/debug/examples/crm_backend

Runs two variants, each with its own Prometheus on a free loopback port,
started from deploy/prometheus/prometheus_config.yml adapted for the test
(1 s scrape and evaluation intervals, the file_sd targets file pointing at the
backends, the real rule files with every `for:` shortened to 5 s):

single  one crm_backend with the CRM agent's breaker forced open. Asserts: the
        target is up (discovered through file_sd, with its `environment`);
        all 30 families are scraped within 30 s of the backend's start (plus
        two scrape intervals); every recording rule has a value and every
        rule evaluates without error; every expression of every panel of the
        six dashboards (Grafana variables substituted, `environment` set to
        the test's) and every dashboard variable query returns data;
        InsaCircuitBreakerOpen reaches `firing`.
multi   three crm_backend processes on three ports, all discovered through
        file_sd and all up; requests of all four statuses (success, error,
        timeout, cancelled) recorded; while they run, every ratio panel is
        within [0, 1] and every histogram_quantile panel within its buckets'
        bounds. Then their workload stops (`--duration`) and they keep serving
        the frozen metrics (`--linger`): every dashboard query that sums a
        gauge (or the counter behind a rate) is evaluated by Prometheus, with
        `$instance` selecting two of the three backends and then all three,
        and compared with the sum computed here from those backends' own
        /metrics text.

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

# The scrape and evaluation interval of the test's Prometheus (seconds).
SCRAPE_INTERVAL = 1
# The spec: every family has data 30 s after crm_backend starts.
FAMILIES_WITHIN = 30
# The `environment` label of the test's targets file.
ENVIRONMENT = "test"

# Grafana's variables, as the test substitutes them.
VARIABLES = {
    "__rate_interval": "30s",
    "__interval": "5s",
    "__range": "5m",
    "environment": ENVIRONMENT,
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

def write_pidfile():
    """For live_test.sh's trap, should this script be killed before its cleanup:
    the process groups still running, and only those (a reaped PID may be reused)."""
    pidfile = os.environ.get("INSA_LIVE_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as f:
            f.writelines(f"{p.pid}\n" for p in PROCESSES if p.poll() is None)


def spawn(cmd, log_path, **kw):
    out = open(log_path, "w")
    p = subprocess.Popen(cmd, stdout=kw.pop("stdout", out), stderr=out, start_new_session=True, **kw)
    PROCESSES.append(p)
    write_pidfile()
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
    write_pidfile()


def start_backend(binary, workdir, name, extra, duration=240):
    """Starts crm_backend; returns its address and the time it was started."""
    cmd = [binary, "--port", "0", "--duration", str(duration), "--environment", "test", *extra]
    started = time.time()
    p = spawn(cmd, workdir / f"{name}.log", stdout=subprocess.PIPE)
    ready, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline().decode() if ready else ""
    m = re.search(r"http://([\d.]+:\d+)/metrics", line)
    if not m:
        raise SystemExit(f"{name} did not report its address (got {line!r}); see {workdir / (name + '.log')}")
    log(f"{name} serves on {m.group(1)} (pid {p.pid})")
    return m.group(1), started


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
        f.write(f"  labels:\n    environment: {ENVIRONMENT}\n")
    # No Alertmanager in the test: alerts are read from Prometheus' API.
    (workdir / "targets" / "alertmanagers.yml").write_text("[]\n")
    text = (ROOT / "deploy/prometheus/prometheus_config.yml").read_text()
    replacements = [
        (r"scrape_interval: 15s", f"scrape_interval: {SCRAPE_INTERVAL}s"),
        (r"scrape_timeout: 10s", f"scrape_timeout: {SCRAPE_INTERVAL}s"),
        (r"evaluation_interval: 15s", f"evaluation_interval: {SCRAPE_INTERVAL}s"),
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
                yield name, v["name"], substitute(v["query"]["query"])


def targets_up(url, expected):
    targets = api(url, "targets", state="active")["activeTargets"]
    workers = [t for t in targets if t["labels"].get("job") == "insa-workers"]
    up = [t for t in workers if t["health"] == "up"]
    discovered = all(t["discoveredLabels"].get("__meta_filepath", "").endswith("targets/test.yml") for t in workers)
    labelled = all(t["labels"].get("environment") == ENVIRONMENT for t in workers)
    return len(workers) == expected and len(up) == expected and discovered and labelled


def families_present(url):
    names = {r["metric"]["__name__"] for r in query(url, 'count by (__name__) ({__name__=~"insa_.+", job="insa-workers"})')}
    missing = [f for f in check_dashboards.catalogue_families()
               if not ({f, f + "_bucket", f + "_count"} & names)]
    return missing


def check_single(binary, workdir):
    log("variant single: one crm_backend, CRM breaker forced open")
    backend, started = start_backend(binary, workdir, "backend", ["--force-breaker-open"])
    url = start_prometheus(workdir, [backend])

    if wait_for("the target to be up through file_sd", lambda: targets_up(url, 1), 30):
        log(f"target up, discovered through file_sd, environment={ENVIRONMENT}")
    all_families_in_time(url, started)
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


def all_families_in_time(url, started):
    """All 30 families have data within 30 s of the backend's start, plus two scrape intervals."""
    limit = FAMILIES_WITHIN + 2 * SCRAPE_INTERVAL
    missing = None

    def all_families():
        nonlocal missing
        missing = families_present(url)
        return not missing
    if wait_for(f"all 30 families within {limit} s of the backend's start", all_families,
                max(0.0, started + limit - time.time()), interval=0.5):
        log(f"all 30 families scraped {time.time() - started:.1f} s after the backend started (limit {limit} s)")
    else:
        fail(f"{time.time() - started:.0f} s after the backend started, families without data: "
             f"{', '.join(missing or ['(query failed)'])}")



# The multi variant: the backends' workload, then how long they keep serving
# the frozen metrics.
MULTI_DURATION = 45
MULTI_LINGER = 120

SAMPLE = re.compile(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
# `sum [by (labels)] ([rate|increase(]metric{matchers}[[window])])`: a dashboard
# query that sums a gauge, or the rate or increase of a counter.
SUM_QUERY = re.compile(r"^sum(?: by \(([^)]*)\))? \((?:(rate|increase)\()?([a-zA-Z_:][\w:]*)\{([^}]*)\}(?:\[[^\]]+\]\))?\)$")


def fetch_samples(addr):
    """The catalogue's samples served by one backend, labelled as Prometheus labels them
    (job, environment and instance from the target; a clashing label becomes exported_*)."""
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
        text = r.read().decode()
    families = set(check_dashboards.catalogue_families())
    target = {"job": "insa-workers", "environment": ENVIRONMENT, "instance": addr}
    samples = [("up", dict(target), 1.0)]
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if line.startswith("#") or not m:
            continue
        name = m.group(1)
        if re.sub(r"_(bucket|sum|count)$", "", name) not in families:
            continue
        labels = dict(LABEL.findall(m.group(2) or ""))
        for k, v in target.items():
            if k in labels:
                labels[f"exported_{k}"] = labels[k]
            labels[k] = v
        samples.append((name, labels, float(m.group(3))))
    return samples


def matches(labels, matchers):
    for name, op, value in MATCHER.findall(matchers):
        actual = labels.get(name, "")
        ok = {"=": actual == value, "!=": actual != value,
              "=~": re.fullmatch(value, actual) is not None,
              "!~": re.fullmatch(value, actual) is None}[op]
        if not ok:
            return False
    return True


def check_bounds(url, at):
    """Ratio panels within [0, 1]; histogram_quantile panels within their buckets' bounds."""
    ratios = quantiles = 0
    for dash, d in check_dashboards.load_dashboards().items():
        for p in check_dashboards.panels(d):
            unit = p["fieldConfig"]["defaults"].get("unit")
            for t in p["targets"]:
                expr = substitute(t["expr"])
                if "histogram_quantile" in expr:
                    metric = re.search(r"rate\((\w+)_bucket", expr).group(1)
                    les = [float(r["metric"]["le"]) for r in
                           query(url, f'count by (le) ({metric}_bucket{{job="insa-workers"}})', at)]
                    low, high = 0.0, max(le for le in les if le != float("inf"))
                elif unit == "percentunit" and "/" in expr:
                    low, high = 0.0, 1.0
                else:
                    continue
                values = [float(r["value"][1]) for r in query(url, expr, at)]
                values = [v for v in values if v == v]  # NaN: no traffic in the window
                if not values:
                    fail(f"{dash} / {p['title']}: no value to check at {at:.0f}: {expr}")
                for v in values:
                    if not low <= v <= high:
                        fail(f"{dash} / {p['title']}: {v} outside [{low}, {high}]: {expr}")
                if "histogram_quantile" in expr:
                    quantiles += 1
                else:
                    ratios += 1
    if not (ratios and quantiles):
        fail(f"bounds checked on {ratios} ratio and {quantiles} quantile queries")
    log(f"{ratios} ratio queries within [0, 1], {quantiles} histogram_quantile queries within their buckets")


def frozen_samples(backends, timeout=30):
    """Every backend's samples, once two fetches a scrape interval apart agree."""
    deadline = time.time() + timeout
    previous = None
    while time.time() < deadline:
        current = [fetch_samples(b) for b in backends]
        if current == previous:
            return current
        previous = current
        time.sleep(2 * SCRAPE_INTERVAL)
    raise SystemExit(f"the backends' metrics did not freeze within {timeout} s")


def compare_frozen(url, backends, subset, samples):
    """Each dashboard sum over `subset` (the $instance selection), as Prometheus computes
    it, against the same sum computed from the backends' /metrics text."""
    VARIABLES["instance"] = "|".join(subset)
    flat = [s for per_backend in samples for s in per_backend]
    compared = nonzero = 0
    try:
        for dash, title, expr in dashboard_exprs():
            m = SUM_QUERY.match(expr)
            if not m:
                continue
            by = [x.strip() for x in (m.group(1) or "").split(",") if x.strip()]
            func, metric, matchers = m.group(2), m.group(3), m.group(4)
            # A rate of a frozen counter is 0: compare the counter the panel is built on.
            promql = expr if not func else f"sum{f' by ({m.group(1)})' if by else ''} ({metric}{{{matchers}}})"
            got = {tuple(r["metric"].get(l, "") for l in by): float(r["value"][1]) for r in query(url, promql)}
            expected = {}
            for name, labels, value in flat:
                if name == metric and matches(labels, matchers):
                    key = tuple(labels.get(l, "") for l in by)
                    expected[key] = expected.get(key, 0.0) + value
            if set(got) != set(expected):
                fail(f"{dash} / {title}: series {sorted(got)} from Prometheus, {sorted(expected)} from /metrics ({promql})")
            for key in set(got) & set(expected):
                if abs(got[key] - expected[key]) > 1e-9 * max(1.0, abs(expected[key])):
                    fail(f"{dash} / {title} {dict(zip(by, key))}: Prometheus {got[key]} != /metrics {expected[key]} ({promql})")
            nonzero += any(v != 0 for v in expected.values())
            compared += 1
    finally:
        VARIABLES["instance"] = ".*"
    if compared < 10 or nonzero < 5:
        fail(f"only {compared} sum queries compared ({nonzero} with non-zero values)")
    log(f"{compared} dashboard sums over {len(subset)} backend(s) equal the sums of their /metrics "
        f"({nonzero} non-zero)")


def check_multi(binary, workdir):
    log(f"variant multi: three crm_backend processes ({MULTI_DURATION} s of workload, then frozen)")
    started = [start_backend(binary, workdir, f"backend-{i}", ["--linger", str(MULTI_LINGER)], MULTI_DURATION)
               for i in range(3)]
    backends = [addr for addr, _ in started]
    workload_ends = min(t for _, t in started) + MULTI_DURATION
    url = start_prometheus(workdir, backends)
    if wait_for("3 targets up through file_sd", lambda: targets_up(url, 3), 30):
        log("3 targets up, discovered through file_sd")

    def requests_from_all():
        rows = query(url, 'sum by (instance) (insa_agent_requests_total{job="insa-workers"})')
        return len(rows) == 3 and all(float(r["value"][1]) > 0 for r in rows)
    if wait_for("requests recorded by all three instances", requests_from_all, 30):
        log("all three instances record requests")
    all_families_in_time(url, max(t for _, t in started))

    def every_status():
        rows = query(url, 'sum by (status) (insa_agent_requests_total{job="insa-workers"}) > 0')
        return {r["metric"]["status"] for r in rows} == {"success", "error", "timeout", "cancelled"}
    if wait_for("requests of every status (success, error, timeout, cancelled)", every_status,
                max(1.0, workload_ends - 3 - time.time())):
        log("requests of all four statuses recorded")

    # Near the end of the workload, with full rate windows.
    time.sleep(max(0.0, workload_ends - 2 - time.time()))
    check_bounds(url, min(time.time(), workload_ends - 1.5))

    # Then the workload stops; the backends keep serving what they counted.
    time.sleep(max(0.0, workload_ends + 1 - time.time()))
    samples = frozen_samples(backends)
    time.sleep(3 * SCRAPE_INTERVAL)  # Prometheus scrapes the frozen values
    log("workload stopped, metrics frozen")
    compare_frozen(url, backends, backends[:2], samples)
    compare_frozen(url, backends, backends, samples)
    if [fetch_samples(b) for b in backends] != samples:
        fail("the backends' metrics changed during the comparison")
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
