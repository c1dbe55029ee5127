"""`angcut area --moc --healsparse` and `angcut randoms`, read back by the tools a survey team
uses: mocpy and healsparse must see the cells (and areas) angcut reports, and the map's bits at
each point must be the bits the mask itself gives it."""

from __future__ import annotations

import json

import healsparse
import mocpy
import numpy as np
import pyarrow.parquet as pq

from conftest import REPO, run_cli, separation_deg

SKY_DEG2 = 41252.961249419272
PIXELS = REPO / "fixtures" / "pixels"


CIRCLES = [(12.0, 21.0, 1.5), (300.0, 40.0, 5.0), (0.5, -89.5, 1.0)]


def mask_file(tmp_path):
    (tmp_path / "circles.csv").write_text("ra,dec,r\n" + "".join(f"{a},{d},{r}\n" for a, d, r in CIRCLES))
    toml = tmp_path / "mask.toml"
    toml.write_text(
        '[[layer]]\nname = "circle"\nfile = "circles.csv"\nradius_col = "r"\nradius_unit = "deg"\n'
        f'[[layer]]\nname = "discs"\nfile = "{PIXELS / "bool.hsp"}"\n'
        f'[[layer]]\nname = "ring"\nfile = "{PIXELS / "ring.fits"}"\nabove = 2.5\n'
    )
    return toml


def test_written_moc_and_healsparse_map_are_what_the_area_report_counts(tmp_path, angcut_cli):
    toml = mask_file(tmp_path)
    moc_path, hsp_path = tmp_path / "mask.moc.fits", tmp_path / "mask.hsp"
    done = run_cli(angcut_cli, "area", "--masks", str(toml), "--order", "10", "--json",
                   "--moc", str(moc_path), "--healsparse", str(hsp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "a MOC of order 11" in done.stderr and "nside 2048" in done.stderr

    moc = mocpy.MOC.from_fits(moc_path)
    assert moc.max_order == 11
    assert abs(moc.sky_fraction * SKY_DEG2 - report["union"]["best_deg2"]) < 1e-9

    hsp = healsparse.HealSparseMap.read(str(hsp_path))
    assert hsp.is_wide_mask_map and hsp.nside_sparse == 2048
    assert abs(hsp.get_valid_area() - report["union"]["best_deg2"]) < 1e-9
    pixel_area = SKY_DEG2 / (12 * hsp.nside_sparse**2)
    valid = hsp.valid_pixels
    for layer in report["layers"]:
        held = hsp.check_bits_pix(valid, [layer["bit"]])
        assert abs(np.count_nonzero(held) * pixel_area - layer["area"]["best_deg2"]) < 1e-9, layer

    # At 400,000 random points, the map's bits are the ones `stream`'s mask gives: exactly for
    # the pixel layers (the map holds their cells); for the circles but within a cell (~0.03 deg
    # at order 11) of a circle's edge.
    out = tmp_path / "bits.parquet"
    done = run_cli(angcut_cli, "randoms", str(out), "--rows", "400000", "--masks", str(toml), "--mask-bits", "bits", "-q")
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    ra, dec, bits = (table[c].to_numpy() for c in ("ra", "dec", "bits"))
    mapped = hsp.get_values_pos(ra, dec, lonlat=True)[:, 0]
    np.testing.assert_array_equal(mapped & 0b110, bits & 0b110)
    assert np.count_nonzero(bits & 1) > 500 and np.count_nonzero(bits & 0b110) > 500
    differ = np.flatnonzero((mapped ^ bits) & 1)
    assert len(differ) <= 0.03 * np.count_nonzero(bits & 1)
    for i in differ:
        edges = [abs(separation_deg(ra[i], dec[i], c_ra, c_dec) - r) for c_ra, c_dec, r in CIRCLES]
        assert min(edges) < 0.06, (ra[i], dec[i], edges)


def test_randoms_in_a_footprint_fall_inside_it_as_mocpy_sees_it(tmp_path, angcut_cli):
    import astropy.units as u

    toml = tmp_path / "footprint.toml"
    toml.write_text(f'[[layer]]\nname = "footprint"\nfile = "{PIXELS / "discs.moc.fits"}"\noutside = true\n')
    out = tmp_path / "randoms.parquet"
    done = run_cli(angcut_cli, "randoms", str(out), "--density", "200", "--seed", "3", "--masks", str(toml), "--mask-bits", "bits")
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    moc = mocpy.MOC.from_fits(PIXELS / "discs.moc.fits")
    area = moc.sky_fraction * SKY_DEG2
    assert table.num_rows == round(200 * area)
    ra, dec = table["ra"].to_numpy(), table["dec"].to_numpy()
    assert moc.contains_lonlat(ra * u.deg, dec * u.deg).all()
    assert not table["bits"].to_numpy().any()
    assert json.loads(table.schema.metadata[b"angcut.randoms"])["seed"] == 3
