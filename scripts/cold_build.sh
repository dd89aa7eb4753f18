#!/usr/bin/env bash
# The cold build of a one-macro user crate: insa-metrics with its defaults,
# without them, and the same fn hand-written on `prometheus` 0.14, each in a
# fresh target directory (dependencies already downloaded). Prints the seconds
# of `cargo build` and `cargo build --release` and the crates each pulls in.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

user_crate() { # name, dependency line, main.rs
    mkdir -p "$work/$1/src"
    printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2024"\n\n[dependencies]\n%s\n' \
        "$1" "$2" >"$work/$1/Cargo.toml"
    printf '%s\n' "$3" >"$work/$1/src/main.rs"
}
macro_main='#[insa_metrics::track_request_metrics("sizing_agent")]
fn size(kw: u32) -> Result<u32, std::io::Error> {
    Ok(kw * 2)
}

fn main() {
    println!("{:?} {}", size(3), insa_metrics::get_metrics_text().len());
}'
prometheus_main='use std::sync::LazyLock;
use prometheus::{Encoder, HistogramVec, IntCounterVec, TextEncoder};

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!("insa_agent_requests_total", "Requests.", &["agent_type", "status"]).unwrap()
});
static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    prometheus::register_histogram_vec!("insa_agent_request_duration_seconds", "Duration.", &["agent_type"]).unwrap()
});

fn size(kw: u32) -> Result<u32, std::io::Error> {
    let timer = DURATION.with_label_values(&["sizing_agent"]).start_timer();
    let result = Ok(kw * 2);
    timer.observe_duration();
    let status = if result.is_ok() { "success" } else { "error" };
    REQUESTS.with_label_values(&["sizing_agent", status]).inc();
    result
}

fn main() {
    let mut text = Vec::new();
    TextEncoder::new().encode(&prometheus::gather(), &mut text).unwrap();
    println!("{:?} {}", size(3), text.len());
}'
user_crate with-defaults "insa-metrics = { path = \"$root/insa-metrics\" }" "$macro_main"
user_crate without-defaults "insa-metrics = { path = \"$root/insa-metrics\", default-features = false }" "$macro_main"
user_crate prometheus 'prometheus = "0.14"' "$prometheus_main"

printf '| user crate | crates | `cargo build` | `cargo build --release` |\n|---|---|---|---|\n'
for name in prometheus without-defaults with-defaults; do
    dir="$work/$name"
    (cd "$dir" && cargo fetch -q)
    crates=$(cd "$dir" && cargo tree -e normal --prefix none | sed 's/ (\*)//' | sort -u | wc -l)
    times=()
    for profile in dev release; do
        start=$(date +%s.%N)
        (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build -q --profile "$profile")
        times+=("$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$start" "$(date +%s.%N)")")
    done
    printf '| %s | %s | %s | %s |\n' "$name" "$((crates - 1))" "${times[0]}" "${times[1]}"
done
