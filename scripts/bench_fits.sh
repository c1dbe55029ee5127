#!/usr/bin/env bash
# FITS benchmark (docs/performance.md, "FITS"): W3 written as FITS, 20,000,000 wide rows (2.6 GB)
# x 1,000,000 contaminants at 5arcsec, side by side in one run:
#   angcut FITS -> FITS cut, FITS -> Parquet cut, the FITS -> FITS floor (no contaminants),
#   the same cut Parquet -> Parquet (read throughput beside FITS's), a plain write of a file of
#   the FITS output's size with dd conv=fsync (angcut syncs its output too), and STILTS
#   `tmatch2 join=1not2 find=best1` (the peer astronomers use), FITS in and out;
#   and the FITS -> FITS cut at --small rows, for peak RSS flat in the catalogue's size.
# Prints min/median wall seconds and peak RSS per line, then the ratios. Data is generated under
# bench-data/ (git-ignored) with `angcut gen` and converted to FITS by angcut itself, and reused.
#
# Usage: scripts/bench_fits.sh [--rows N] [--small N] [--runs N] [--no-stilts]
set -euo pipefail
cd "$(dirname "$0")/.."

rows=20000000 small=2000000 runs=3 stilts=1
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=$2; shift ;;
        --small) small=$2; shift ;;
        --runs) runs=$2; shift ;;
        --no-stilts) stilts=0 ;;
        *) echo "usage: scripts/bench_fits.sh [--rows N] [--small N] [--runs N] [--no-stilts]" >&2; exit 2 ;;
    esac
    shift
done
if [ "$stilts" = 1 ] && ! command -v stilts > /dev/null; then
    echo "bench_fits: stilts not found (Debian: apt-get install stilts); STILTS skipped" >&2
    stilts=0
fi

source scripts/bench-setup.sh
none=$(no_contaminants)
for n in "$rows" "$small"; do
    objects=$(w3_objects "$n")
    [ -f "$d/w3-objects-$n.fits" ] || "$bin" stream "$objects" "$d/w3-objects-$n.fits" -c "$none" --maxsep 1arcsec -q
done
w3_contaminants > /dev/null
[ -f "$d/w3-contaminants.fits" ] || "$bin" stream "$d/w3-contaminants.parquet" "$d/w3-contaminants.fits" -c "$none" --maxsep 1arcsec -q

results=$d/fits-results.tsv
: > "$results"

in_fits=$d/w3-objects-$rows.fits
stars_fits=$d/w3-contaminants.fits
out_fits=$d/out.fits
out_parquet=$d/out.parquet
for _ in 1; do
    timed "angcut fits->fits" "$out_fits" "$bin" stream "$in_fits" "$out_fits" -c "$stars_fits" --maxsep 5arcsec -q
    size_mb=$(( $(stat -c %s "$out_fits") / 1048576 ))
    timed "dd write (fsync) of the output's size" "$d/dd.bin" dd if=/dev/zero of="$d/dd.bin" bs=1M count="$size_mb" conv=fsync
    timed "angcut fits->parquet" "$out_parquet" "$bin" stream "$in_fits" "$out_parquet" -c "$stars_fits" --maxsep 5arcsec -q
    timed "angcut fits->fits floor (no contaminants)" "$out_fits" "$bin" stream "$in_fits" "$out_fits" -c "$none" --maxsep 5arcsec -q
    timed "angcut parquet->parquet" "$out_parquet" "$bin" stream "$d/w3-objects-$rows.parquet" "$out_parquet" -c "$d/w3-contaminants.parquet" --maxsep 5arcsec -q
    timed "angcut fits->fits at $small rows" "$out_fits" "$bin" stream "$d/w3-objects-$small.fits" "$out_fits" -c "$stars_fits" --maxsep 5arcsec -q
    if [ "$stilts" = 1 ]; then
        timed "stilts tmatch2 fits->fits" "$d/stilts.fits" stilts tmatch2 in1="$in_fits" in2="$stars_fits" matcher=sky \
            values1="ra dec" values2="ra dec" params=5 join=1not2 find=best1 out="$d/stilts.fits" ofmt=fits
    fi
done
rm -f "$d/dd.bin" "$d/stilts.fits"
echo >&2

python3 - "$results" "$in_fits" "$d/w3-objects-$rows.parquet" "$rows" "$small" <<'EOF'
import statistics
import sys
from collections import defaultdict
from pathlib import Path

results, in_fits, in_parquet, rows, small = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
seconds, rss = defaultdict(list), defaultdict(list)
for line in open(results):
    label, micros, kb = line.rstrip("\n").split("\t")
    seconds[label].append(int(micros) / 1e6)
    rss[label].append(int(kb) / 1024)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
runs = len(next(iter(seconds.values()), []))
print(f"# FITS benchmark: {rows:,} wide rows x 1,000,000 contaminants at 5arcsec; {cpu}, {runs} runs each")
print(f"{'configuration':<44} {'min s':>8} {'median s':>9} {'peak RSS MB':>12}")
for label in seconds:
    s = seconds[label]
    print(f"{label:<44} {min(s):>8.2f} {statistics.median(s):>9.2f} {max(rss[label]):>12.0f}")
med = {label: statistics.median(s) for label, s in seconds.items()}
def ratio(a, b, what):
    if a in med and b in med:
        print(f"{what:<60} {med[a] / med[b]:>6.2f}x")
print("\n# ratios of medians, this run")
ratio("stilts tmatch2 fits->fits", "angcut fits->fits", "STILTS / angcut, FITS -> FITS (target >= 3)")
ratio("stilts tmatch2 fits->fits", "angcut fits->parquet", "STILTS / angcut FITS -> Parquet (target >= 3)")
ratio("angcut fits->fits", "dd write (fsync) of the output's size", "angcut FITS -> FITS / dd of the output's size (target <= 1.3)")
ratio("angcut fits->fits", "angcut fits->fits floor (no contaminants)", "angcut FITS -> FITS cut / its floor")
big, little = "angcut fits->fits", f"angcut fits->fits at {small} rows"
if big in rss and little in rss:
    print(f"{'peak RSS, ' + format(rows, ',') + ' rows / ' + format(small, ',') + ' rows (target within 1.2)':<60} {max(rss[big]) / max(rss[little]):>6.2f}x")
# The same cut into the same Parquet output: only the input's format differs.
for label, path in [("angcut fits->parquet", in_fits), ("angcut parquet->parquet", in_parquet)]:
    if label in med:
        print(f"{'read throughput: ' + label:<60} {rows / med[label] / 1e6:>6.2f} M rows/s ({path.stat().st_size / 1e6 / med[label]:.0f} MB/s of input)")
if "stilts tmatch2 fits->fits" in rss and big in rss:
    print(f"{'peak RSS, STILTS / angcut FITS -> FITS':<60} {max(rss['stilts tmatch2 fits->fits']) / max(rss[big]):>6.2f}x")
EOF
