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
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
    step "installing Debian packages: ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
    # The packages' own services would hold 9090/9091; the tests start their
    # own instances on free loopback ports.
    for service in prometheus prometheus-pushgateway; do
        "${sudo[@]}" systemctl stop "$service" >/dev/null 2>&1 || true
    done
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

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test --workspace"
cargo test --workspace --all-features

step "cargo doc -D warnings"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --all-features

step "monitoring stack: promtool check config / check rules / test rules"
promtool check config deploy/prometheus/prometheus_config.yml
promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml

step "live test: crm_backend scraped by a real Prometheus with the rules and dashboards"
./scripts/live_test.sh

step "all checks passed"
