//! `angcut stream` on wrong command lines and bad files: the right exit code, a message that
//! names the problem, no output file left behind, and the inputs untouched.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::support::*;
use angcut::synthetic::uniform_positions;

struct Setup {
    dir: tempfile::TempDir,
    input: PathBuf,
    stars: PathBuf,
    out: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    let stars = dir.path().join("stars.parquet");
    write_narrow(&input, &uniform_positions(200, 1), 64);
    write_narrow(&stars, &uniform_positions(20, 2), 64);
    let out = dir.path().join("out.parquet");
    Setup { dir, input, stars, out }
}

impl Setup {
    fn stream(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        angcut().arg("stream").args([&self.input, &self.out]).arg("-c").arg(&self.stars).args(extra).assert()
    }

    /// Nothing but the two inputs remains in the folder, and they are unchanged.
    fn assert_nothing_written(&self, inputs_before: &[Vec<u8>; 2]) {
        assert_eq!(leftovers(self.dir.path(), &["in.parquet", "stars.parquet"]), Vec::<String>::new());
        assert_eq!(&std::fs::read(&self.input).unwrap(), &inputs_before[0]);
        assert_eq!(&std::fs::read(&self.stars).unwrap(), &inputs_before[1]);
    }

    fn inputs(&self) -> [Vec<u8>; 2] {
        [std::fs::read(&self.input).unwrap(), std::fs::read(&self.stars).unwrap()]
    }
}

#[test]
fn bad_maxsep_values_are_usage_errors_that_say_why() {
    let s = setup();
    let before = s.inputs();
    let cases = [
        ("0", "greater than 0 and at most 180deg"),
        ("-1arcsec", "greater than 0 and at most 180deg"),
        ("180.5deg", "greater than 0 and at most 180deg"),
        ("4rad", "greater than 0 and at most 180deg"),
        ("nan", "is not a number followed by a unit"),
        ("1e999", "is not finite"),
        ("30parsec", "unknown angle unit 'parsec'"),
        ("thirty", "is not a number followed by a unit"),
        ("", "empty angle"),
    ];
    for (value, message) in cases {
        s.stream(&["--maxsep", value])
            .code(2)
            .stderr(predicate::str::contains("--maxsep").and(predicate::str::contains(message)));
    }
    s.assert_nothing_written(&before);
}

#[test]
fn a_bare_radius_above_one_degree_and_a_cut_of_every_row_are_warned_of() {
    let s = setup();
    // 20 stars at 90deg cover the sky: every one of the 200 rows goes, with two warnings, even
    // with --quiet (they are about the result); the run itself succeeds as asked.
    let warned = "angcut: warning: --maxsep 90 is read as 90 deg; write 90arcsec for arcseconds";
    let removed =
        "angcut: warning: every one of the 200 rows was near a contaminant and removed (the largest radius is 90deg)";
    s.stream(&["--maxsep", "90", "-q"])
        .success()
        .stderr(predicate::str::contains(warned).and(predicate::str::contains(removed)));
    assert_eq!(read_parquet(&s.out).num_rows(), 0);
    // A unit, or a bare number of at most 1 degree, says what it means: no warning.
    for quiet in [["--maxsep", "90deg"], ["--maxsep", "1"]] {
        let assert = s.stream(&[quiet[0], quiet[1], "-q"]).success();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(!stderr.contains("is read as"), "{quiet:?}: {stderr}");
    }
    s.stream(&["--radius-col", "ra", "--max-radius", "2", "-q"])
        .stderr(predicate::str::contains("--max-radius 2 is read as 2 deg; write 2arcsec for arcseconds"));
}

#[test]
fn bad_option_values_are_usage_errors() {
    let s = setup();
    let before = s.inputs();
    let cases: [(&[&str], &str); 7] = [
        (&["--threads", "0"], "must be at least 1"),
        (&["--batch-size", "0"], "must be at least 1"),
        (&["--row-group-size", "0"], "must be at least 1"),
        (&["--threads", "many"], "not a positive whole number"),
        (&["--kernel", "fast"], "unknown kernel 'fast'"),
        (&["--on-invalid", "ignore"], "unknown policy 'ignore'"),
        (&["--compression", "zip"], "unknown compression 'zip'"),
    ];
    for (args, message) in cases {
        let mut all = vec!["--maxsep", "1deg"];
        all.extend_from_slice(args);
        s.stream(&all).code(2).stderr(predicate::str::contains(message));
    }
    // Missing required options.
    angcut()
        .arg("stream")
        .args([&s.input, &s.out])
        .args(["--maxsep", "1deg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--contaminants"));
    angcut()
        .arg("stream")
        .args([&s.input, &s.out])
        .arg("-c")
        .arg(&s.stars)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--maxsep"));
    s.assert_nothing_written(&before);
}

#[test]
fn output_paths_that_would_destroy_an_input_or_cannot_exist_are_refused() {
    let s = setup();
    let before = s.inputs();
    let run = |out: &Path| stream(&s.input, out, &s.stars, &["--maxsep", "1deg"]);
    run(&s.input).code(2).stderr(predicate::str::contains("is the same file as input"));
    run(&s.stars)
        .code(2)
        .stderr(predicate::str::contains("is the same file as input").and(predicate::str::contains("stars.parquet")));
    std::fs::create_dir(s.dir.path().join("sub")).unwrap();
    run(&s.dir.path().join("sub/../in.parquet")).code(2).stderr(predicate::str::contains("same file"));
    run(&s.dir.path().join("missing/out.parquet")).code(2).stderr(predicate::str::contains("does not exist"));
    run(s.dir.path()).code(2).stderr(predicate::str::contains("is a directory"));
    std::fs::remove_dir(s.dir.path().join("sub")).unwrap();
    s.assert_nothing_written(&before);
}

#[test]
fn missing_or_ambiguous_columns_list_the_columns_there_are() {
    let s = setup();
    let before = s.inputs();
    s.stream(&["--maxsep", "1deg", "--ra", "alpha"]).code(2).stderr(predicate::str::contains(
        "in.parquet: no column 'alpha' (given by --ra); available columns: id, ra, dec",
    ));
    s.stream(&["--maxsep", "1deg", "--contaminant-dec", "delta"])
        .code(2)
        .stderr(predicate::str::contains("stars.parquet: no column 'delta' (given by --contaminant-dec)"));
    s.assert_nothing_written(&before);

    // A file with two candidate RA columns and none for Dec.
    let odd = s.dir.path().join("odd.parquet");
    let batch = narrow(&[(1.0, 2.0)]);
    let renamed = arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("RA", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("ra_deg", arrow::datatypes::DataType::Float64, true),
            arrow::datatypes::Field::new("decl", arrow::datatypes::DataType::Float64, true),
        ])),
        batch.columns().to_vec(),
    )
    .unwrap();
    write_parquet(&odd, renamed.schema(), &[renamed], 10);
    stream(&odd, &s.out, &s.stars, &["--maxsep", "1deg"])
        .code(2)
        .stderr(predicate::str::contains("several columns could be RA (RA, ra_deg); choose one with --ra"));
    stream(&odd, &s.out, &s.stars, &["--maxsep", "1deg", "--ra", "ra_deg"])
        .code(2)
        .stderr(predicate::str::contains("no Dec column found (looked for dec, dec_deg, dej2000, decj2000, delta_j2000, de_icrs, dec_icrs, dedeg in any case); name it with --dec; available columns: RA, ra_deg, decl"));
    assert!(!s.out.exists());
}

#[test]
fn non_numeric_coordinates_and_invalid_contaminants_fail_naming_file_column_row() {
    let s = setup();
    let strings = s.dir.path().join("strings.parquet");
    let batch = arrow::array::RecordBatch::try_from_iter(vec![
        ("ra", std::sync::Arc::new(arrow::array::StringArray::from(vec!["10:00:00"])) as arrow::array::ArrayRef),
        ("dec", std::sync::Arc::new(arrow::array::Float64Array::from(vec![1.0])) as arrow::array::ArrayRef),
    ])
    .unwrap();
    write_parquet(&strings, batch.schema(), &[batch], 10);
    stream(&strings, &s.out, &s.stars, &["--maxsep", "1deg"])
        .code(1)
        .stderr(predicate::str::contains("strings.parquet: column 'ra' has type Utf8"));

    let bad_stars = s.dir.path().join("bad_stars.parquet");
    let mut positions = uniform_positions(100, 4);
    positions[77].1 = 91.0;
    write_narrow(&bad_stars, &positions, 30);
    stream(&s.input, &s.out, &bad_stars, &["--maxsep", "1deg", "--on-invalid", "keep"]).code(1).stderr(
        predicate::str::contains(
            "bad_stars.parquet: row 77, column 'dec': declination 91 is outside [-90, 90]; every contaminant needs a valid position",
        ),
    );
    assert!(!s.out.exists());
}

#[test]
fn unreadable_inputs_fail_with_the_file_named() {
    let s = setup();
    let before = s.inputs();
    let text = s.dir.path().join("notes.txt");
    // Plain text (no comma: a line with one would be read as a CSV star list).
    std::fs::write(&text, "observing notes: seeing was poor\n").unwrap();
    let empty = s.dir.path().join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    let bytes = std::fs::read(&s.input).unwrap();
    let truncated = s.dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let hdf5 = s.dir.path().join("catalogue.h5");
    std::fs::write(&hdf5, b"\x89HDF\r\n\x1a\n\0\0\0\0").unwrap();
    let missing = s.dir.path().join("missing.parquet");
    let folder = s.dir.path().join("folder.parquet");
    std::fs::create_dir(&folder).unwrap();

    for (bad, message) in [
        (&missing, "missing.parquet: No such file or directory"),
        // What is no format angcut reads says so, and what it looks like; never "Corrupt footer".
        (
            &text,
            "notes.txt: not a catalogue format angcut reads (it looks like text with no comma or tab in its first line); it reads Parquet",
        ),
        (&empty, "empty.parquet: not a catalogue format angcut reads (it looks like an empty file)"),
        (&hdf5, "catalogue.h5: not a catalogue format angcut reads (it looks like HDF5)"),
        (&truncated, "truncated.parquet: not a readable Parquet file"),
    ] {
        // As the object catalogue...
        // (One line, the cause said once: an earlier version printed "...: No such file or
        // directory (os error 2): No such file or directory (os error 2)".)
        let said_once = predicate::function(|err: &str| {
            let cause = err.trim_end().rsplit(": ").next().unwrap_or_default();
            err.lines().count() == 1 && err.matches(cause).count() == 1
        });
        stream(bad, &s.out, &s.stars, &["--maxsep", "1deg"])
            .code(1)
            .stderr(predicate::str::contains(message).and(predicate::str::contains("panicked").not()).and(said_once));
        // ...and as the contaminant file.
        stream(&s.input, &s.out, bad, &["--maxsep", "1deg"]).code(1).stderr(predicate::str::contains(message));
    }
    // A directory as IN is a usage error that points to --out-dir; as the contaminants, a failure.
    stream(&folder, &s.out, &s.stars, &["--maxsep", "1deg"]).code(2).stderr(predicate::str::contains(
        "folder.parquet is a directory: to cut every *.parquet file in it, give --out-dir",
    ));
    stream(&s.input, &s.out, &folder, &["--maxsep", "1deg"])
        .code(1)
        .stderr(predicate::str::contains("folder.parquet: is a directory"));
    assert!(!s.out.exists());
    assert_eq!(&std::fs::read(&s.input).unwrap(), &before[0]);
}

#[test]
fn a_failed_run_leaves_an_existing_output_untouched_and_no_partial_file() {
    let s = setup();
    std::fs::write(&s.out, b"the previous result").unwrap();
    let bad = s.dir.path().join("bad.parquet");
    let mut positions = uniform_positions(5_000, 8);
    positions[4_321].0 = f64::INFINITY;
    write_narrow(&bad, &positions, 1_000);
    stream(&bad, &s.out, &s.stars, &["--maxsep", "1arcsec", "--batch-size", "100"])
        .code(1)
        .stderr(predicate::str::contains("row 4321, column 'ra': the value is infinite"));
    assert_eq!(std::fs::read(&s.out).unwrap(), b"the previous result");
    assert_eq!(
        leftovers(s.dir.path(), &["in.parquet", "stars.parquet", "out.parquet", "bad.parquet"]),
        Vec::<String>::new()
    );
}
