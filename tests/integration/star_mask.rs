//! Star masks: a radius per contaminant, from a column or from a magnitude, end to end.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use predicates::str::contains;

use crate::support::*;
use angcut::Angle;

/// The Legacy Surveys' rule, written out independently of the library.
fn legacy_arcsec(mag: f64) -> f64 {
    1630.0 * 1.396f64.powf(-mag)
}

#[test]
fn hipparcos_with_the_legacy_rule_matches_the_scalar_reference_with_each_kernel() {
    let objects = positions(&fixture("objects.parquet"));
    let stars_file = fixture("hip2_bright.parquet");
    let stars = positions(&stars_file);
    let mags = column_f64(&read_parquet(&stars_file), "hpmag");
    let radii: Vec<Angle> = mags.iter().map(|&m| Angle::from_arcsec(legacy_arcsec(m))).collect();
    let expected = reference_kept_with_radii(&objects, &stars, &radii);
    // Radii from 157 arcsec (Hp 7) to 2,340 arcsec (Sirius): a realistic mask removes some, not all.
    assert!(expected.len() > 19_000 && expected.len() < 20_000, "{}", expected.len());
    let dir = tempfile::tempdir().unwrap();
    for kernel in ["naive", "kdtree", "grid", "auto"] {
        let out = dir.path().join(format!("{kernel}.parquet"));
        stream(&fixture("objects.parquet"), &out, &stars_file, &["--radius-from-mag", "hpmag", "--kernel", kernel])
            .success()
            .stderr(contains(format!("wrote {}", expected.len())));
        assert_eq!(ids(&read_parquet(&out)), expected, "{kernel}");
    }
    // The same rule given as constants, A,B,C = 1630, log10(1.396), 0, cuts the same rows.
    let out = dir.path().join("constants.parquet");
    let constants = format!("1630,{},0", 1.396f64.log10());
    stream(&fixture("objects.parquet"), &out, &stars_file, &["--radius-from-mag", "hpmag", "--mag-radius", &constants])
        .success();
    assert_eq!(ids(&read_parquet(&out)), expected);
}

#[test]
fn two_term_rule_with_clamps() {
    let objects = positions(&fixture("objects.parquet"));
    let stars_file = fixture("hip2_bright.parquet");
    let stars = positions(&stars_file);
    let mags = column_f64(&read_parquet(&stars_file), "hpmag");
    let radius = |m: f64| {
        let r = 300.0 * 10f64.powf(0.2 * (5.0 - m)) + 20.0 * 10f64.powf(0.05 * (2.0 - m));
        r.clamp(200.0, 1200.0)
    };
    let radii: Vec<Angle> = mags.iter().map(|&m| Angle::from_arcsec(radius(m))).collect();
    let expected = reference_kept_with_radii(&objects, &stars, &radii);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let args = [
        "--radius-from-mag",
        "HPMAG",
        "--mag-radius",
        "300,0.2,5",
        "--mag-radius",
        "20,0.05,2",
        "--min-radius",
        "200arcsec",
        "--max-radius",
        "20arcmin",
    ];
    stream(&fixture("objects.parquet"), &out, &stars_file, &args).success();
    assert_eq!(ids(&read_parquet(&out)), expected);
}

/// Contaminants with a radius column in arcmin, one radius null and one NaN.
fn write_mask(path: &std::path::Path, stars: &[(f64, f64)], radii_arcmin: &[Option<f64>]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ra", DataType::Float64, false),
        Field::new("dec", DataType::Float64, false),
        Field::new("r_arcmin", DataType::Float64, true),
        Field::new("name", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from_iter_values(stars.iter().map(|s| s.0))),
        Arc::new(Float64Array::from_iter_values(stars.iter().map(|s| s.1))),
        Arc::new(Float64Array::from(radii_arcmin.to_vec())),
        Arc::new(StringArray::from_iter_values((0..stars.len()).map(|i| format!("star{i}")))),
    ];
    write_parquet(path, schema.clone(), &[RecordBatch::try_new(schema, columns).unwrap()], 1_000);
}

#[test]
fn radius_column_with_units_and_nulls_filled_by_maxsep() {
    let objects = positions(&fixture("objects.parquet"));
    let stars = &objects[..40].iter().map(|&(r, d)| (r + 0.01, d)).collect::<Vec<_>>();
    let radii_arcmin: Vec<Option<f64>> = (0..stars.len())
        .map(|i| {
            if i == 3 {
                None
            } else if i == 7 {
                Some(f64::NAN)
            } else {
                Some(0.2 + i as f64)
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mask = dir.path().join("mask.parquet");
    write_mask(&mask, stars, &radii_arcmin);
    let fill = Angle::from_degrees(2.0);
    let radii: Vec<Angle> = radii_arcmin
        .iter()
        .map(|r| match r {
            Some(r) if !r.is_nan() => Angle::from_degrees(r / 60.0),
            _ => fill,
        })
        .collect();
    let expected = reference_kept_with_radii(&objects, stars, &radii);
    let out = dir.path().join("out.parquet");
    stream(
        &fixture("objects.parquet"),
        &out,
        &mask,
        &["--radius-col", "r_arcmin", "--radius-unit", "arcmin", "--maxsep", "2deg"],
    )
    .success();
    assert_eq!(ids(&read_parquet(&out)), expected);

    // Without --maxsep the null radius is an error naming the file, row and column, and no output.
    let out = dir.path().join("none.parquet");
    stream(&fixture("objects.parquet"), &out, &mask, &["--radius-col", "r_arcmin", "--radius-unit", "arcmin"])
        .code(1)
        .stderr(contains("mask.parquet: row 3, column 'r_arcmin': the value is null; give --maxsep"));
    assert!(!out.exists());
}

#[test]
fn impossible_radii_and_option_mixes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mask = dir.path().join("mask.parquet");
    write_mask(&mask, &[(10.0, 10.0), (20.0, 20.0)], &[Some(1.0), Some(-2.0)]);
    let out = dir.path().join("out.parquet");
    let objects = fixture("objects.parquet");
    stream(&objects, &out, &mask, &["--radius-col", "r_arcmin", "--radius-unit", "arcmin"])
        .code(1)
        .stderr(contains("row 1, column 'r_arcmin': -2 gives the radius"))
        .stderr(contains("--min-radius"));
    // --min-radius clamps it, and the run cuts with the clamped radius.
    stream(&objects, &out, &mask, &["--radius-col", "r_arcmin", "--radius-unit", "arcmin", "--min-radius", "1arcsec"])
        .success();
    let radii = [Angle::from_arcsec(60.0), Angle::from_arcsec(1.0)];
    let expected = reference_kept_with_radii(&positions(&objects), &[(10.0, 10.0), (20.0, 20.0)], &radii);
    assert_eq!(ids(&read_parquet(&out)), expected);
    std::fs::remove_file(&out).unwrap();
    stream(&objects, &out, &mask, &["--radius-col", "name"]).code(1).stderr(contains("column 'name' has type Utf8"));
    stream(&objects, &out, &mask, &["--radius-col", "nope"])
        .code(2)
        .stderr(contains("no column 'nope' (given by --radius-col); available columns: ra, dec, r_arcmin, name"));
    for (args, message) in [
        (
            &["--radius-col", "r_arcmin", "--radius-from-mag", "r_arcmin"][..],
            "--radius-col cannot be used with --radius-from-mag",
        ),
        (&["--maxsep", "1deg", "--mag-radius", "legacy"], "--mag-radius gives the rule of --radius-from-mag"),
        (&["--maxsep", "1deg", "--radius-unit", "deg"], "--radius-unit gives the unit of --radius-col"),
        (&["--maxsep", "1deg", "--min-radius", "1arcsec"], "--min-radius and --max-radius clamp"),
        (&["--radius-from-mag", "r_arcmin", "--mag-radius", "1,2"], "--mag-radius"),
        (&["--radius-col", "r_arcmin", "--radius-unit", "furlong"], "unknown angle unit 'furlong'"),
        (
            &["--radius-col", "r_arcmin", "--min-radius", "1deg", "--max-radius", "1arcsec"],
            "--min-radius is larger than --max-radius",
        ),
        (&[], "--maxsep is required unless --radius-col or --radius-from-mag"),
    ] {
        stream(&objects, &out, &mask, args).code(2).stderr(contains(message));
    }
    assert!(!out.exists());
}
