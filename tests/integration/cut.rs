//! End-to-end: `angcut stream` cuts the right rows, keeps their order, and keeps every column.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use predicates::prelude::*;

use crate::support::*;
use angcut::Angle;
use angcut::synthetic::uniform_positions;

#[test]
fn bundled_fixtures_match_the_scalar_reference_with_hipparcos_stars() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kept.parquet");
    angcut()
        .args(["stream", "fixtures/objects.parquet"])
        .arg(&out)
        .args(["--contaminants", "fixtures/hip2_bright.parquet", "--maxsep", "30arcmin"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::is_match(r"^angcut: read 20000 rows, removed \d+, invalid 0, wrote \d+ in [0-9.]+ s \(\d+ rows/s; 13940 contaminants, grid kernel; row groups: 0 copied, 1 filtered\)\n$").unwrap());
    let objects = positions(&fixture("objects.parquet"));
    let stars = positions(&fixture("hip2_bright.parquet"));
    let expected = reference_kept(&objects, &stars, Angle::from_degrees(0.5));
    let kept = ids(&read_parquet(&out));
    assert_eq!(kept, expected);
    // 13,940 caps of 30arcmin cover ~20% of the sky: a real cut, not an empty or full one.
    assert!((14_000..17_500).contains(&kept.len()), "{}", kept.len());
}

#[test]
fn order_is_kept_with_any_threads_batches_and_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    let stars = dir.path().join("stars.parquet");
    let objects = uniform_positions(3_000, 11);
    let contaminants = uniform_positions(300, 12);
    write_narrow(&input, &objects, 1_000);
    write_narrow(&stars, &contaminants, 1_000);
    let expected = reference_kept(&objects, &contaminants, Angle::from_degrees(3.0));
    assert!(expected.len() > 1_000 && expected.len() < 2_900, "{}", expected.len());
    for (threads, batch, kernel) in
        [("1", "7", "naive"), ("4", "7", "kdtree"), ("8", "1", "auto"), ("2", "65536", "kdtree"), ("2", "300", "grid")]
    {
        let out = dir.path().join(format!("out-{threads}-{batch}-{kernel}.parquet"));
        stream(
            &input,
            &out,
            &stars,
            &["--maxsep", "3deg", "--threads", threads, "--batch-size", batch, "--kernel", kernel],
        )
        .success();
        assert_eq!(ids(&read_parquet(&out)), expected, "threads {threads} batch {batch} kernel {kernel}");
    }
}

/// A catalogue with every kind of column a survey table has, and metadata on schema and fields.
fn rich_catalogue() -> RecordBatch {
    let n = 40;
    let positions = uniform_positions(n, 5);
    let field_meta =
        HashMap::from([("unit".to_string(), "deg".to_string()), ("ucd".to_string(), "pos.eq.ra".to_string())]);
    let schema = Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("id", DataType::Int64, false),
            Field::new("RA", DataType::Float32, false).with_metadata(field_meta),
            Field::new("Dec", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Int32, true))), true),
            Field::new("band", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), true),
            Field::new("observed", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("mag", DataType::Float64, true),
        ],
        HashMap::from([("survey".to_string(), "test-survey DR1".to_string())]),
    ));
    let every_third = |i: usize| !i.is_multiple_of(3);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
        Arc::new(Float32Array::from_iter_values(positions.iter().map(|p| p.0 as f32))),
        Arc::new(Int32Array::from_iter_values(positions.iter().map(|p| p.1.round() as i32))),
        Arc::new(StringArray::from_iter((0..n).map(|i| every_third(i).then(|| format!("obj-{i}"))))),
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
            (0..n).map(|i| (i % 4 != 0).then(|| (0..i % 5).map(|k| Some(k as i32)).collect::<Vec<_>>())),
        )),
        Arc::new(DictionaryArray::<Int32Type>::from_iter(
            (0..n).map(|i| every_third(i).then_some(["g", "r", "i"][i % 3])),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter(
                (0..n).map(|i| every_third(i).then_some(1_600_000_000_000_000 + i as i64)),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)))),
        Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 7 != 0).then_some(20.0 + i as f64 / 10.0)))),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

#[test]
fn every_column_type_and_all_metadata_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rich.parquet");
    let stars = dir.path().join("stars.parquet");
    let out = dir.path().join("out.parquet");
    let batch = rich_catalogue();
    write_parquet(&input, batch.schema(), std::slice::from_ref(&batch), 16);
    let contaminants = uniform_positions(30, 6);
    write_narrow(&stars, &contaminants, 100);
    stream(&input, &out, &stars, &["--maxsep", "20deg", "--batch-size", "9"]).success();
    let written = read_parquet(&out);
    // Expected: the input filtered by the reference (float32 RA and int32 Dec read as degrees).
    let objects: Vec<(f64, f64)> = column_f64(&batch, "RA").into_iter().zip(column_f64(&batch, "Dec")).collect();
    let kept = reference_kept(&objects, &contaminants, Angle::from_degrees(20.0));
    assert!(!kept.is_empty() && kept.len() < batch.num_rows(), "{}", kept.len());
    let mask = BooleanArray::from((0..batch.num_rows() as i64).map(|i| kept.contains(&i)).collect::<Vec<_>>());
    let expected = filter_record_batch(&batch, &mask).unwrap();
    assert_eq!(written.schema(), read_parquet(&input).schema(), "schema, types, nullability and metadata");
    assert_eq!(written.schema().metadata()["survey"], "test-survey DR1");
    assert_eq!(written.schema().field_with_name("RA").unwrap().metadata()["unit"], "deg");
    assert_eq!(written.num_rows(), expected.num_rows());
    for (i, field) in expected.schema().fields().iter().enumerate() {
        assert_eq!(written.column(i).as_ref(), expected.column(i).as_ref(), "column {}", field.name());
    }
}

#[test]
fn metadata_of_a_file_written_by_pyarrow_survives() {
    // The Hipparcos fixture was written by pyarrow: its 'source' note lives in the Parquet
    // key-value metadata. Cut the stars against themselves' neighbours and keep the note.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("isolated.parquet");
    let stars = dir.path().join("few.parquet");
    write_narrow(&stars, &[(101.287, -16.716)], 10); // Sirius
    stream(&fixture("hip2_bright.parquet"), &out, &stars, &["--maxsep", "1deg"]).success();
    let file = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    use parquet::file::reader::FileReader;
    let kv = file.metadata().file_metadata().key_value_metadata().unwrap();
    let source = kv.iter().find(|kv| kv.key == "source").and_then(|kv| kv.value.clone()).unwrap();
    assert!(source.starts_with("Hipparcos 2"), "{source}");
    let written = read_parquet(&out);
    assert_eq!(written.schema().fields(), read_parquet(&fixture("hip2_bright.parquet")).schema().fields());
    assert_eq!(written.num_rows(), 13_940 - 1 - hip_within_one_degree_of_sirius_besides_itself());
}

/// Stars of the fixture within 1deg of Sirius other than Sirius itself, by the scalar reference.
fn hip_within_one_degree_of_sirius_besides_itself() -> usize {
    let stars = positions(&fixture("hip2_bright.parquet"));
    let kept = reference_kept(&stars, &[(101.287, -16.716)], Angle::from_degrees(1.0));
    stars.len() - kept.len() - 1
}

#[test]
fn empty_input_gives_an_empty_valid_output_and_empty_contaminants_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.parquet");
    let objects = dir.path().join("objects.parquet");
    write_narrow(&empty, &[], 10);
    write_narrow(&objects, &uniform_positions(500, 3), 100);

    let out = dir.path().join("from-empty.parquet");
    stream(&empty, &out, &fixture("hip2_bright.parquet"), &["--maxsep", "1deg"])
        .success()
        .stderr(predicate::str::contains("read 0 rows, removed 0, invalid 0, wrote 0"));
    let written = read_parquet(&out);
    assert_eq!(written.num_rows(), 0);
    assert_eq!(written.schema(), read_parquet(&empty).schema());

    let out = dir.path().join("all-kept.parquet");
    stream(&objects, &out, &empty, &["--maxsep", "180deg"])
        .success()
        .stderr(predicate::str::contains("read 500 rows, removed 0, invalid 0, wrote 500"));
    assert_eq!(ids(&read_parquet(&out)), (0..500).collect::<Vec<i64>>());
}

#[test]
fn invalid_positions_under_each_policy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    let stars = dir.path().join("stars.parquet");
    // Rows 2..6 are invalid: NaN RA, infinite Dec, Dec beyond the pole, null RA; RA 400 is fine.
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ra", DataType::Float64, true),
        Field::new("dec", DataType::Float64, true),
    ]));
    let ra =
        Float64Array::from(vec![Some(10.0), Some(400.0), Some(f64::NAN), Some(30.0), Some(30.0), None, Some(50.0)]);
    let dec = Float64Array::from(vec![
        Some(0.0),
        Some(0.0),
        Some(0.0),
        Some(f64::INFINITY),
        Some(90.5),
        Some(0.0),
        Some(0.0),
    ]);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from_iter_values(0..7)), Arc::new(ra), Arc::new(dec)],
    )
    .unwrap();
    write_parquet(&input, schema, &[batch], 3);
    write_narrow(&stars, &[(40.0, 0.0)], 10); // RA 400 is RA 40: removed

    let run = |policy: &str, out: &std::path::Path| {
        let mut cmd = angcut();
        cmd.args(["stream"]).args([&input, &out.to_path_buf()]).arg("-c").arg(&stars).args([
            "--maxsep",
            "1deg",
            "--batch-size",
            "2",
        ]);
        if !policy.is_empty() {
            cmd.args(["--on-invalid", policy]);
        }
        cmd.assert()
    };
    let out = dir.path().join("error.parquet");
    run("", &out).code(1).stderr(predicate::str::contains("in.parquet: row 2, column 'ra': the value is NaN"));
    assert!(!out.exists());

    let out = dir.path().join("keep.parquet");
    run("keep", &out).success().stderr(predicate::str::contains("read 7 rows, removed 1, invalid 4, wrote 6"));
    assert_eq!(ids(&read_parquet(&out)), vec![0, 2, 3, 4, 5, 6]);

    let out = dir.path().join("drop.parquet");
    run("drop", &out).success().stderr(predicate::str::contains("read 7 rows, removed 1, invalid 4, wrote 2"));
    assert_eq!(ids(&read_parquet(&out)), vec![0, 6]);
}

#[test]
fn invalid_rows_are_named_exactly_for_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let stars = dir.path().join("stars.parquet");
    write_narrow(&stars, &[(40.0, 0.0)], 10);
    let cases: [((f64, f64), &str); 3] = [
        ((1.0, f64::NEG_INFINITY), "row 1000, column 'dec': the value is infinite"),
        ((1.0, -90.0001), "row 1000, column 'dec': declination -90.0001 is outside [-90, 90]"),
        ((f64::NAN, 1.0), "row 1000, column 'ra': the value is NaN"),
    ];
    for (bad, message) in cases {
        let mut objects = uniform_positions(1_500, 9);
        objects[1000] = bad;
        objects[1200] = (f64::NAN, f64::NAN); // a later bad row must not be the one reported
        let input = dir.path().join("in.parquet");
        write_narrow(&input, &objects, 256);
        let out = dir.path().join("out.parquet");
        stream(&input, &out, &stars, &["--maxsep", "1deg", "--batch-size", "100", "--threads", "2"])
            .code(1)
            .stderr(predicate::str::contains(message));
        assert!(!out.exists());
    }
}

#[test]
fn the_seed_example_end_to_end_with_each_kernel() {
    // The classic toy example: 5,000 objects x 500 contaminants uniform on the sphere, 1deg.
    let dir = tempfile::tempdir().unwrap();
    let (input, stars) = (dir.path().join("objects.parquet"), dir.path().join("stars.parquet"));
    let objects = uniform_positions(5_000, 2024);
    let contaminants = uniform_positions(500, 2025);
    write_narrow(&input, &objects, 2_000);
    write_narrow(&stars, &contaminants, 2_000);
    let expected = reference_kept(&objects, &contaminants, Angle::from_degrees(1.0));
    // 500 caps of 1deg cover ~3.7% of the sky.
    assert!((4_700..4_900).contains(&expected.len()), "{}", expected.len());
    for kernel in ["naive", "kdtree", "grid", "auto"] {
        let out = dir.path().join(format!("{kernel}.parquet"));
        stream(&input, &out, &stars, &["--maxsep", "1deg", "--kernel", kernel]).success().stderr(
            predicate::str::contains(format!(
                "read 5000 rows, removed {}, invalid 0, wrote {}",
                5_000 - expected.len(),
                expected.len()
            )),
        );
        assert_eq!(ids(&read_parquet(&out)), expected, "{kernel}");
    }
}
