# Sourced by the benchmark scripts, from the repository's root: the release build they time
# (`$bin`) and the folder of their generated data (`$d`, bench-data/, git-ignored).
cargo build --release --quiet
bin=target/release/angcut
d=bench-data
mkdir -p "$d"
