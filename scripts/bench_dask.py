#!/usr/bin/env python3
"""The W3 workload (wide rows x 1,000,000 contaminants at 5arcsec) as a HATS catalogue cut on a
LocalCluster (2 worker processes, 1 thread each) two ways, against the CLI on the same rows, in the
same run, the three alternating run by run: wall seconds (min/median), peak RSS (CLI process; each
Dask worker), rows/s, engine / CLI for each round of runs, and the same with an empty contaminant
set (the floor: pure read + write), whose difference divided by the partitions is the per-partition
overhead.

- lsdb: `angcut.dask.cut(lsdb.open_catalog(...))` written with LSDB's `write_catalog`: partitions
  read and written by LSDB (pandas frames), cut by angcut.
- hats: `angcut.hats.cut(in_dir, out_dir, set)`: each partition file cut file to file by angcut's
  Rust pipeline in a Dask task, then the HATS metadata written with the hats library.
- cli: `angcut stream IN OUT -c FILE --maxsep 5arcsec` (2 threads) on the same rows as one file.

Timed for both Dask routes: reading the contaminants and building the set, shipping it to the
workers (which build their own index), reading every partition, cutting, writing the catalogue.
The HATS catalogue is built once from the same Parquet file (not timed) under bench-data/.

Usage: python scripts/bench_dask.py [--quick] [--rows N] [--runs N] [--partition-rows N] [--hats-threads N]
                                    [--hats-compression]
  (in an environment with the package installed: scripts/python-tests.sh makes target/python-venv)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: a worker forked from a parent that held
    the whole catalogue (when this script has just built the HATS copy) inherits that parent's
    ru_maxrss through fork and exec; VmHWM belongs to the process's own memory."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--quick", action="store_true", help="2,000,000 rows")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partition-rows", type=int, default=1_000_000)
    parser.add_argument("--bin", default=str(REPO / "target" / "release" / "angcut"))
    parser.add_argument("--hats-compression", action="store_true", help="also time LSDB's default zstd level 15, once")
    parser.add_argument("--hats-threads", type=int, default=1, help="angcut.hats.cut threads per task")
    args = parser.parse_args()
    rows = 2_000_000 if args.quick else args.rows

    import lsdb
    import pandas as pd
    import pyarrow.parquet as pq
    from distributed import Client, LocalCluster

    import angcut
    import angcut.dask
    import angcut.hats

    data = REPO / "bench-data"
    data.mkdir(exist_ok=True)

    def gen(name: str, *options: str) -> Path:
        path = data / name
        if not path.exists():
            subprocess.run([args.bin, "gen", str(path), *options], check=True)
        return path

    objects = gen(f"w3-objects-{rows}.parquet", "--rows", str(rows), "--seed", "31", "--schema", "wide")
    stars = gen("w3-contaminants.parquet", "--rows", "1000000", "--seed", "32")
    none = gen("no-contaminants.parquet", "--rows", "0")
    hats = data / f"w3-hats-{rows}-{args.partition_rows}"
    if not hats.exists():
        print(f"bench: building the HATS catalogue {hats} (once, not timed)", file=sys.stderr)
        frame = pd.read_parquet(objects, dtype_backend="pyarrow")
        catalog = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec", partition_rows=args.partition_rows)
        catalog.write_catalog(hats, catalog_name="w3")
        del frame, catalog
    hats = hats / "w3"  # the catalogue itself, without the margin cache from_dataframe adds
    partitions = len(lsdb.open_catalog(hats).get_healpix_pixels())

    results: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    out_file, out_dir = data / "dask-cli-out.parquet", data / "dask-hats-out"

    def cli(label: str, contaminants: Path) -> float:
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", args.bin, "stream", str(objects), str(out_file), "-c", str(contaminants),
             "--maxsep", "5arcsec", "-q"],
            capture_output=True, text=True, check=True,
        )
        wall = time.perf_counter() - start
        kept = pq.read_metadata(out_file).num_rows
        results.setdefault(("cli", label), []).append((wall, int(done.stderr.split()[-1]) / 1024, kept))
        return wall

    def dask_run(label: str, contaminants: Path, client: Client, **write: object) -> tuple[float, int]:
        shutil.rmtree(out_dir, ignore_errors=True)
        start = time.perf_counter()
        stars_set = angcut.ContaminantSet.from_arrow(pq.read_table(contaminants), maxsep="5arcsec")
        catalog = lsdb.open_catalog(hats)
        angcut.dask.cut(catalog, stars_set).write_catalog(out_dir, catalog_name="clean", as_collection=False, progress_bar=False, **write)
        wall = time.perf_counter() - start
        # LSDB leaves its output to the kernel to write back (the CLI syncs its own before the
        # rename, inside its time): flush it now, untimed, so the next run does not pay for it.
        os.sync()
        client.cancel(list(client.futures))  # drop the scattered set before the next run
        return wall, lsdb.open_catalog(out_dir).hc_structure.catalog_info.total_rows

    def hats_run(contaminants: Path, client: Client) -> tuple[float, int]:
        shutil.rmtree(out_dir, ignore_errors=True)
        start = time.perf_counter()
        stars_set = angcut.ContaminantSet.from_arrow(pq.read_table(contaminants), maxsep="5arcsec")
        summary = angcut.hats.cut(hats, out_dir, stars_set, threads=args.hats_threads)
        wall = time.perf_counter() - start
        client.cancel(list(client.futures))
        return wall, summary["rows_written"]

    # zstd level 1 as the CLI writes; HATS's own default is level 15 (archival), timed with
    # --hats-compression. Each configuration gets its own cluster, so the peak RSS is its own; a first,
    # untimed run warms it (each new worker process compiles LSDB's numba code). The CLI and LSDB
    # runs alternate, so that the machine's slow spells fall on both: each pair gives a ratio.
    zstd1 = {"compression": "zstd", "compression_level": 1}
    configurations = [("cut", stars, zstd1), ("floor", none, zstd1)]
    if args.hats_compression:
        configurations.append(("cut-z15", stars, None))
    pair_ratios: dict[tuple[str, str], list[float]] = {}
    for label, contaminants, write_options in configurations:
        engines = ["lsdb", "hats"] if label != "cut-z15" else ["lsdb"]
        for engine in engines:  # each with a cluster of its own, so that its peak RSS is its own
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
                run_once = (lambda: hats_run(contaminants, client)) if engine == "hats" else (
                    lambda: dask_run(label, contaminants, client, write_table_kwargs=write_options))
                run_once()
                runs = []
                for _ in range(1 if label == "cut-z15" else args.runs):
                    cli_wall = cli(label, contaminants) if label in ("cut", "floor") else None
                    runs.append(run_once())
                    if cli_wall is not None:
                        pair_ratios.setdefault((engine, label), []).append(runs[-1][0] / cli_wall)
                worker_rss = max(client.run(rss_mb).values())
            results[engine, label] = [(wall, worker_rss, kept) for wall, kept in runs]

    print(f"# W3 as LSDB: {rows:,} wide rows in {partitions} partitions x 1,000,000 contaminants at 5arcsec; "
          f"{args.runs} runs each; {time.strftime('%Y-%m-%d %H:%M %Z')}; angcut {angcut.__version__}")
    print(f"{'engine':<6} {'what':<7} {'min s':>7} {'median s':>9} {'peak RSS MB':>12} {'rows/s':>12} {'kept':>11}")
    medians = {}
    for (engine, label), runs in results.items():
        walls = [r[0] for r in runs]
        medians[engine, label] = statistics.median(walls)
        rss = max(r[1] for r in runs)
        print(f"{engine:<6} {label:<7} {min(walls):>7.2f} {statistics.median(walls):>9.2f} "
              f"{rss:>12.0f} {rows / statistics.median(walls):>12,.0f} {runs[-1][2]:>11,}")
    for engine in ("lsdb", "hats"):
        ratio = medians[engine, "cut"] / medians["cli", "cut"]
        overhead = (medians[engine, "floor"] - medians["cli", "floor"]) / partitions
        print(f"{engine} cut / cli cut: {ratio:.2f} (target <= 1.3); {engine} floor / cli floor: "
              f"{medians[engine, 'floor'] / medians['cli', 'floor']:.2f}; per-partition overhead vs the CLI: {overhead * 1000:.0f} ms")
    for (engine, label), ratios in pair_ratios.items():
        print(f"{engine} / cli {label}, run by run (alternating): min {min(ratios):.2f}, median {statistics.median(ratios):.2f} "
              f"({', '.join(f'{r:.2f}' for r in ratios)})")
    kept = {engine: results[engine, "cut"][-1][2] for engine in ("cli", "lsdb", "hats")}
    if len(set(kept.values())) != 1:
        sys.exit(f"bench: the engines kept different row counts: {kept}")
    os.remove(out_file)
    shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
