"""Parquet files as pyarrow, polars and DuckDB write them, cut by angcut into Parquet: the row
groups the cut leaves whole are copied as stored, the others filtered as stored pages (or, with
a list column, decoded again), and the output
equals, value for value and with the same schema and metadata, what `--rewrite` (every column
decoded and encoded again) writes; pyarrow, polars and DuckDB read it."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from conftest import run_cli

ROWS = 6_000


def table(flat: bool = False) -> pa.Table:
    """Every common column kind, sorted by RA so that a star touches few row groups; ``flat``
    without the list column (whose pages angcut does not filter)."""
    rng = np.random.default_rng(11)
    mag = rng.uniform(15, 25, ROWS).astype(np.float32)
    mag[::23] = np.nan
    full = pa.table(
        {
            "id": pa.array(np.arange(ROWS, dtype=np.int64)),
            "ra": pa.array(np.linspace(0.0, 359.0, ROWS)),
            "dec": pa.array(rng.uniform(-80, 80, ROWS)),
            "mag": pa.array(mag, mask=np.arange(ROWS) % 17 == 0),
            "name": pa.array([None if i % 11 == 0 else f"obj-{i}" for i in range(ROWS)]),
            "tag": pa.array([["star", "galaxy", "qso"][i % 3] for i in range(ROWS)]),
            "good": pa.array([None if i % 13 == 0 else i % 2 == 0 for i in range(ROWS)]),
            "counts": pa.array([None if i % 7 == 0 else list(range(i % 4)) for i in range(ROWS)], pa.list_(pa.int32())),
            "seen": pa.array(np.arange(ROWS, dtype=np.int64) + 1_700_000_000_000_000, pa.timestamp("us")),
        },
        metadata={"survey": "test"},
    )
    return full.drop_columns(["counts"]) if flat else full


def write_pyarrow(t, path, **options):
    pq.write_table(t, path, row_group_size=1_000, **options)


WRITERS = {
    "pyarrow_v1_page_index": lambda t, p: write_pyarrow(t, p, data_page_version="1.0", write_page_index=True,
                                                        data_page_size=2_000, compression="snappy"),
    "pyarrow_v2": lambda t, p: write_pyarrow(t, p, data_page_version="2.0", compression="zstd"),
    # A dictionary page of 1 KB fills within the first pages: the rest of each chunk falls back to PLAIN.
    "pyarrow_dictionary_fallback": lambda t, p: write_pyarrow(t, p, dictionary_pagesize_limit=1_024, data_page_size=1_000),
    "pyarrow_checksums_no_statistics": lambda t, p: write_pyarrow(t, p, write_page_checksum=True, write_statistics=False),
    # pyarrow's "lz4" is LZ4_RAW.
    "pyarrow_gzip_lz4": lambda t, p: write_pyarrow(t, p, compression={"ra": "gzip", "dec": "gzip"} | {
        c: "lz4" for c in t.column_names if c not in ("ra", "dec")}),
    "pyarrow_brotli": lambda t, p: write_pyarrow(t, p, compression="brotli"),
    "polars": lambda t, p: pl.from_arrow(t).write_parquet(p, row_group_size=1_000, statistics=True),
    "duckdb": lambda t, p: duckdb.sql(f"copy (select * from read_parquet('{p}.src')) to '{p}' (format parquet, row_group_size 2048)"),
}


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, NaN equal to NaN (where ``Table.equals`` finds them unequal)."""
    def plain(t: pa.Table) -> pa.Table:
        columns = [
            pa.compute.if_else(pa.compute.is_nan(c), float("inf"), c) if pa.types.is_floating(c.type) else c
            for c in t.columns
        ]
        return pa.table(columns, names=t.column_names)
    return a.schema.equals(b.schema, check_metadata=True) and plain(a).equals(plain(b))


def run(angcut_cli, *args) -> dict:
    done = run_cli(angcut_cli, "stream", *map(str, args), "-q")
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("flat", [False, True], ids=["with_list", "flat"])
@pytest.mark.parametrize("writer", WRITERS)
def test_copied_row_groups_equal_the_rewrite(tmp_path, angcut_cli, writer, flat):
    source = tmp_path / "in.parquet"
    if writer == "duckdb":
        pq.write_table(table(flat), f"{source}.src")
    WRITERS[writer](table(flat), source)
    groups = pq.ParquetFile(source).metadata.num_row_groups
    assert groups >= 3, groups
    stars, far = tmp_path / "stars.parquet", tmp_path / "far.parquet"
    ra = table()["ra"].to_numpy()
    dec = table()["dec"].to_numpy()
    pq.write_table(pa.table({"ra": [ra[1500], ra[4500]], "dec": [dec[1500], dec[4500]]}), stars)
    pq.write_table(pa.table({"ra": [0.0], "dec": [89.99]}), far)
    cases = {
        "flag": ["-c", far, "--maxsep", "1arcsec", "--flag-column", "near"],
        "cut": ["-c", stars, "--maxsep", "3deg"],
        "invert": ["-c", stars, "--maxsep", "3deg", "--invert", "--nearest-columns"],
    }
    for case, flags in cases.items():
        outputs = {}
        for route in ("copy", "rewrite"):
            out, stats = tmp_path / f"{case}-{route}.parquet", tmp_path / f"{case}-{route}.json"
            run(angcut_cli, source, out, *flags, "--stats-json", stats, *(["--rewrite"] if route == "rewrite" else []))
            outputs[route] = (pq.read_table(out), json.loads(stats.read_text()))
        (copy, summary), (rewrite, _) = outputs["copy"], outputs["rewrite"]
        assert same(copy, rewrite), (writer, case)
        counts = summary["row_groups"]
        assert counts is not None, f"{writer}: the input's row groups were not copied ({summary})"
        touched = counts["filtered"]
        if case == "flag":
            assert counts == {"copied": groups, "filtered": 0, "reencoded_chunks": 0, "reencoded_because": None}, counts
        elif case == "cut":
            assert counts["copied"] > 0 and touched > 0, (writer, case, counts)
        else:  # the near rows only: a part of the row groups they lie in
            assert counts["copied"] == 0 and touched > 0, (writer, case, counts)
        if case != "flag":
            # A touched row group's pages are filtered as stored, but for the column chunks that
            # cannot be, re-encoded alone: Brotli's pages (not compressed again here: every
            # chunk), the list (repeated: its one leaf).
            leaves = pq.ParquetFile(source).metadata.num_columns
            reencoded = counts["reencoded_chunks"]
            if writer == "pyarrow_brotli":
                assert reencoded == touched * leaves and "BROTLI" in counts["reencoded_because"], counts
            elif flat:
                assert reencoded == 0 and counts["reencoded_because"] is None, (writer, case, counts)
            else:
                assert reencoded == touched and "a repeated column" in counts["reencoded_because"], counts
        # The other readers read it, as the rewrite (pyarrow checking the pages' checksums).
        out = tmp_path / f"{case}-copy.parquet"
        # Each chunk of an input column keeps a column index (page min/max) if the input had one.
        written = pq.ParquetFile(out).metadata
        had = pq.ParquetFile(source).metadata.row_group(0).column(0).has_column_index
        assert had == (writer in ("pyarrow_v1_page_index", "polars")), (writer, had)
        repeated = {i for i, c in enumerate(pq.ParquetFile(source).schema) if "list" in c.path}
        for g in range(written.num_row_groups):
            for c in range(pq.ParquetFile(source).metadata.num_columns):
                if c not in repeated and written.row_group(g).column(c).num_values and had:
                    assert written.row_group(g).column(c).has_column_index, (writer, case, g, c)
        assert same(pq.read_table(out, page_checksum_verification=True), rewrite), (writer, case)
        assert pl.read_parquet(out).shape == pl.read_parquet(tmp_path / f"{case}-rewrite.parquet").shape
        assert duckdb.sql(f"select count(*), sum(id) from read_parquet('{out}')").fetchall() == [
            (rewrite.num_rows, int(pa.compute.sum(rewrite["id"]).as_py() or 0) if rewrite.num_rows else None)
        ]
