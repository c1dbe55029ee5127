#!/usr/bin/env bash
# Survey-mask benchmark (docs/performance.md, "Survey masks"): W3 (20,000,000 wide rows) against a
# three-layer mask, side by side in one run:
#   floor      the same stream with no contaminants (read, decode, encode, write)
#   masks      the cut against all three layers: 1,000,000 stars sized by magnitude (Legacy rule)
#              and moved from 1991.25 to 2016.0 by their proper motions, 20,000 galaxy ellipses,
#              200 DS9 polygons
#   bits       the same cut with --mask-bits (the column of layer bits added)
#   flag-only  --mask-bits and no layer cutting: every row written with its bits
#   and the masks cut at --small rows, for peak RSS flat in the catalogue's size.
# Prints min/median wall seconds and peak RSS per line, then the ratios. Data is generated under
# bench-data/ (git-ignored) with `angcut gen` and reused.
#
# Usage: scripts/bench_masks.sh [--rows N] [--small N] [--runs N] [--make-only]
#   --make-only: generate the data and the mask file, measure nothing (scripts/bench_pixels.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

rows=20000000 small=2000000 runs=3 make_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=$2; shift ;;
        --small) small=$2; shift ;;
        --runs) runs=$2; shift ;;
        --make-only) make_only=1 ;;
        *) echo "usage: scripts/bench_masks.sh [--rows N] [--small N] [--runs N] [--make-only]" >&2; exit 2 ;;
    esac
    shift
done

source scripts/bench-setup.sh
gen() { # NAME ARGS...: generates bench-data/NAME once
    [ -f "$d/$1" ] || "$bin" gen "$d/$1" "${@:2}"
}
gen no-contaminants.parquet --rows 0
for n in "$rows" "$small"; do
    gen "w3-objects-$n.parquet" --rows "$n" --seed 31 --schema wide
done
gen mask-stars.parquet --rows 1000000 --seed 41 --schema stars
gen mask-galaxies.parquet --rows 20000 --seed 42 --schema galaxies
# 200 polygons of 5 to 8 vertices, 0.2 to 1 deg across, scattered over the sky (awk's own seeded
# generator: the same file every time).
if [ ! -f "$d/mask-polygons.reg" ]; then
    awk 'BEGIN {
        srand(43); print "# Region file format: DS9 version 4.1"; print "fk5"
        for (k = 0; k < 200; k++) {
            ra = 360 * rand(); z = 2 * rand() - 1; dec = 180 / 3.14159265 * atan2(z, sqrt(1 - z * z)); r = 0.1 + 0.4 * rand()
            if (dec > 85) dec = 85; if (dec < -85) dec = -85
            n = 5 + int(4 * rand()); line = "polygon("
            for (i = 0; i < n; i++) {
                t = 2 * 3.14159265 * i / n
                line = line sprintf("%.6f,%.6f%s", ra + r * sin(t) / cos(dec * 3.14159265 / 180), dec + r * cos(t), i < n - 1 ? "," : ")")
            }
            print line
        }
    }' > "$d/mask-polygons.reg"
fi
cat > "$d/mask.toml" <<'EOF'
epoch = 2016.0
[[layer]]
name = "star"
file = "mask-stars.parquet"
radius_from_mag = "mag"
max_radius = "0.5deg"
pm_ra = "pmra"
pm_dec = "pmdec"
ref_epoch = 1991.25
[[layer]]
name = "galaxy"
file = "mask-galaxies.parquet"
shape = "ellipse"
major = "d25"
axis_ratio = "ba"
axis_unit = "arcsec"
axes = "diameter"
pa = "pa"
[[layer]]
name = "bad"
file = "mask-polygons.reg"
EOF
[ "$make_only" = 1 ] && exit 0

results=$d/masks-results.tsv
: > "$results"
out=$d/out.parquet
# measure LABEL COMMAND...: runs COMMAND RUNS times, recording wall seconds, peak RSS (KB) and
# the summary line's rows written.
measure() {
    local label=$1 start end
    shift
    for _ in $(seq "$runs"); do
        rm -f "$out"
        start=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$d/rss.txt" "$@" > "$d/log.txt" 2>&1 || { cat "$d/log.txt" >&2; exit 1; }
        end=$(date +%s%N)
        printf '%s\t%s\t%s\t%s\n' "$label" "$(( (end - start) / 1000 ))" "$(tail -n 1 "$d/rss.txt")" \
            "$(sed -n 's/.* wrote \([0-9]*\).*/\1/p' "$d/log.txt")" >> "$results"
    done
    grep -o 'layers: .*' "$d/log.txt" > "$d/layers-$label.txt" || true
    printf '.' >&2
}
big=$d/w3-objects-$rows.parquet
echo "bench_masks: $runs runs per line; W3 at $rows rows (and $small)" >&2
measure floor "$bin" stream "$big" "$out" -c "$d/no-contaminants.parquet" --maxsep 5arcsec
measure masks "$bin" stream "$big" "$out" --masks "$d/mask.toml"
measure bits "$bin" stream "$big" "$out" --masks "$d/mask.toml" --mask-bits maskbits --cut-layers star,galaxy,bad
measure flag-only "$bin" stream "$big" "$out" --masks "$d/mask.toml" --mask-bits maskbits
measure "masks $small" "$bin" stream "$d/w3-objects-$small.parquet" "$out" --masks "$d/mask.toml"
rm -f "$out"
echo >&2

stats() { # LABEL: "min median max_rss_kb written"
    awk -F'\t' -v l="$1" '$1 == l { print $2, $3, $4 }' "$results" | sort -n |
        awk '{ t[NR] = $1; if ($2 > rss) rss = $2; kept = $3 }
             END { if (NR) printf "%.3f %.3f %d %s\n", t[1] / 1e6, t[int((NR + 1) / 2)] / 1e6, rss, kept }'
}
echo "angcut $("$bin" --version | cut -d' ' -f2), $(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); wall seconds over $runs runs"
printf '%-18s %8s %8s %8s %11s\n' config min median rss_MB written
for label in floor masks bits flag-only "masks $small"; do
    read -r min med rss kept < <(stats "$label")
    printf '%-18s %8.3f %8.3f %8.0f %11s\n' "$label" "$min" "$med" "$((rss / 1024))" "$kept"
done
echo "layers (masks): $(cat "$d/layers-masks.txt")"
median() { stats "$1" | awk '{ print $2 }'; }
rss() { stats "$1" | awk '{ print $3 }'; }
awk -v m="$(median masks)" -v f="$(median floor)" -v b="$(median bits)" -v o="$(median flag-only)" \
    -v rb="$(rss masks)" -v rs="$(rss "masks $small")" 'BEGIN {
    printf "ratios of medians:\n  %-36s %6.2f\n  %-36s %6.2f\n  %-36s %6.2f\n  %-36s %6.2f\n",
        "masks / floor", m / f, "bits / masks (the column of bits)", b / m, "flag-only / floor", o / f,
        "peak RSS big / small", rb / rs
}'
