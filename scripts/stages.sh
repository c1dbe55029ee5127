#!/usr/bin/env bash
# What each stage of `angcut stream` costs per row on ONE core, so that the throughput to expect
# on N cores can be worked out (docs/performance.md, "How throughput grows with cores"). Every run is pinned to
# core 0 (`taskset -c 0`), so its CPU seconds (user + system) are the sum of its stages' work:
#   read   decode the W3 Parquet file and write it as uncompressed Arrow IPC (the IPC write is a
#          copy of the buffers: it is counted here, not subtracted)
#   encode the floor (empty contaminants, Parquet zstd 1 out) minus `read`
#   load   reading and indexing the contaminants: an empty catalogue of the W3 schema cut
#   cut    the cut (1,000,000 contaminants, 5arcsec) minus the floor minus `load`
# Medians of RUNS runs (default 3). Data is generated under bench-data/ (git-ignored) and reused.
#
# Usage: scripts/stages.sh [--rows N] [--runs N]      (default 2,000,000 rows)
set -euo pipefail
cd "$(dirname "$0")/.."

rows=2000000 runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=$2; shift ;;
        --runs) runs=$2; shift ;;
        *) echo "usage: scripts/stages.sh [--rows N] [--runs N]" >&2; exit 2 ;;
    esac
    shift
done
command -v taskset > /dev/null || { echo "stages: taskset (util-linux) is needed" >&2; exit 1; }

source scripts/bench-setup.sh
gen() { [ -f "$d/$1" ] || "$bin" gen "$d/$1" "${@:2}"; }
gen "w3-objects-$rows.parquet" --rows "$rows" --seed 31 --schema wide
gen w3-objects-0.parquet --rows 0 --schema wide
gen w3-contaminants.parquet --rows 1000000 --seed 32
gen no-contaminants.parquet --rows 0
objects=$d/w3-objects-$rows.parquet

# cpu NAME IN OUT CONTAMINANTS: prints the median CPU seconds (user + system) of RUNS pinned runs.
cpu() {
    local name=$1 in=$2 out=$3 contaminants=$4
    for _ in $(seq "$runs"); do
        rm -f "$out"
        /usr/bin/time -f "%U %S" -o "$d/cpu.txt" taskset -c 0 "$bin" stream "$in" "$out" \
            -c "$contaminants" --maxsep 5arcsec 2> "$d/log.txt" || { cat "$d/log.txt" >&2; exit 1; }
        awk '{ print $1 + $2 }' "$d/cpu.txt"
    done | sort -n | awk -v name="$name" '{ v[NR] = $1 } END { print name, v[int((NR + 1) / 2)] }'
    rm -f "$out"
}

{
    cpu read "$objects" "$d/stage.arrow" "$d/no-contaminants.parquet"
    cpu floor "$objects" "$d/stage.parquet" "$d/no-contaminants.parquet"
    cpu load "$d/w3-objects-0.parquet" "$d/stage.parquet" "$d/w3-contaminants.parquet"
    cpu cut "$objects" "$d/stage.parquet" "$d/w3-contaminants.parquet"
} > "$d/stages.txt"

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); $rows W3 rows, one core, medians of $runs"
awk -v rows="$rows" '
    { t[$1] = $2 }
    END {
        stage["read"] = t["read"]; stage["encode"] = t["floor"] - t["read"]
        stage["cut"] = t["cut"] - t["floor"] - t["load"]
        printf "%-8s %10s %14s %12s\n", "stage", "CPU s", "rows/s/core", "ns/row"
        n = split("read encode cut", order, " ")
        for (i = 1; i <= n; i++) {
            s = order[i]
            printf "%-8s %10.3f %14.0f %12.0f\n", s, stage[s], (stage[s] > 0 ? rows / stage[s] : 0), 1e9 * stage[s] / rows
        }
        printf "%-8s %10.3f   (fixed: reading and indexing 1,000,000 contaminants)\n", "load", t["load"]
        printf "floor: %.0f rows/s/core; cut: %.0f rows/s/core besides the fixed load\n", rows / t["floor"], rows / (t["cut"] - t["load"])
    }' "$d/stages.txt"
