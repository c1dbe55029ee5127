#!/usr/bin/env bash
# A HEALPix-sorted catalogue cut against a bright-star mask (docs/performance.md, "A
# HEALPix-sorted catalogue"), side by side in one run. W3's wide rows (`angcut gen --schema
# wide`), sorted by their order-10 NESTED pixel (healpy) as a HATS partition is, and written by
# pyarrow (its defaults: snappy, dictionaries, v1 pages) in row groups of GROUP rows (default
# 16,384); then, the lines alternating run by run:
#   cut       the catalogue masked by the Hipparcos stars brighter than Hp = 4 (480, the
#             fixture hip2_bright4.fits), radii by the Legacy Surveys' rule capped at 0.5deg:
#             row groups no star reaches are copied, the others filtered as pages
#   rewrite   the same with --rewrite (every column decoded and encoded again)
#   polars    polars' streaming copy of the same file (zstd 1, synced; its own time)
# Prints min/median wall seconds and peak RSS per line, the row groups copied and filtered, and
# the ratios. Needs python3 with healpy, pyarrow, polars (`pip install healpy pyarrow polars`);
# data under bench-data/ (git-ignored), made once.
#
# Usage: scripts/bench_sorted.sh [--rows N] [--group N] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."

rows=2000000 group=16384 runs=3
usage="usage: scripts/bench_sorted.sh [--rows N] [--group N] [--runs N]"
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=$2; shift ;;
        --group) group=$2; shift ;;
        --runs) runs=$2; shift ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    shift
done
python=${PYTHON:-python3}

source scripts/bench-setup.sh
wide=$d/w3-objects-$rows.parquet
sorted=$d/w3-sorted-$rows-$group.parquet
[ -f "$wide" ] || "$bin" gen "$wide" --rows "$rows" --seed 31 --schema wide
[ -f "$sorted" ] || "$python" - "$wide" "$sorted" "$group" <<'PY'
import sys
import healpy as hp
import numpy as np
import pyarrow.parquet as pq

source, target, group = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = pq.read_table(source)
pixel = hp.ang2pix(1 << 10, table["ra"].to_numpy(), table["dec"].to_numpy(), nest=True, lonlat=True)
pq.write_table(table.take(np.argsort(pixel, kind="stable")), target, row_group_size=group)
PY
cat > "$d/sorted-stars.toml" <<TOML
[[layer]]
name = "star"
file = "$PWD/fixtures/hip2_bright4.fits"
radius_from_mag = "Hpmag"
max_radius = "0.5deg"
TOML

# measure NAME COMMAND...: one run of COMMAND, its seconds and peak RSS added to NAME's.
declare -A times rss median
measure() {
    local name=$1 t0 t1 r own
    shift
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$d/rss.txt" "$@" >/dev/null 2> "$d/log.txt" || { cat "$d/log.txt" >&2; exit 1; }
    t1=$(date +%s.%N)
    # polars times itself, without its interpreter's start.
    own=$(sed -n 's/^elapsed_us=\([0-9]*\)$/\1/p' "$d/log.txt")
    if [ -n "$own" ]; then
        times[$name]+="$(echo "scale=6; $own / 1000000" | bc) "
    else
        times[$name]+="$(echo "$t1 - $t0" | bc) "
    fi
    r=$(tail -n 1 "$d/rss.txt")
    [ "${r:-0}" -gt "${rss[$name]:-0}" ] && rss[$name]=$r
    return 0
}
out=$d/sorted-out.parquet
job=(stream "$sorted" "$out" --masks "$d/sorted-stars.toml" -q --stats-json "$d/sorted-stats.json")
# The file read once untimed, so that the first line timed does not pay for a cold cache.
cat "$sorted" > /dev/null
for _ in $(seq "$runs"); do
    measure cut "$bin" "${job[@]}"
    measure rewrite "$bin" "${job[@]}" --rewrite
    measure polars "$python" scripts/peers.py polars-copy "$sorted" "$out"
done
"$bin" "${job[@]}"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
    "$(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2, no AVX-512'); $rows rows" \
    "in row groups of $group; $runs runs of each line, alternating"
"$python" -c 'import json, sys; s = json.load(open(sys.argv[1])); print("cut: row groups", s["row_groups"])' \
    "$d/sorted-stats.json"
for name in cut rewrite polars; do
    sorted_times=$(printf '%s\n' ${times[$name]} | sort -g)
    median[$name]=$(echo "$sorted_times" | sed -n "$(( (runs + 1) / 2 ))p")
    printf '%-8s median %.3f s (min %.3f), peak RSS %d MB\n' "$name" "${median[$name]}" \
        "$(echo "$sorted_times" | head -1)" $(( ${rss[$name]} / 1024 ))
done
printf 'cut / rewrite %.2f; cut / polars copy %.2f\n' \
    "$(echo "${median[cut]} / ${median[rewrite]}" | bc -l)" "$(echo "${median[cut]} / ${median[polars]}" | bc -l)"
