"""angcut.hats.cut: a HATS catalogue on disk cut into a new one, partition file by partition file,
on a LocalCluster of 2 worker processes and without a client, against the command line."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

distributed = pytest.importorskip("distributed")
lsdb = pytest.importorskip("lsdb")
hats = pytest.importorskip("hats")

import angcut  # noqa: E402
import angcut.hats  # noqa: E402
from conftest import REPO, cli_cut, run_cli, uniform_sky  # noqa: E402

ROWS = 200_000


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A HATS collection as LSDB writes it: main catalogue "objects" and a 60arcsec margin."""
    ra, dec = uniform_sky(ROWS, seed=31)
    rng = np.random.default_rng(32)
    frame = pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "mag": rng.uniform(15, 25, ROWS).astype(np.float32),
            "name": pd.array([f"obj{i}" for i in range(ROWS)], dtype=pd.ArrowDtype(pa.string())),
        }
    )
    catalog = lsdb.from_dataframe(
        frame, ra_column="ra", dec_column="dec", catalog_name="objects", partition_rows=30_000, margin_threshold=60
    )
    path = tmp_path_factory.mktemp("hats") / "objects"
    catalog.write_catalog(path, progress_bar=False)
    assert catalog.npartitions >= 6
    return path


def rows_in_partition_order(path) -> pd.DataFrame:
    return lsdb.open_catalog(path).compute()


def test_cut_collection_equals_the_cli_and_is_a_valid_hats_collection(client, collection, stars, tmp_path, angcut_cli):
    stars_path, stars_set = stars
    out = tmp_path / "clean"
    summary = angcut.hats.cut(collection, out, stars_set)

    whole = rows_in_partition_order(collection)
    expected = cli_cut(tmp_path, angcut_cli, whole, stars_path)
    reread = lsdb.open_catalog(out)
    kept = reread.compute()
    assert 0.6 * ROWS < len(kept) < 0.9 * ROWS
    assert kept["id"].tolist() == expected["id"].to_pylist()  # same rows, same order
    assert list(kept.columns) == list(whole.columns) and kept.index.name == whole.index.name
    assert kept.index.tolist() == whole.index[whole["id"].isin(kept["id"])].tolist()  # spatial index kept
    assert (summary["rows_read"], summary["rows_written"]) == (ROWS, len(kept))
    assert summary["rows_removed"] == ROWS - len(kept) and summary["rows_invalid"] == 0

    # HATS metadata: row counts, partitions, _metadata and the skymap all describe the kept rows.
    main = hats.read_hats(out / "objects")
    assert main.catalog_info.total_rows == len(kept)
    assert main.get_healpix_pixels() == hats.read_hats(collection / "objects").get_healpix_pixels()
    assert pq.read_metadata(out / "objects" / "dataset" / "_metadata").num_rows == len(kept)
    assert main.catalog_info.hats_builder.startswith("angcut v")
    skymap = hats.io.skymap.read_skymap(main, None)
    order = main.catalog_info.skymap_order
    pixels = hats.pixel_math.spatial_index_to_healpix(kept.index.to_numpy(), target_order=order)
    np.testing.assert_array_equal(skymap, np.bincount(pixels, minlength=12 * 4**order))
    assert int(hats.io.file_io.read_fits_image(hats.io.paths.get_point_map_file_pointer(out / "objects")).sum()) == len(kept)

    # The margin is cut too: its rows are exactly the input margin's far ones.
    margin_in = lsdb.read_hats(collection / "objects_60arcs").compute()
    margin_out = lsdb.read_hats(out / "objects_60arcs").compute()
    near = stars_set.mask(margin_in["ra"].to_numpy(), margin_in["dec"].to_numpy())
    assert 0 < len(margin_out) < len(margin_in)
    assert margin_out["id"].tolist() == margin_in["id"][~near].tolist()
    assert reread.margin is not None and len(reread.margin.compute()) == len(margin_out)
    assert summary["catalogs"]["objects_60arcs"]["rows_written"] == len(margin_out)

    # LSDB can query the result further.
    cone = reread.cone_search(ra=180.0, dec=0.0, radius_arcsec=20 * 3600).compute()
    assert len(cone) > 0 and not stars_set.mask(cone["ra"].to_numpy(), cone["dec"].to_numpy()).any()


def test_other_output_modes_equal_the_cli(client, collection, stars, tmp_path, angcut_cli):
    stars_path, stars_set = stars
    whole = rows_in_partition_order(collection)
    angcut.hats.cut(collection / "objects", tmp_path / "near", stars_set, invert=True)
    near = lsdb.open_catalog(tmp_path / "near").compute()
    assert near["id"].tolist() == cli_cut(tmp_path, angcut_cli, whole, stars_path, "--invert")["id"].to_pylist()
    angcut.hats.cut(collection / "objects", tmp_path / "flagged", stars_set, flag_column="near_star")
    flagged = lsdb.open_catalog(tmp_path / "flagged").compute()
    cli_flags = cli_cut(tmp_path, angcut_cli, whole, stars_path, "--flag-column", "near_star")
    assert len(flagged) == ROWS and flagged["near_star"].tolist() == cli_flags["near_star"].to_pylist()


def test_cut_with_a_mask_writes_each_partitions_bits_as_the_cli(client, collection, tmp_path, angcut_cli):
    masks = REPO / "fixtures" / "masks.toml"
    mask = angcut.Mask(masks)
    out = tmp_path / "masked"
    summary = angcut.hats.cut(collection, out, mask, mask_bits="maskbits", cut_layers=["galaxy", "region"])

    whole = rows_in_partition_order(collection)
    source, cli_out = tmp_path / "rows.parquet", tmp_path / "cli.parquet"
    pq.write_table(pa.Table.from_pandas(whole.reset_index(drop=True), preserve_index=False), source)
    done = run_cli(angcut_cli, "stream", str(source), str(cli_out), "--masks", str(masks), "--mask-bits", "maskbits",
                   "--cut-layers", "galaxy,region", "-q")
    assert done.returncode == 0, done.stderr
    expected = pq.read_table(cli_out)
    kept = lsdb.open_catalog(out).compute()
    assert kept["id"].tolist() == expected["id"].to_pylist()
    assert kept["maskbits"].tolist() == expected["maskbits"].to_pylist()
    bits = expected["maskbits"].to_numpy()
    assert (bits & 1).any() and summary["rows_removed"] == ROWS - len(kept) > 0, "stars flagged, galaxies and regions cut"
    assert hats.read_hats(out / "objects").catalog_info.total_rows == len(kept)


def test_emptied_partitions_are_left_out(client, collection, tmp_path):
    """One contaminant at the north pole reaching 91deg removes every row at dec >= -1deg: the
    four northern base pixels (and their children) are left empty, and out of the catalogue."""
    pole = angcut.ContaminantSet([0.0], [90.0], maxsep="91deg")
    summary = angcut.hats.cut(collection / "objects", tmp_path / "south", pole)
    south = hats.read_hats(tmp_path / "south")
    pixels = south.get_healpix_pixels()
    base = {p.pixel >> (2 * p.order) for p in pixels}
    assert base and base.isdisjoint({0, 1, 2, 3})
    assert summary["partitions"] == len(pixels) < len(hats.read_hats(collection / "objects").get_healpix_pixels())
    kept = lsdb.open_catalog(tmp_path / "south").compute()
    assert len(kept) == south.catalog_info.total_rows == summary["rows_written"] > 0
    assert (kept["dec"] < -1.0).all()
    assert [d for d in (tmp_path / "south").rglob("*") if d.is_dir() and not any(d.iterdir())] == []


def test_partitions_named_as_any_parquet_file_are_cut_and_a_directory_per_partition_refused(collection, stars, tmp_path):
    """HATS allows `hats_npix_suffix = .parq` (files `Npix=5.parq`): such a catalogue is cut as the
    `.parquet` one is, into files named the same way; a directory per partition (`/`) is refused."""
    _, stars_set = stars
    plain = angcut.hats.cut(collection / "objects", tmp_path / "plain", stars_set)
    renamed = tmp_path / "renamed"
    shutil.copytree(collection / "objects", renamed)
    files = sorted((renamed / "dataset").rglob("Npix=*.parquet"))
    assert files
    for path in files:
        path.rename(path.with_suffix(".parq"))
    properties = renamed / "hats.properties"
    properties.write_text(properties.read_text() + "hats_npix_suffix=.parq\n")
    assert hats.read_hats(renamed).catalog_info.npix_suffix == ".parq"
    summary = angcut.hats.cut(renamed, tmp_path / "cut", stars_set)
    assert summary["rows_written"] == plain["rows_written"] > 0 and summary["rows_removed"] == plain["rows_removed"] > 0
    written = sorted(p.relative_to(tmp_path / "cut") for p in (tmp_path / "cut" / "dataset").rglob("Npix=*"))
    assert written and all(p.suffix == ".parq" for p in written)
    expected = sorted(p.relative_to(tmp_path / "plain").with_suffix(".parq") for p in (tmp_path / "plain" / "dataset").rglob("Npix=*"))
    assert written == expected
    assert lsdb.open_catalog(tmp_path / "cut").compute()["id"].tolist() == lsdb.open_catalog(tmp_path / "plain").compute()["id"].tolist()

    properties.write_text(properties.read_text().replace("hats_npix_suffix=.parq", "hats_npix_suffix=/"))
    with pytest.raises(ValueError, match=r"'\*/' are not supported, only single files named '\*.parquet', '\*.pq', '\*.parq'"):
        angcut.hats.cut(renamed, tmp_path / "dirs", stars_set)
    assert not (tmp_path / "dirs").exists()


def test_failures_leave_nothing_and_keep_the_input(client, collection, stars, tmp_path):
    _, stars_set = stars
    before = sorted(p.relative_to(collection) for p in collection.rglob("*"))
    with pytest.raises(ValueError, match="no column 'RA_ICRS'; columns: id, ra, dec"):
        angcut.hats.cut(collection, tmp_path / "clean", stars_set, ra="RA_ICRS")
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.relative_to(collection) for p in collection.rglob("*")) == before

    # A partition file cut short fails in its task, on a worker: an exception naming the file,
    # no output (nor its hidden build directory), and the workers still there.
    broken = tmp_path / "broken"
    shutil.copytree(collection, broken)
    victim = broken / "objects" / "dataset" / "Norder=0" / "Dir=0" / "Npix=5.parquet"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(angcut.AngcutError, match="Npix=5.parquet"):
        angcut.hats.cut(broken, tmp_path / "clean", stars_set)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]
    assert len(client.scheduler_info()["workers"]) == 2
    shutil.rmtree(broken)

    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "old.txt").write_text("an earlier result")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        angcut.hats.cut(collection, tmp_path / "clean", stars_set)
    angcut.hats.cut(collection, tmp_path / "clean", stars_set, overwrite=True)
    assert not (tmp_path / "clean" / "old.txt").exists() and (tmp_path / "clean" / "collection.properties").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean"]

    with pytest.raises(ValueError, match="cannot be the input"):
        angcut.hats.cut(collection, collection / "inside", stars_set)
    with pytest.raises(FileNotFoundError, match="no such HATS catalogue"):
        angcut.hats.cut(tmp_path / "missing", tmp_path / "x", stars_set)
    with pytest.raises(NotADirectoryError, match="angcut.stream"):
        angcut.hats.cut(collection / "objects" / "partition_info.csv", tmp_path / "x", stars_set)
    with pytest.raises(TypeError, match="ContaminantSet"):
        angcut.hats.cut(collection, tmp_path / "x", "stars.parquet")


def test_stream_with_a_contaminant_set_refuses_contaminant_options(stars, tmp_path):
    _, stars_set = stars
    source = tmp_path / "rows.parquet"
    ra, dec = uniform_sky(1_000, seed=34)
    pq.write_table(pa.table({"ra": ra, "dec": dec}), source)
    summary = angcut.stream(source, tmp_path / "out.parquet", contaminants=stars_set)
    assert summary["radius"] == {"kind": "given", "largest_arcsec": 3600}
    assert summary["rows_written"] == int((~stars_set.mask(ra, dec)).sum())
    with pytest.raises(TypeError, match="drop maxsep"):
        angcut.stream(source, tmp_path / "out2.parquet", contaminants=stars_set, maxsep="1deg")
    with pytest.raises(TypeError, match="drop kernel, radius_col"):
        angcut.stream(source, tmp_path / "out2.parquet", contaminants=stars_set, radius_col="r", kernel="grid")
    assert not (tmp_path / "out2.parquet").exists()
