//! Output modes end to end: --invert, --rejected, --flag-column, --nearest-columns, and their mixes.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::*;
use angcut::sky::{SearchRadius, chord2, separation_deg};
use angcut::{Angle, unit_vector};

const MAXSEP: &str = "30arcmin";

fn maxsep() -> Angle {
    Angle::from_arcsec(1800.0)
}

/// Row numbers of the objects near a Hipparcos fixture star, by the scalar reference.
fn near_rows() -> Vec<i64> {
    let objects = positions(&fixture("objects.parquet"));
    let kept = reference_kept(&objects, &positions(&fixture("hip2_bright.parquet")), maxsep());
    (0..objects.len() as i64).filter(|i| kept.binary_search(i).is_err()).collect()
}

#[test]
fn invert_and_rejected_split_the_catalogue_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, rejected, inverted) =
        (dir.path().join("kept.parquet"), dir.path().join("rejected.parquet"), dir.path().join("inverted.parquet"));
    let objects = fixture("objects.parquet");
    let stars = fixture("hip2_bright.parquet");
    let near = near_rows();
    assert!(near.len() > 1_000 && near.len() < 19_000, "{}", near.len());
    stream(&objects, &kept, &stars, &["--maxsep", MAXSEP, "--rejected", rejected.to_str().unwrap()])
        .success()
        .stderr(contains(format!("(rejected {})", near.len())));
    stream(&objects, &inverted, &stars, &["--maxsep", MAXSEP, "--invert"]).success();
    let kept_ids = ids(&read_parquet(&kept));
    assert_eq!(ids(&read_parquet(&rejected)), near);
    assert_eq!(ids(&read_parquet(&inverted)), near);
    let mut all = kept_ids.clone();
    all.extend(&near);
    all.sort_unstable();
    assert_eq!(all, (0..20_000).collect::<Vec<i64>>(), "kept and rejected cover every row once");
    // --invert with --rejected: the far objects become the rejected ones.
    let (near_out, far_out) = (dir.path().join("near.parquet"), dir.path().join("far.parquet"));
    stream(&objects, &near_out, &stars, &["--maxsep", MAXSEP, "--invert", "--rejected", far_out.to_str().unwrap()])
        .success();
    assert_eq!(ids(&read_parquet(&near_out)), near);
    assert_eq!(ids(&read_parquet(&far_out)), kept_ids);
}

#[test]
fn flag_column_keeps_every_row_and_marks_the_near_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    // The fixture's objects plus one without a position, kept by the policy: its flag is null.
    let mut objects = positions(&fixture("objects.parquet"));
    objects.push((10.0, f64::NAN));
    write_narrow(&input, &objects, 5_000);
    let out = dir.path().join("flagged.parquet");
    stream(
        &input,
        &out,
        &fixture("hip2_bright.parquet"),
        &["--maxsep", MAXSEP, "--flag-column", "near_star", "--on-invalid", "keep"],
    )
    .success();
    let batch = read_parquet(&out);
    assert_eq!(ids(&batch), (0..20_001).collect::<Vec<i64>>());
    let flags = batch.column_by_name("near_star").unwrap().as_boolean();
    let near = near_rows();
    for row in 0..20_000 {
        assert_eq!(flags.value(row), near.binary_search(&(row as i64)).is_ok(), "row {row}");
    }
    assert!(flags.is_null(20_000));
    assert_eq!(flags.null_count(), 1);
}

#[test]
fn nearest_columns_name_the_closest_covering_star() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("near.parquet");
    let stars_file = fixture("hip2_bright.parquet");
    // Per-star radii, so the closest star is not always the one that covers the object.
    stream(
        &fixture("objects.parquet"),
        &out,
        &stars_file,
        &["--radius-from-mag", "hpmag", "--invert", "--nearest-columns", "--contaminant-id", "hip"],
    )
    .success();
    let batch = read_parquet(&out);
    let stars = positions(&stars_file);
    let star_table = read_parquet(&stars_file);
    let hip = column_f64(&star_table, "hip");
    let mags = column_f64(&star_table, "hpmag");
    let limits: Vec<SearchRadius> =
        mags.iter().map(|&m| SearchRadius::new(Angle::from_arcsec(1630.0 * 1.396f64.powf(-m))).unwrap()).collect();
    let separations = batch.column_by_name("nearest_sep_arcsec").unwrap().as_primitive::<Float64Type>();
    let names = batch.column_by_name("nearest_hip").unwrap();
    let names = arrow::compute::cast(names, &arrow::datatypes::DataType::Float64).unwrap();
    let names = names.as_primitive::<Float64Type>();
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    assert!(batch.num_rows() > 50);
    for row in 0..batch.num_rows() {
        let o = unit_vector(ra[row], dec[row]);
        let best = stars
            .iter()
            .enumerate()
            .filter(|(i, s)| limits[*i].contains(chord2(&o, &unit_vector(s.0, s.1))))
            .min_by(|a, b| chord2(&o, &unit_vector(a.1.0, a.1.1)).total_cmp(&chord2(&o, &unit_vector(b.1.0, b.1.1))))
            .map(|(i, _)| i)
            .expect("an inverted output holds only covered objects");
        assert_eq!(names.value(row), hip[best], "row {row}");
        let expected = separation_deg(ra[row], dec[row], stars[best].0, stars[best].1) * 3600.0;
        assert!((separations.value(row) - expected).abs() < 1e-6, "{} vs {expected}", separations.value(row));
    }
    // Without --contaminant-id the row number in the contaminant file is given.
    let out = dir.path().join("rows.parquet");
    stream(
        &fixture("objects.parquet"),
        &out,
        &stars_file,
        &["--maxsep", MAXSEP, "--flag-column", "f", "--nearest-columns"],
    )
    .success();
    let batch = read_parquet(&out);
    let rows = batch.column_by_name("nearest_row").unwrap().as_primitive::<Int64Type>();
    let flags = batch.column_by_name("f").unwrap().as_boolean();
    let far = reference_kept(
        &positions(&fixture("objects.parquet")),
        &positions(&stars_file),
        SearchRadius::parse(MAXSEP).unwrap().angle(),
    );
    assert!(far.len() < batch.num_rows() && !far.is_empty(), "some objects are near a star, some are not");
    for row in 0..batch.num_rows() {
        let near = far.binary_search(&(row as i64)).is_err();
        assert_eq!(flags.value(row), near, "row {row}: flagged as the reference says");
        assert_eq!(rows.is_valid(row), near, "row {row}: a nearest star exactly where the flag is set");
    }
}

#[test]
fn impossible_mixes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    let rejected = dir.path().join("r.parquet");
    let rejected = rejected.to_str().unwrap();
    for (args, message) in [
        (&["--flag-column", "ra"][..], "already has a column 'ra', which --flag-column would add"),
        (&["--flag-column", "f", "--invert"], "cannot be used with"),
        (&["--flag-column", "f", "--rejected", rejected], "cannot be used with"),
        (&["--contaminant-id", "hip"], "--nearest-columns"),
        (&["--nearest-columns", "--contaminant-id", "nope"], "no column 'nope' (given by --contaminant-id)"),
        (&["--rejected", out.to_str().unwrap()], "same file"),
    ] {
        let mut all = vec!["--maxsep", MAXSEP];
        all.extend(args);
        stream(&objects, &out, &stars, &all).code(2).stderr(contains(message));
        assert!(!out.exists(), "{args:?}");
    }
    assert!(!std::path::Path::new(rejected).exists());
    // A rejected file in a missing directory: refused before anything is written.
    let missing = dir.path().join("no/such/dir/r.parquet");
    stream(&objects, &out, &stars, &["--maxsep", MAXSEP, "--rejected", missing.to_str().unwrap()])
        .code(2)
        .stderr(contains("directory").and(contains("does not exist")));
    assert!(!out.exists());
}

#[test]
fn stats_json_records_the_run_and_quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stats) = (dir.path().join("out.parquet"), dir.path().join("run \"1\".json"));
    let near = near_rows();
    stream(
        &fixture("objects.parquet"),
        &out,
        &fixture("hip2_bright.parquet"),
        &["--maxsep", MAXSEP, "--quiet", "--stats-json", stats.to_str().unwrap(), "--kernel", "kdtree"],
    )
    .success()
    .stderr("")
    .stdout("");
    let json = std::fs::read_to_string(&stats).unwrap();
    for expected in [
        "\"rows_read\": 20000,".to_string(),
        format!("\"rows_removed\": {},", near.len()),
        format!("\"rows_written\": {},", 20_000 - near.len()),
        "\"rows_invalid\": 0,".to_string(),
        "\"rows_rejected\": null,".to_string(),
        "\"contaminants\": 13940,".to_string(),
        "\"kernel\": \"kdtree\",".to_string(),
        "\"radius\": {\"kind\": \"uniform\", \"arcsec\": 1800},".to_string(),
    ] {
        assert!(json.contains(&expected), "{expected} not in {json}");
    }
    assert!(json.starts_with("{\n") && json.ends_with("\n}\n") && !json.contains(",\n}"), "{json}");
    // A per-star radius is described by its rule.
    stream(
        &fixture("objects.parquet"),
        &out,
        &fixture("hip2_bright.parquet"),
        &["--radius-from-mag", "hpmag", "--max-radius", "0.5deg", "-q", "--stats-json", stats.to_str().unwrap()],
    )
    .success();
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json.contains("\"kind\": \"magnitude\", \"column\": \"hpmag\", \"rule\": \"1630 arcsec * 10^("), "{json}");
    assert!(json.contains("\"largest_arcsec\": 1800"), "{json}");
    // Radii print as the decimals they were written as: 30deg is 107999.99999999999 arcsec in
    // binary, which nobody wrote.
    stream(
        &fixture("objects.parquet"),
        &out,
        &fixture("hip2_bright.parquet"),
        &["--maxsep", "30deg", "-q", "--stats-json", stats.to_str().unwrap()],
    )
    .success();
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json.contains("\"radius\": {\"kind\": \"uniform\", \"arcsec\": 108000},"), "{json}");
}

#[test]
fn the_summary_line_says_what_became_of_the_near_objects() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    let far =
        reference_kept(&positions(&objects), &positions(&stars), SearchRadius::parse(MAXSEP).unwrap().angle()).len();
    let near = 20_000 - far;
    assert!(near > 0 && far > 0);
    for (args, line) in [
        (&[][..], format!("read 20000 rows, removed {near}, invalid 0, wrote {far} in")),
        (&["--invert"], format!("read 20000 rows, near {near}, invalid 0, wrote {near} in")),
        (&["--flag-column", "f"], format!("read 20000 rows, flagged {near}, invalid 0, wrote 20000 in")),
    ] {
        let mut all = vec!["--maxsep", MAXSEP];
        all.extend_from_slice(args);
        stream(&objects, &out, &stars, &all).success().stderr(contains(line));
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn an_invalid_contaminant_is_named_by_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (stars, out) = (dir.path().join("stars.csv"), dir.path().join("out.parquet"));
    std::fs::write(&stars, "ra,dec\n10,20\n30,\n").unwrap();
    stream(&fixture("objects.parquet"), &out, &stars, &["--maxsep", MAXSEP]).code(1).stderr(contains(
        "stars.csv: row 1, column 'dec': the value is null; every contaminant needs a valid position",
    ));
    assert!(!out.exists());
}

#[test]
fn csv_output_holds_the_same_rows_and_values_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let (parquet, csv, rejected) =
        (dir.path().join("kept.parquet"), dir.path().join("kept.csv"), dir.path().join("near.CSV"));
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    stream(&objects, &parquet, &stars, &["--maxsep", MAXSEP]).success();
    stream(&objects, &csv, &stars, &["--maxsep", MAXSEP, "--rejected", rejected.to_str().unwrap()]).success();
    let expected = read_parquet(&parquet);
    let (ids, ra, dec) = (ids(&expected), column_f64(&expected, "ra"), column_f64(&expected, "dec"));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,ra,dec"));
    let rows: Vec<(i64, f64, f64)> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].parse().unwrap(), fields[1].parse().unwrap(), fields[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), expected.num_rows());
    for (row, &(id, r, d)) in rows.iter().enumerate() {
        // Every double is written so that it reads back to itself, bit for bit.
        assert_eq!((id, r.to_bits(), d.to_bits()), (ids[row], ra[row].to_bits(), dec[row].to_bits()), "row {row}");
    }
    let near = std::fs::read_to_string(&rejected).unwrap();
    assert_eq!(near.lines().count(), 1 + near_rows().len(), "the rejected output is CSV too (.CSV in any case)");
    // Nothing kept: the header alone still says what the columns are.
    let none = dir.path().join("none.csv");
    stream(&objects, &none, &stars, &["--maxsep", "180deg"]).success();
    assert_eq!(std::fs::read_to_string(&none).unwrap(), "id,ra,dec\n");
}

#[test]
fn an_output_name_that_says_no_known_format_is_refused_unless_the_format_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    for name in ["out.csv.gz", "out.parquet.gz", "out.txt", "out"] {
        let out = dir.path().join(name);
        stream(&objects, &out, &stars, &["--maxsep", MAXSEP]).code(2).stderr(
            contains(format!("{name}: cannot tell which format to write from the name"))
                .and(contains("--output-format")),
        );
        assert!(!out.exists(), "{name}");
    }
    let rejected = dir.path().join("near.dat");
    stream(
        &objects,
        &dir.path().join("kept.parquet"),
        &stars,
        &["--maxsep", MAXSEP, "--rejected", rejected.to_str().unwrap()],
    )
    .code(2)
    .stderr(contains("near.dat: cannot tell which format"));
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
    // Told the format, any name will do.
    let out = dir.path().join("out.txt");
    stream(&objects, &out, &stars, &["--maxsep", MAXSEP, "--output-format", "parquet"]).success();
    assert_eq!(ids(&read_parquet(&out)).len(), 20_000 - near_rows().len());
    // CSV takes neither a codec nor row groups.
    for option in [["--compression", "zstd"], ["--row-group-size", "100"]] {
        let csv = dir.path().join("kept.csv");
        let mut args = vec!["--maxsep", MAXSEP];
        args.extend(option);
        stream(&objects, &csv, &stars, &args)
            .code(2)
            .stderr(contains(format!("{} does not apply to", option[0])).and(contains("written as CSV")));
        assert!(!csv.exists());
    }
}
