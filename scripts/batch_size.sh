#!/usr/bin/env bash
# Measures `angcut stream` end to end at several --batch-size values, to choose the default.
# Generates its data under bench-data/ (git-ignored). Prints min and median wall seconds of 3 runs,
# with no contaminants (the I/O floor) and with the Hipparcos fixture. Usage: scripts/batch_size.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-4000000}
cargo build --release --quiet
bin=target/release/angcut
mkdir -p bench-data
data=bench-data/narrow-$rows.parquet
[ -f "$data" ] || "$bin" gen "$data" --rows "$rows" --seed 7
# No contaminants: the same stream with nothing to cut, the I/O floor.
none=bench-data/no-contaminants.parquet
[ -f "$none" ] || "$bin" gen "$none" --rows 0

median_and_min() { sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f\n", a[1], a[int((NR+1)/2)]}'; }
time_run() { # prints wall seconds of one run
    local start end
    start=$(date +%s.%N)
    "$bin" stream "$data" bench-data/out.parquet "$@" 2>/dev/null
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { print e - s }'
}

printf '%-12s %-14s %8s %8s\n' batch contaminants min_s median_s
for contaminants in "$none" fixtures/hip2_bright.parquet; do
    for batch in 4096 16384 65536 262144; do
        read -r min med < <(for _ in 1 2 3; do time_run -c "$contaminants" --maxsep 30arcsec --batch-size "$batch"; done | median_and_min)
        printf '%-12s %-14s %8s %8s\n' "$batch" "$(basename "$contaminants" .parquet)" "$min" "$med"
    done
done
rm -f bench-data/out.parquet
