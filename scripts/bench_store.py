#!/usr/bin/env python3
"""Prints the series-store benchmarks' last runs as README tables: ours, the peers, the ratios.

Run first (each group is optional; missing ones are skipped):

    cargo bench -p insa-metrics --bench scrape -- --warm-up-time 1 --measurement-time 3
    cargo bench -p insa-metrics --bench memory -- --series 100000 --runs 3
    cargo bench -p insa-metrics --bench contention -- --warm-up-time 1 --measurement-time 3

Timings are criterion's medians (target/criterion/**/new/estimates.json);
resident bytes are the medians over fresh processes in target/bench-memory.json.
A ratio is ours over the peer's: below 1, ours costs less.
"""
import json
import os
import pathlib
import sys

TARGET = pathlib.Path(
    os.environ.get("CARGO_TARGET_DIR")
    or pathlib.Path(__file__).resolve().parent.parent / "target"
)
CRITERION = TARGET / "criterion"
SIZES = [200, 10_000, 100_000]
THREADS = [1, 2, 4]


def median_ns(*parts):
    path = CRITERION.joinpath(*map(str, parts), "new", "estimates.json")
    try:
        return json.loads(path.read_text())["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def duration(ns):
    if ns is None:
        return "–"
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.1f} ns"


def ratio(ours, theirs):
    if ours is None or theirs is None or theirs <= 0:
        return "–"
    return f"{ours / theirs:.2f}"


def catalogue():
    ours = median_ns("catalogue", "get_metrics_text")
    encoder = median_ns("catalogue", "prometheus_TextEncoder")
    gzip = median_ns("catalogue", "get_metrics_text+gzip")
    if ours is None:
        return False
    print("Scrape of the demo's series (`catalogue`):\n")
    print("| `get_metrics_text()` | `TextEncoder` | ratio | with gzip |")
    print("|---|---|---|---|")
    print(f"| {duration(ours)} | {duration(encoder)} | {ratio(ours, encoder)} | {duration(gzip)} |")
    print()
    return True


def scrape():
    rows = []
    for kind in ("counter", "histogram"):
        for size in SIZES:
            group = f"scrape_{kind}"
            ours = median_ns(group, "insa_metrics", size)
            prom = median_ns(group, "prometheus", size)
            client = median_ns(group, "prometheus_client", size)
            if ours is None and prom is None and client is None:
                continue
            rows.append(
                f"| {kind} | {size:,} | {duration(ours)} | {duration(prom)} | {duration(client)} "
                f"| {ratio(ours, prom)} | {ratio(ours, client)} |"
            )
    if not rows:
        return False
    print("Scrape (`encode_text()`) side by side:\n")
    print("| series | count | insa-metrics | `prometheus` `TextEncoder` | prometheus-client "
          "| ratio vs `TextEncoder` | ratio vs prometheus-client |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    return True


def memory():
    path = TARGET / "bench-memory.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    names = ["insa_metrics", "prometheus", "prometheus_client", "metrics"]
    titles = ["insa-metrics", "`prometheus`", "prometheus-client", "`metrics`"]

    def med(values):
        values = sorted(values)
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    def cell(values):
        if len(values) > 1:
            return f"{med(values):.0f} ({min(values):.0f}–{max(values):.0f})"
        return f"{med(values):.0f}"

    def table(title, cell_of, ratio_of):
        print(title + "\n")
        print("| series | " + " | ".join(titles) + " | ratio vs prometheus-client |")
        print("|---|" + "---|" * (len(names) + 1))
        for kind in ("counter", "histogram"):
            by_name = data["results"].get(kind, {})
            cells = [cell_of(by_name[n]) if n in by_name else "–" for n in names]
            r = "–"
            if "insa_metrics" in by_name and "prometheus_client" in by_name:
                r = ratio(ratio_of(by_name["insa_metrics"]), ratio_of(by_name["prometheus_client"]))
            print(f"| {kind} | " + " | ".join(cells) + f" | {r} |")
        print()

    runs = f"{data['series']:,} series, median and range of {data['runs']} fresh processes"
    table(f"Resident bytes per series, after one scrape ({runs}):",
          lambda m: cell(m["scraped"]), lambda m: med(m["scraped"]))
    table(f"Resident bytes per series, after building, before any scrape ({runs}):",
          lambda m: cell(m["built"]), lambda m: med(m["built"]))
    if all("blocks" in m for by_name in data["results"].values() for m in by_name.values()):
        table("Heap blocks and heap bytes (as requested) per series, after one scrape:",
              lambda m: f"{med(m['blocks']):.1f} / {med(m['heap']):.0f} B", lambda m: med(m["heap"]))
    return True


def contention():
    """CPU per call over the counted rounds (target/bench-contention.json),
    else criterion's median."""
    try:
        pooled = json.loads((TARGET / "bench-contention.json").read_text())
    except FileNotFoundError:
        pooled = {}

    fallback = []

    def cpu(name, threads):
        entry = pooled.get(f"{name}/{threads}")
        if isinstance(entry, dict) and entry.get("counted_calls"):
            return entry["cpu_per_call_ns"]
        if threads > 1:
            fallback.append(f"{name}/{threads}")
        return median_ns("contention", name, threads)

    def counted(name, threads):
        entry = pooled.get(f"{name}/{threads}")
        return "–" if not isinstance(entry, dict) else f"{entry['counted'] * 100:.0f} %"

    rows = []
    for threads in THREADS:
        bare = cpu("bare", threads)
        shared = cpu("shared_atomic", threads)
        ours = cpu("insa_metrics", threads)
        prom = cpu("prometheus", threads)
        client = cpu("prometheus_client", threads)
        if ours is None:
            continue

        def over(x):
            return None if x is None or bare is None else x - bare

        rows.append(
            f"| {threads} | {duration(bare)} | {duration(shared)} | {duration(ours)} | {duration(prom)} "
            f"| {duration(client)} | {ratio(ours, prom)} | {ratio(over(ours), over(prom))} "
            f"| {ratio(ours, client)} | {counted('insa_metrics', threads)} / "
            f"{counted('prometheus', threads)} / {counted('prometheus_client', threads)} |"
        )
    if not rows:
        return False
    print("CPU time per call of one fn shared by N threads: thread CPU time summed over the threads, "
          "over the calls of the rounds counted (made on a core while another thread made calls "
          "on the other); the overhead ratio subtracts the bare fn:\n")
    print("| threads | bare fn | bare + one shared `fetch_add` | `#[track_request_metrics]` "
          "| `prometheus` by hand | prometheus-client by hand | ratio vs `prometheus` "
          "| overhead ratio vs `prometheus` | ratio vs prometheus-client "
          "| rounds counted (ours / `prometheus` / prometheus-client) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if fallback:
        print(f"\nNo round counted for {', '.join(fallback)}: shown is criterion's median over all "
              "rounds, mostly run without another thread (not a contended figure).")
    print()
    return True


def main():
    shown = [catalogue(), scrape(), memory(), contention()]
    if not any(shown):
        sys.exit(f"no results under {TARGET}: run the benchmarks first (see this script's doc)")


if __name__ == "__main__":
    main()
