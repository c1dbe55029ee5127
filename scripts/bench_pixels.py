"""Data and the healsparse side of scripts/bench_pixels.sh (docs/performance.md, "Pixel maps").

    python scripts/bench_pixels.py make DIR ROWS    # the map and the catalogue, once
    python scripts/bench_pixels.py lookup DIR ROWS RUNS  # healsparse's get_values_pos, timed

The map is what UNIONS queries per object: a bit-packed boolean HealSparse map at nside 131072
(coverage nside 32) of bright-star discs, 6,000 of 1 to 3 arcmin, over RA 0..20, Dec -10..10
(~400 deg^2). The catalogue is ROWS objects uniform over the same area (id, ra, dec), so every
object is looked up in a covered block. A footprint MOC (order 10, Dec < 30) comes too, for a
second pixel layer over the whole sky. Deterministic (seeded).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

NSIDE, NSIDE_COV = 131072, 32
RA, DEC = (0.0, 20.0), (-10.0, 10.0)


def uniform(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    ra = rng.uniform(*RA, n)
    z = rng.uniform(np.sin(np.radians(DEC[0])), np.sin(np.radians(DEC[1])), n)
    return ra, np.degrees(np.arcsin(z))


def make(folder: Path, rows: int) -> None:
    import healpy as hp
    import healsparse as hsp
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mocpy import MOC

    rng = np.random.default_rng(20261204)
    stars = folder / "pixels-stars.hsp"
    if not stars.exists():
        ra, dec = uniform(rng, 6000)
        radius = np.radians(rng.uniform(1.0, 3.0, ra.size) / 60.0)
        vectors = hp.ang2vec(ra, dec, lonlat=True)
        pixels = np.unique(np.concatenate([hp.query_disc(NSIDE, v, r, nest=True) for v, r in zip(vectors, radius)]))
        m = hsp.HealSparseMap.make_empty(NSIDE_COV, NSIDE, dtype=bool, bit_packed=True)
        m[pixels] = True
        m.write(str(stars), clobber=True)
        print(f"bench_pixels: {stars}: {pixels.size:,} pixels set", file=sys.stderr)
    footprint = folder / "pixels-footprint.moc.fits"
    if not footprint.exists():
        # The cells of order 10 whose centres are south of Dec 30.
        cells = np.arange(hp.nside2npix(1024))
        cells = cells[hp.pix2ang(1024, cells, nest=True, lonlat=True)[1] < 30.0]
        MOC.from_healpix_cells(cells, np.full(cells.size, 10, dtype=np.uint8), max_depth=10).save(
            str(footprint), format="fits", overwrite=True
        )
    objects = folder / f"pixels-objects-{rows}.parquet"
    if not objects.exists():
        rng = np.random.default_rng(7)
        ra, dec = uniform(rng, rows)
        table = pa.table({"id": np.arange(rows, dtype=np.int64), "ra": ra, "dec": dec})
        pq.write_table(table, objects, compression="zstd", row_group_size=1 << 20)


def lookup(folder: Path, rows: int, runs: int) -> None:
    import healsparse as hsp
    import pyarrow.parquet as pq

    t = pq.read_table(folder / f"pixels-objects-{rows}.parquet", columns=["ra", "dec"])
    ra, dec = t["ra"].to_numpy(), t["dec"].to_numpy()
    start = time.perf_counter()
    m = hsp.HealSparseMap.read(str(folder / "pixels-stars.hsp"))
    read = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        values = m.get_values_pos(ra, dec, lonlat=True)
        times.append(time.perf_counter() - start)
    times.sort()
    print(
        f"healsparse get_values_pos: {rows:,} objects, min {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s "
        f"({times[len(times) // 2] / rows * 1e9:.0f} ns/object); map read {read:.2f} s; {int(values.sum()):,} in the mask"
    )


if __name__ == "__main__":
    what, folder, rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    if what == "make":
        make(folder, rows)
    else:
        lookup(folder, rows, int(sys.argv[4]))
