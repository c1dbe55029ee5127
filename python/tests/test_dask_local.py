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
