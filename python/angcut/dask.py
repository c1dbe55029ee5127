"""The angcut cut per partition of an LSDB catalogue or a Dask DataFrame.

``cut(catalog, contaminants)`` returns the same kind of lazy object with the near rows removed
(or, with ``invert=True``, only those; with ``flag_column=...``, every row and a boolean column).
``contaminants`` is a :class:`~angcut.ContaminantSet` or a :class:`~angcut.Mask` of layers; with a
mask, ``mask_bits="maskbits"`` adds each row's layer bits and ``cut_layers`` names the layers that
cut, as ``--mask-bits`` and ``--cut-layers`` do.
Each partition is cut where it lives, by the Rust core, with the GIL released; the contaminant set
goes to each worker once (scattered with ``broadcast=True`` when a ``dask.distributed`` client is
active, a ``dask.delayed`` dependency otherwise), and its index is built there once, on first use.

Rows keep their order and index within each partition, so LSDB's HEALPix index and HATS metadata
stay valid: the result can be written with ``to_hats`` or queried further. Every worker holds the
whole contaminant set, so no margin cache is needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ._angcut import ContaminantSet, Mask
from ._options import check_cut_options, layer_names, refuse_mask_options

__all__ = ["cut", "cut_partition"]


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        raise ValueError(f"no column '{name}' in the partition; columns: {', '.join(map(str, df.columns))}")
    return df[name].to_numpy(dtype="float64", na_value=np.nan)


def cut_partition(
    df: pd.DataFrame,
    contaminants: ContaminantSet | Mask,
    ra: str = "ra",
    dec: str = "dec",
    invert: bool = False,
    flag_column: str | None = None,
    on_invalid: str = "error",
    mask_bits: str | None = None,
    cut_layers: list[str] | None = None,
) -> pd.DataFrame:
    """The cut of one pandas (or nested-pandas) frame: the rows far from every contaminant, in
    order, index and columns untouched; the same rows as the command line on the same data.

    ``on_invalid``: a row without a valid position (null, NaN, |dec| > 90) is an error ("error"),
    kept as far from everything ("keep"), or left out ("drop"). Against a :class:`Mask`,
    ``mask_bits`` names a column of each row's layer bits (null without a valid position) and
    ``cut_layers`` the layers that cut."""
    # Which rows stay is the Rust core's rule, the one the command line applies to files.
    positions = (_column(df, ra), _column(df, dec))
    if isinstance(contaminants, Mask):
        keep, state, bits = contaminants.select(
            *positions, cut_layers, mask_bits is not None, invert, flag_column, on_invalid
        )
    else:
        refuse_mask_options(mask_bits, cut_layers)
        keep, state = contaminants.select(*positions, invert, flag_column, on_invalid)
    added = {}
    if flag_column is not None:
        added[flag_column] = pa.array(state == 1, mask=state == -1, type=pa.bool_())
    if mask_bits is not None:
        added[mask_bits] = pa.array(bits, mask=state == -1)
    for name in added:
        if name in df.columns:
            raise ValueError(f"the partition already has a column '{name}'; choose another name")
    if added:
        df = df.assign(**{name: pd.arrays.ArrowExtensionArray(values) for name, values in added.items()})
    return df if keep.all() else _rows(df, keep)


def _rows(df: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``df[keep]``, a third faster on Arrow-backed columns: each column filters itself (Arrow's
    filter kernel) where pandas would turn the mask into indices and take them."""
    arrays = {i: df.iloc[:, i].array[keep] for i in range(df.shape[1])}
    out = df._constructor(arrays, index=df.index[keep], copy=False)
    out.columns = df.columns
    return out.__finalize__(df)


def _meta(meta: pd.DataFrame, flag_column: str | None, mask_bits: str | None, bits_dtype: str | None) -> pd.DataFrame:
    added = {}
    if flag_column is not None:
        added[flag_column] = pa.bool_()
    if mask_bits is not None:
        added[mask_bits] = pa.from_numpy_dtype(np.dtype(bits_dtype))
    return meta.assign(**{name: pd.Series([], dtype=pd.ArrowDtype(t), index=meta.index) for name, t in added.items()})


def _shipped(contaminants: ContaminantSet | Mask) -> Any:
    """The contaminant set (or mask) as a task argument that reaches each worker once."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        return None
    # A fresh key per call (hash=False): with a content-hashed key, a second cut of the same set
    # could reuse a key whose release by an earlier, collected result was still on its way to
    # the scheduler, which then dropped the data under the new graph ("lost dependencies").
    return client.scatter(contaminants, broadcast=True, hash=False)


def cut(
    catalog: Any,
    contaminants: ContaminantSet | Mask,
    *,
    ra: str | None = None,
    dec: str | None = None,
    invert: bool = False,
    flag_column: str | None = None,
    on_invalid: str = "error",
    mask_bits: str | None = None,
    cut_layers: str | list[str] | None = None,
) -> Any:
    """Cut an LSDB ``Catalog`` or a ``dask.dataframe.DataFrame`` lazily, partition by partition.

    ``ra``/``dec`` default to the catalogue's own columns (LSDB) or "ra"/"dec". Against a
    :class:`Mask`, ``mask_bits`` adds the column of layer bits (every row kept unless
    ``cut_layers`` names layers that cut). Returns the same kind of object; nothing runs until it
    is computed or written.
    """
    cut_layers = layer_names(cut_layers)
    check_cut_options(contaminants, invert, flag_column, on_invalid, mask_bits, cut_layers)
    is_lsdb = hasattr(catalog, "hc_structure") and hasattr(catalog, "map_partitions")
    if is_lsdb:
        info = catalog.hc_structure.catalog_info
        ra = ra or info.ra_column
        dec = dec or info.dec_column
    else:
        ra = ra or "ra"
        dec = dec or "dec"
    for name in (ra, dec):
        if name not in catalog.columns:
            raise ValueError(f"no column '{name}'; columns: {', '.join(map(str, catalog.columns))}")
    for name in (flag_column, mask_bits):
        if name is not None and name in catalog.columns:
            raise ValueError(f"the catalogue already has a column '{name}'; choose another name")
    bits_dtype = contaminants.bits_dtype if isinstance(contaminants, Mask) else None
    meta = _meta(catalog.meta if is_lsdb else catalog._meta, flag_column, mask_bits, bits_dtype)
    shipped = _shipped(contaminants)
    if shipped is None and not is_lsdb:
        import dask

        shipped = dask.delayed(contaminants, pure=True)
    if shipped is None:
        shipped = contaminants  # LSDB with the local scheduler: one process, no copy
    args = (shipped, ra, dec, invert, flag_column, on_invalid, mask_bits, cut_layers)
    return catalog.map_partitions(cut_partition, *args, meta=meta)
