#!/usr/bin/env bash
# VOTable benchmark (docs/performance.md, "VOTable"): W3 written as a BINARY2 VOTable by angcut,
# 2,000,000 wide rows x 1,000,000 contaminants at 5arcsec, side by side in one run:
#   angcut VOTable -> VOTable, VOTable -> Parquet and Parquet -> VOTable cuts, the same cut
#   Parquet -> Parquet (what the formats cost beside it), the VOTable -> VOTable cut at --small
#   rows (peak RSS flat in the table's size), and astropy reading and writing the --small table
#   as BINARY2 with no cut at all (what a script using astropy pays before it cuts anything).
# Prints min/median wall seconds and peak RSS per line, then the ratios. Data is generated under
# bench-data/ (git-ignored) with `angcut gen` and converted by angcut itself, and reused.
#
# Usage: scripts/bench_votable.sh [--rows N] [--small N] [--runs N] [--python PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."

rows=2000000 small=200000 runs=3 python=python3
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=$2; shift ;;
        --small) small=$2; shift ;;
        --runs) runs=$2; shift ;;
        --python) python=$2; shift ;;
        *) echo "usage: scripts/bench_votable.sh [--rows N] [--small N] [--runs N] [--python PYTHON]" >&2; exit 2 ;;
    esac
    shift
done
astropy=1
if ! "$python" -c "import astropy.io.votable" 2> /dev/null; then
    echo "bench_votable: $python has no astropy; its line skipped" >&2
    astropy=0
fi

source scripts/bench-setup.sh
none=$(no_contaminants)
for n in "$rows" "$small"; do
    objects=$(w3_objects "$n")
    [ -f "$d/w3-objects-$n.vot" ] || "$bin" stream "$objects" "$d/w3-objects-$n.vot" -c "$none" --maxsep 1arcsec -q
done
stars=$(w3_contaminants)

results=$d/votable-results.tsv
: > "$results"

in_vot=$d/w3-objects-$rows.vot
in_parquet=$d/w3-objects-$rows.parquet
# Each input read once untimed, so that no line pays for a cold cache.
cat "$in_vot" "$in_parquet" "$d/w3-objects-$small.vot" "$stars" > /dev/null
# cut LABEL IN OUT: the one cut of every line, from IN to OUT.
cut() { timed "$1" "$3" "$bin" stream "$2" "$3" -c "$stars" --maxsep 5arcsec -q; }
cut "angcut votable->votable" "$in_vot" "$d/out.vot"
cut "angcut votable->parquet" "$in_vot" "$d/out.parquet"
cut "angcut parquet->votable" "$in_parquet" "$d/out.vot"
cut "angcut parquet->parquet" "$in_parquet" "$d/out.parquet"
cut "angcut votable->votable at $small rows" "$d/w3-objects-$small.vot" "$d/out.vot"
if [ "$astropy" = 1 ]; then
    runs=1 timed "astropy read + write at $small rows, no cut" "$d/astropy.vot" "$python" -c '
import sys
from astropy.io.votable import from_table, parse_single_table, writeto
table = from_table(parse_single_table(sys.argv[1]).to_table())
table.get_first_table().format = "binary2"
writeto(table, sys.argv[2])' "$d/w3-objects-$small.vot" "$d/astropy.vot"
fi
rm -f "$d/out.vot" "$d/out.parquet" "$d/astropy.vot"
echo >&2

python3 - "$results" "$rows" "$small" <<'EOF'
import statistics
import sys
from collections import defaultdict

results, rows, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seconds, rss = defaultdict(list), defaultdict(list)
for line in open(results):
    label, micros, kb = line.rstrip("\n").split("\t")
    seconds[label].append(int(micros) / 1e6)
    rss[label].append(int(kb) / 1024)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# VOTable benchmark: {rows:,} wide rows x 1,000,000 contaminants at 5arcsec; {cpu}")
print(f"{'configuration':<48} {'runs':>4} {'min s':>8} {'median s':>9} {'peak RSS MB':>12}")
for label, s in seconds.items():
    print(f"{label:<48} {len(s):>4} {min(s):>8.2f} {statistics.median(s):>9.2f} {max(rss[label]):>12.0f}")
med = {label: statistics.median(s) for label, s in seconds.items()}
print("\n# ratios of medians, this run")
for label in ["angcut votable->votable", "angcut votable->parquet", "angcut parquet->votable"]:
    print(f"{label + ' / parquet->parquet':<60} {med[label] / med['angcut parquet->parquet']:>6.2f}x")
big, little = "angcut votable->votable", f"angcut votable->votable at {small} rows"
print(f"{'peak RSS, ' + format(rows, ',') + ' rows / ' + format(small, ',') + ' rows':<60} {max(rss[big]) / max(rss[little]):>6.2f}x")
peer = f"astropy read + write at {small} rows, no cut"
if peer in med:
    # Per row, since astropy runs at the small size only (it takes minutes at the large one).
    per_row = (med[peer] / small) / (med[big] / rows)
    print(f"{'astropy copy / angcut votable->votable cut, per row':<60} {per_row:>6.1f}x")
EOF
