#!/usr/bin/env python3
"""Live test of the monitoring stack: crm_backend scraped by a real Prometheus,
alerts delivered by a real Alertmanager, the agent-mode topology.

    python3 scripts/live_check.py --backend target/debug/examples/crm_backend

Every server it starts (crm_backend, Prometheus, Alertmanager, the webhook
receiver) listens on a free loopback port and is stopped on exit. The configs
are the shipped ones adapted for the test: 1 s scrape and evaluation
intervals, the targets files pointing at the backends (`environment: test`,
a `region` each), the real rule files with every `for:` shortened to 5 s,
Alertmanager's waits shortened and its webhooks pointed at the receiver.
Three variants:

single   one crm_backend with the CRM agent's breaker forced open, one
         Prometheus, one Alertmanager (deploy/alertmanager/alertmanager.yml)
         and a webhook receiver. Asserts: the target is up through file_sd
         with its environment and region; all 30 families within 30 s of the
         backend's start (plus two scrape intervals); the refused calls are
         counted as `rejected`; every recording rule has a value and every
         rule evaluates cleanly; every panel query of the seven dashboards
         and every dashboard variable returns data; InsaCircuitBreakerOpen
         and the availability page of crm_agent reach the pager webhook, the
         Watchdog the heartbeat webhook, within bounded times; inhibitions
         (critical mutes warning, targets down mutes the silence alert), read
         back from the Alertmanager's API on alerts posted to it.
multi    three crm_backend processes on three ports (backend-0's CRM breaker
         tripped once at start), all discovered through file_sd and all up; requests of four statuses (success, error,
         timeout, cancelled) recorded; while they run, every ratio panel is
         within [0, 1] and every histogram_quantile panel within its buckets'
         bounds. Then their workload stops (`--duration`) and they keep
         serving the frozen metrics (`--linger`): every dashboard query that
         sums a gauge (or the counter behind a rate) is evaluated by
         Prometheus, with `$instance` selecting two of the three backends and
         then all three, and compared with the sum computed here from those
         backends' own /metrics text.
regions  two regions, a and b, each with a crm_backend (a's CRM breaker
         tripped once at start, b's forced open) and an agent-mode Prometheus
         (deploy/prometheus/prometheus_agent.yml) remote-writing to a central
         Prometheus (prometheus_config.yml, --web.enable-remote-write-receiver,
         the real rules). Asserts at the central one: both regions' targets
         and both agents' own series arrive, labelled with their region;
         every rule is healthy; the SLO ratios keep the regions apart (b's
         crm_agent fails everything, a's does not) and the page names region
         b; every panel query returns data for $region=a and for $region=b
         alone. Then agent b is stopped: InsaPrometheusGone fires for region b.

Standard library and PyYAML only.
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
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import check_dashboards  # noqa: E402

PROCESSES = []
FAILURES = []

# The scrape and evaluation interval of the test's Prometheus (seconds).
SCRAPE_INTERVAL = 1
# The spec: every family has data 30 s after crm_backend starts.
FAMILIES_WITHIN = 30
# The `environment` label of the test's targets files, and the region of
# the single and multi variants.
ENVIRONMENT = "test"
REGION = "local"

# Grafana's variables, as the test substitutes them.
VARIABLES = {
    "__rate_interval": "30s",
    "__interval": "5s",
    "__range": "5m",
    "environment": ENVIRONMENT,
    "region": ".*",
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


SERVERS = []


def stop_all():
    for server in SERVERS:
        server.shutdown()
        server.server_close()
    SERVERS.clear()
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

def targets_file(path, groups):
    """A file_sd targets file: [(targets, region)], every group in the test environment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump([{"targets": list(t), "labels": {"environment": ENVIRONMENT, "region": r}}
                                    for t, r in groups if t] or [], sort_keys=False))


def adapt(text, replacements, what):
    for pattern, repl in replacements:
        text, n = re.subn(pattern, repl, text)
        if n == 0:
            raise SystemExit(f"{what} changed: no match for {pattern!r}")
    return text


SHORT_INTERVALS = [
    (r"scrape_interval: 15s", f"scrape_interval: {SCRAPE_INTERVAL}s"),
    (r"scrape_timeout: 10s", f"scrape_timeout: {SCRAPE_INTERVAL}s"),
    (r"- targets/production\.yml\n(\s*)- targets/staging\.yml", r"- targets/test.yml"),
    (r"refresh_interval: 1m", "refresh_interval: 5s"),
]


def test_config(confdir, prom_addr, groups, alertmanagers=(), region=REGION):
    """prometheus_config.yml and the real rules, adapted: short intervals, the test's
    targets and Alertmanagers, every `for:` cut to 5 s."""
    targets_file(confdir / "targets" / "test.yml", groups)
    (confdir / "targets" / "alertmanagers.yml").write_text(
        yaml.safe_dump([{"targets": list(alertmanagers)}]) if alertmanagers else "[]\n")
    text = adapt((ROOT / "deploy/prometheus/prometheus_config.yml").read_text(), SHORT_INTERVALS + [
        (r"evaluation_interval: 15s", f"evaluation_interval: {SCRAPE_INTERVAL}s"),
        (r"\n    region: \S+", f"\n    region: {region}"),
        (r"localhost:9090", prom_addr),
    ], "prometheus_config.yml")
    (confdir / "prometheus.yml").write_text(text)
    copy_rules(confdir)
    return confdir / "prometheus.yml", []


def copy_rules(confdir):
    """The real rules, every `for:` cut to 5 s and every group evaluated each second."""
    rules = confdir / "rules"
    rules.mkdir(exist_ok=True)
    for path in (ROOT / "deploy/prometheus/rules").glob("*.yml"):
        r = re.sub(r"\bfor: \S+", "for: 5s", path.read_text())
        r = re.sub(r"\binterval: 15s", "interval: 1s", r)
        (rules / path.name).write_text(r)


def central_config(confdir, prom_addr):
    """prometheus_central.yml (no worker scrape job, no region) and the real rules,
    adapted: short intervals, no Alertmanager."""
    (confdir / "targets").mkdir(parents=True, exist_ok=True)
    (confdir / "targets" / "alertmanagers.yml").write_text("[]\n")
    text = adapt((ROOT / "deploy/prometheus/prometheus_central.yml").read_text(), [
        (r"scrape_interval: 15s", f"scrape_interval: {SCRAPE_INTERVAL}s"),
        (r"scrape_timeout: 10s", f"scrape_timeout: {SCRAPE_INTERVAL}s"),
        (r"evaluation_interval: 15s", f"evaluation_interval: {SCRAPE_INTERVAL}s"),
        (r"refresh_interval: 1m", "refresh_interval: 5s"),
        (r"localhost:9090", prom_addr),
    ], "prometheus_central.yml")
    (confdir / "prometheus.yml").write_text(text)
    copy_rules(confdir)
    return confdir / "prometheus.yml", []


def agent_config(confdir, prom_addr, groups, central, region):
    """prometheus_agent.yml adapted: short intervals, the region's targets, the
    central Prometheus as remote-write receiver, flushed every second."""
    targets_file(confdir / "targets" / "test.yml", groups)
    text = adapt((ROOT / "deploy/prometheus/prometheus_agent.yml").read_text(), SHORT_INTERVALS + [
        (r"\n    region: \S+", f"\n    region: {region}"),
        (r"localhost:9090", prom_addr),
        (r"url: http://prometheus-central\S+", f"url: {central}/api/v1/write"),
        (r"max_shards: 50", "max_shards: 50\n      batch_send_deadline: 1s"),
    ], "prometheus_agent.yml")
    (confdir / "prometheus.yml").write_text(text)
    return confdir / "prometheus.yml", ["--agent"]


def start_prometheus(workdir, name, configure, flags=()):
    """Starts a Prometheus whose config `configure(confdir, addr)` writes (returning
    its path and the extra `promtool check config` flags); returns its URL."""
    agent = "--enable-feature=agent" in flags
    for _ in range(3):
        port = free_port()
        addr = f"127.0.0.1:{port}"
        confdir = workdir / f"{name}-{port}"
        confdir.mkdir(parents=True)
        config, check_flags = configure(confdir, addr)
        check = subprocess.run(["promtool", "check", "config", *check_flags, str(config)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(f"the test config {config} does not pass promtool:\n{check.stdout}{check.stderr}")
        storage = f"--storage.agent.path={confdir / 'wal'}" if agent else f"--storage.tsdb.path={confdir / 'data'}"
        p = spawn(["prometheus", f"--config.file={config}", storage, f"--web.listen-address={addr}",
                   "--log.level=warn", *flags], confdir / "prometheus.log")
        url = f"http://{addr}"
        if wait_ready(f"{url}/-/ready", p, 30):
            log(f"Prometheus {name} ready on {addr} (pid {p.pid})")
            return url
        log(f"Prometheus {name} on {addr} did not start, retrying on another port")
    raise SystemExit(f"Prometheus {name} did not start; see its log in {workdir}")


def wait_ready(url, process, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


# --- Alertmanager and the webhook receiver -------------------------------------

def alertmanager_binary():
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class Receiver:
    """A webhook receiver on loopback: records every notification the
    Alertmanager POSTs, by path (/pager, /ticket, /heartbeat)."""

    def __init__(self):
        self.notifications = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with receiver.lock:
                    receiver.notifications.append((self.path.strip("/"), time.time(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        SERVERS.append(self.server)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def alerts(self, receiver):
        """(time received, alert) of every firing alert delivered to `receiver`."""
        with self.lock:
            return [(t, a) for path, t, body in self.notifications if path == receiver
                    for a in body.get("alerts", []) if a.get("status") == "firing"]


def start_alertmanager(workdir, receiver):
    """The shipped alertmanager.yml, its webhooks pointed at `receiver`, its
    waits shortened; clustering off (it would listen on 0.0.0.0:9094)."""
    config = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    for r in config["receivers"]:
        for w in r.get("webhook_configs", []):
            w["url"] = f"{receiver.url}/{r['name']}"

    def shorten(route):
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
        for child in route.get("routes", []):
            shorten(child)
    shorten(config["route"])
    for _ in range(3):
        port = free_port()
        addr = f"127.0.0.1:{port}"
        path = workdir / f"alertmanager-{port}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        check = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(f"the test Alertmanager config fails amtool:\n{check.stdout}{check.stderr}")
        p = spawn([alertmanager_binary(), f"--config.file={path}", f"--storage.path={workdir / f'am-{port}'}",
                   f"--web.listen-address={addr}", "--cluster.listen-address=", "--log.level=warn"],
                  workdir / f"alertmanager-{port}.log")
        if wait_ready(f"http://{addr}/-/ready", p, 30):
            log(f"Alertmanager ready on {addr} (pid {p.pid}), webhooks to {receiver.url}")
            return addr
        log(f"Alertmanager on {addr} did not start, retrying on another port")
    raise SystemExit(f"Alertmanager did not start; see its log in {workdir}")


def am_api(addr, path, body=None):
    req = urllib.request.Request(f"http://{addr}/api/v2/{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
    return json.loads(text) if text else None


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


def targets_up(url, expected, region=REGION):
    targets = api(url, "targets", state="active")["activeTargets"]
    workers = [t for t in targets if t["labels"].get("job") == "insa-workers"]
    up = [t for t in workers if t["health"] == "up"]
    discovered = all(t["discoveredLabels"].get("__meta_filepath", "").endswith("targets/test.yml") for t in workers)
    labelled = all(t["labels"].get("environment") == ENVIRONMENT and t["labels"].get("region") == region
                   for t in workers)
    return len(workers) == expected and len(up) == expected and discovered and labelled


def reference_parser_reads_the_scrape(backend):
    """The backend's /metrics asked for as Prometheus asks, read by the OpenMetrics
    reference parser (prometheus_client): every family of the catalogue, with
    trace-linked exemplars on the request durations."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    request = urllib.request.Request(f"http://{backend}/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode()
    if not content_type.startswith("application/openmetrics-text"):
        fail(f"the backend answered {content_type!r} to Prometheus' Accept header")
        return
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser's own error types vary by version
        fail(f"the reference parser rejects the backend's OpenMetrics scrape: {error}")
        return
    # The parser names a counter family without `_total`, as OpenMetrics does.
    names = {f.name for f in families} | {f.name + "_total" for f in families if f.type == "counter"}
    missing = [f for f in check_dashboards.catalogue_families() if f not in names]
    if missing:
        fail(f"families missing from the parsed scrape: {missing}")
    exemplars = [(f.name, s.exemplar) for f in families for s in f.samples if s.exemplar is not None]
    durations = [e for name, e in exemplars if name == "insa_agent_request_duration_seconds"]
    hex_ids = all(re.fullmatch(r"[0-9a-f]{32}", e.labels.get("trace_id", ""))
                  and re.fullmatch(r"[0-9a-f]{16}", e.labels.get("span_id", "")) for _, e in exemplars)
    if not durations or not hex_ids:
        fail(f"exemplars in the parsed scrape: {len(durations)} on request durations, ids well-formed: {hex_ids}")
        return
    log(f"the reference parser reads the backend's OpenMetrics scrape: {len(families)} families, "
        f"{len(exemplars)} exemplars ({len(durations)} on request durations), every id well-formed")


def families_present(url):
    names = {r["metric"]["__name__"] for r in query(url, 'count by (__name__) ({__name__=~"insa_.+", job="insa-workers"})')}
    missing = [f for f in check_dashboards.catalogue_families()
               if not ({f, f + "_bucket", f + "_count"} & names)]
    return missing


def rules_healthy(url, recordings_with_values=True):
    """Every rule evaluates without error; every recording rule has a value."""
    rules = [r for g in api(url, "rules")["groups"] for r in g["rules"]]
    for r in rules:
        if r.get("health") != "ok":
            fail(f"rule {r['name']}: health {r.get('health')} {r.get('lastError', '')}")
    records = sorted({r["name"] for r in rules if r["type"] == "recording"})
    if recordings_with_values:
        for name in records:
            if not wait_for(f"recording rule {name}", lambda n=name: query(url, n), 15):
                fail(f"recording rule {name} has no value")
    log(f"{len(rules)} rules healthy" + (f", {len(records)} recording rules have values" if recordings_with_values else ""))


def panels_return_data(url, what=""):
    count = 0
    for dash, title, expr in dashboard_exprs():
        count += 1
        if not wait_for(f"{dash} / {title}{what}", lambda e=expr: query(url, e), 10):
            fail(f"{dash} / {title}{what}: no series for {expr}")
    log(f"{count} panel queries of the {len(check_dashboards.DASHBOARDS)} dashboards return data{what}")


def variables_list_values(url):
    for dash, var, definition in variable_queries():
        m = re.fullmatch(r"label_values\((.+), (\w+)\)", definition)
        values = {s.get(m.group(2)) for s in api(url, "series", **{"match[]": m.group(1)})} - {None}
        if not values:
            fail(f"{dash}: variable {var} ({definition}) has no value")
    log("dashboard variables list values")


def firing(url, alertname, **labels):
    """Alerts named `alertname` firing in Prometheus with these labels."""
    return [a for a in api(url, "alerts")["alerts"] if a["labels"].get("alertname") == alertname
            and a["state"] == "firing" and all(a["labels"].get(k) == v for k, v in labels.items())]


# Bounds of the waits for alerts. Delivery: after Prometheus marks an alert
# firing, it sends it at once; the test Alertmanager waits 1 s (group_wait).
FIRING_WITHIN = 60
DELIVERED_WITHIN = 30


def check_single(binary, workdir):
    log("variant single: one crm_backend (CRM breaker forced open), Prometheus, Alertmanager, webhook receiver")
    receiver = Receiver()
    am = start_alertmanager(workdir, receiver)
    backend, started = start_backend(binary, workdir, "backend", ["--force-breaker-open"])
    # Prometheus resends a firing alert every minute by default: the Watchdog,
    # firing from the first evaluation, may go out before the Alertmanager is
    # discovered and would wait a minute for its next chance.
    url = start_prometheus(workdir, "prometheus",
                           lambda d, addr: test_config(d, addr, [([backend], REGION)], alertmanagers=[am]),
                           ["--rules.alert.resend-delay=2s", "--enable-feature=exemplar-storage"])

    if wait_for("the target to be up through file_sd", lambda: targets_up(url, 1), 30):
        log(f"target up, discovered through file_sd, environment={ENVIRONMENT}, region={REGION}")
    all_families_in_time(url, started)
    statuses = {r["metric"]["status"] for r in query(url, 'insa_agent_requests_total{job="insa-workers"}')}
    if statuses != {"success", "error", "timeout", "cancelled", "rejected"}:
        fail(f"insa_agent_requests_total statuses: {sorted(statuses)}")
    if wait_for("refused calls counted as rejected",
                lambda: query(url, 'insa_agent_requests_total{agent_type="crm_agent", status="rejected"} > 0'), 15):
        log("the open breaker's refused calls count in insa_agent_requests_total{status=\"rejected\"}")
    time.sleep(3)  # a few more scrapes, so every rate window holds two samples

    rules_healthy(url)
    panels_return_data(url)
    variables_list_values(url)
    trace_linked_exemplars(url, started)
    reference_parser_reads_the_scrape(backend)
    if wait_for("Prometheus to discover the Alertmanager",
                lambda: query(url, "prometheus_notifications_alertmanagers_discovered == 1"), 30):
        log("Prometheus sends to the Alertmanager (discovered through targets/alertmanagers.yml)")

    # Real alerts, through Prometheus and the Alertmanager to the webhooks.
    for alertname, labels in [("InsaCircuitBreakerOpen", {"agent_type": "crm_agent"}),
                              ("InsaAvailabilityBudgetBurn", {"agent_type": "crm_agent", "severity": "critical"})]:
        if not wait_for(f"{alertname} {labels} to fire", lambda: firing(url, alertname, **labels), FIRING_WITHIN):
            continue

        def delivered():
            return [(t, a) for t, a in receiver.alerts("pager") if a["labels"].get("alertname") == alertname
                    and all(a["labels"].get(k) == v for k, v in labels.items())
                    and a["labels"].get("region") == REGION]
        got = wait_for(f"{alertname} delivered to the pager webhook", delivered, DELIVERED_WITHIN, interval=0.2)
        if got:
            t, a = got[0]
            log(f"{alertname} {labels} delivered to the pager webhook {t - started:.1f} s after the backend started "
                f"(runbook_url {a['annotations'].get('runbook_url')})")
    if wait_for("the Watchdog delivered to the heartbeat webhook",
                lambda: [a for t, a in receiver.alerts("heartbeat") if a["labels"].get("alertname") == "Watchdog"],
                DELIVERED_WITHIN, interval=0.2):
        log("Watchdog delivered to the heartbeat webhook")
    if any(a["labels"].get("severity") == "critical" for t, a in receiver.alerts("ticket")):
        fail("a critical alert reached the ticket webhook")
    if any(a["labels"].get("severity") == "warning" for t, a in receiver.alerts("pager")):
        fail("a warning alert reached the pager webhook")
    check_inhibitions(am, receiver)
    stop_all()


# The exemplar label names and forms the OpenMetrics exposition promises.
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")


def trace_linked_exemplars(url, started):
    """Prometheus (exemplar storage on, scraping OpenMetrics) keeps the
    exemplars of the request-duration histogram: each links to a trace of the
    backend's tracer, and its value lies in its bucket."""
    def exemplars():
        data = api(url, "query_exemplars", query="insa_agent_request_duration_seconds_bucket",
                   start=f"{started - 60:.3f}", end=f"{time.time() + 60:.3f}")
        return [(series["seriesLabels"], e) for series in data for e in series["exemplars"]]
    # The CRM agent's breaker is held open here: its requests are refused
    # before they run, with no duration and so no exemplar.
    if not wait_for("trace-linked exemplars of insa_agent_request_duration_seconds{agent_type=\"sizing_agent\"}",
                    lambda: [x for x in exemplars() if x[0].get("agent_type") == "sizing_agent"], 30):
        return
    found = exemplars()
    traces = set()
    for labels, exemplar in found:
        ids = exemplar["labels"]
        if set(ids) != {"trace_id", "span_id"} or not TRACE_ID.match(ids["trace_id"]) \
                or not SPAN_ID.match(ids["span_id"]):
            fail(f"exemplar without a trace context: {labels} {exemplar}")
        le, value = float(labels["le"]), float(exemplar["value"])
        if value > le:
            fail(f"exemplar value {value} above its bucket le={le}: {labels}")
        traces.add(ids["trace_id"])
    if len(traces) < 2:
        fail(f"the exemplars name {len(traces)} trace(s): every request should be a trace of its own")
    log(f"{len(found)} exemplars of insa_agent_request_duration_seconds_bucket in Prometheus, "
        f"{len(traces)} traces, every value within its bucket")


def check_inhibitions(am, receiver):
    """Alerts posted to the Alertmanager: the inhibition rules of alertmanager.yml
    as the Alertmanager applies them, read back from its API."""
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    env = {"environment": "inhibition-test", "region": "r1"}
    posted = [
        # critical mutes warning: the page of an SLO mutes its ticket.
        {"alertname": "InsaAvailabilityBudgetBurn", "severity": "critical", "agent_type": "crm_agent", **env},
        {"alertname": "InsaAvailabilityBudgetBurn", "severity": "warning", "agent_type": "crm_agent", **env},
        # ... but not another agent's ticket.
        {"alertname": "InsaAvailabilityBudgetBurn", "severity": "warning", "agent_type": "sizing_agent", **env},
        # A share of targets down mutes the region's silence alert and each
        # worker's ticket.
        {"alertname": "InsaTargetsDown", "severity": "critical", **env},
        {"alertname": "InsaWorkerDown", "severity": "warning", "instance": "w1:9091", **env},
        {"alertname": "InsaNoRequests", "severity": "critical", **env},
        # Another region's silence is not muted.
        {"alertname": "InsaNoRequests", "severity": "critical", "environment": "inhibition-test", "region": "r2"},
        # One worker down alone does not mute its region's silence alert.
        {"alertname": "InsaWorkerDown", "severity": "warning", "instance": "w3:9091",
         "environment": "inhibition-test", "region": "r3"},
        {"alertname": "InsaNoRequests", "severity": "critical", "environment": "inhibition-test", "region": "r3"},
    ]
    am_api(am, "alerts", [{"labels": labels, "annotations": {"summary": "posted by the live test"}, "endsAt": ends}
                          for labels in posted])
    expected = {0: False, 1: True, 2: False, 3: False, 4: True, 5: True, 6: False, 7: False, 8: False}

    def states():
        alerts = am_api(am, "alerts?" + urllib.parse.urlencode({"filter": 'environment="inhibition-test"'}))
        by_labels = {tuple(sorted(a["labels"].items())): a for a in alerts}
        out = {}
        for i, labels in enumerate(posted):
            a = by_labels.get(tuple(sorted(labels.items())))
            if a is None:
                return None
            out[i] = bool(a["status"]["inhibitedBy"])
        return out if out == expected else None
    if wait_for("the Alertmanager's inhibitions", states, 15, interval=0.2):
        log("inhibitions hold: critical mutes the same alert's warning (same agent only), "
            "InsaTargetsDown mutes InsaWorkerDown and InsaNoRequests (same region only), "
            "a lone InsaWorkerDown does not mute InsaNoRequests")
    else:
        fail(f"inhibitions: expected {expected}")
    # The ticket webhook got the warning nobody muted, not the muted ones.
    def ticket_got_unmuted():
        names = [(a["labels"].get("alertname"), a["labels"].get("agent_type")) for t, a in receiver.alerts("ticket")
                 if a["labels"].get("environment") == "inhibition-test" and a["labels"].get("region") == "r1"]
        return ("InsaAvailabilityBudgetBurn", "sizing_agent") in names and names
    names = wait_for("the unmuted warning at the ticket webhook", ticket_got_unmuted, DELIVERED_WITHIN, interval=0.2)
    if names and (("InsaAvailabilityBudgetBurn", "crm_agent") in names or ("InsaWorkerDown", None) in names):
        fail(f"a muted warning reached the ticket webhook: {names}")


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
    target = {"job": "insa-workers", "environment": ENVIRONMENT, "region": REGION, "instance": addr}
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
            if "budget" in p["title"]:
                continue  # budget left: below 0 once the objective is missed
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
    # backend-0's CRM breaker opens once at start, so the transitions are on
    # record whether or not the workload trips a breaker in time.
    started = [start_backend(binary, workdir, f"backend-{i}",
                             ["--linger", str(MULTI_LINGER)] + (["--trip-breaker"] if i == 0 else []),
                             MULTI_DURATION)
               for i in range(3)]
    backends = [addr for addr, _ in started]
    workload_ends = min(t for _, t in started) + MULTI_DURATION
    url = start_prometheus(workdir, "prometheus", lambda d, addr: test_config(d, addr, [(backends, REGION)]))
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
        return {"success", "error", "timeout", "cancelled"} <= {r["metric"]["status"] for r in rows}
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


# The regions variant: how long the central Prometheus looks back for the
# latest sample of a series (the default, 5 minutes, would keep a dead
# agent's series alive that long).
CENTRAL_LOOKBACK = 20


def check_regions(binary, workdir):
    log("variant regions: regions a and b, each a crm_backend and an agent-mode Prometheus, "
        "remote-writing to a central Prometheus (a's CRM breaker tripped once, b's forced open)")
    central = start_prometheus(workdir, "central", central_config,
                               ["--web.enable-remote-write-receiver", f"--query.lookback-delta={CENTRAL_LOOKBACK}s"])
    started = {}
    # a's breaker opens once at start and recovers: whether the workload alone
    # trips it in the first seconds depends on the machine's speed, and the
    # transitions panel must have data for $region=a.
    for region, extra in (("a", ["--trip-breaker"]), ("b", ["--force-breaker-open"])):
        backend, started[region] = start_backend(binary, workdir, f"backend-{region}", extra)
        start_prometheus(workdir, f"agent-{region}",
                         lambda d, addr, b=backend, r=region: agent_config(d, addr, [([b], r)], central, r),
                         ["--enable-feature=agent", "--storage.remote.flush-deadline=2s"])
    agent_b = PROCESSES[-1]

    def both_regions():
        rows = query(central, 'count by (region) (up{job="insa-workers"} == 1)')
        agents = query(central, 'count by (region) (up{job="prometheus"} == 1)')
        return ({r["metric"].get("region") for r in rows} == {"a", "b"}
                and {"a", "b"} <= {r["metric"].get("region") for r in agents})
    if wait_for("both regions' targets and agents at the central Prometheus", both_regions, 30):
        log("the central Prometheus holds both regions' workers and both agents' own series, each with its region")
    # prometheus_central.yml scrapes no worker itself: each worker is there once.
    workers = query(central, 'count(up{job="insa-workers"})')
    if not workers or float(workers[0]["value"][1]) != 2:
        fail(f"the central Prometheus should hold each worker once (2), holds {workers}")
    own = query(central, 'up{job="prometheus"}')
    if not any("region" not in r["metric"] for r in own):
        fail(f"the central Prometheus' own series should carry no region: {own}")
    if not wait_for("every family at the central Prometheus", lambda: not families_present(central),
                    FAMILIES_WITHIN + 10, interval=0.5):
        fail(f"families missing at the central Prometheus: {families_present(central)}")
    time.sleep(3)
    rules_healthy(central)

    def regions_apart():
        rows = query(central, 'environment_region_agent_type:insa_slo_availability_errors:ratio_rate5m{agent_type="crm_agent"}')
        ratio = {r["metric"].get("region"): float(r["value"][1]) for r in rows}
        return ratio if set(ratio) == {"a", "b"} and ratio["b"] == 1 and ratio["a"] < 1 else None
    ratio = wait_for("the SLO ratios of regions a and b apart", regions_apart, 20)
    if ratio:
        log(f"crm_agent's failed share: region a {ratio['a']:.3f}, region b {ratio['b']:.3f} (everything refused)")
    page = wait_for("the availability page for region b",
                    lambda: firing(central, "InsaAvailabilityBudgetBurn", agent_type="crm_agent", severity="critical",
                                   region="b"), FIRING_WITHIN)
    if page:
        log(f"InsaAvailabilityBudgetBurn pages for crm_agent in region b "
            f"{time.time() - started['b']:.0f} s after b's backend started")
    if query(central, 'prometheus_remote_storage_highest_timestamp_in_seconds{region="a"}') and \
            query(central, 'prometheus_remote_storage_highest_timestamp_in_seconds{region="b"}'):
        log("the agents' remote-write self-metrics reach the central Prometheus (PrometheusRemoteWriteBehind reads them)")
    else:
        fail("the agents' prometheus_remote_storage_* series are missing at the central Prometheus")
    for region in ("a", "b"):
        VARIABLES["region"] = region
        try:
            panels_return_data(central, f" for $region={region} at the central Prometheus")
        finally:
            VARIABLES["region"] = ".*"
    if firing(central, "InsaPrometheusGone"):
        fail(f"InsaPrometheusGone fires with both agents running: {firing(central, 'InsaPrometheusGone')}")

    # Agent b dies: its series stop; the central Prometheus notices.
    os.killpg(agent_b.pid, signal.SIGKILL)
    agent_b.wait()
    write_pidfile()
    killed = time.time()
    log("agent b killed")
    if wait_for("InsaPrometheusGone for region b",
                lambda: firing(central, "InsaPrometheusGone", region="b"), CENTRAL_LOOKBACK + 30):
        log(f"InsaPrometheusGone fires for region b {time.time() - killed:.0f} s after its agent died "
            f"(lookback {CENTRAL_LOOKBACK} s here, 5 min in production, then `for`)")
    if firing(central, "InsaPrometheusGone", region="a"):
        fail("InsaPrometheusGone fires for region a, whose agent runs")
    stop_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=str(ROOT / "target/debug/examples/crm_backend"))
    parser.add_argument("--variant", choices=["single", "multi", "regions", "all"], default="all")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    args = parser.parse_args()
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (Debian: apt-get install prometheus)")
    if not (alertmanager_binary() and shutil.which("amtool")):
        raise SystemExit("alertmanager or amtool not found (Debian: apt-get install prometheus-alertmanager)")
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
        if args.variant in ("regions", "all"):
            check_regions(args.backend, workdir)
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
