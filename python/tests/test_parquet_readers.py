"""angcut's Parquet output as the readers users have see it: pyarrow 26, polars and DuckDB read its
float statistics and prune row groups with them (the parquet crate declares float min/max under
the IEEE 754 total order, which pyarrow ignores; angcut writes the classic type-defined order),
and every one of them returns the rows numpy counts, NaN chunks and signed zeros included."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from conftest import run_cli

ROWS, GROUP = 40_000, 5_000


@pytest.fixture(scope="module")
def output(tmp_path_factory, angcut_cli):
    """A catalogue sorted by RA in row groups of 5,000 rows, with a magnitude that is NaN in a
    whole row group and in part of another, and zeros of both signs; cut by angcut (one
    contaminant near the pole: nothing removed) into Parquet with the same row groups."""
    rng = np.random.default_rng(7)
    ra = np.sort(rng.uniform(0.0, 360.0, ROWS))
    dec = rng.uniform(-60.0, 60.0, ROWS)
    mag = rng.uniform(15.0, 25.0, ROWS).astype(np.float32)
    mag[:GROUP] = np.nan
    mag[2 * GROUP : 2 * GROUP + 100] = np.nan
    zero = np.where(np.arange(ROWS) % 3 == 0, -0.0, 0.0)
    columns = {"ra": ra, "dec": dec, "mag": mag, "zero": zero}
    d = tmp_path_factory.mktemp("readers")
    pq.write_table(pa.table(columns), d / "in.parquet", row_group_size=GROUP)
    pq.write_table(pa.table({"ra": [0.0], "dec": [89.99]}), d / "far.parquet")
    out = d / "out.parquet"
    done = run_cli(angcut_cli, "stream", str(d / "in.parquet"), str(out), "-c", str(d / "far.parquet"),
                   "--maxsep", "1arcsec", "--row-group-size", str(GROUP), "-q")
    assert done.returncode == 0, done.stderr
    return out, columns


def test_pyarrow_reads_the_float_bounds(output):
    out, columns = output
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == ROWS // GROUP
    for g in range(meta.num_row_groups):
        rows = slice(g * GROUP, (g + 1) * GROUP)
        for i, name in enumerate(["ra", "dec"]):
            stats = meta.row_group(g).column(i).statistics
            assert stats.has_min_max, (g, name)
            values = columns[name][rows]
            assert stats.min <= values.min() and values.max() <= stats.max, (g, name)
        mag = meta.row_group(g).column(2).statistics
        finite = columns["mag"][rows][~np.isnan(columns["mag"][rows])]
        if finite.size:
            assert mag.has_min_max and mag.min <= finite.min() and finite.max() <= mag.max, g


def test_pyarrow_prunes_row_groups_by_ra(output):
    out, columns = output
    cut = pc.field("ra") < 40.0
    (fragment,) = ds.dataset(out).get_fragments()
    kept = fragment.split_by_row_group(filter=cut)
    first_groups = int(np.searchsorted(columns["ra"], 40.0) // GROUP) + 1
    assert len(kept) == first_groups < ROWS // GROUP, "row groups beyond RA 40 are skipped by their bounds"
    assert ds.dataset(out).to_table(filter=cut).num_rows == int((columns["ra"] < 40.0).sum())


# Each query as DuckDB SQL, a polars and a pyarrow expression, and numpy's count.
QUERIES = {
    "ra < 40": (pl.col("ra") < 40.0, pc.field("ra") < 40.0, lambda c: c["ra"] < 40.0),
    "mag < 16": (pl.col("mag") < 16.0, pc.field("mag") < 16.0, lambda c: c["mag"] < 16.0),
    "isnan(mag)": (pl.col("mag").is_nan(), pc.is_nan(pc.field("mag")), lambda c: np.isnan(c["mag"])),
    "zero < 0": (pl.col("zero") < 0.0, pc.field("zero") < 0.0, lambda c: c["zero"] < 0.0),
    "zero = 0": (pl.col("zero") == 0.0, pc.field("zero") == 0.0, lambda c: c["zero"] == 0.0),
}


@pytest.mark.parametrize("query", QUERIES)
def test_duckdb_polars_and_pyarrow_count_what_numpy_counts(output, query):
    out, columns = output
    polars_expr, arrow_expr, numpy_rule = QUERIES[query]
    truth = int(numpy_rule(columns).sum())
    duck = duckdb.sql(f"select count(*) from read_parquet('{out}') where {query}").fetchall()[0][0]
    polars = pl.scan_parquet(out).filter(polars_expr).select(pl.len()).collect().item()
    arrow = ds.dataset(out).to_table(filter=arrow_expr).num_rows
    assert (duck, polars, arrow) == (truth, truth, truth)


def test_duckdb_still_reads_the_bounds(output):
    out, _ = output
    rows = duckdb.sql(
        f"select row_group_id, stats_min_value, stats_max_value from parquet_metadata('{out}') "
        "where path_in_schema = 'ra' order by row_group_id"
    ).fetchall()
    assert len(rows) == ROWS // GROUP
    assert all(low is not None and high is not None and float(low) <= float(high) for _, low, high in rows)
