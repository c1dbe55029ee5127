"""The checks that the Dask and HATS cuts make before anything runs, in one place.

The rules themselves are the Rust core's: an empty selection of arrays asks it, so a wrong
combination fails here, on the client, with the core's own message, and not later in every task.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._angcut import ContaminantSet, Mask

_NOWHERE = np.empty(0)


def layer_names(cut_layers: str | Iterable[str] | None) -> list[str] | None:
    """``cut_layers`` as a list of layer names (a single name may be given as a string)."""
    if cut_layers is None:
        return None
    return [cut_layers] if isinstance(cut_layers, str) else list(cut_layers)


def check_cut_options(
    contaminants: Any,
    invert: bool,
    flag_column: str | None,
    on_invalid: str,
    mask_bits: str | None = None,
    cut_layers: list[str] | None = None,
) -> None:
    """Refuses, before anything runs, what every partition would refuse."""
    if isinstance(contaminants, Mask):
        contaminants.select(_NOWHERE, _NOWHERE, cut_layers, mask_bits is not None, invert, flag_column, on_invalid)
        return
    if not isinstance(contaminants, ContaminantSet):
        raise TypeError(f"contaminants must be an angcut.ContaminantSet or angcut.Mask, not {type(contaminants).__name__}")
    refuse_mask_options(mask_bits, cut_layers)
    contaminants.select(_NOWHERE, _NOWHERE, invert, flag_column, on_invalid)


def refuse_mask_options(mask_bits: str | None, cut_layers: list[str] | None) -> None:
    """Against a ContaminantSet: the mask options are a mistake."""
    if mask_bits is not None or cut_layers:
        raise ValueError("mask_bits and cut_layers describe the layers of an angcut.Mask; a ContaminantSet has none")
