"""Type stubs of the Rust extension module (see angcut/__init__.py for the package docs)."""

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__version__: str
PARQUET_EXTENSIONS: list[str]
"""What a Parquet file's name ends in (without the dot), from angcut's formats table."""

class AngcutError(RuntimeError):
    """A failure of the Rust core (an unreadable file, a failed write); names file, column, row."""

ArrayLike = npt.ArrayLike
Angle = str | float

class ContaminantSet:
    """Contaminant positions (degrees) and radii with their index, built once."""

    def __init__(
        self,
        ra: ArrayLike,
        dec: ArrayLike,
        radius: ArrayLike | None = None,
        maxsep: Angle | None = None,
        radius_unit: str = "arcsec",
        kernel: str = "auto",
    ) -> None: ...
    @staticmethod
    def from_arrow(
        table: Any,
        ra: str | None = None,
        dec: str | None = None,
        radius_col: str | None = None,
        radius_unit: str = "arcsec",
        maxsep: Angle | None = None,
        kernel: str = "auto",
    ) -> ContaminantSet: ...
    def mask(self, ra: ArrayLike, dec: ArrayLike, on_invalid: str = "error") -> npt.NDArray[np.bool_]: ...
    def classify(self, ra: ArrayLike, dec: ArrayLike, on_invalid: str = "keep") -> npt.NDArray[np.int8]: ...
    def nearest(self, ra: ArrayLike, dec: ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
    def filter(
        self,
        data: Any,
        ra: str | None = None,
        dec: str | None = None,
        invert: bool = False,
        flag_column: str | None = None,
        nearest_columns: bool = False,
        on_invalid: str = "error",
    ) -> pa.Table: ...
    def select(
        self,
        ra: ArrayLike,
        dec: ArrayLike,
        invert: bool = False,
        flag_column: str | None = None,
        on_invalid: str = "error",
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int8]]: ...
    def __dask_tokenize__(self) -> tuple[str, int]: ...
    def __len__(self) -> int: ...
    @property
    def kernel(self) -> str: ...
    @property
    def largest_radius_deg(self) -> float | None: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes, float | bytes, str]]: ...

def _rebuild(positions: bytes, radii: float | bytes, kernel: str) -> ContaminantSet: ...
class Mask:
    """The layers of a mask file (TOML), read and indexed once."""

    def __init__(self, path: str | os.PathLike[str], epoch: float | None = None, kernel: str = "auto") -> None: ...
    def bits(self, ra: ArrayLike, dec: ArrayLike, on_invalid: str = "keep") -> npt.NDArray[np.unsignedinteger[Any]]: ...
    def select(
        self,
        ra: ArrayLike,
        dec: ArrayLike,
        cut_layers: Sequence[str] | None = None,
        mask_bits: bool = False,
        invert: bool = False,
        flag_column: str | None = None,
        on_invalid: str = "error",
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int8], npt.NDArray[np.unsignedinteger[Any]]]: ...
    @property
    def layers(self) -> list[str]: ...
    @property
    def bits_dtype(self) -> str: ...
    @property
    def kernel(self) -> str: ...
    def __len__(self) -> int: ...

def _rebuild_mask(state: bytes, kernel: str) -> Mask: ...
def _stream(
    paths: Sequence[str], *, given: ContaminantSet | None = None, given_mask: Mask | None = None, **options: Any
) -> dict[str, Any]: ...
