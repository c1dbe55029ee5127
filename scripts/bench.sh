#!/usr/bin/env bash
# End-to-end benchmark of `angcut stream` on the workloads of docs/performance.md:
#   W1  5,000 x 500 contaminants, 1deg           W2b  the W2 files at 1arcmin
#   W2  500,000 x 50,000, 1deg                   W3   20,000,000 wide rows x 1,000,000, 5arcsec
# Each configuration runs RUNS times (default 3); prints min/median wall seconds, peak RSS, rows/s,
# rows kept, then ratios measured in this same run: cut / floor (floor = the same stream with no
# contaminants), naive / kdtree / grid / auto, 1 thread / 2 threads, and the peers (numpy, scipy cKDTree,
# a pyarrow copy) when python3 has numpy, pyarrow and scipy; on W3, polars' and DuckDB's streaming
# copies too (zstd level 1, output fsynced, interpreter start excluded) when python3 has them
# (`pip install polars duckdb`). Data is generated under bench-data/ (git-ignored) by `angcut gen`
# and reused.
#
# Usage: scripts/bench.sh [--quick] [--no-peers] [--runs N] [--only WORKLOAD] [--compare BIN]
#   --quick        W3 at 2,000,000 rows (a few minutes in all)
#   --only W       one workload (W1, W2, W2b or W3), e.g. W3 at 20,000,000 rows without the
#                  small ones
#   --compare BIN  also time another angcut binary (an older build) on every line, its runs
#                  alternating with this one's, and print this / BIN per line: before-and-after
#                  in one run
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 peers=1 runs=3 other= workloads="W1 W2 W2b W3"
usage="usage: scripts/bench.sh [--quick] [--no-peers] [--runs N] [--only WORKLOAD] [--compare BIN]"
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --no-peers) peers=0 ;;
        --runs) runs=$2; shift ;;
        --only)
            case ${2-} in W1 | W2 | W2b | W3) workloads=$2 ;; *) echo "$usage" >&2; exit 2 ;; esac
            shift
            ;;
        --compare) other=$(realpath "$2"); shift ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    shift
done
w3_rows=20000000
[ "$quick" = 1 ] && w3_rows=2000000
if [ "$peers" = 1 ] && ! python3 -c 'import numpy, pyarrow, scipy' 2>/dev/null; then
    echo "bench: python3 with numpy, pyarrow and scipy not found; peers skipped" >&2
    peers=0
fi

source scripts/bench-setup.sh
cargo build --release --quiet --example recompress
gen() { # NAME ARGS...: generates bench-data/NAME once
    [ -f "$d/$1" ] || "$bin" gen "$d/$1" "${@:2}"
}
gen w1-objects.parquet --rows 5000 --seed 11
gen w1-contaminants.parquet --rows 500 --seed 12
gen w2-objects.parquet --rows 500000 --seed 21
gen w2-contaminants.parquet --rows 50000 --seed 22
gen "w3-objects-$w3_rows.parquet" --rows "$w3_rows" --seed 31 --schema wide
gen w3-contaminants.parquet --rows 1000000 --seed 32
gen no-contaminants.parquet --rows 0

results=$d/results.tsv
: > "$results"
out=$d/out.parquet

# run_once WORKLOAD LABEL COMMAND...: runs COMMAND (which writes $out and prints "read N rows, ...
# wrote K" on stderr) once and records wall seconds, peak RSS, rows read and kept.
run_once() {
    local workload=$1 label=$2 start end own
    shift 2
    rm -f "$out"
    start=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$d/rss.txt" "$@" 2> "$d/log.txt" || { cat "$d/log.txt" >&2; exit 1; }
    end=$(date +%s%N)
    # A peer that times itself (without its interpreter's start) says so.
    own=$(sed -n 's/^elapsed_us=\([0-9]*\)$/\1/p' "$d/log.txt")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$label" "${own:-$(( (end - start) / 1000 ))}" \
        "$(tail -n 1 "$d/rss.txt")" \
        "$(sed -n 's/.*read \([0-9]*\) rows.*/\1/p' "$d/log.txt")" \
        "$(sed -n 's/.* wrote \([0-9]*\).*/\1/p' "$d/log.txt")" >> "$results"
}
# measure WORKLOAD LABEL COMMAND...: run_once, RUNS times.
measure() {
    for _ in $(seq "$runs"); do run_once "$@"; done
    printf '.' >&2
}
angcut() { # WORKLOAD LABEL IN CONTAMINANTS MAXSEP [OPTIONS...]
    local cut=(stream "$3" "$out" -c "$4" --maxsep "$5" "${@:6}")
    # With --compare, the two builds alternate run by run: a machine that drifts during a line
    # then slows both alike, where a block of one build's runs after the other's would not.
    # A build from before --rewrite cannot run those lines: they are timed for this one only.
    local with_other=$other
    if [ -n "$other" ] && [[ " ${*:6} " == *" --rewrite "* ]] && ! "$other" stream --help | grep -q -- --rewrite; then
        with_other=
    fi
    for _ in $(seq "$runs"); do
        run_once "$1" "$2" "$bin" "${cut[@]}"
        [ -z "$with_other" ] || run_once "$1" "$2 (other)" "$with_other" "${cut[@]}"
    done
    printf '.' >&2
}
none=$d/no-contaminants.parquet

w1=("$d/w1-objects.parquet" "$d/w1-contaminants.parquet")
w2=("$d/w2-objects.parquet" "$d/w2-contaminants.parquet")
w3=("$d/w3-objects-$w3_rows.parquet" "$d/w3-contaminants.parquet")
echo "bench: $runs runs per line; W3 at $w3_rows rows" >&2

for w in $workloads; do
    case $w in
        W1) files=("${w1[@]}") maxsep=1deg deg=1 ;;
        W2) files=("${w2[@]}") maxsep=1deg deg=1 ;;
        W2b) files=("${w2[@]}") maxsep=1arcmin deg=0.016666666666666666 ;;
        W3) files=("${w3[@]}") maxsep=5arcsec deg=0.001388888888888889 ;;
    esac
    # Read once untimed, so that the first line does not pay for a cold page cache.
    cat "${files[@]}" > /dev/null
    angcut "$w" "floor" "${files[0]}" "$none" "$maxsep"
    angcut "$w" "auto" "${files[@]}" "$maxsep"
    angcut "$w" "kdtree" "${files[@]}" "$maxsep" --kernel kdtree
    angcut "$w" "grid" "${files[@]}" "$maxsep" --kernel grid
    # Brute force on W3 is 2e13 pair tests: hours. Skipped, not estimated.
    [ "$w" != W3 ] && angcut "$w" "naive" "${files[@]}" "$maxsep" --kernel naive
    angcut "$w" "auto 1 thread" "${files[@]}" "$maxsep" --threads 1
    [ "$w" = W2b ] && angcut "$w" "naive 1 thread" "${files[@]}" "$maxsep" --kernel naive --threads 1
    if [ "$w" = W3 ]; then
        # Parquet to Parquet copies the row groups a run leaves whole (every one with
        # --flag-column); --rewrite decodes and encodes every column, as before. And what copying
        # the file costs the disk: dd of the input with an fsync, as angcut syncs its output.
        angcut "$w" "floor rewrite" "${files[0]}" "$none" "$maxsep" --rewrite
        angcut "$w" "auto rewrite" "${files[@]}" "$maxsep" --rewrite
        angcut "$w" "flag-only" "${files[@]}" "$maxsep" --flag-column near
        angcut "$w" "flag-only rewrite" "${files[@]}" "$maxsep" --flag-column near --rewrite
        measure "$w" "dd + fsync of the input" dd if="${files[0]}" of="$out" bs=8M conv=fsync status=none
        # What filtering pages costs at the least: every page of the input compressed again
        # (zstd 1, as the copy route does), and decompressed, on all cores, nothing else done
        # (crates/core/examples/recompress.rs, which times each step itself). A cut touching
        # every page pays both on top of what flag-only does.
        measure "$w" "pages compressed" target/release/examples/recompress "${files[0]}" compress
        measure "$w" "pages decompressed" target/release/examples/recompress "${files[0]}" decompress
    fi
    if [ "$peers" = 1 ]; then
        # numpy brute force takes ~35 s on W2 and hours on W3: only W1.
        [ "$w" = W1 ] && measure "$w" "peer numpy" python3 scripts/peers.py numpy "${files[@]}" "$deg" "$out"
        measure "$w" "peer scipy" python3 scripts/peers.py scipy "${files[@]}" "$deg" "$out"
        [ "$w" = W3 ] && measure "$w" "peer pyarrow copy" python3 scripts/peers.py copy "${files[0]}" "$out"
        for copy in polars duckdb; do
            if [ "$w" = W3 ] && python3 -c "import $copy" 2>/dev/null; then
                measure "$w" "peer $copy copy" python3 scripts/peers.py "$copy-copy" "${files[0]}" "$out"
            fi
        done
    fi
done
rm -f "$out"
echo >&2

# Prints "min median max_rss_kb rows kept" for WORKLOAD LABEL.
stats() {
    awk -F'\t' -v w="$1" -v l="$2" '$1 == w && $2 == l { print $3, $4, $5, $6 }' "$results" | sort -n |
        awk '{ t[NR] = $1; if ($2 > rss) rss = $2; rows = $3; kept = $4 }
             END { if (NR) printf "%.3f %.3f %d %s %s\n", t[1] / 1e6, t[int((NR + 1) / 2)] / 1e6, rss, rows, kept }'
}
median() { stats "$1" "$2" | awk '{ print $2 }'; }
ratio() { # NAME WORKLOAD LABEL_A LABEL_B: median A / median B
    local a b
    a=$(median "$2" "$3") b=$(median "$2" "$4")
    [ -n "$a" ] && [ -n "$b" ] && awk -v n="$1" -v a="$a" -v b="$b" 'BEGIN { printf "  %-44s %6.2f\n", n, a / b }'
    return 0
}

sum_ratio() { # NAME WORKLOAD LABEL_A LABEL_B LABEL_C: (median A + median B) / median C
    local a b c
    a=$(median "$2" "$3") b=$(median "$2" "$4") c=$(median "$2" "$5")
    [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] &&
        awk -v n="$1" -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "  %-44s %6.2f\n", n, (a + b) / c }'
    return 0
}
echo "angcut $("$bin" --version | cut -d' ' -f2), $(date -u +%Y-%m-%d), $(nproc) cores; wall seconds over $runs runs"
printf '%-5s %-26s %8s %8s %8s %12s %11s\n' work config min median rss_MB rows/s kept
cut -f1,2 "$results" | awk '!seen[$0]++' | while IFS=$'\t' read -r w label; do
    read -r min med rss rows kept < <(stats "$w" "$label")
    awk -v w="$w" -v l="$label" -v min="$min" -v med="$med" -v rss="$rss" -v rows="$rows" -v kept="$kept" \
        'BEGIN { printf "%-5s %-26s %8.3f %8.3f %8.0f %12.0f %11s\n", w, l, min, med, rss / 1024, rows / med, kept }'
done
echo "ratios of medians:"
for w in $workloads; do
    ratio "$w cut / floor" "$w" auto floor
    ratio "$w naive / auto" "$w" naive auto
    ratio "$w kdtree / auto" "$w" kdtree auto
    ratio "$w grid / auto" "$w" grid auto
    ratio "$w 1 thread / 2 threads (auto)" "$w" "auto 1 thread" auto
    ratio "$w 1 thread / 2 threads (naive)" "$w" "naive 1 thread" naive
    ratio "$w numpy / angcut" "$w" "peer numpy" auto
    ratio "$w scipy / angcut" "$w" "peer scipy" auto
    ratio "$w floor / pyarrow copy" "$w" floor "peer pyarrow copy"
    ratio "$w floor / polars copy" "$w" floor "peer polars copy"
    ratio "$w cut / polars copy" "$w" auto "peer polars copy"
    ratio "$w floor / duckdb copy" "$w" floor "peer duckdb copy"
    ratio "$w cut / duckdb copy" "$w" auto "peer duckdb copy"
    ratio "$w floor / floor rewrite" "$w" floor "floor rewrite"
    ratio "$w cut / cut rewrite" "$w" auto "auto rewrite"
    ratio "$w flag-only / flag-only rewrite" "$w" flag-only "flag-only rewrite"
    ratio "$w flag-only / polars copy" "$w" flag-only "peer polars copy"
    ratio "$w flag-only / dd + fsync" "$w" flag-only "dd + fsync of the input"
    ratio "$w floor / dd + fsync" "$w" floor "dd + fsync of the input"
    sum_ratio "$w pages (compressed + decompressed) / polars" "$w" "pages compressed" "pages decompressed" \
        "peer polars copy"
    ratio "$w cut / flag-only" "$w" auto flag-only
done
if [ -n "$other" ]; then
    echo "this build / $other, per line:"
    cut -f1,2 "$results" | awk '!seen[$0]++' | grep -v ' (other)$' | while IFS=$'\t' read -r w label; do
        ratio "$w $label" "$w" "$label" "$label (other)"
    done
fi
