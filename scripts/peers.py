#!/usr/bin/env python3
"""The tools angcut replaces, doing the same job end to end, for scripts/bench.sh to time side by side.

    peers.py numpy|scipy IN CONTAMINANTS MAXSEP_DEG OUT   cut IN and write the kept rows to OUT
    peers.py copy IN OUT                                   single-threaded pyarrow read + write
    peers.py polars-copy|duckdb-copy IN OUT                the fastest plain streaming copies

Each prints "read N rows, wrote K" to stderr, as angcut's summary line does. Written as a user of
each tool would: the whole table in memory, vectors on the unit sphere, default pyarrow settings.
The streaming copies (polars' `sink_parquet`, DuckDB's `COPY`) write zstd level 1, as angcut does,
fsync their output, as angcut does, and print "elapsed_us=T": the copy's own time, without the
interpreter's start and the imports, which scripts/bench.sh then takes as the run's time.
Needs numpy and pyarrow (and scipy for `scipy`, polars and duckdb for theirs).
"""
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def unit_vectors(table):
    ra = np.radians(table.column("ra").to_numpy())
    dec = np.radians(table.column("dec").to_numpy())
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def near_numpy(objects, contaminants, maxsep):
    """Brute force: every object against every contaminant, a block of objects at a time."""
    near = np.zeros(len(objects), dtype=bool)
    cos_limit = np.cos(maxsep)
    for start in range(0, len(objects), 2048):
        dots = objects[start:start + 2048] @ contaminants.T
        near[start:start + 2048] = (dots > cos_limit).any(axis=1)
    return near


def near_scipy(objects, contaminants, maxsep):
    """A k-d tree on the contaminants, nearest neighbour within the chord of maxsep."""
    from scipy.spatial import cKDTree

    chord = 2.0 * np.sin(maxsep / 2.0)
    distance, _ = cKDTree(contaminants).query(objects, k=1, distance_upper_bound=chord, workers=-1)
    return distance < chord


def fsync(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def streaming_copy(tool, source, target):
    """Seconds for `tool` to copy `source` to `target` (zstd level 1), the output synced."""
    if tool == "polars-copy":
        import polars as pl

        start = time.perf_counter()
        pl.scan_parquet(source).sink_parquet(target, compression="zstd", compression_level=1)
    else:
        import duckdb

        start = time.perf_counter()
        duckdb.sql(
            f"COPY (SELECT * FROM read_parquet('{source}')) TO '{target}' "
            "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
        )
    fsync(target)
    return time.perf_counter() - start


def main(argv):
    if len(argv) == 3 and argv[0] in ("polars-copy", "duckdb-copy"):
        seconds = streaming_copy(*argv)
        rows = pq.read_metadata(argv[2]).num_rows
        print(f"read {rows} rows, wrote {rows}\nelapsed_us={round(seconds * 1e6)}", file=sys.stderr)
        return 0
    if len(argv) == 3 and argv[0] == "copy":
        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
        table = pq.read_table(argv[1], use_threads=False)
        pq.write_table(table, argv[2], compression="zstd", row_group_size=131072)
        print(f"read {table.num_rows} rows, wrote {table.num_rows}", file=sys.stderr)
        return 0
    if len(argv) != 5 or argv[0] not in ("numpy", "scipy"):
        print(__doc__, file=sys.stderr)
        return 2
    tool, input_path, contaminant_path, maxsep_deg, output = argv
    table = pq.read_table(input_path)
    contaminants = unit_vectors(pq.read_table(contaminant_path, columns=["ra", "dec"]))
    near = {"numpy": near_numpy, "scipy": near_scipy}[tool]
    kept = table.filter(pa.array(~near(unit_vectors(table), contaminants, np.radians(float(maxsep_deg)))))
    pq.write_table(kept, output)
    print(f"read {table.num_rows} rows, wrote {kept.num_rows}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
