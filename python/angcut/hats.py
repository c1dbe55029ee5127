"""Cut a HATS catalogue on disk into a new HATS catalogue, one partition file per Dask task.

``cut("objects_hats", "clean_hats", stars)`` (a :class:`~angcut.ContaminantSet`, or a
:class:`~angcut.Mask` of layers) hands each partition's Parquet file to angcut's own
streaming pipeline (what ``angcut stream`` does to a file: Parquet decoded, cut and encoded in
Rust, columns and schema metadata as they were, rows in their order), one Dask task per
partition, then writes the new catalogue's HATS metadata with the ``hats`` library: partition
list, row counts, ``_metadata``/``_common_metadata``, per-partition statistics and skymaps. Empty
partitions are left out, as LSDB's own writer does. A collection (main catalogue and margins) is
cut as a whole: a margin holds rows of the neighbouring pixels, and the cut is row by row, so the
cut margin is the margin of the cut catalogue.

It gives the rows of ``angcut.dask.cut(lsdb.open_catalog(...), ...)`` written with ``to_hats``,
without turning any partition into a pandas frame, which is most of that route's cost.

The tasks run wherever Dask runs them: the active ``dask.distributed`` client, or the local
scheduler. The contaminant set goes to each worker once and is indexed there once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from . import ContaminantSet, Mask, __version__, stream
from ._angcut import PARQUET_EXTENSIONS
from ._options import check_cut_options, layer_names
from .dask import _shipped

__all__ = ["cut"]


def _local_path(path: str | os.PathLike) -> Path:
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        raise ValueError(f"{text}: angcut.hats.cut reads and writes local (or mounted) file systems only")
    return Path(text.removeprefix("file://"))


def _histogram(path: str, column: str | None, column_order: int, ra: str, dec: str, order: int) -> Any:
    """The kept rows' count per HEALPix pixel at `order`, for the skymap: from the spatial index
    column (nested pixels at `column_order`, so a shift gives the pixel at `order`) when there is
    one, from the positions otherwise."""
    from hats.pixel_math.sparse_histogram import SparseHistogram

    if column is not None:
        index = pq.read_table(path, columns=[column]).column(column).to_numpy()
    else:
        from hats.pixel_math.spatial_index import SPATIAL_INDEX_ORDER, compute_spatial_index

        table = pq.read_table(path, columns=[ra, dec])
        index = compute_spatial_index(table.column(ra).to_numpy(), table.column(dec).to_numpy())
        column_order = SPATIAL_INDEX_ORDER
    pixels, counts = np.unique(index >> (2 * (column_order - order)), return_counts=True)
    return SparseHistogram(pixels, counts, order)


def _cut_file(
    contaminants: ContaminantSet | Mask,
    source: str,
    target: str,
    options: dict,
    histogram: tuple[str | None, int, str, str, int] | None,
    failed: str,
) -> tuple[dict, Any] | BaseException | None:
    """One partition file: its cut written to `target` (nothing when no row is kept), the run's
    summary, and the kept rows' histogram when the catalogue has a skymap.

    An error is returned, not raised, after marking the build `failed`: Dask would hand the first
    error to the caller while other tasks still write into the build directory; this way every
    task has ended (those not yet started see the mark and skip) before the caller removes it."""
    if os.path.exists(failed):
        return None
    try:
        given = {"masks": contaminants} if isinstance(contaminants, Mask) else {"contaminants": contaminants}
        summary = stream(source, target, **given, **options)
        if summary["rows_written"] == 0:
            os.remove(target)
            return summary, None
        return summary, (_histogram(target, *histogram) if histogram is not None else None)
    except Exception as error:  # noqa: BLE001 - handed back whole, raised by the caller
        with contextlib.suppress(OSError):
            Path(failed).touch()
        return error


class _Table:
    """One catalogue of the input (main or margin): its partitions and where their cuts go."""

    def __init__(self, name: str, catalog: Any, source: Path, target: Path):
        from hats.catalog import CatalogType
        from hats.io import paths

        self.name, self.catalog, self.source, self.target = name, catalog, source, target
        info = catalog.catalog_info
        # One Parquet file per partition, named as angcut names Parquet (its formats table);
        # HATS also allows a directory per partition (`/`), which is not cut here.
        suffix = info.npix_suffix
        if not any(suffix.lower().endswith(f".{e}") for e in PARQUET_EXTENSIONS):
            names = ", ".join(f"'*.{e}'" for e in PARQUET_EXTENSIONS)
            raise ValueError(f"{source}: partitions stored as '*{suffix}' are not supported, only single files named {names}")
        self.pixels = catalog.get_healpix_pixels()
        self.files = [
            (paths.pixel_catalog_file(source, p, npix_suffix=suffix), paths.pixel_catalog_file(target, p, npix_suffix=suffix))
            for p in self.pixels
        ]
        self.skymap_order = None
        if info.catalog_type in (CatalogType.OBJECT, CatalogType.SOURCE):
            highest = max((p.order for p in self.pixels), default=0)
            self.skymap_order = info.skymap_order if info.skymap_order is not None else max(highest, 8)

    def histogram_args(self, ra: str, dec: str) -> tuple[str | None, int, str, str, int] | None:
        if self.skymap_order is None:
            return None
        info = self.catalog.catalog_info
        column = info.healpix_column if info.healpix_column in self.catalog.schema.names else None
        return (column, info.healpix_order or 29, ra, dec, self.skymap_order)

    def finish(self, results: list[tuple[dict, Any]]) -> dict:
        """The metadata of the cut catalogue, once all its partitions are written."""
        import hats
        from hats.catalog import PartitionInfo
        from hats.catalog.dataset.hats_properties import HatsProperties
        from hats.io.skymap import write_skymap
        from hats.pixel_math.sparse_histogram import HistogramAggregator

        counts = [summary["rows_written"] for summary, _ in results]
        pixels = [p for p, n in zip(self.pixels, counts) if n > 0]
        kept = [n for n in counts if n > 0]
        self.target.mkdir(parents=True, exist_ok=True)
        for directory, _, _ in os.walk(self.target, topdown=False):
            if Path(directory) != self.target and not os.listdir(directory):
                os.rmdir(directory)  # a Dir=... (or Norder=...) whose partitions were all emptied
        info = self.catalog.catalog_info
        if pixels:
            hats.io.write_parquet_metadata(self.target, create_per_partition_stats=True)
        else:  # no rows at all: the schema alone, as LSDB writes an empty catalogue
            dataset = hats.io.paths.get_parquet_metadata_pointer(self.target).parent
            dataset.mkdir(parents=True, exist_ok=True)
            schema = self.catalog.schema
            pq.write_metadata(schema, hats.io.paths.get_parquet_metadata_pointer(self.target).path)
            pq.write_metadata(schema, hats.io.paths.get_common_metadata_pointer(self.target).path)
        partition_info = PartitionInfo(pixels)
        partition_info.write_to_file(self.target / "partition_info.csv")
        updates: dict[str, Any] = {
            "total_rows": int(sum(kept)),
            "hats_max_rows": int(max(kept, default=0)),
            "moc_sky_fraction": float(f"{partition_info.calculate_fractional_coverage():.5g}") if pixels else 0.0,
            "hats_order": partition_info.get_highest_order() if pixels else None,
        }
        if self.skymap_order is not None:
            total = HistogramAggregator(self.skymap_order)
            for _, histogram in results:
                if histogram is not None:
                    total.add(histogram)
            full = total.full_histogram
            hats.io.file_io.write_fits_image(full, hats.io.paths.get_point_map_file_pointer(self.target))
            write_skymap(full, self.target, orders=info.skymap_alt_orders)
            updates["skymap_order"] = self.skymap_order
        updates |= HatsProperties.new_provenance_dict(self.target, builder=f"angcut v{__version__}")
        info.copy_and_update(**updates).to_properties_file(self.target)
        summaries = [summary for summary, _ in results]
        return {
            "rows_read": sum(s["rows_read"] for s in summaries),
            "rows_removed": sum(s["rows_removed"] for s in summaries),
            "rows_invalid": sum(s["rows_invalid"] for s in summaries),
            "rows_written": int(sum(kept)),
            "partitions": len(pixels),
        }


def _tables(source: Path, target: Path) -> tuple[list[_Table], Any]:
    """The catalogues to cut (a lone catalogue, or a collection's main catalogue and margins)
    and the collection's properties, if it is one."""
    import hats
    from hats.catalog import CatalogCollection

    opened = hats.read_hats(source)
    if not isinstance(opened, CatalogCollection):
        if not hasattr(opened, "get_healpix_pixels"):
            raise ValueError(f"{source}: not a HATS catalogue of HEALPix partitions")
        return [_Table(source.name, opened, source, target)], None
    properties = opened.collection_properties
    if properties.all_indexes or properties.all_extensions:
        raise ValueError(
            f"{source}: the collection has index tables or extensions, which point into the partitions "
            "a cut rewrites; cut its main catalogue directory instead"
        )
    main = properties.hats_primary_table_url
    tables = [_Table(main, opened.main_catalog, opened.main_catalog_dir, target / main)]
    for margin in properties.all_margins or []:
        margin_dir = opened.resolve_inner_path(source, margin)
        tables.append(_Table(margin, hats.read_hats(margin_dir), margin_dir, target / margin))
    return tables, properties


def cut(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    contaminants: ContaminantSet | Mask,
    *,
    ra: str | None = None,
    dec: str | None = None,
    invert: bool = False,
    flag_column: str | None = None,
    on_invalid: str = "error",
    mask_bits: str | None = None,
    cut_layers: str | list[str] | None = None,
    threads: int = 1,
    compression: str | None = None,
    row_group_size: int | None = None,
    overwrite: bool = False,
) -> dict:
    """Cut the HATS catalogue (or collection) at ``in_path`` into a new one at ``out_path``.

    Each partition file is cut by the Rust pipeline in a Dask task (``threads`` cutting threads
    per task; Dask runs as many tasks at once as it has worker threads). ``ra``/``dec`` default to
    the catalogue's own columns; ``invert``, ``flag_column``, ``on_invalid``, ``compression`` and
    ``row_group_size`` are those of :func:`angcut.stream`. ``contaminants`` is a
    :class:`~angcut.ContaminantSet` or a :class:`~angcut.Mask`; with a mask, ``mask_bits`` and
    ``cut_layers`` are those of :func:`angcut.stream` too.

    The output appears only when everything succeeded: it is built in a hidden directory beside
    ``out_path`` and renamed into place; on any error it is removed and the input is untouched.
    An existing ``out_path`` is an error unless ``overwrite=True``.

    Returns the main catalogue's counts: ``rows_read``, ``rows_removed``, ``rows_invalid``,
    ``rows_written``, ``partitions`` (the non-empty ones, written), and the same for each catalogue
    of a collection (main and margins) by name under ``catalogs``.
    """
    import dask

    cut_layers = layer_names(cut_layers)
    check_cut_options(contaminants, invert, flag_column, on_invalid, mask_bits, cut_layers)
    source, target = _local_path(in_path), _local_path(out_path)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such HATS catalogue directory")
    if not source.is_dir():
        raise NotADirectoryError(f"{source}: a HATS catalogue is a directory (cut a single file with angcut.stream)")
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise ValueError(f"{target}: the output cannot be the input catalogue or inside it")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists: choose another path or pass overwrite=True")
    building = target.parent / f".{target.name}.angcut-{uuid.uuid4().hex[:12]}"
    failed = building / ".failed"
    try:
        tables, collection = _tables(source, building)
        shipped = _shipped(contaminants)
        if shipped is None:  # the local scheduler: one graph node, not a copy per task
            shipped = dask.delayed(contaminants, pure=True)
        tasks = []
        for table in tables:
            info = table.catalog.catalog_info
            options = {
                "ra": ra or info.ra_column,
                "dec": dec or info.dec_column,
                "invert": invert,
                "flag_column": flag_column,
                "on_invalid": on_invalid,
                "threads": threads,
                **({"mask_bits": mask_bits, "cut_layers": cut_layers} if isinstance(contaminants, Mask) else {}),
                "compression": compression,
                "row_group_size": row_group_size,
            }
            names = table.catalog.schema.names
            for name in (options["ra"], options["dec"]):
                if name not in names:
                    raise ValueError(f"{table.source}: no column '{name}'; columns: {', '.join(names)}")
            histogram = table.histogram_args(options["ra"], options["dec"])
            for directory in {t.parent for _, t in table.files}:  # here, not in the tasks (see _cut_file)
                directory.mkdir(parents=True, exist_ok=True)
            cut_file = dask.delayed(_cut_file, pure=False)
            tasks.append([cut_file(shipped, str(s), str(t), options, histogram, str(failed)) for s, t in table.files])
        results = dask.compute(*tasks)
        errors = [r for result in results for r in result if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        catalogs = {table.name: table.finish(list(result)) for table, result in zip(tables, results)}
        if collection is not None:
            from hats.catalog.dataset.hats_properties import HatsProperties

            provenance = HatsProperties.new_provenance_dict(building, builder=f"angcut v{__version__}")
            collection.model_copy(update=provenance).to_properties_file(building)
        _put_in_place(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return catalogs[tables[0].name] | {"catalogs": catalogs}


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _put_in_place(built: Path, target: Path) -> None:
    """Makes the finished catalogue durable (every file and directory synced: the partitions
    already are, the metadata is not) and renames it to `target`; an old one there is moved aside
    first and deleted only once the new one is in place."""
    for directory, _, files in os.walk(built):
        for name in files:
            _sync(Path(directory) / name)
        _sync(Path(directory))
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.angcut-old-{uuid.uuid4().hex[:12]}"
        os.replace(target, old)
    try:
        os.replace(built, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    _sync(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
