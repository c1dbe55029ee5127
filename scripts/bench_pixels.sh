#!/usr/bin/env bash
# Pixel-map benchmark (docs/performance.md, "Pixel maps"), side by side in one run:
#   lookups   ROWS objects (default 20,000,000) inside a bit-packed boolean HealSparse map at nside
#             131072 (bright-star discs over ~400 deg^2; scripts/bench_pixels.py makes both):
#               floor   angcut streaming the catalogue against no contaminant
#               pixels  the same stream with the map as a mask layer and --mask-bits
#               healsparse  HealSparseMap.get_values_pos on the same positions, in memory (the
#                       map read whole first, not timed; reading the Parquet not timed)
#             angcut's per-object cost is (pixels - floor) / ROWS, against healsparse's lookup alone.
#   W3        the survey-mask benchmark's W3 cut (scripts/bench_masks.sh: 20,000,000 wide rows,
#             stars, galaxies, polygons), without and with two pixel layers added (the HealSparse
#             map and a whole-sky footprint MOC, outside = true).
# Prints min/median wall seconds and peak RSS per line, then the ratios. Needs python3 with
# healsparse, healpy, mocpy, pyarrow (`pip install healsparse healpy mocpy pyarrow`); data under
# bench-data/ (git-ignored), made once.
#
# Usage: scripts/bench_pixels.sh [--rows N] [--runs N] [--skip-w3]
set -euo pipefail
cd "$(dirname "$0")/.."

rows=20000000 runs=3 w3=1
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=$2; shift ;;
        --runs) runs=$2; shift ;;
        --skip-w3) w3=0 ;;
        *) echo "usage: scripts/bench_pixels.sh [--rows N] [--runs N] [--skip-w3]" >&2; exit 2 ;;
    esac
    shift
done
python=${PYTHON:-python3}

source scripts/bench-setup.sh
"$python" scripts/bench_pixels.py make "$d" "$rows"
[ -f "$d/no-contaminants.parquet" ] || "$bin" gen "$d/no-contaminants.parquet" --rows 0
cat > "$d/pixels.toml" <<'EOF'
[[layer]]
name = "stars"
file = "pixels-stars.hsp"
EOF

declare -A median
# measure NAME COMMAND...: runs it $runs times, prints min/median seconds and peak RSS.
measure() {
    local name=$1; shift
    local times=() rss=0
    for _ in $(seq "$runs"); do
        local t0 t1 r
        t0=$(date +%s.%N)
        /usr/bin/time -f '%M' -o "$d/rss.txt" "$@" >/dev/null 2>&1
        t1=$(date +%s.%N)
        r=$(tail -n 1 "$d/rss.txt")
        times+=("$(echo "$t1 - $t0" | bc)")
        [ "${r:-0}" -gt "$rss" ] && rss=$r
    done
    local sorted
    sorted=$(printf '%s\n' "${times[@]}" | sort -g)
    local min med
    min=$(echo "$sorted" | head -1)
    med=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
    median[$name]=$med
    printf '%-22s min %7.2f s  median %7.2f s  peak RSS %5d MB\n' "$name" "$min" "$med" $((rss / 1024))
}

objects="$d/pixels-objects-$rows.parquet"
echo "bench_pixels: $rows objects in the map's area; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
measure floor "$bin" stream "$objects" "$d/out.parquet" -c "$d/no-contaminants.parquet" --maxsep 1arcsec -q
measure pixels "$bin" stream "$objects" "$d/out.parquet" --masks "$d/pixels.toml" --mask-bits bits -q
"$python" scripts/bench_pixels.py lookup "$d" "$rows" "$runs"
echo "angcut's lookups: $(echo "scale=1; (${median[pixels]} - ${median[floor]}) * 1000000000 / $rows" | bc) ns/object (pixels - floor, medians)"

if [ "$w3" = 1 ]; then
    w3rows=20000000
    scripts/bench_masks.sh --make-only --rows "$w3rows" # W3 and its mask, once
    {
        cat "$d/mask.toml"
        printf '[[layer]]\nname = "hsp"\nfile = "pixels-stars.hsp"\n[[layer]]\nname = "outside"\nfile = "pixels-footprint.moc.fits"\noutside = true\n'
    } > "$d/mask-pixels.toml"
    measure "W3 masks" "$bin" stream "$d/w3-objects-$w3rows.parquet" "$d/out.parquet" --masks "$d/mask.toml" -q
    measure "W3 masks + pixels" "$bin" stream "$d/w3-objects-$w3rows.parquet" "$d/out.parquet" --masks "$d/mask-pixels.toml" --cut-layers star,galaxy,bad,hsp -q
    echo "W3 with two pixel layers / without: $(echo "scale=3; ${median[W3 masks + pixels]} / ${median[W3 masks]}" | bc)"
fi
rm -f "$d/out.parquet"
