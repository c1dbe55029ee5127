"""angcut's FITS output as astropy reads it: the same names, types, units, nulls and values as the
FITS input astropy wrote (fixtures/fits_kinds.fits), and Parquet catalogues written as FITS."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.table import Table

import angcut
from conftest import REPO

KINDS = REPO / "fixtures" / "fits_kinds.fits"
STARS = REPO / "fixtures" / "hip2_bright4.fits"


def test_every_column_kind_comes_back_as_astropy_wrote_it(tmp_path):
    out = tmp_path / "kinds.fits"
    summary = angcut.stream(KINDS, out, contaminants=STARS, maxsep="1arcsec", flag_column="near", nearest_columns=True)
    assert summary["rows_written"] == 5
    before, after = fits.getdata(KINDS, 1), fits.getdata(out, 1)
    header = fits.getheader(out, 1)
    assert after.names == before.names + ["near", "nearest_sep_arcsec", "nearest_row"]
    for name in before.names:
        if name == "nullable":
            continue  # its nulls are stored as another TNULL value: compared masked below
        a, b = before[name], after[name]
        assert a.dtype.kind == b.dtype.kind and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    # Unsigned integers through TZERO, as numpy's unsigned types.
    for name, dtype in [("u8", np.uint8), ("u16", np.uint16), ("u32", np.uint32), ("u64", np.uint64)]:
        assert after[name].dtype == dtype, name
    assert after["u64"][4] == 2**64 - 1
    # Units, TDIM, the header's own keywords.
    table = Table.read(out)
    assert (str(table["ra"].unit), str(table["f32"].unit), str(table["f64"].unit)) == ("deg", "mag", "Jy")
    assert table["img"].shape == (5, 2, 3)
    assert header["SURVEY"] == "TEST" and header["EPOCH"] == 2016.0 and header["EXTNAME"] == "KINDS"
    # Nulls: TNULL for integers (only where there are nulls), NaN for floats.
    assert header["TNULL16"] == -(2**31)
    assert "TNULL2" not in header
    assert table["nullable"].mask.tolist() == [False, True, False, True, False]
    assert table["nullable"].filled(0).tolist() == [5, 0, 7, 0, 9]
    assert np.isnan(after["nearest_sep_arcsec"]).all()
    assert after["near"].tolist() == [False] * 5


def test_a_parquet_catalogue_written_as_fits_is_the_cut_astropy_sees(tmp_path):
    objects, hip = REPO / "fixtures" / "objects.parquet", REPO / "fixtures" / "hip2_bright.parquet"
    out_fits, out_parquet = tmp_path / "kept.fits", tmp_path / "kept.parquet"
    angcut.stream(objects, out_parquet, contaminants=hip, maxsep="30arcmin")
    angcut.stream(objects, out_fits, contaminants=hip, maxsep="30arcmin", batch_size=4096)
    expected = pq.read_table(out_parquet)
    got = Table.read(out_fits)
    assert len(got) == expected.num_rows == 20_000 - 4_586
    for name in ["id", "ra", "dec"]:
        np.testing.assert_array_equal(np.asarray(got[name]), expected[name].to_numpy(), err_msg=name)
    with pytest.raises(ValueError, match="does not apply to"):
        angcut.stream(objects, tmp_path / "x.fits", contaminants=hip, maxsep="30arcmin", compression="zstd")


def test_variable_length_arrays_written_back_are_the_arrays_astropy_wrote(tmp_path):
    out = tmp_path / "variable.fits"
    summary = angcut.stream(KINDS, out, contaminants=STARS, maxsep="1arcsec", hdu="variable")
    assert summary["rows_written"] == 3
    before, after = fits.getdata(KINDS, "VARIABLE"), fits.getdata(out, 1)
    header = fits.getheader(out, 1)
    # 64-bit descriptors, each TFORM with its longest array; the PA strings as fixed-width text.
    assert [header[f"TFORM{n}"] for n in (3, 4, 5)] == ["1QJ(3)", "1QD(2)", "5A"]
    for name in ["counts", "spectrum"]:
        assert len(after[name]) == len(before[name]) == 3
        for a, b in zip(before[name], after[name]):
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)
    # astropy reads a PA column as arrays of characters, an A column as blank-padded strings.
    assert [label.rstrip() for label in after["label"]] == ["".join(chars) for chars in before["label"]] == [
        "ab",
        "",
        "hello",
    ]
