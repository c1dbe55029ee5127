//! Several inputs in one run: files and directories mirrored under --out-dir, one contaminant
//! index for all, and all-or-nothing outputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use predicates::str::contains;

use crate::support::*;
use angcut::Angle;

const MAXSEP: &str = "30arcmin";

/// The fixture's objects split into `parts` catalogues of consecutive rows (ids kept).
fn split_objects(parts: usize) -> Vec<Vec<(f64, f64)>> {
    let objects = positions(&fixture("objects.parquet"));
    objects.chunks(objects.len().div_ceil(parts)).map(<[_]>::to_vec).collect()
}

/// Every file below `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn several(paths: &[&Path], extra: &[&str]) -> assert_cmd::assert::Assert {
    angcut().arg("stream").args(paths).arg("-c").arg(fixture("hip2_bright.parquet")).args(extra).assert()
}

#[test]
fn files_and_a_partitioned_directory_are_mirrored_and_each_output_is_its_own_cut() {
    let dir = tempfile::tempdir().unwrap();
    let parts = split_objects(4);
    // Two loose files and a HATS-like directory with two partitions and files to be skipped.
    let loose = [dir.path().join("a.parquet"), dir.path().join("b.parquet")];
    let hats = dir.path().join("survey");
    let nested = [hats.join("Norder=1/Dir=0/Npix=12.parquet"), hats.join("Norder=2/Dir=0/Npix=7.parquet")];
    for (path, part) in loose.iter().chain(&nested).zip(&parts) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_narrow(path, part, 1_000);
    }
    std::fs::write(hats.join("_metadata"), b"not a catalogue").unwrap();
    std::fs::write(hats.join("properties"), b"hats properties").unwrap();
    let (out, rejected, stats) = (dir.path().join("clean"), dir.path().join("near"), dir.path().join("run.json"));

    several(
        &[&loose[0], &loose[1], &hats],
        &[
            "--maxsep",
            MAXSEP,
            "--out-dir",
            out.to_str().unwrap(),
            "--rejected",
            rejected.to_str().unwrap(),
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    )
    .success()
    .stderr(contains("4 files: read 20000 rows"));

    let expected = ["Norder=1/Dir=0/Npix=12.parquet", "Norder=2/Dir=0/Npix=7.parquet", "a.parquet", "b.parquet"];
    assert_eq!(tree(&out), expected);
    assert_eq!(tree(&rejected), expected);
    let stars = positions(&fixture("hip2_bright.parquet"));
    let maxsep = Angle::from_arcsec(1800.0);
    let mut removed_total = 0;
    for (input, name) in [&loose[0], &loose[1], &nested[0], &nested[1]].into_iter().zip([2, 3, 0, 1]) {
        let part = positions(input);
        let kept = reference_kept(&part, &stars, maxsep);
        let input_ids = ids(&read_parquet(input));
        let expected_kept: Vec<i64> = kept.iter().map(|&row| input_ids[row as usize]).collect();
        let written = ids(&read_parquet(&out.join(expected[name])));
        assert_eq!(written, expected_kept, "{}", expected[name]);
        let near = ids(&read_parquet(&rejected.join(expected[name])));
        assert_eq!(near.len() + written.len(), part.len());
        removed_total += near.len();
    }
    assert!(removed_total > 1_000, "{removed_total}");
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(json.matches("\"input\": ").count(), 4, "{json}");
    assert!(json.contains(&format!("\"rows_removed\": {removed_total},")), "{json}");
    let output = out.join("Norder=1/Dir=0/Npix=12.parquet");
    assert!(json.contains(&format!("\"output\": \"{}\"", output.display())), "{json}");
}

#[test]
fn a_schema_change_between_inputs_is_refused_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let parts = split_objects(2);
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_narrow(&a, &parts[0], 1_000);
    // b has an extra magnitude column.
    let batch = narrow(&parts[1]);
    let mut fields = batch.schema().fields().to_vec();
    fields.push(Arc::new(Field::new("mag", DataType::Float32, true)));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(Float32Array::from(vec![20.0f32; batch.num_rows()])));
    let wider = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    write_parquet(&b, wider.schema(), &[wider], 1_000);
    let out = dir.path().join("clean");
    several(&[&a, &b], &["--maxsep", MAXSEP, "--out-dir", out.to_str().unwrap()])
        .code(1)
        .stderr(contains("b.parquet: its columns differ from those of"))
        .stderr(contains("a.parquet: column 'mag' is not there"));
    assert!(!out.exists(), "no output directory");
}

#[test]
fn a_failure_in_a_later_input_leaves_no_output_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let parts = split_objects(2);
    let out = dir.path().join("clean");
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_narrow(&a, &parts[0], 1_000);
    let mut bad = parts[1].clone();
    bad[4_321].1 = f64::NAN;
    write_narrow(&b, &bad, 1_000);
    // An out-dir that exists already, with an older output in it: left exactly as it was.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("a.parquet"), b"the previous run's output").unwrap();
    several(&[&a, &b], &["--maxsep", MAXSEP, "--out-dir", out.to_str().unwrap()])
        .code(1)
        .stderr(contains("b.parquet: row 4321, column 'dec'"));
    assert_eq!(tree(&out), ["a.parquet"]);
    assert_eq!(std::fs::read(out.join("a.parquet")).unwrap(), b"the previous run's output");
    // A new out-dir (and its new parents) is taken away again.
    let fresh = dir.path().join("new/clean");
    several(&[&a, &b], &["--maxsep", MAXSEP, "--out-dir", fresh.to_str().unwrap()]).code(1);
    assert!(!dir.path().join("new").exists());
    // With the bad row dropped, both are written.
    several(&[&a, &b], &["--maxsep", MAXSEP, "--out-dir", fresh.to_str().unwrap(), "--on-invalid", "drop"])
        .success()
        .stderr(contains("2 files: read 20000 rows"));
    assert_eq!(tree(&fresh), ["a.parquet", "b.parquet"]);
}

#[test]
fn wrong_path_combinations_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let parts = split_objects(2);
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_narrow(&a, &parts[0], 1_000);
    write_narrow(&b, &parts[1], 1_000);
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    write_narrow(&sub.join("a.parquet"), &parts[0], 1_000);
    let out = dir.path().join("out");
    let out_dir = ["--maxsep", MAXSEP, "--out-dir", out.to_str().unwrap()];
    let inside = sub.join("clean");
    let cases: [(Vec<PathBuf>, Vec<&str>, &str); 7] = [
        (
            vec![a.clone(), b.clone(), out.clone()],
            vec!["--maxsep", MAXSEP],
            "3 paths given: several inputs need --out-dir",
        ),
        (vec![a.clone()], vec!["--maxsep", MAXSEP], "missing OUT after"),
        (
            vec![sub.clone(), out.clone()],
            vec!["--maxsep", MAXSEP],
            "is a directory: to cut every *.parquet file in it, give --out-dir",
        ),
        (vec![a.clone(), sub.join("a.parquet")], out_dir.to_vec(), "would both be written to"),
        (vec![PathBuf::from("-")], out_dir.to_vec(), "stdin ('-') cannot be one of several inputs"),
        (
            vec![sub.clone()],
            vec!["--maxsep", MAXSEP, "--out-dir", inside.to_str().unwrap()],
            "is inside the input directory",
        ),
        (
            vec![a.clone()],
            [&out_dir[..], &["--rejected", out.to_str().unwrap()]].concat(),
            "must be different directories",
        ),
    ];
    for (paths, extra, message) in cases {
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        several(&paths, &extra).code(2).stderr(contains(message));
    }
    assert!(!out.exists());
    // An input that is also an output of the same run (the out-dir is the inputs' own folder).
    several(&[&a], &["--maxsep", MAXSEP, "--out-dir", dir.path().to_str().unwrap()])
        .code(2)
        .stderr(contains("is the same file as input"));
}
