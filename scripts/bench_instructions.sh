#!/usr/bin/env bash
# Instructions per call of each macro_overhead benchmark, counted by
# callgrind: deterministic, unlike the timings, so small differences between
# the macros and the hand-written versions show. Needs valgrind
# (`apt-get install valgrind`).
#
# Usage: scripts/bench_instructions.sh [--without-exemplars] [REGEX]
#
# --without-exemplars builds with `--cfg insa_metrics_no_exemplars` (in a
# target directory of its own), which compiles the exemplar check out of the
# call sites: the difference is what a call without a trace context pays
# for exemplars.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--without-exemplars" ]; then
    shift
    export RUSTFLAGS="${RUSTFLAGS:-} --cfg insa_metrics_no_exemplars"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/no-exemplars"
fi
filter=${1:-.}
bench=$(cargo bench -p insa-metrics --bench macro_overhead --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m.get("target", {}).get("name") == "macro_overhead":
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bench" --bench --list 2>/dev/null | sed -n 's/: benchmark$//p' | grep -E -- "$filter" |
while read -r name; do
    file="$out/$(echo "$name" | tr '/' '_').out"
    valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$bench" --bench --profile-time 1 "^$name\$" >/dev/null 2>&1
    python3 - "$file" "$name" <<'PY'
import re, sys
path, name = sys.argv[1], sys.argv[2]
text = open(path).read()
# Inclusive cost of criterion's timing loop, and how often it called `work`
# (once per iteration in every benchmark).
names = dict(re.findall(r"^c?fn=\((\d+)\) (.*)$", text, re.M))
work = next(i for i, n in names.items() if n == "macro_overhead::work")
loops = {i for i, n in names.items() if re.fullmatch(r"criterion::bencher::Bencher<.*>::iter", n)}
calls, cost, current, last_cfn = 0, 0, None, None
lines = text.splitlines()
for k, line in enumerate(lines):
    if m := re.match(r"^fn=\((\d+)\)", line):
        current = m.group(1)
    elif m := re.match(r"^cfn=\((\d+)\)", line):
        last_cfn = m.group(1)
    elif m := re.match(r"^calls=(\d+) ", line):
        inclusive = int(lines[k + 1].split()[1])
        if last_cfn == work:
            calls += int(m.group(1))
        if last_cfn in loops and current not in loops:
            cost += inclusive
print(f"{name:40} {cost / calls:7.1f} instructions per call")
PY
done
