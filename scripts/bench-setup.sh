# Sourced by the benchmark scripts, from the repository's root: the release build they time
# (`$bin`) and the folder of their generated data (`$d`, bench-data/, git-ignored).
cargo build --release --quiet
bin=target/release/angcut
d=bench-data
mkdir -p "$d"

# The W3 workload's files, generated on first use with the same seeds in every script that
# calls these (bench_fits.sh, bench_votable.sh); each prints its path.
w3_objects() { # ROWS
    local file=$d/w3-objects-$1.parquet
    [ -f "$file" ] || "$bin" gen "$file" --rows "$1" --seed 31 --schema wide >&2
    echo "$file"
}
w3_contaminants() {
    local file=$d/w3-contaminants.parquet
    [ -f "$file" ] || "$bin" gen "$file" --rows 1000000 --seed 32 >&2
    echo "$file"
}
no_contaminants() {
    local file=$d/no-contaminants.parquet
    [ -f "$file" ] || "$bin" gen "$file" --rows 0 >&2
    echo "$file"
}

# timed LABEL OUT COMMAND...: runs COMMAND $runs times, OUT removed and the disk synced before
# each, appending a line of LABEL, wall microseconds and peak RSS (KB) to $results.
timed() {
    local label=$1 out=$2 start end
    shift 2
    for _ in $(seq "$runs"); do
        rm -f "$out"
        sync
        start=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$d/rss.txt" "$@" > "$d/log.txt" 2>&1 || { cat "$d/log.txt" >&2; exit 1; }
        end=$(date +%s%N)
        printf '%s\t%s\t%s\n' "$label" "$(( (end - start) / 1000 ))" "$(tail -n 1 "$d/rss.txt")" >> "$results"
    done
    printf '.' >&2
}
