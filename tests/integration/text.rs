//! Text catalogues end to end: gzipped CSV, astropy's ECSV and IPAC as objects and as contaminants,
//! cut as the same rows in Parquet are; a bad line named by its number, with nothing written.

use arrow::array::AsArray;
use arrow::datatypes::UInt64Type;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::*;
use angcut::Angle;

/// The ra/dec of fixtures/ecsv_kinds.ecsv (it holds both poles and RA 359.9).
const ECSV_POSITIONS: [(f64, f64); 5] = [(0.0, -90.0), (90.0, -30.0), (180.0, 0.0), (270.0, 30.0), (359.9, 90.0)];

#[test]
fn gzipped_csv_objects_are_cut_as_the_same_rows_in_parquet_are() {
    let dir = tempfile::tempdir().unwrap();
    let objects = positions(&fixture("objects.parquet"))[..2000].to_vec();
    let stars = positions(&fixture("hip2_bright.parquet"));
    let expected = reference_kept(&objects, &stars, Angle::from_degrees(0.5));
    assert!(expected.len() > 1000 && expected.len() < 1990, "{}", expected.len());
    let out = dir.path().join("kept.parquet");
    stream(&fixture("objects_2k.csv.gz"), &out, &fixture("hip2_bright.parquet"), &["--maxsep", "30arcmin"]).success();
    assert_eq!(ids(&read_parquet(&out)), expected);
}

/// astropy's IPAC table (fixtures/objects_500.tbl): the same rows kept as from Parquet, every
/// value as astropy wrote it, units in the field metadata, masked magnitudes null; as
/// contaminants too.
#[test]
fn ipac_objects_are_cut_as_the_same_rows_in_parquet_are() {
    let dir = tempfile::tempdir().unwrap();
    let objects = positions(&fixture("objects.parquet"))[..500].to_vec();
    let stars = positions(&fixture("hip2_bright.parquet"));
    let expected = reference_kept(&objects, &stars, Angle::from_degrees(0.5));
    assert!(expected.len() > 200 && expected.len() < 495, "{}", expected.len());
    let out = dir.path().join("kept.parquet");
    stream(&fixture("objects_500.tbl"), &out, &fixture("hip2_bright.parquet"), &["--maxsep", "30arcmin"]).success();
    let kept = read_parquet(&out);
    assert_eq!(ids(&kept), expected);
    let by_id: std::collections::HashMap<i64, (f64, f64)> = (0..500).map(|i| (i as i64, objects[i])).collect();
    let (ra, dec) = (column_f64(&kept, "ra"), column_f64(&kept, "dec"));
    for (k, id) in ids(&kept).iter().enumerate() {
        assert_eq!((ra[k], dec[k]), by_id[id], "row {id}: the value astropy wrote, exactly");
    }
    let schema = kept.schema();
    assert_eq!(schema.field_with_name("ra").unwrap().metadata().get("unit").map(String::as_str), Some("deg"));
    let mag = kept.column_by_name("mag").unwrap();
    let masked = ids(&kept).iter().filter(|&&id| id % 7 == 0).count();
    assert_eq!(mag.null_count(), masked);
    let names = kept.column_by_name("name").unwrap().as_string::<i32>();
    assert_eq!(names.value(0), format!("OBJ{:05}", ids(&kept)[0]));

    // As contaminants: the objects near any of the 500 are those near them in Parquet.
    let near = dir.path().join("near.parquet");
    let first500 = dir.path().join("first500.parquet");
    write_narrow(&first500, &objects, 100);
    let from_parquet = dir.path().join("from_parquet.parquet");
    let args = ["--maxsep", "1deg"];
    stream(&fixture("objects.parquet"), &near, &fixture("objects_500.tbl"), &args).success();
    stream(&fixture("objects.parquet"), &from_parquet, &first500, &args).success();
    assert_eq!(ids(&read_parquet(&near)), ids(&read_parquet(&from_parquet)));
}

#[test]
fn ecsv_contaminants_cut_as_their_positions_say_and_ecsv_objects_keep_types_and_units() {
    let dir = tempfile::tempdir().unwrap();
    let objects = positions(&fixture("objects.parquet"));
    let expected = reference_kept(&objects, &ECSV_POSITIONS, Angle::from_degrees(20.0));
    assert!(expected.len() < objects.len() - 100, "the poles and the other three cut something");
    let out = dir.path().join("kept.parquet");
    stream(&fixture("objects.parquet"), &out, &fixture("ecsv_kinds.ecsv"), &["--maxsep", "20deg"]).success();
    assert_eq!(ids(&read_parquet(&out)), expected);

    // As objects: every row of the five is within 1 deg of itself, none of a far star.
    let far = dir.path().join("far.csv");
    std::fs::write(&far, "ra,dec\n45,45\n").unwrap();
    let kept = dir.path().join("kinds.parquet");
    stream(&fixture("ecsv_kinds.ecsv"), &kept, &far, &["--maxsep", "1deg"]).success();
    let kept = read_parquet(&kept);
    assert_eq!(kept.num_rows(), 5);
    let u64s: Vec<u64> = kept.column_by_name("u64").unwrap().as_primitive::<UInt64Type>().values().to_vec();
    assert_eq!(u64s, [0, 1, 1 << 63, (1 << 63) + 5, u64::MAX]);
    let unit = kept.schema().field_with_name("ra").unwrap().metadata().get("unit").cloned();
    assert_eq!(unit.as_deref(), Some("deg"));
    assert_eq!(kept.column_by_name("nullable").unwrap().null_count(), 2);
    assert_eq!(kept.schema().field_with_name("i8").unwrap().data_type(), &arrow::datatypes::DataType::Int8);
}

#[test]
fn a_bad_line_is_named_by_its_number_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let far = dir.path().join("far.csv");
    std::fs::write(&far, "ra,dec\n45,45\n").unwrap();
    // 12,000 good rows (more than the 10,000 types are inferred from, and many batches), then a
    // bad one on line 12,003.
    let mut text = String::from("# objects\nid,ra,dec\n");
    for i in 0..12_000 {
        text.push_str(&format!("{i},{}.5,{}\n", i % 360, i % 90 - 45));
    }
    text.push_str("12000,12.5,north\n");
    let cases = [
        ("bad_value.csv", text.clone(), "bad_value.csv: line 12003: column 'dec': 'north' is not a value of type Int64"),
        ("short.csv", "ra,dec\n1,2\n3\n".to_string(), "short.csv: line 3: 1 fields, where the header has 2"),
        (
            "renamed.ecsv",
            "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: ra, datatype: float64}\n# - {name: dec, datatype: float64}\nra de\n1 2\n"
                .to_string(),
            "renamed.ecsv: line 6: the column names (ra, de) are not those the ECSV header declares (ra, dec)",
        ),
    ];
    for (name, text, message) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, &text).unwrap();
        let out = dir.path().join("out.parquet");
        stream(&input, &out, &far, &["--maxsep", "1deg", "--batch-size", "1000"])
            .code(1)
            .stderr(contains(message).and(contains("panicked").not()));
        assert!(!out.exists(), "{name}");
        std::fs::remove_file(&input).unwrap();
    }
    assert_eq!(leftovers(dir.path(), &["far.csv"]), Vec::<String>::new());
}
