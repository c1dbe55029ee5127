"""The binding's API on small arrays, against the plain scalar reference in conftest.py."""

from __future__ import annotations

import json
import pickle
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import angcut
from conftest import REPO, reference_near, separation_deg, uniform_sky


def test_mask_matches_the_scalar_reference_over_the_whole_sky():
    ra, dec = uniform_sky(3_000, seed=1)
    cra, cdec = uniform_sky(40, seed=2)
    stars = angcut.ContaminantSet(cra, cdec, maxsep="10deg")
    expected, margin = reference_near(ra, dec, cra, cdec, [10.0] * len(cra))
    decided = margin > 1e-9  # the reference's own rounding cannot decide closer calls
    got = stars.mask(ra, dec)
    assert got.dtype == np.bool_ and got.shape == (3_000,)
    assert 100 < expected.sum() < 2_900  # the test exercises both answers
    np.testing.assert_array_equal(got[decided], expected[decided])


@pytest.mark.parametrize("kernel", ["naive", "kdtree", "grid", "auto"])
def test_every_kernel_agrees_at_the_poles_and_across_ra_zero(kernel):
    cra = np.array([0.0, 359.99, 10.0, 200.0])
    cdec = np.array([89.99, 0.0, -89.95, -90.0])
    stars = angcut.ContaminantSet(cra, cdec, maxsep="1arcmin", kernel=kernel)
    ra = np.array([180.0, 0.005, 359.0, 10.0, 0.0, 123.0])
    dec = np.array([89.9999, 0.0, 0.0, -89.95 + 0.5 / 60, -89.9999, -89.98])
    expected, _ = reference_near(ra, dec, cra, cdec, [1 / 60] * 4)
    assert expected.tolist() == [True, True, False, True, True, False]
    np.testing.assert_array_equal(stars.mask(ra, dec), expected)
    assert stars.kernel == ("naive" if kernel == "auto" else kernel)


def test_any_numpy_layout_is_accepted_misaligned_or_strided():
    """Dask rebuilds arrays from network frames at any byte offset; pandas hands out strided views."""
    ra, dec = uniform_sky(1_000, seed=3)
    stars = angcut.ContaminantSet(*uniform_sky(30, seed=4), maxsep="10deg")
    expected = stars.mask(ra, dec)
    assert 50 < expected.sum() < 950

    def misaligned(values):
        raw = np.zeros(values.nbytes + 1, dtype=np.uint8)
        array = np.frombuffer(raw.data, dtype=np.float64, offset=1, count=len(values))
        array.setflags(write=True)
        array[:] = values
        assert not array.flags.aligned
        return array

    np.testing.assert_array_equal(stars.mask(misaligned(ra), misaligned(dec)), expected)
    np.testing.assert_array_equal(stars.classify(misaligned(ra), misaligned(dec)), expected.astype(np.int8))
    np.testing.assert_array_equal(stars.nearest(misaligned(ra), misaligned(dec))[1], stars.nearest(ra, dec)[1])
    both = np.stack([ra, dec], axis=1)  # columns of a row-major block: stride 16 bytes
    np.testing.assert_array_equal(stars.mask(both[:, 0], both[:, 1]), expected)
    again = angcut.ContaminantSet(misaligned(np.array([10.0])), misaligned(np.array([0.0])), maxsep="1deg")
    assert again.mask([10.5, 11.5], [0.0, 0.0]).tolist() == [True, False]


def test_per_contaminant_radii_nan_takes_maxsep_and_units_apply():
    stars = angcut.ContaminantSet([10.0, 20.0], [0.0, 0.0], radius=[30.0, np.nan], radius_unit="arcmin", maxsep="1deg")
    assert stars.largest_radius_deg == pytest.approx(1.0)
    # 0.4deg from the first (radius 0.5deg), 0.9deg from the second (radius 1deg from maxsep).
    assert stars.mask([10.4, 10.6, 20.9], [0.0, 0.0, 0.0]).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="row 1, column 'radius'.*NaN"):
        angcut.ContaminantSet([10.0, 20.0], [0.0, 0.0], radius=[30.0, np.nan])


def test_nearest_is_the_closest_covering_contaminant():
    cra, cdec = np.array([10.0, 10.3, 50.0]), np.array([0.0, 0.0, 0.0])
    stars = angcut.ContaminantSet(cra, cdec, radius=[1.0, 0.1, 1.0], radius_unit="deg")
    sep, which = stars.nearest([10.18, 10.35, 30.0, 50.5], [0.0, 0.0, 0.0, 0.0])
    # 10.18: contaminant 1 is closer (0.12deg) but its radius, 0.1deg, does not reach.
    assert which.tolist() == [0, 1, -1, 2]
    assert sep[0] == pytest.approx(separation_deg(10.18, 0, 10.0, 0), abs=1e-12)
    assert sep[1] == pytest.approx(0.05, abs=1e-12)
    assert np.isnan(sep[2])


def test_radii_are_in_arcsec_unless_a_unit_is_given():
    # One default everywhere, as the command line's --radius-unit and from_arrow's.
    star = ([10.0], [0.0])
    objects = ([10.0, 10.0], [30.0 / 3600, 40.0 / 3600])  # 30 and 40 arcsec north
    arcsec = angcut.ContaminantSet(*star, radius=[35.0])
    assert arcsec.mask(*objects).tolist() == [True, False]
    assert arcsec.largest_radius_deg == pytest.approx(35.0 / 3600, rel=1e-12)
    table = angcut.ContaminantSet.from_arrow(pa.table({"ra": star[0], "dec": star[1], "r": [35.0]}), radius_col="r")
    assert table.largest_radius_deg == arcsec.largest_radius_deg
    degrees = angcut.ContaminantSet(*star, radius=[35.0 / 3600], radius_unit="deg")
    assert degrees.mask(*objects).tolist() == [True, False]


def test_invalid_objects_are_errors_or_follow_the_policy():
    stars = angcut.ContaminantSet([0.0], [0.0], maxsep=1.0)
    ra, dec = np.array([0.5, 0.5, np.inf]), np.array([0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match=r"object 1 has no valid position: dec: the value is NaN"):
        stars.mask(ra, dec)
    assert stars.classify(ra, dec).tolist() == [1, -1, -1]
    assert stars.mask(ra, dec, on_invalid="keep").tolist() == [True, False, False]
    with pytest.raises(ValueError, match="same length"):
        stars.mask([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="unknown policy"):
        stars.mask(ra, dec, on_invalid="maybe")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ra=[1.0], dec=[95.0], maxsep=1), "row 0, column 'dec'"),
        (dict(ra=[1.0], dec=[5.0], maxsep="-3arcsec"), "maxsep"),
        (dict(ra=[1.0], dec=[5.0], maxsep="181deg"), "maxsep"),
        (dict(ra=[1.0], dec=[5.0]), "give maxsep"),
        (dict(ra=[1.0, 2.0], dec=[5.0], maxsep=1), "same length"),
        (dict(ra=[1.0], dec=[5.0], maxsep=1, kernel="fast"), "unknown kernel"),
        (dict(ra=[1.0], dec=[5.0], radius=[2.0], radius_unit="furlong"), "unit"),
    ],
)
def test_bad_contaminants_raise_value_errors_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        angcut.ContaminantSet(**kwargs)


def test_pickling_round_trip_rebuilds_the_same_index():
    ra, dec = uniform_sky(2_000, seed=3)
    cra, cdec = uniform_sky(5_000, seed=4)
    radii = np.linspace(0.05, 2.0, 5_000)
    for stars in (
        angcut.ContaminantSet(cra, cdec, maxsep="0.5deg"),
        angcut.ContaminantSet(cra, cdec, radius=radii, radius_unit="deg", kernel="kdtree"),
    ):
        copy = pickle.loads(pickle.dumps(stars))
        assert repr(copy) == repr(stars) and len(copy) == len(stars) and copy.kernel == stars.kernel
        np.testing.assert_array_equal(copy.mask(ra, dec), stars.mask(ra, dec))
        np.testing.assert_array_equal(copy.nearest(ra, dec)[1], stars.nearest(ra, dec)[1])
        # Dask names tasks by this token: equal sets, equal tokens; a different radius, another.
        assert copy.__dask_tokenize__() == stars.__dask_tokenize__()
    assert angcut.ContaminantSet(cra, cdec, maxsep="0.5deg").__dask_tokenize__() != angcut.ContaminantSet(cra, cdec, maxsep="0.6deg").__dask_tokenize__()
    with pytest.raises(ValueError, match="not a pickled"):
        angcut._angcut._rebuild(b"\x00" * 10, 0.1, "auto")


def test_errors_pickle_as_themselves():
    """A worker's error reaches the Dask client pickled: it must come back as angcut.AngcutError
    (it was `_angcut.AngcutError`, which no pickle could import)."""
    with pytest.raises(angcut.AngcutError) as raised:
        angcut.stream(REPO / "Cargo.toml", "never.parquet", contaminants=angcut.ContaminantSet([1.0], [2.0], maxsep=1.0))
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is angcut.AngcutError and str(copy) == str(raised.value) and "Cargo.toml" in str(copy)


def objects_table() -> pa.Table:
    ra, dec = uniform_sky(5_000, seed=5)
    table = pa.table({"id": np.arange(5_000), "RA": ra, "Dec": dec, "name": [f"g{i}" for i in range(5_000)]})
    return table.replace_schema_metadata({"survey": "test"})


def test_filter_keeps_the_far_rows_in_order_with_every_column_and_the_metadata():
    table = objects_table()
    stars = angcut.ContaminantSet(*uniform_sky(300, seed=6), maxsep="3deg")
    near = stars.mask(table["RA"].to_numpy(), table["Dec"].to_numpy())
    assert 500 < near.sum() < 4_500
    kept = stars.filter(table)
    assert kept.schema == table.schema and kept.schema.metadata == {b"survey": b"test"}
    assert kept.equals(table.filter(pa.array(~near)))
    assert stars.filter(table, invert=True).equals(table.filter(pa.array(near)))
    flagged = stars.filter(table, flag_column="near")
    assert flagged.num_rows == 5_000 and flagged["near"].to_numpy().tolist() == near.tolist()
    nearest = stars.filter(table, nearest_columns=True, invert=True)
    assert nearest.column_names[-2:] == ["nearest_sep_arcsec", "nearest_row"]
    sep, which = stars.nearest(table["RA"].to_numpy(), table["Dec"].to_numpy())
    assert nearest["nearest_row"].to_numpy().tolist() == which[near].tolist()
    # Any Arrow source: a record batch, a stream, a pandas frame.
    assert stars.filter(table.to_batches()[0]).num_rows == int((~near[: table.to_batches()[0].num_rows]).sum())
    assert stars.filter(pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=700))).equals(kept)
    assert stars.filter(table.to_pandas()).to_pydict() == kept.to_pydict()


def test_filter_errors_name_the_column_and_row():
    table = objects_table()
    stars = angcut.ContaminantSet([0.0], [0.0], maxsep=1.0)
    with pytest.raises(ValueError, match="'nope'"):
        stars.filter(table, ra="nope", dec="Dec")
    decs = table["Dec"].to_pylist()
    broken = table.set_column(2, "Dec", pa.array(decs[:-1] + [None], pa.float64()))
    with pytest.raises(ValueError, match="row 4999.*'Dec'"):
        stars.filter(broken)
    assert stars.filter(broken, on_invalid="drop").equals(stars.filter(table.slice(0, 4_999)))
    assert stars.filter(broken, on_invalid="keep").num_rows == stars.filter(table.slice(0, 4_999)).num_rows + 1
    with pytest.raises(ValueError, match="already has a column 'id'"):
        stars.filter(table, flag_column="id")
    with pytest.raises(TypeError, match="expected an Arrow table"):
        stars.filter([1, 2, 3])


def test_from_arrow_reads_columns_by_the_command_lines_rules():
    hip = pq.read_table(REPO / "fixtures" / "hip2_bright.parquet")
    stars = angcut.ContaminantSet.from_arrow(hip, maxsep="30arcmin")
    assert len(stars) == hip.num_rows == 13_940
    same = angcut.ContaminantSet(hip["ra"].to_numpy(), hip["dec"].to_numpy(), maxsep=0.5)
    ra, dec = uniform_sky(20_000, seed=7)
    np.testing.assert_array_equal(stars.mask(ra, dec), same.mask(ra, dec))
    radii = pa.table({"RAJ2000": [10.0, 20.0], "DEJ2000": [0.0, 0.0], "r": [600.0, None]})
    per = angcut.ContaminantSet.from_arrow(radii, radius_col="r", maxsep="5arcmin")
    assert per.mask([10.15, 20.1], [0.0, 0.0]).tolist() == [True, False]
    # Messages name the keyword arguments, not the command line's flags.
    with pytest.raises(ValueError, match=r"'r'.*the value is null; give maxsep= to use it"):
        angcut.ContaminantSet.from_arrow(radii, radius_col="r")
    with pytest.raises(ValueError, match=r"<arrow table>: no column 'x' \(given by ra=\); available columns: RAJ2000, DEJ2000, r"):
        angcut.ContaminantSet.from_arrow(radii, ra="x", dec="DEJ2000", maxsep=1)
    with pytest.raises(ValueError, match=r"<contaminant arrays>.*'radius'.*the value is NaN; give maxsep= to use it"):
        angcut.ContaminantSet([1.0], [2.0], radius=[float("nan")])


def test_threads_share_one_set():
    """Four threads at once, on a set not yet used: its index is built on first use, once."""
    contaminants = uniform_sky(50_000, seed=8)
    stars = angcut.ContaminantSet(*contaminants, maxsep="5arcmin")
    ra, dec = uniform_sky(200_000, seed=9)
    expected = angcut.ContaminantSet(*contaminants, maxsep="5arcmin").mask(ra, dec)
    assert 0.01 < expected.mean() < 0.99
    results = [None] * 4

    def work(i):
        results[i] = stars.mask(ra, dec)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        np.testing.assert_array_equal(got, expected)


def test_stream_is_the_command_line_in_process(tmp_path, angcut_cli):
    objects, hip = REPO / "fixtures" / "objects.parquet", REPO / "fixtures" / "hip2_bright.parquet"
    out = tmp_path / "clean.parquet"
    summary = angcut.stream(objects, out, contaminants=hip, maxsep="1deg", kernel="kdtree", threads=2)
    assert summary["rows_read"] == 20_000 and summary["kernel"] == "kdtree"
    assert summary["rows_written"] == pq.read_metadata(out).num_rows == 20_000 - summary["rows_removed"]
    cli_out = tmp_path / "cli.parquet"
    from conftest import run_cli

    done = run_cli(angcut_cli, "stream", str(objects), str(cli_out), "-c", str(hip), "--maxsep", "1deg", "-q")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).equals(pq.read_table(cli_out))
    flagged = angcut.stream(objects, tmp_path / "f.parquet", contaminants=hip, maxsep=1.0, flag_column="near", stats_json=tmp_path / "s.json")
    assert flagged["rows_written"] == 20_000
    table = pq.read_table(tmp_path / "f.parquet")
    stars = angcut.ContaminantSet.from_arrow(pq.read_table(hip), maxsep=1.0)
    near = stars.mask(table["ra"].to_numpy(), table["dec"].to_numpy())
    assert table["near"].to_numpy().tolist() == near.tolist() and near.sum() == summary["rows_removed"]
    written = json.loads((tmp_path / "s.json").read_text())
    assert {k: v for k, v in written.items() if k not in ("seconds", "files")} == {
        k: v for k, v in flagged.items() if k not in ("seconds", "files")
    }


def test_stream_with_a_mask_file_is_the_command_line_in_process(tmp_path, angcut_cli):
    objects, masks = REPO / "fixtures" / "objects.parquet", REPO / "fixtures" / "masks.toml"
    out, cli_out = tmp_path / "bits.parquet", tmp_path / "cli.parquet"
    summary = angcut.stream(objects, out, masks=masks, mask_bits="maskbits", cut_layers="galaxy", epoch=2016.0)
    from conftest import run_cli

    done = run_cli(angcut_cli, "stream", str(objects), str(cli_out), "--masks", str(masks), "--mask-bits", "maskbits",
                   "--cut-layers", "galaxy", "-q")
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.equals(pq.read_table(cli_out))
    assert table.schema.field("maskbits").type == pa.uint8()
    bits = table["maskbits"].to_numpy()
    layers = {layer["name"]: layer for layer in summary["layers"]}
    assert layers["star"]["rows_inside"] == int((bits & 1 != 0).sum()) > 0
    # The galaxy layer cut: its rows are gone, and they are the ones the summary counts.
    assert layers["galaxy"]["rows_inside"] == summary["rows_removed"] == 20_000 - len(bits) > 0
    assert not (bits & 2).any()
    assert (layers["star"]["cuts"], layers["galaxy"]["cuts"], layers["galaxy"]["skipped"]) == (False, True, 1)
    assert summary["mask_file"] == str(masks)
    with pytest.raises(ValueError, match="layer 'galaxy': unknown key `colour`"):
        bad = tmp_path / "bad.toml"
        bad.write_text(masks.read_text().replace('pa = "pa_deg"', 'colour = "red"'))
        angcut.stream(objects, tmp_path / "never.parquet", masks=bad)
    assert not (tmp_path / "never.parquet").exists()


def test_stream_errors_are_exceptions_and_leave_no_output(tmp_path):
    hip = REPO / "fixtures" / "hip2_bright.parquet"
    out = tmp_path / "out.parquet"
    with pytest.raises(angcut.AngcutError, match="missing.parquet"):
        angcut.stream(tmp_path / "missing.parquet", out, contaminants=hip, maxsep="1deg")
    with pytest.raises(ValueError, match=r"objects.parquet: no column 'nope' \(given by ra=\)"):
        angcut.stream(REPO / "fixtures" / "objects.parquet", out, contaminants=hip, maxsep="1deg", ra="nope")
    with pytest.raises(TypeError, match="bogus"):
        angcut.stream(REPO / "fixtures" / "objects.parquet", out, contaminants=hip, maxsep="1deg", bogus=1)
    with pytest.raises(ValueError, match="maxsep"):
        angcut.stream(REPO / "fixtures" / "objects.parquet", out, contaminants=hip, maxsep="-1deg")
    # Options are named as the keywords they are, never as the command line's flags.
    with pytest.raises(ValueError, match=r"^rejected= cannot be used with flag_column=") as raised:
        angcut.stream(REPO / "fixtures" / "objects.parquet", out, contaminants=hip, maxsep="1deg",
                      rejected=tmp_path / "r.parquet", flag_column="near")
    assert "--" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_stream_warns_of_a_bare_radius_in_degrees_and_of_a_cut_of_everything(tmp_path):
    objects, hip = REPO / "fixtures" / "objects.parquet", REPO / "fixtures" / "hip2_bright.parquet"
    with pytest.warns(UserWarning) as caught:
        summary = angcut.stream(objects, tmp_path / "all.parquet", contaminants=hip, maxsep=30)
    messages = [str(w.message) for w in caught]
    assert summary["rows_written"] == 0
    assert messages == [
        "maxsep 30 is read as 30 deg; write 30arcsec for arcseconds (a unit also silences this warning: 30deg)",
        "every one of the 20000 rows was near a contaminant and removed (the largest radius is 30deg): is the radius what you meant?",
    ]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the call
        angcut.stream(objects, tmp_path / "some.parquet", contaminants=hip, maxsep="30arcsec")
        angcut.ContaminantSet([1.0], [2.0], maxsep=0.5)


def test_module_docstring_example():
    import doctest

    failures, tried = doctest.testmod(angcut, verbose=False)
    assert tried >= 2 and failures == 0
