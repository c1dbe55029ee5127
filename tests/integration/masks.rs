//! Survey masks (`--masks`): layers of moving stars and of galaxy ellipses, their bits, which
//! layers cut, and the mistakes a mask file can hold, end to end against plain references.

use std::path::{Path, PathBuf};

use arrow::array::{Array, UInt8Array};
use predicates::str::contains;

use crate::support::*;
use angcut::sky::{SearchRadius, chord2, unit_vector};
use angcut::{Angle, UnitVector};

/// A star moved by textbook spherical trigonometry (the destination at distance `d` along
/// bearing `theta`), independent of the library's vector form.
fn moved(ra: f64, dec: f64, pm_ra: f64, pm_dec: f64, years: f64) -> (f64, f64) {
    let d = (pm_ra.hypot(pm_dec) * years / 3_600_000.0).to_radians();
    let theta = pm_ra.atan2(pm_dec);
    let (ra1, dec1) = (ra.to_radians(), dec.to_radians());
    let dec2 = (dec1.sin() * d.cos() + dec1.cos() * d.sin() * theta.cos()).asin();
    let ra2 = ra1 + (theta.sin() * d.sin() * dec1.cos()).atan2(d.cos() - dec1.sin() * dec2.sin());
    (ra2.to_degrees().rem_euclid(360.0), dec2.to_degrees())
}

/// The ellipse test as the issue states it: gnomonic offsets by the textbook formulas, then
/// (u / tan a)^2 + (v / tan b)^2, or `None` outside the centre's hemisphere.
fn ellipse_value(g: &Galaxy, ra: f64, dec: f64) -> Option<f64> {
    let (ra0, dec0, ra, dec) = (g.ra.to_radians(), g.dec.to_radians(), ra.to_radians(), dec.to_radians());
    let cos_c = dec0.sin() * dec.sin() + dec0.cos() * dec.cos() * (ra - ra0).cos();
    if cos_c <= 0.0 {
        return None;
    }
    let xi = dec.cos() * (ra - ra0).sin() / cos_c;
    let eta = (dec0.cos() * dec.sin() - dec0.sin() * dec.cos() * (ra - ra0).cos()) / cos_c;
    let pa = g.pa.to_radians();
    let (u, v) = (xi * pa.sin() + eta * pa.cos(), xi * pa.cos() - eta * pa.sin());
    let tan = |arcmin: f64| (arcmin / 60.0).to_radians().tan();
    Some((u / tan(g.a)).powi(2) + (v / tan(g.b)).powi(2))
}

struct Galaxy {
    ra: f64,
    dec: f64,
    a: f64,
    b: f64,
    pa: f64,
}

/// Gnomonic offsets (xi east, eta north) of (ra, dec) at (ra0, dec0) by the textbook formulas,
/// or `None` outside the centre's hemisphere.
fn gnomonic(ra0: f64, dec0: f64, ra: f64, dec: f64) -> Option<(f64, f64)> {
    let (ra0, dec0, ra, dec) = (ra0.to_radians(), dec0.to_radians(), ra.to_radians(), dec.to_radians());
    let cos_c = dec0.sin() * dec.sin() + dec0.cos() * dec.cos() * (ra - ra0).cos();
    (cos_c > 0.0).then(|| {
        let xi = dec.cos() * (ra - ra0).sin() / cos_c;
        (xi, (dec0.cos() * dec.sin() - dec0.sin() * dec.cos() * (ra - ra0).cos()) / cos_c)
    })
}

/// fixtures/bad_areas.reg by plain references: in the polygon (inside every edge's great
/// circle), the box, the ellipse or the circle, and not in the hole; `None` within rounding of
/// an edge.
fn in_bad_areas(ra: f64, dec: f64) -> Option<bool> {
    let near = |x: f64| x.abs() < 1e-9;
    let p = unit_vector(ra, dec);
    let cross = |a: UnitVector, b: UnitVector| {
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    };
    let dot = |a: UnitVector, b: UnitVector| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    // Counter-clockwise seen from outside the sphere: inside is the positive side of each edge.
    let corners = [(350.0, -5.0), (10.0, -5.0), (10.0, 5.0), (350.0, 5.0)].map(|(r, d)| unit_vector(r, d));
    let sides: Vec<f64> = (0..4).map(|k| dot(cross(corners[k], corners[(k + 1) % 4]), p)).collect();
    let hole = angcut::sky::separation_deg(ra, dec, 0.0, 0.0) - 2.0;
    let in_box = gnomonic(180.0, -60.0, ra, dec).map(|(xi, eta)| {
        let pa = 120f64.to_radians();
        let (u, v) = (xi * pa.sin() + eta * pa.cos(), xi * pa.cos() - eta * pa.sin());
        (u.abs() - 4f64.to_radians().tan(), v.abs() - 1.5f64.to_radians().tan())
    });
    let ellipse = ellipse_value(&Galaxy { ra: 45.0, dec: -88.0, a: 180.0, b: 60.0, pa: 100.0 }, ra, dec);
    let circle = angcut::sky::separation_deg(ra, dec, 270.0, 66.0 + 33.0 / 60.0 + 38.6 / 3600.0) - 1.5;
    // Inside the polygon iff its nearest side is positive, inside the box iff the larger excess
    // is negative: only those decide which objects lie on an edge.
    let mut margins = vec![hole, circle, sides.iter().copied().fold(f64::INFINITY, f64::min)];
    margins.extend(in_box.map(|(u, v)| u.max(v)));
    margins.extend(ellipse.map(|e| e - 1.0));
    if margins.iter().any(|&m| near(m)) {
        return None;
    }
    let included = sides.iter().all(|&s| s > 0.0)
        || in_box.is_some_and(|(u, v)| u < 0.0 && v < 0.0)
        || ellipse.is_some_and(|e| e < 1.0)
        || circle < 0.0;
    Some(included && hole >= 0.0)
}

/// fixtures/galaxies.csv by hand, with its fill rules: no minor axis is a circle, no position
/// angle is 0, no major axis is left out.
fn galaxies() -> Vec<Galaxy> {
    let text = std::fs::read_to_string(fixture("galaxies.csv")).unwrap();
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let number = |i: usize| f[i].parse::<f64>().ok();
        let Some(a) = number(3) else { continue };
        let (ra, dec) = (number(1).unwrap(), number(2).unwrap());
        found.push(Galaxy { ra, dec, a, b: number(4).unwrap_or(a), pa: number(5).unwrap_or(0.0) });
    }
    found
}

/// The stars of fixtures/hip2_bright.parquet moved to 2016.0, with the Legacy Surveys' radius
/// capped at 0.5 deg: fixtures/masks.toml's star layer.
fn stars_2016() -> Vec<(UnitVector, SearchRadius)> {
    let batch = read_parquet(&fixture("hip2_bright.parquet"));
    let column = |name: &str| column_f64(&batch, name);
    let (ra, dec, pm_ra, pm_dec, mag) =
        (column("ra"), column("dec"), column("pmra_mas_yr"), column("pmdec_mas_yr"), column("hpmag"));
    (0..ra.len())
        .map(|i| {
            let (r, d) =
                if pm_ra[i].is_nan() { (ra[i], dec[i]) } else { moved(ra[i], dec[i], pm_ra[i], pm_dec[i], 24.75) };
            let radius = (1630.0 * 1.396f64.powf(-mag[i])).min(1800.0);
            (unit_vector(r, d), SearchRadius::new(Angle::from_arcsec(radius)).unwrap())
        })
        .collect()
}

/// Objects that test every layer: the fixture's 20,000, grids over each galaxy out to 1.3 of its
/// major axis, and grids around the 2016 positions of the fastest stars.
fn objects(dir: &Path) -> (PathBuf, Vec<(f64, f64)>) {
    let mut found = positions(&fixture("objects.parquet"));
    for g in galaxies() {
        let reach = 1.3 * g.a / 60.0;
        for i in -10..=10 {
            for j in -10..=10 {
                let dec = (g.dec + reach * f64::from(j) / 10.0).clamp(-90.0, 90.0);
                let ra = g.ra + reach * f64::from(i) / 10.0 / g.dec.to_radians().cos().max(0.05);
                found.push((ra.rem_euclid(360.0), dec));
            }
        }
    }
    let batch = read_parquet(&fixture("hip2_bright.parquet"));
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    let (pm_ra, pm_dec) = (column_f64(&batch, "pmra_mas_yr"), column_f64(&batch, "pmdec_mas_yr"));
    let mut fastest: Vec<usize> = (0..ra.len()).filter(|&i| !pm_ra[i].is_nan()).collect();
    fastest.sort_by(|&a, &b| pm_ra[b].hypot(pm_dec[b]).total_cmp(&pm_ra[a].hypot(pm_dec[a])));
    for &i in &fastest[..20] {
        let (r, d) = moved(ra[i], dec[i], pm_ra[i], pm_dec[i], 24.75);
        for k in -4..=4 {
            for l in -4..=4 {
                found.push(((r + f64::from(k) * 0.05).rem_euclid(360.0), (d + f64::from(l) * 0.05).clamp(-90.0, 90.0)));
            }
        }
    }
    // Grids over the bad areas: the polygon across RA 0 with its hole, the box, the ellipse by the
    // south pole, the circle; offset from round numbers so that few points sit on an edge.
    for (ra0, dec0, reach) in [(0.0f64, 0.0f64, 12.0), (180.0, -60.0, 5.0), (45.0, -88.0, 3.5), (270.0, 66.56, 2.0)] {
        for i in -30..=30 {
            for j in -30..=30 {
                let dec = (dec0 + 0.012_345 + reach * f64::from(j) / 30.0).clamp(-90.0, 90.0);
                let ra = ra0 + 0.023_456 + reach * f64::from(i) / 30.0 / dec0.to_radians().cos().max(0.05);
                found.push((ra.rem_euclid(360.0), dec));
            }
        }
    }
    let path = dir.join("objects.parquet");
    write_narrow(&path, &found, 4_096);
    (path, found)
}

/// Each object's bits by the references, `None` where an object lies so close to a boundary
/// that rounding may put it on either side.
fn reference_bits(objects: &[(f64, f64)]) -> Vec<Option<u8>> {
    let stars = stars_2016();
    let galaxies = galaxies();
    objects
        .iter()
        .map(|&(ra, dec)| {
            let o = unit_vector(ra, dec);
            let mut bits = 0u8;
            for (s, radius) in &stars {
                let (chord, limit) = (chord2(&o, s), radius.chord2_limit());
                if (chord - limit).abs() < 1e-12 * limit {
                    return None;
                }
                if chord < limit {
                    bits |= 1;
                }
            }
            for g in &galaxies {
                match ellipse_value(g, ra, dec) {
                    Some(v) if (v - 1.0).abs() < 1e-9 => return None,
                    Some(v) if v < 1.0 => bits |= 2,
                    _ => {}
                }
            }
            Some(bits | u8::from(in_bad_areas(ra, dec)?) << 2)
        })
        .collect()
}

fn masks(input: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mask = fixture("masks.toml");
    angcut().arg("stream").arg(input).arg(out).arg("--masks").arg(mask).args(extra).assert()
}

fn bits(path: &Path, column: &str) -> Vec<u8> {
    let batch = read_parquet(path);
    let array = batch.column_by_name(column).unwrap().as_any().downcast_ref::<UInt8Array>().unwrap().clone();
    assert_eq!(array.null_count(), 0);
    array.values().to_vec()
}

#[test]
fn mask_bits_match_the_references_with_every_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let (input, objects) = objects(dir.path());
    let expected = reference_bits(&objects);
    let undecided = expected.iter().filter(|b| b.is_none()).count();
    assert!(undecided < 5, "{undecided} objects on a boundary");
    let count = |bits: u8| expected.iter().filter(|b| b.is_some_and(|b| b & bits == bits)).count();
    // Every layer holds objects, and a few lie in two (bright stars inside the Magellanic Clouds).
    let counts = [count(1), count(2), count(3), count(4)];
    assert!(counts[0] > 500 && counts[1] > 1_500 && counts[2] > 0 && counts[3] > 2_000, "{counts:?}");
    // The hole: objects within 2deg of (0, 0) are not in the region layer.
    let hole = objects.iter().zip(&expected).filter(|((r, d), _)| angcut::sky::separation_deg(*r, *d, 0.0, 0.0) < 1.9);
    assert!(hole.clone().count() > 50 && hole.clone().all(|(_, b)| b.is_some_and(|b| b & 4 == 0)));
    let summary = if undecided == 0 { format!("star {} rows", count(1)) } else { "star ".into() };
    for kernel in ["naive", "kdtree", "grid", "auto"] {
        let out = dir.path().join(format!("{kernel}.parquet"));
        masks(&input, &out, &["--mask-bits", "maskbits", "--kernel", kernel])
            .success()
            .stderr(contains(format!("removed 0, invalid 0, wrote {}", objects.len())))
            .stderr(contains(summary.as_str()));
        let found = bits(&out, "maskbits");
        assert_eq!(found.len(), objects.len());
        for (i, (f, e)) in found.iter().zip(&expected).enumerate() {
            if let Some(e) = e {
                assert_eq!(f, e, "{kernel}: object {i} at {:?}", objects[i]);
            }
        }
    }
}

#[test]
fn the_layers_that_cut_decide_every_output_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (input, objects) = objects(dir.path());
    let all = dir.path().join("all.parquet");
    masks(&input, &all, &["--mask-bits", "maskbits"]).success();
    let word = bits(&all, "maskbits");
    assert!(word.iter().any(|w| w & 4 != 0), "the region layer holds objects");
    let rows = |keep: &dyn Fn(u8) -> bool| -> Vec<i64> {
        (0..objects.len() as i64).filter(|&i| keep(word[i as usize])).collect()
    };

    // Without --mask-bits every layer cuts; --cut-layers narrows it; --invert keeps the others.
    let out = dir.path().join("cut.parquet");
    masks(&input, &out, &[]).success();
    assert_eq!(ids(&read_parquet(&out)), rows(&|w| w == 0));
    masks(&input, &out, &["--cut-layers", "galaxy,region"]).success();
    assert_eq!(ids(&read_parquet(&out)), rows(&|w| w & 6 == 0));
    let rejected = dir.path().join("rejected.parquet");
    masks(&input, &out, &["--cut-layers", "star", "--invert", "--rejected", rejected.to_str().unwrap()]).success();
    assert_eq!(ids(&read_parquet(&out)), rows(&|w| w & 1 != 0));
    assert_eq!(ids(&read_parquet(&rejected)), rows(&|w| w & 1 == 0));
    // Bits and a flag over the galaxy layer, every row kept.
    masks(&input, &out, &["--mask-bits", "mb", "--cut-layers", "galaxy", "--flag-column", "in_galaxy"]).success();
    let batch = read_parquet(&out);
    assert_eq!(bits(&out, "mb"), word);
    let flag = batch
        .column_by_name("in_galaxy")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .unwrap()
        .clone();
    assert_eq!(
        flag.iter().map(|f| f.unwrap()).collect::<Vec<_>>(),
        word.iter().map(|w| w & 2 != 0).collect::<Vec<_>>()
    );
}

#[test]
fn the_nearest_columns_name_the_nearest_shape_of_the_layers_that_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (input, objects) = objects(dir.path());
    let out = dir.path().join("near.parquet");
    masks(&input, &out, &["--cut-layers", "galaxy", "--invert", "--nearest-columns"]).success();
    let batch = read_parquet(&out);
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    let separation = column_f64(&batch, "nearest_sep_arcsec");
    let layer = batch
        .column_by_name("nearest_layer")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap()
        .clone();
    let row = batch
        .column_by_name("nearest_row")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .clone();
    let galaxies = galaxies();
    assert!(batch.num_rows() > 1_500 && batch.num_rows() < objects.len());
    for i in 0..batch.num_rows() {
        assert_eq!(layer.value(i), "galaxy");
        // The reference: of the galaxies whose ellipse holds the object, the nearest centre (the
        // CSV's rows in order; `no_size`, the last, is left out and never named).
        let holding =
            galaxies.iter().enumerate().filter(|(_, g)| ellipse_value(g, ra[i], dec[i]).is_some_and(|v| v < 1.0));
        let (k, g) = holding
            .min_by(|(_, a), (_, b)| {
                let sep = |g: &Galaxy| angcut::sky::separation_deg(ra[i], dec[i], g.ra, g.dec);
                sep(a).total_cmp(&sep(b))
            })
            .unwrap();
        assert_eq!(row.value(i), k as i64, "object at ({}, {})", ra[i], dec[i]);
        let expected = angcut::sky::separation_deg(ra[i], dec[i], g.ra, g.dec) * 3600.0;
        assert!((separation[i] - expected).abs() < 1e-6, "{} vs {expected}", separation[i]);
    }
    // Without --invert the near rows are cut: the kept rows have no nearest shape (all null).
    masks(&input, &out, &["--cut-layers", "galaxy", "--nearest-columns"]).success();
    assert_eq!(
        read_parquet(&out).column_by_name("nearest_layer").unwrap().null_count(),
        objects.len() - batch.num_rows()
    );
}

#[test]
fn objects_without_a_position_have_null_bits() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("objects.parquet");
    // Inside the LMC, nowhere, no position, on the polygon across RA 0 (outside its hole).
    write_narrow(&input, &[(80.89, -69.76), (100.0, 30.0), (f64::NAN, 10.0), (5.0, 3.0)], 10);
    let out = dir.path().join("out.parquet");
    masks(&input, &out, &["--mask-bits", "b", "--on-invalid", "keep"]).success().stderr(contains("invalid 1"));
    let batch = read_parquet(&out);
    let b = batch.column_by_name("b").unwrap().as_any().downcast_ref::<UInt8Array>().unwrap().clone();
    assert_eq!(b.iter().collect::<Vec<_>>(), [Some(2), Some(0), None, Some(4)]);
    masks(&input, &out, &["--mask-bits", "b", "--on-invalid", "drop"]).success();
    assert_eq!(bits(&out, "b"), [2, 0, 4]);
}

#[test]
fn stars_are_masked_where_they_are_at_the_survey_epoch() {
    // One star at 10 arcsec/yr due north: in 2016.0 it has moved 247.5 arcsec from 1991.25.
    let dir = tempfile::tempdir().unwrap();
    let stars = dir.path().join("fast.csv");
    std::fs::write(&stars, "ra,dec,pmra,pmdec\n150.0,-30.0,0.0,10000.0\n").unwrap();
    let mask = dir.path().join("m.toml");
    std::fs::write(
        &mask,
        "epoch = 2016.0\n[[layer]]\nname = \"fast\"\nfile = \"fast.csv\"\nradius = \"5arcsec\"\n\
         pm_ra = \"pmra\"\npm_dec = \"pmdec\"\nref_epoch = 1991.25\n",
    )
    .unwrap();
    let input = dir.path().join("objects.parquet");
    write_narrow(&input, &[(150.0, -30.0), (150.0, -30.0 + 247.5 / 3600.0), (150.0, -30.0 + 240.0 / 3600.0)], 10);
    let out = dir.path().join("out.parquet");
    let run = |extra: &[&str]| {
        angcut().arg("stream").arg(&input).arg(&out).arg("--masks").arg(&mask).args(extra).assert().success();
        ids(&read_parquet(&out))
    };
    assert_eq!(run(&[]), [0, 2], "in 2016 the star is 247.5 arcsec north");
    assert_eq!(run(&["--epoch", "1991.25"]), [1, 2], "at its catalogue epoch it is where the catalogue says");
    assert_eq!(run(&["--epoch", "2015.25"]), [0, 1], "a year earlier it is 10 arcsec short, near the third");
}

#[test]
fn mistakes_exit_2_naming_the_layer_and_the_key_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let input = fixture("objects.parquet");
    let written = std::cell::Cell::new(0);
    let write = |text: &str| {
        written.set(written.get() + 1);
        let path = dir.path().join(format!("bad{}.toml", written.get()));
        std::fs::write(&path, text).unwrap();
        path
    };
    let toml = std::fs::read_to_string(fixture("masks.toml")).unwrap();
    let cases: Vec<(PathBuf, Vec<&str>, String)> = vec![
        (write(&toml.replace("axes = \"semi\"", "axes = \"half\"")), vec![], "layer 'galaxy': axes = \"half\"".into()),
        (write(&toml.replace("pm_dec =", "pmdec =")), vec![], "layer 'star': unknown key `pmdec`".into()),
        (write(&toml.replace("name = \"galaxy\"", "name = \"star\"")), vec![], "two layers are named 'star'".into()),
        (fixture("masks.toml"), vec!["--cut-layers", "stars"], "--cut-layers names 'stars'".into()),
        (fixture("masks.toml"), vec!["--maxsep", "1deg"], "drop --maxsep".into()),
        (fixture("masks.toml"), vec!["--mask-bits", "b", "--invert"], "--invert works on the layers that cut".into()),
        (
            fixture("masks.toml"),
            vec!["--mask-bits", "ra"],
            "already has a column 'ra', which --mask-bits would add".into(),
        ),
    ];
    for (mask, extra, expected) in cases {
        angcut()
            .arg("stream")
            .arg(&input)
            .arg(&out)
            .arg("--masks")
            .arg(&mask)
            .args(&extra)
            .assert()
            .code(2)
            .stderr(contains(expected.as_str()));
        assert!(!out.exists());
    }
    // --mask-bits without --masks; a layer whose file is missing is a failure (exit 1) naming it.
    stream(&input, &out, &fixture("hip2_bright.parquet"), &["--maxsep", "1deg", "--mask-bits", "b"])
        .code(2)
        .stderr(contains("--mask-bits describe the layers of --masks, which is not given"));
    let absolute = format!("file = \"{}\"", fixture("hip2_bright.parquet").display());
    let missing =
        write(&toml.replace("galaxies.csv", "no_such.csv").replace("file = \"hip2_bright.parquet\"", &absolute));
    angcut()
        .arg("stream")
        .arg(&input)
        .arg(&out)
        .arg("--masks")
        .arg(&missing)
        .assert()
        .code(1)
        .stderr(contains("no_such.csv"));
    let masks: Vec<String> = (1..=written.get()).map(|i| format!("bad{i}.toml")).collect();
    let masks: Vec<&str> = masks.iter().map(String::as_str).collect();
    assert!(leftovers(dir.path(), &masks).is_empty());
}

/// Checks `points` (a fixture of `file,ra,dec,inside`: astropy regions' answers) against the
/// bits angcut gives them under the mask `toml`: a point of `files[k]` must be in layer `k`
/// exactly when regions says so, and in layer `l` for each `(k, l)` of `also` likewise. Each
/// file needs over `min_checked` points, over 50 of them inside.
fn regions_agree(points: &str, toml: &Path, files: &[&str], also: &[(usize, usize)], min_checked: usize) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bits.csv");
    angcut()
        .arg("stream")
        .arg(fixture(points))
        .arg(&out)
        .args(["--masks", toml.to_str().unwrap(), "--mask-bits", "bits", "-q"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("file,ra,dec,inside,bits"));
    let (mut checked, mut inside) = (vec![0; files.len()], vec![0; files.len()]);
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let bit = files.iter().position(|n| *n == fields[0]).unwrap_or_else(|| panic!("a point of {}", fields[0]));
        let bits: u32 = fields[4].parse().unwrap();
        let expected = fields[3] == "1";
        assert_eq!(bits >> bit & 1 == 1, expected, "{line}: angcut and regions disagree");
        for &(_, other) in also.iter().filter(|(k, _)| *k == bit) {
            assert_eq!(bits >> other & 1 == 1, expected, "{line}: layer {other} disagrees with layer {bit}");
        }
        checked[bit] += 1;
        inside[bit] += usize::from(expected);
    }
    assert!(
        checked.iter().all(|&n| n > min_checked) && inside.iter().all(|&n| n > 50),
        "{checked:?}, {inside:?} inside"
    );
}

#[test]
fn image_and_physical_regions_hold_what_astropy_regions_says() {
    // fixtures/image_points.csv: points around every shape of fixtures/image_{tan,sin,zea,ait}.reg
    // (DS9 shapes in image pixels of a TAN, SIN, ZEA and galactic AIT WCS: a FITS file and three
    // headers as text) with astropy regions' answer from `to_sky(wcs)`, none within 1 arcsec of
    // an edge; image_physical.reg (layer 4) is the TAN file's shapes in physical pixels (LTM/LTV),
    // so its answers are the TAN file's (fixtures/make_wcs.py, fixtures/image_masks.toml).
    let files = ["tan", "sin", "zea", "ait"];
    regions_agree("image_points.csv", &fixture("image_masks.toml"), &files, &[(0, 4)], 500);
}

#[test]
fn galactic_fk4_and_ecliptic_regions_and_rings_hold_what_astropy_regions_says() {
    // fixtures/frames_points.csv: points around every shape of fixtures/galactic.reg, fk4.reg,
    // ecliptic.reg and annuli.reg (elliptical and box rings) with astropy regions' answer, none
    // within 2 arcsec of an edge (fixtures/make_frames.py).
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("frames.toml");
    let files = ["galactic", "ecliptic", "fk4", "annuli"];
    let layer = |name: &&str| {
        format!("[[layer]]\nname = \"{name}\"\nfile = \"{}\"\n", fixture(&format!("{name}.reg")).display())
    };
    std::fs::write(&toml, files.iter().map(layer).collect::<String>()).unwrap();
    regions_agree("frames_points.csv", &toml, &files, &[], 1_000);
}

/// When several layers' files are missing, the error names the first layer's, every time: the
/// layers are read in parallel, and the message must not depend on which thread failed first
/// (a Python test once saw the second layer's file named).
#[test]
fn the_first_failing_layer_is_the_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let masks = dir.path().join("elsewhere.toml");
    std::fs::copy(fixture("masks.toml"), &masks).unwrap();
    for _ in 0..20 {
        angcut().args(["area", "--masks", masks.to_str().unwrap()]).assert().code(1).stderr(
            predicates::prelude::PredicateBooleanExt::and(
                contains("hip2_bright.parquet"),
                predicates::prelude::PredicateBooleanExt::not(contains("galaxies.csv")),
            ),
        );
    }
}
