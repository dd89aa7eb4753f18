#!/usr/bin/env python3
"""Prints the macro_overhead benchmark's last run as a table with the ratios.

Run `cargo bench --bench macro_overhead` first; this reads criterion's medians
from target/criterion. Overhead is a row's time minus the bare call's; the
ratio is the macro's overhead over the hand-written version's.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
SITES = [
    ("request", "track_request_metrics"),
    ("database", "track_database_operation"),
    ("message", "track_message_processing"),
]


def median_ns(group, bench):
    path = ROOT / group / bench / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["median"]["point_estimate"]
    except FileNotFoundError:
        sys.exit(f"no result at {path}: run `cargo bench --bench macro_overhead` first")


def main():
    print("| fn | site | bare | hand-written, `Instant` | hand-written, TSC | macro "
          "| ratio vs `Instant` | ratio vs TSC |")
    print("|---|---|---|---|---|---|---|---|")
    for group in ("sync", "async"):
        bare = median_ns(group, "bare")
        for site, macro in SITES:
            hand = median_ns(group, f"hand_written_{site}")
            tsc = median_ns(group, f"hand_written_tsc_{site}")
            ours = median_ns(group, macro)
            print(f"| {group} | {site} | {bare:.1f} ns | {hand:.1f} ns | {tsc:.1f} ns "
                  f"| {ours:.1f} ns | {(ours - bare) / (hand - bare):.2f} "
                  f"| {(ours - bare) / (tsc - bare):.2f} |")


if __name__ == "__main__":
    main()
