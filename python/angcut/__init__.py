"""angcut: remove catalogue objects near contaminants on the sky, exactly and fast.

The Rust core of the ``angcut`` command line, for Python:

- :class:`ContaminantSet`: contaminant positions and radii with their index, built once; ``mask``,
  ``classify``, ``nearest`` on numpy arrays, ``filter`` on Arrow tables (zero-copy).
- :func:`stream`: the command line's ``angcut stream`` on files, same options, returns the summary.
- :mod:`angcut.dask`: the cut per partition of an LSDB catalogue or a Dask DataFrame.
- :mod:`angcut.hats`: a HATS catalogue on disk cut into a new one, partition file by partition
  file in Dask tasks, by the Rust pipeline.

An object is *near* when its angular separation from some contaminant is strictly less than that
contaminant's radius; the test is done in double precision on unit vectors, exact at the poles and
across RA 0/360. Every call releases the GIL while the Rust code works.

>>> import numpy as np, angcut
>>> stars = angcut.ContaminantSet(ra=[83.82], dec=[-5.39], maxsep="1arcmin")
>>> stars.mask(np.array([83.82, 83.82]), np.array([-5.38, -5.37])).tolist()  # 36" and 72" north
[True, False]
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ._angcut import AngcutError, ContaminantSet, __version__
from . import _angcut

__all__ = ["AngcutError", "ContaminantSet", "stream", "__version__"]


# What describes a contaminant file: a ContaminantSet has said all of it when it was made.
_CONTAMINANT_OPTIONS = {
    "radius_col", "radius_unit", "radius_from_mag", "mag_radius", "min_radius", "max_radius",
    "contaminant_ra", "contaminant_dec", "contaminant_id", "kernel",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option_values(name: str, value: Any) -> list[str]:
    """One keyword argument as command-line words: True is a bare flag, a list repeats the
    option, a tuple is joined with commas (``mag_radius=[(200, 0.25, 7)]``)."""
    if value is None or value is False:
        return []
    if value is True:
        return [_flag(name)]
    if isinstance(value, tuple):
        return [_flag(name), ",".join(str(v) for v in value)]
    if isinstance(value, (list, set)):
        words: list[str] = []
        for item in value:
            words += _option_values(name, item)
        return words
    if isinstance(value, Mapping):
        raise TypeError(f"{name}: a mapping is not an option value")
    return [_flag(name), os.fspath(value) if isinstance(value, os.PathLike) else str(value)]


def stream(
    in_path: str | os.PathLike | Iterable[str | os.PathLike],
    out_path: str | os.PathLike | None = None,
    *,
    contaminants: str | os.PathLike | ContaminantSet,
    maxsep: str | float | None = None,
    **options: Any,
) -> dict:
    """Run ``angcut stream`` on files, in this process, with the GIL released.

    ``stream("in.parquet", "out.parquet", contaminants="stars.parquet", maxsep="30arcsec")`` is
    ``angcut stream in.parquet out.parquet --contaminants stars.parquet --maxsep 30arcsec``.
    Every other option of the command line is a keyword argument with ``_`` for ``-``:
    ``radius_col="r_arcsec"``, ``invert=True``, ``flag_column="near_star"``, ``kernel="grid"``,
    ``threads=2``, ``rejected="removed.parquet"``, ``out_dir="clean"`` (with a list of inputs and
    no ``out_path``), ``mag_radius=[(200, 0.25, 7), (10, 0.1, 0)]``...

    ``contaminants`` may be a :class:`ContaminantSet` instead of a file: its positions, radii and
    kernel stand for the contaminant options (none of which may then be given), and its index,
    built on first use, serves every later call. That is how :func:`angcut.hats.cut` cuts many
    partition files with one index per worker.

    Returns the run's summary (what ``--stats-json`` writes) as a dict: rows read, removed,
    invalid, written, seconds, kernel, contaminants, per-file counts. The output is written
    atomically: on any error (raised as ``ValueError`` for bad arguments, :class:`AngcutError` for
    failures) no output file is left behind and the inputs are untouched.
    """
    if "quiet" in options:
        raise TypeError("stream() prints nothing: 'quiet' is not an option here")
    inputs = [in_path] if isinstance(in_path, (str, os.PathLike)) else list(in_path)
    argv = [os.fspath(p) for p in inputs]
    if out_path is not None:
        argv.append(os.fspath(out_path))
    given = contaminants if isinstance(contaminants, ContaminantSet) else None
    if given is None:
        argv += _option_values("contaminants", contaminants)
    else:
        described = sorted(set(options) & _CONTAMINANT_OPTIONS | ({"maxsep"} if maxsep is not None else set()))
        if described:
            raise TypeError(f"stream(): a ContaminantSet already has its positions, radii and kernel: drop {', '.join(described)}")
    argv += _option_values("maxsep", maxsep)
    for name, value in options.items():
        argv += _option_values(name, value)
    argv.append("--quiet")
    return json.loads(_angcut._stream(argv, given))
