"""angcut: remove catalogue objects near contaminants on the sky, exactly and fast.

The Rust core of the ``angcut`` command line, for Python:

- :class:`ContaminantSet`: contaminant positions and radii with their index, built once; ``mask``,
  ``classify``, ``nearest`` on numpy arrays, ``filter`` on Arrow tables (zero-copy).
- :class:`Mask`: the layers of a mask file (stars, ellipses, DS9 regions), read and indexed once;
  ``bits`` and ``select`` on numpy arrays; given to ``stream``, ``dask.cut`` and ``hats.cut``.
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

import os
from collections.abc import Iterable
from typing import Any

from ._angcut import AngcutError, ContaminantSet, Mask, __version__
from . import _angcut

__all__ = ["AngcutError", "ContaminantSet", "Mask", "stream", "__version__"]


def _mag_radius(value: Any) -> list[str]:
    """``mag_radius`` as the command line's terms: ``"A,B,C"``, ``"legacy"``, a tuple ``(A, B, C)``
    or a list of them."""
    if value is None:
        return []
    if isinstance(value, (str, tuple)):
        value = [value]
    return [",".join(str(v) for v in term) if isinstance(term, tuple) else str(term) for term in value]


def _path(value: Any) -> str | None:
    return None if value is None else os.fspath(value)


def stream(
    in_path: str | os.PathLike | Iterable[str | os.PathLike],
    out_path: str | os.PathLike | None = None,
    *,
    contaminants: str | os.PathLike | ContaminantSet | None = None,
    maxsep: str | float | None = None,
    masks: str | os.PathLike | Mask | None = None,
    mask_bits: str | None = None,
    cut_layers: str | Iterable[str] | None = None,
    epoch: float | None = None,
    out_dir: str | os.PathLike | None = None,
    radius_col: str | None = None,
    radius_unit: str | None = None,
    radius_from_mag: str | None = None,
    mag_radius: str | tuple | list | None = None,
    min_radius: str | float | None = None,
    max_radius: str | float | None = None,
    invert: bool = False,
    rejected: str | os.PathLike | None = None,
    flag_column: str | None = None,
    nearest_columns: bool = False,
    contaminant_id: str | None = None,
    ra: str | None = None,
    dec: str | None = None,
    hdu: int | str | None = None,
    contaminant_hdu: int | str | None = None,
    contaminant_ra: str | None = None,
    contaminant_dec: str | None = None,
    kernel: str | None = None,
    threads: int | None = None,
    batch_size: int | None = None,
    on_invalid: str | None = None,
    compression: str | None = None,
    output_format: str | None = None,
    row_group_size: int | None = None,
    rewrite: bool = False,
    stats_json: str | os.PathLike | None = None,
) -> dict:
    """Run ``angcut stream`` on files, in this process, with the GIL released.

    ``stream("in.parquet", "out.parquet", contaminants="stars.parquet", maxsep="30arcsec")`` is
    ``angcut stream in.parquet out.parquet --contaminants stars.parquet --maxsep 30arcsec``.
    Every other option of the command line is a keyword argument with ``_`` for ``-``:
    ``radius_col="r_arcsec"``, ``invert=True``, ``flag_column="near_star"``, ``kernel="grid"``,
    ``threads=2``, ``hdu="OBJECTS"`` (a FITS input's table), ``rejected="removed.parquet"``, ``out_dir="clean"`` (with a list of inputs and
    no ``out_path``), ``mag_radius=[(200, 0.25, 7), (10, 0.1, 0)]``... Angles are strings with
    units (``"30arcsec"``) or numbers of degrees; ``radius_unit`` is arcsec unless given. The
    options are checked by the same rules as the command line's, in the Rust core.

    ``masks="masks.toml"`` cuts against the layers of a mask file instead of ``contaminants``
    (docs/masks.md): ``mask_bits="maskbits"`` adds the column of layer bits and keeps
    every row unless ``cut_layers=["star"]`` names layers that cut; ``epoch=2016.0`` overrides
    the file's epoch for proper motions. ``masks`` may be a :class:`Mask` instead of a file: it
    was read with its epoch and kernel already, and serves every later call with its index.

    ``contaminants`` may be a :class:`ContaminantSet` instead of a file: its positions, radii and
    kernel stand for the contaminant options (none of which may then be given), and its index,
    built on first use, serves every later call. That is how :func:`angcut.hats.cut` cuts many
    partition files with one index per worker.

    Returns the run's summary (what ``--stats-json`` writes) as a dict: rows read, removed,
    invalid, written, seconds, kernel, contaminants, per-file counts. The output is written
    atomically: on any error (raised as ``ValueError`` for bad arguments, :class:`AngcutError` for
    failures) no output file is left behind and the inputs are untouched.
    """
    inputs = [in_path] if isinstance(in_path, (str, os.PathLike)) else list(in_path)
    paths = [os.fspath(p) for p in inputs] + ([os.fspath(out_path)] if out_path is not None else [])
    given = contaminants if isinstance(contaminants, ContaminantSet) else None
    given_mask = masks if isinstance(masks, Mask) else None
    return _angcut._stream(
        paths,
        contaminants=None if given is not None else _path(contaminants),
        given=given,
        masks=None if given_mask is not None else _path(masks),
        given_mask=given_mask,
        mask_bits=mask_bits,
        cut_layers=[cut_layers] if isinstance(cut_layers, str) else list(cut_layers or []),
        epoch=epoch,
        out_dir=_path(out_dir),
        maxsep=maxsep,
        radius_col=radius_col,
        radius_unit=radius_unit,
        radius_from_mag=radius_from_mag,
        mag_radius=_mag_radius(mag_radius),
        min_radius=min_radius,
        max_radius=max_radius,
        invert=invert,
        rejected=_path(rejected),
        flag_column=flag_column,
        nearest_columns=nearest_columns,
        contaminant_id=contaminant_id,
        ra=ra,
        dec=dec,
        hdu=hdu,
        contaminant_hdu=contaminant_hdu,
        contaminant_ra=contaminant_ra,
        contaminant_dec=contaminant_dec,
        kernel=kernel,
        threads=threads,
        batch_size=batch_size,
        on_invalid=on_invalid,
        compression=compression,
        output_format=output_format,
        row_group_size=row_group_size,
        rewrite=rewrite,
        stats_json=_path(stats_json),
    )
