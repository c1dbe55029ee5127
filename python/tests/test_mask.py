"""angcut.Mask: a mask file's layers read once, against the command line's `--masks`, on arrays,
given to `angcut.stream`, pickled, and cut per partition by `angcut.dask.cut`."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import angcut
from conftest import REPO, run_cli

MASKS = REPO / "fixtures" / "masks.toml"
OBJECTS = REPO / "fixtures" / "objects.parquet"


@pytest.fixture(scope="module")
def mask() -> angcut.Mask:
    return angcut.Mask(MASKS)


@pytest.fixture(scope="module")
def objects() -> pa.Table:
    return pq.read_table(OBJECTS)


@pytest.fixture(scope="module")
def cli_bits(tmp_path_factory, angcut_cli) -> np.ndarray:
    """The command line's `--mask-bits` column for every object (no layer cuts)."""
    out = tmp_path_factory.mktemp("cli") / "bits.parquet"
    done = run_cli(angcut_cli, "stream", str(OBJECTS), str(out), "--masks", str(MASKS), "--mask-bits", "maskbits", "-q")
    assert done.returncode == 0, done.stderr
    return pq.read_table(out)["maskbits"].to_numpy()


def positions(objects: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    return objects["ra"].to_numpy(), objects["dec"].to_numpy()


def test_bits_are_the_command_lines(mask, objects, cli_bits):
    bits = mask.bits(*positions(objects))
    assert bits.dtype == np.uint8 and mask.bits_dtype == "uint8"
    np.testing.assert_array_equal(bits, cli_bits)
    assert all((bits & (1 << bit)).any() for bit in range(3)), "every layer holds some object"
    assert mask.layers == ["star", "galaxy", "region"]
    assert len(mask) == 13_940 + 12 + 5 and "layers star (13940), galaxy (12), region (5)" in repr(mask)


def test_select_is_the_cut_rule_of_cut_layers_and_mask_bits(mask, objects, cli_bits):
    ra, dec = positions(objects)
    keep, state, bits = mask.select(ra, dec)
    np.testing.assert_array_equal(keep, cli_bits == 0)  # every layer cuts
    np.testing.assert_array_equal(state, (cli_bits != 0).astype(np.int8))
    keep, _, _ = mask.select(ra, dec, cut_layers=["galaxy"], mask_bits=True)
    np.testing.assert_array_equal(keep, cli_bits & 2 == 0)
    keep, state, _ = mask.select(ra, dec, mask_bits=True)
    assert keep.all() and not state.any(), "with mask bits and no cut_layers no layer cuts"
    keep, _, _ = mask.select(ra, dec, cut_layers=["star", "region"], invert=True)
    np.testing.assert_array_equal(keep, cli_bits & 5 != 0)

    bad_ra = ra.copy()
    bad_ra[1] = np.nan
    keep, state, bits = mask.select(bad_ra, dec, on_invalid="keep")
    assert (keep[1], state[1], bits[1]) == (True, -1, 0)
    with pytest.raises(ValueError, match="object 1 has no valid position: ra"):
        mask.select(bad_ra, dec)
    with pytest.raises(ValueError, match=r"'stars', which is not a layer of the mask \(its layers: star, galaxy, region\)"):
        mask.select(ra, dec, cut_layers=["stars"])
    with pytest.raises(ValueError, match="flag_column= works on the layers that cut"):
        mask.select(ra, dec, mask_bits=True, flag_column="near")


def test_mask_file_mistakes_and_missing_files_are_errors(tmp_path):
    bad = tmp_path / "masks.toml"
    bad.write_text(MASKS.read_text().replace('name = "galaxy"', 'name = "star"'))
    with pytest.raises(ValueError, match="masks.toml: two layers are named 'star'"):
        angcut.Mask(bad)
    # The layers' files are relative to the mask file's folder, where they are not this time.
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(MASKS.read_text())
    with pytest.raises(angcut.AngcutError, match="hip2_bright.parquet"):
        angcut.Mask(elsewhere)
    with pytest.raises(ValueError, match="epoch=NaN is not an epoch"):
        angcut.Mask(MASKS, epoch=float("nan"))


def test_messages_name_keywords_never_flags(tmp_path):
    """The core spells options for Python itself: a mask file without the epoch its moving
    stars need asks for epoch=, a region file given as contaminants says where it belongs, and
    neither names a command-line flag."""
    no_epoch = tmp_path / "no_epoch.toml"
    text = MASKS.read_text().replace("epoch = 2016.0", "").replace('file = "', f'file = "{REPO}/fixtures/')
    no_epoch.write_text(text)
    with pytest.raises(ValueError, match=r"the top of the file, or give epoch=$") as raised:
        angcut.Mask(no_epoch)
    assert "--" not in str(raised.value)
    with pytest.raises(ValueError, match=r"or give epoch=$"):
        angcut.stream(OBJECTS, tmp_path / "never.parquet", masks=no_epoch)
    assert angcut.Mask(no_epoch, epoch=2016.0).layers == ["star", "galaxy", "region"]
    regions = REPO / "fixtures" / "bad_areas.reg"
    with pytest.raises(ValueError, match=r"bad_areas.reg is a DS9 region file: name it in a \[\[layer\]\]") as raised:
        angcut.stream(OBJECTS, tmp_path / "never.parquet", contaminants=regions, maxsep="1deg")
    assert "--" not in str(raised.value)
    assert not (tmp_path / "never.parquet").exists()


def test_a_pickled_mask_answers_exactly_as_the_original(mask, objects):
    dask = pytest.importorskip("dask")
    copy = pickle.loads(pickle.dumps(mask))
    assert (copy.layers, copy.kernel, len(copy)) == (mask.layers, mask.kernel, len(mask))
    np.testing.assert_array_equal(copy.bits(*positions(objects)), mask.bits(*positions(objects)))
    assert dask.base.tokenize(copy) == dask.base.tokenize(mask)
    # Stars moved to another epoch are another mask.
    assert dask.base.tokenize(angcut.Mask(MASKS, epoch=1991.25)) != dask.base.tokenize(mask)
    with pytest.raises(ValueError, match="not a pickled angcut.Mask"):
        angcut._angcut._rebuild_mask(b"\x05garbage", "auto")


def test_stream_takes_a_mask_as_it_takes_its_file(mask, tmp_path):
    options = {"mask_bits": "bits", "cut_layers": ["star", "region"]}
    from_file = angcut.stream(OBJECTS, tmp_path / "file.parquet", masks=MASKS, **options)
    given = angcut.stream(OBJECTS, tmp_path / "given.parquet", masks=mask, **options)
    assert pq.read_table(tmp_path / "given.parquet").equals(pq.read_table(tmp_path / "file.parquet"))
    assert given["layers"] == from_file["layers"] and given["rows_removed"] == from_file["rows_removed"] > 0
    assert (from_file["mask_file"], given["mask_file"]) == (str(MASKS), None)
    with pytest.raises(TypeError, match="a mask given already read has its layers, epoch and kernel: drop epoch"):
        angcut.stream(OBJECTS, tmp_path / "never.parquet", masks=mask, epoch=2000.0)
    assert not (tmp_path / "never.parquet").exists()


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_dask_cuts_with_a_mask_as_the_command_line(mask, objects, cli_bits, scheduler):
    dd = pytest.importorskip("dask.dataframe")
    import angcut.dask

    frame = objects.to_pandas()
    result = angcut.dask.cut(
        dd.from_pandas(frame, npartitions=4), mask, mask_bits="maskbits", cut_layers="galaxy"
    ).compute(scheduler=scheduler)
    kept = cli_bits & 2 == 0
    assert result["id"].tolist() == frame["id"][kept].tolist()
    assert result["maskbits"].dtype == "uint8[pyarrow]"
    assert result["maskbits"].tolist() == cli_bits[kept].tolist()
    flagged = angcut.dask.cut(dd.from_pandas(frame, npartitions=3), mask, flag_column="near").compute(scheduler=scheduler)
    assert flagged["near"].tolist() == (cli_bits != 0).tolist()
    with pytest.raises(ValueError, match="mask_bits and cut_layers describe the layers of an angcut.Mask"):
        angcut.dask.cut(dd.from_pandas(frame, npartitions=2), angcut.ContaminantSet([0.0], [0.0], maxsep=1.0), mask_bits="b")
    with pytest.raises(ValueError, match="mask_bits and cut_layers describe the layers of an angcut.Mask"):
        angcut.dask.cut_partition(frame, angcut.ContaminantSet([0.0], [0.0], maxsep=1.0), mask_bits="b")
    with pytest.raises(ValueError, match="already has a column 'ra'"):
        angcut.dask.cut(dd.from_pandas(frame, npartitions=2), mask, mask_bits="ra")


def test_pixel_layers_answer_as_healsparse_and_mocpy_did_and_survive_pickling(tmp_path, angcut_cli):
    """A mask of a HealSparse map (read a block at a time) and a MOC footprint's outside, against
    the lookups fixtures/make_pixels.py saved from healsparse and mocpy for the same points."""
    pixels = REPO / "fixtures" / "pixels"
    points = np.genfromtxt(pixels / "points.csv", delimiter=",", names=True)
    toml = tmp_path / "pixels.toml"
    toml.write_text(
        f'[[layer]]\nname = "shallow"\nfile = "{pixels / "depth.hsp"}"\nbelow = 24.5\n'
        f'[[layer]]\nname = "outside"\nfile = "{pixels / "discs.moc.fits"}"\noutside = true\n'
    )
    mask = angcut.Mask(toml)
    expected = ((points["depth"] > -1e30) & (points["depth"] < 24.5)).astype(np.uint8) | (
        (points["moc"] == 0).astype(np.uint8) << 1
    )
    assert 0 < np.count_nonzero(expected & 1) < len(expected) and 0 < np.count_nonzero(expected & 2) < len(expected)
    bits = mask.bits(points["ra"], points["dec"])
    np.testing.assert_array_equal(bits, expected)
    assert "shallow (pixels)" in repr(mask) and len(mask) == 0
    copy = pickle.loads(pickle.dumps(mask))
    np.testing.assert_array_equal(copy.bits(points["ra"], points["dec"]), expected)


def test_image_regions_answer_as_astropy_regions_did_and_survive_pickling():
    """fixtures/image_masks.toml: DS9 shapes in image (and physical) pixels of four WCSs, each
    named by its layer's `wcs`; fixtures/image_points.csv holds astropy regions' answers from
    `to_sky(wcs)` (fixtures/make_wcs.py). The physical layer (bit 4) repeats the TAN one (bit 0)."""
    import csv

    mask = angcut.Mask(REPO / "fixtures" / "image_masks.toml")
    assert mask.layers == ["tan", "sin", "zea", "ait", "physical"]
    with open(REPO / "fixtures" / "image_points.csv") as f:
        rows = list(csv.DictReader(f))
    ra = np.array([float(r["ra"]) for r in rows])
    dec = np.array([float(r["dec"]) for r in rows])
    bit = np.array([["tan", "sin", "zea", "ait"].index(r["file"]) for r in rows])
    inside = np.array([r["inside"] == "1" for r in rows])
    for m in (mask, pickle.loads(pickle.dumps(mask))):
        bits = m.bits(ra, dec).astype(np.int64)
        assert np.array_equal((bits >> bit) & 1 == 1, inside)
        tan = bit == 0
        assert np.array_equal((bits[tan] >> 4) & 1 == 1, inside[tan])
    assert inside.sum() > 500 and (~inside).sum() > 2000
