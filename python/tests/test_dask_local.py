"""angcut.dask.cut without a distributed client: the set travels as a dask.delayed dependency
(threads share it; the process scheduler pickles it once per task graph)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
lsdb = pytest.importorskip("lsdb")

import angcut  # noqa: E402
import angcut.dask  # noqa: E402
from conftest import uniform_sky  # noqa: E402


@pytest.fixture(scope="module")
def data():
    ra, dec = uniform_sky(40_000, seed=21)
    frame = pd.DataFrame({"id": np.arange(40_000), "ra": ra, "dec": dec})
    stars = angcut.ContaminantSet(*uniform_sky(300, seed=22), maxsep="3deg")
    return frame, stars, stars.mask(ra, dec)


@pytest.mark.parametrize("scheduler", ["threads", "processes", "synchronous"])
def test_dask_dataframe_without_a_client(data, scheduler):
    from distributed import get_client

    with pytest.raises(ValueError):
        get_client()  # no client: the dask.delayed route
    frame, stars, near = data
    assert 0.1 < near.mean() < 0.9
    result = angcut.dask.cut(dd.from_pandas(frame, npartitions=4), stars).compute(scheduler=scheduler)
    assert result["id"].tolist() == frame["id"][~near].tolist()
    flagged = angcut.dask.cut(dd.from_pandas(frame, npartitions=4), stars, flag_column="near").compute(scheduler=scheduler)
    assert flagged["near"].tolist() == near.tolist()


def test_lsdb_without_a_client(data):
    frame, stars, near = data
    catalog = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec", partition_rows=10_000)
    kept = angcut.dask.cut(catalog, stars, invert=True).compute()
    assert sorted(kept["id"].tolist()) == frame["id"][near].tolist()


def test_cut_partition_keeps_every_kind_of_column_as_pandas_would(data):
    """The partition filter (column by column) against pandas' own df[keep], on every dtype family:
    numpy, Arrow-backed, nullable, categorical, datetime, object; a named non-default index; attrs."""
    import pyarrow as pa

    frame, stars, near = data
    n = len(frame)
    rich = pd.DataFrame(
        {
            "ra": pd.array(frame["ra"].to_numpy(), dtype=pd.ArrowDtype(pa.float64())),
            "dec": frame["dec"].to_numpy(),
            "name": pd.array([f"s{i}" if i % 7 else None for i in range(n)], dtype=pd.ArrowDtype(pa.string())),
            "count": pd.array([i if i % 5 else None for i in range(n)], dtype="Int32"),
            "band": pd.Categorical(np.array(["g", "r", "i"])[np.arange(n) % 3]),
            "when": pd.date_range("2026-01-01", periods=n, freq="s"),
            "payload": [(i,) for i in range(n)],
        },
        index=pd.Index(np.arange(n, dtype=np.int64) * 3 + 1, name="_healpix_29"),
    )
    rich.attrs["survey"] = "test"
    got = angcut.dask.cut_partition(rich, stars)
    pd.testing.assert_frame_equal(got, rich[~near])
    assert got.attrs == {"survey": "test"} and got.index.name == "_healpix_29"
    assert len(angcut.dask.cut_partition(rich, stars, invert=True)) == near.sum()


def test_hats_cut_without_a_client(data, tmp_path):
    import angcut.hats

    frame, stars, near = data
    catalog = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec", catalog_name="sky", partition_rows=10_000)
    catalog.write_catalog(tmp_path / "sky", progress_bar=False, as_collection=False)
    summary = angcut.hats.cut(tmp_path / "sky", tmp_path / "clean", stars)
    kept = lsdb.open_catalog(tmp_path / "clean").compute()
    assert sorted(kept["id"].tolist()) == frame["id"][~near].tolist()
    assert summary["rows_written"] == len(kept) and summary["catalogs"].keys() == {"sky"}
