#!/usr/bin/env bash
# Runs every check of the project, as CI does: formatting, lints, the whole
# test suite (unit, integration, trybuild, doctests, real Prometheus and
# Pushgateway on loopback), the docs, and the live monitoring-stack test.
# Installs what the tests need when it is missing; starts and stops every
# server it uses.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# --- what the tests need ------------------------------------------------------
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || missing+=(prometheus-pushgateway)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 \
    || missing+=(prometheus-alertmanager)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)
# node and npm type-check the dashboards against @grafana/schema.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
    step "installing Debian packages: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "run as root or install sudo" >&2; exit 1; }
        as_root=(sudo)
    fi
    # The packages ship services that would listen on 0.0.0.0:9090, :9091
    # (the demo's port), :9093 and :9094. The tests start their own instances
    # on loopback, so keep the packaged services from starting, now and at
    # boot.
    policy=/usr/sbin/policy-rc.d
    own_policy=false
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
        "${as_root[@]}" chmod +x "$policy"
        own_policy=true
        trap '"${as_root[@]}" rm -f "$policy"' EXIT
    fi
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
    if $own_policy; then
        "${as_root[@]}" rm -f "$policy"
        trap - EXIT
    fi
    if command -v systemctl >/dev/null 2>&1; then
        for service in prometheus prometheus-pushgateway prometheus-node-exporter prometheus-alertmanager; do
            "${as_root[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
        done
    fi
fi
# The OpenMetrics reference parser, which reads the OpenMetrics exposition
# in the runtime's tests.
if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
    step "installing the OpenMetrics reference parser (Python prometheus_client)"
    python3 -m pip install --quiet --disable-pip-version-check 'prometheus_client==0.26.0'
fi
for tool in rustfmt clippy; do
    if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1; then
        step "installing the $tool component"
        rustup component add "$tool"
    fi
done
promtool --version | head -n 1

# --- checks -------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings (all features, then the runtime without any, then each feature alone)"
cargo clippy --workspace --all-targets --all-features -- -D warnings
# `--lib`: the tests take the crate's optional parts through its self
# dev-dependency (Cargo.toml), so only the library itself builds without them.
cargo clippy -p insa-metrics --lib --no-default-features -- -D warnings
# Every feature of the runtime on its own, so no combination breaks.
features=$(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    if package["name"] == "insa-metrics":
        print(" ".join(f for f in package["features"] if f != "default"))')
for feature in $features; do
    echo "--- insa-metrics --no-default-features --features $feature"
    cargo clippy -p insa-metrics --lib --no-default-features --features "$feature" --quiet -- -D warnings
done

step "the collector and the macros alone stay small (at most 28 crates)"
crates=$(cargo tree -p insa-metrics -e normal --no-default-features --prefix none | sed 's/ (\*)//' | sort -u | wc -l)
echo "insa-metrics --no-default-features: $crates crates"
if [ "$crates" -gt 28 ]; then
    echo "insa-metrics without default features pulls $crates crates, more than 28" >&2
    exit 1
fi

step "cargo test --workspace"
# Bounded: a test that hangs fails the run instead of holding it for hours.
timeout --kill-after=30s 40m cargo test --workspace --all-features

step "cargo doc -D warnings"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --all-features

step "monitoring stack: generated files up to date (SLO rules, agent config, dashboards)"
python3 deploy/prometheus/generate_slo_rules.py --check
python3 deploy/prometheus/generate_agent_config.py --check
python3 deploy/grafana/generate_dashboards.py --check

step "monitoring stack: promtool check config / check rules / test rules"
promtool check config deploy/prometheus/prometheus_config.yml
promtool check config --agent deploy/prometheus/prometheus_agent.yml
promtool check config deploy/prometheus/prometheus_central.yml
promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml
python3 scripts/check_alert_tests.py

step "monitoring stack: amtool check-config and routes test"
python3 deploy/alertmanager/test_routes.py

step "monitoring stack: dashboards (static checks, Grafana's schema)"
python3 scripts/check_dashboards.py
# npm ci installs the pinned @grafana/schema and typescript into
# deploy/grafana/schema/node_modules when they are missing.
python3 scripts/check_dashboard_schema.py

step "worker examples: each runs and records its families"
./scripts/examples_smoke.sh

step "live test: crm_backend scraped by a real Prometheus with the rules and dashboards"
./scripts/live_test.sh

step "all checks passed"
