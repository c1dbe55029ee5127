#!/usr/bin/env bash
# How long the test build of angcut's own crates takes, the dependencies already built: what a
# change to the crates' layout (issue 35: the crate split) changes in `.ci/run`. Builds once to
# have the dependencies, removes the workspace's own artifacts, and times `cargo test --no-run`
# again with `--timings`, printing wall and CPU seconds and each of the workspace's units.
#   usage: scripts/build_time.sh [TARGET_DIR]   (default target/build-time, kept apart from target/)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${1:-target/build-time}
cargo test --no-run -q
packages=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))')
# shellcheck disable=SC2086
cargo clean -q $packages
/usr/bin/time -f "own crates' test build: %e s wall, %U s user" cargo test --no-run -q --timings
python3 - "$CARGO_TARGET_DIR" <<'PY'
import glob, json, os, re, sys
report = max(glob.glob(os.path.join(sys.argv[1], "cargo-timings", "cargo-timing-*.html")), key=os.path.getmtime)
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", open(report).read(), re.S).group(1))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# {cpu}, {os.cpu_count()} cores")
for unit in sorted(units, key=lambda u: u["start"]):
    if unit["duration"] > 0.5:
        print(f"{unit['name']:12} {unit.get('target', '').strip():30} start {unit['start']:6.1f} s  took {unit['duration']:6.1f} s")
PY
