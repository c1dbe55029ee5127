"""angcut reads VOTables as astropy does: every value of every column equal (nulls as astropy's
masks, complex numbers as their two parts, arrays flattened), in the three serialisations, on
the committed fixtures (fixtures/make_votables.py) and on random tables astropy writes here, read
in batches small enough to split the rows everywhere."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import from_table, parse_single_table, writeto
from astropy.table import MaskedColumn, Table

from conftest import REPO, run_cli

SERIALISATIONS = ["tabledata", "binary", "binary2"]


def random_table(seed: int, rows: int) -> Table:
    rng = np.random.default_rng(seed)
    t = Table()
    t["ra"] = rng.uniform(0, 360, rows)
    t["dec"] = np.degrees(np.arcsin(rng.uniform(-1, 1, rows)))
    t["source_id"] = rng.integers(-(2**62), 2**62, rows, dtype=np.int64)
    mag = rng.uniform(10, 20, rows).astype(np.float32)
    mag[rng.random(rows) < 0.1] = np.nan
    t["mag"] = mag
    t["flag"] = rng.integers(0, 2, rows).astype(bool)
    t["name"] = np.array([f"s{i} <&>" if rng.random() > 0.2 else "" for i in range(rows)], dtype="S")
    t["label"] = [f"λ{i}" for i in range(rows)]
    t["nobs"] = MaskedColumn(rng.integers(-100, 100, rows).astype(np.int16), mask=rng.random(rows) < 0.2)
    t["qual"] = rng.integers(0, 255, rows).astype(np.uint8)
    t["vec"] = rng.normal(size=(rows, 2))
    t["cplx"] = (rng.normal(size=rows) + 1j * rng.normal(size=rows)).astype(np.complex64)
    return t


def write_votable(table: Table, path, serialisation: str) -> None:
    votable = from_table(table)
    for field in votable.get_first_table().fields:
        if field.name == "label":
            field.datatype = "unicodeChar"
        if field.name == "nobs":
            field.values.null = -32768
    votable.get_first_table().format = serialisation
    writeto(votable, str(path))


def as_python(value):
    """An astropy cell as pyarrow's to_pylist gives angcut's: complex as [re, im], arrays flat."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode()
    if np.iscomplexobj(value):
        flat = np.ravel(value)
        return [float(x) for pair in zip(flat.real, flat.imag) for x in pair]
    if np.ndim(value) > 0:
        return [x.item() for x in np.ravel(value)]
    return value.item() if hasattr(value, "item") else value


def assert_equal_to_astropy(votable_path, parquet_path):
    reference = parse_single_table(str(votable_path)).to_table()
    got = pq.read_table(parquet_path)
    assert got.num_rows == len(reference)
    assert got.column_names == reference.colnames
    for name in reference.colnames:
        column = reference[name]
        mask = np.ma.getmaskarray(column)
        values = got[name].to_pylist()
        kind = got.schema.field(name).type
        single = pa.types.is_float32(kind) or (pa.types.is_list(kind) and pa.types.is_float32(kind.value_type))
        for row in range(len(column)):
            masked = bool(mask[row].all()) if mask.ndim > 1 else bool(mask[row])
            want = None if masked else as_python(np.ma.getdata(column)[row])
            have = values[row]
            if single and want is not None:
                # astropy parses a TABLEDATA float[*] as float64: compare as the float32 stored.
                have, want = np.float32(have).tolist(), np.float32(want).tolist()
            assert have == want, (name, row, have, want)


@pytest.mark.parametrize("serialisation", SERIALISATIONS)
def test_the_fixtures_read_as_astropy_reads_them(tmp_path, angcut_cli, serialisation):
    source = REPO / "fixtures" / f"votable_{serialisation}.vot"
    far = tmp_path / "far.csv"
    far.write_text("ra,dec\n0.5,0.5\n")
    out = tmp_path / "out.parquet"
    done = run_cli(angcut_cli, "stream", str(source), str(out), "-c", str(far), "--maxsep", "1arcsec", "-q")
    assert done.returncode == 0, done.stderr
    assert_equal_to_astropy(source, out)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("serialisation", SERIALISATIONS)
def test_random_tables_read_as_astropy_reads_them_in_any_batches(tmp_path, angcut_cli, serialisation, seed):
    source = tmp_path / f"random.{serialisation}.vot"
    write_votable(random_table(seed, 1_000), source, serialisation)
    far = tmp_path / "far.csv"
    far.write_text("ra,dec\n0.5,0.5\n")
    out = tmp_path / "out.parquet"
    done = run_cli(angcut_cli, "stream", str(source), str(out), "-c", str(far), "--maxsep", "1arcsec",
                   "--batch-size", "37", "-q")
    assert done.returncode == 0, done.stderr
    assert_equal_to_astropy(source, out)


def assert_same_as_astropy_reads(source, written):
    """astropy reads `written` (angcut's BINARY2) with the values, masks, units and UCDs it reads
    from `source`: complex numbers come back as two floats, text as unicodeChar."""
    want = parse_single_table(str(source)).to_table()
    assert "<BINARY2>" in written.read_text()
    got = parse_single_table(str(written)).to_table()
    assert got.colnames == want.colnames
    assert len(got) == len(want)
    for name in want.colnames:
        assert got[name].unit == want[name].unit, name
        assert got[name].meta.get("ucd") == want[name].meta.get("ucd"), name
        want_mask, got_mask = np.ma.getmaskarray(want[name]), np.ma.getmaskarray(got[name])
        for row in range(len(want)):
            masked = bool(want_mask[row].all()) if want_mask.ndim > 1 else bool(want_mask[row])
            have_masked = bool(got_mask[row].all()) if got_mask.ndim > 1 else bool(got_mask[row])
            assert have_masked == masked, (name, row)
            if not masked:
                have = as_python(np.ma.getdata(got[name])[row])
                expected = as_python(np.ma.getdata(want[name])[row])
                assert have == expected, (name, row, have, expected)


@pytest.mark.parametrize("serialisation", SERIALISATIONS)
def test_a_votable_written_by_angcut_reads_in_astropy_as_the_one_it_was_given(tmp_path, angcut_cli, serialisation):
    source = tmp_path / f"random.{serialisation}.vot"
    write_votable(random_table(3, 1_000), source, serialisation)
    far = tmp_path / "far.csv"
    far.write_text("ra,dec\n0.5,0.5\n")
    out = tmp_path / "out.vot"
    done = run_cli(angcut_cli, "stream", str(source), str(out), "-c", str(far), "--maxsep", "1arcsec",
                   "--batch-size", "37", "-q")
    assert done.returncode == 0, done.stderr
    assert_same_as_astropy_reads(source, out)
    # Nothing kept (every row inverted away): still a table of the same columns astropy opens.
    empty = tmp_path / "empty.vot"
    done = run_cli(angcut_cli, "stream", str(source), str(empty), "-c", str(far), "--maxsep", "1arcsec",
                   "--invert", "-q")
    assert done.returncode == 0, done.stderr
    table = parse_single_table(str(empty)).to_table()
    assert len(table) == 0 and table.colnames == random_table(3, 1).colnames


def test_the_fixtures_cut_to_a_votable_read_in_astropy_as_their_kept_rows(tmp_path, angcut_cli):
    source = REPO / "fixtures" / "votable_binary2.vot"
    stars = REPO / "fixtures" / "hip2_bright.parquet"
    out = tmp_path / "kept.vot"
    done = run_cli(angcut_cli, "stream", str(source), str(out), "-c", str(stars), "--maxsep", "1deg",
                   "--flag-column", "near_star", "-q")
    assert done.returncode == 0, done.stderr
    got = parse_single_table(str(out)).to_table()
    want = parse_single_table(str(source)).to_table()
    assert len(got) == len(want) == 60
    flags = list(got["near_star"])
    assert 0 < sum(flags) < 60
    assert [float(x) for x in got["ra"]] == [float(x) for x in want["ra"]]
    assert got["ra"].unit == "deg" and got["ra"].meta.get("ucd") == "pos.eq.ra;meta.main"
