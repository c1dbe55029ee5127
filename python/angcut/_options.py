"""The checks that the Dask and HATS cuts make before anything runs, in one place.

The rules themselves are the Rust core's: an empty selection of arrays asks it, so a wrong
combination fails here, on the client, with the core's own message, and not later in every task.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._angcut import ContaminantSet

_NOWHERE = np.empty(0)


def check_cut_options(contaminants: Any, invert: bool, flag_column: str | None, on_invalid: str) -> None:
    """Refuses, before anything runs, what every partition would refuse."""
    if not isinstance(contaminants, ContaminantSet):
        raise TypeError(f"contaminants must be an angcut.ContaminantSet, not {type(contaminants).__name__}")
    contaminants.select(_NOWHERE, _NOWHERE, invert, flag_column, on_invalid)
