//! Pipes and formats: Arrow IPC on stdin/stdout between two angcut processes, IPC files, CSV
//! contaminants, and what happens when the pipe or the device fails.

use std::fs::File;
use std::io::Read;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use predicates::str::contains;

use crate::support::*;
use angcut::Angle;

fn binary() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("angcut")
}

/// Waits for `child` at most `limit`; a hang fails the test instead of blocking it.
fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("angcut did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_stages_joined_by_a_pipe_equal_one_cut() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    let mut first = Process::new(binary())
        .args(["stream"])
        .arg(&objects)
        .args(["-", "-c"])
        .arg(&stars)
        .args(["--maxsep", "30arcmin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut second = Process::new(binary())
        .args(["stream", "-"])
        .arg(&out)
        .arg("-c")
        .arg(&stars)
        .args(["--maxsep", "1deg"])
        .stdin(first.stdout.take().unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_with_timeout(&mut first, Duration::from_secs(60)).success());
    assert!(wait_with_timeout(&mut second, Duration::from_secs(60)).success());
    let mut messages = String::new();
    first.stderr.take().unwrap().read_to_string(&mut messages).unwrap();
    assert!(messages.contains("read 20000 rows"), "{messages}");
    // The second stage removed the 30arcmin-to-1deg objects: together, the 1deg cut.
    let expected = reference_kept(&positions(&objects), &positions(&stars), Angle::from_degrees(1.0));
    assert_eq!(ids(&read_parquet(&out)), expected);
}

#[test]
fn arrow_ipc_files_and_csv_contaminants_give_the_same_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    let expected = reference_kept(&positions(&objects), &positions(&stars), Angle::from_degrees(0.5));
    // Parquet -> .arrow (IPC file) with nothing removed, then .arrow -> .arrows -> Parquet.
    let arrow = dir.path().join("copy.arrow");
    stream(&objects, &arrow, &stars, &["--maxsep", "1mas"]).success();
    let mut head = [0u8; 6];
    File::open(&arrow).unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"ARROW1");
    let arrows = dir.path().join("cut.arrows");
    stream(&arrow, &arrows, &stars, &["--maxsep", "30arcmin"]).success();
    let parquet = dir.path().join("cut.parquet");
    stream(&arrows, &parquet, &stars, &["--maxsep", "30arcmin"]).success();
    assert_eq!(ids(&read_parquet(&parquet)), expected);
    // --output-format overrides the name.
    let forced = dir.path().join("forced.parquet");
    stream(&objects, &forced, &stars, &["--maxsep", "30arcmin", "--output-format", "arrow"]).success();
    File::open(&forced).unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"ARROW1");

    // The star list as CSV, as people keep them: same rows removed.
    let star_table = read_parquet(&stars);
    let csv = dir.path().join("stars.csv");
    let mut text = String::from("hip,ra,dec,hpmag\n");
    let hip = star_table.column_by_name("hip").unwrap();
    let hip = arrow::compute::cast(hip, &arrow::datatypes::DataType::Int64).unwrap();
    let hip = hip.as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
    let mag = column_f64(&star_table, "hpmag");
    for (i, (ra, dec)) in positions(&stars).iter().enumerate() {
        // 17 significant digits: the CSV holds the very same doubles.
        text.push_str(&format!("{},{:.17e},{:.17e},{}\n", hip.value(i), ra, dec, mag[i]));
    }
    std::fs::write(&csv, text).unwrap();
    let from_csv = dir.path().join("from_csv.parquet");
    stream(&objects, &from_csv, &csv, &["--maxsep", "30arcmin"]).success();
    assert_eq!(ids(&read_parquet(&from_csv)), expected);
    // With a radius per star from the CSV's magnitudes, as from the Parquet file.
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    stream(&objects, &a, &csv, &["--radius-from-mag", "hpmag"]).success();
    stream(&objects, &b, &stars, &["--radius-from-mag", "hpmag"]).success();
    let rule = angcut::star_mask::MagnitudeRule::default();
    let radii: Vec<Angle> = mag.iter().map(|&m| rule.radius(m).expect("every star has a magnitude")).collect();
    let by_magnitude = reference_kept_with_radii(&positions(&objects), &positions(&stars), &radii);
    assert!(!by_magnitude.is_empty() && by_magnitude != expected, "the magnitude radii cut other rows than 30arcmin");
    assert_eq!(ids(&read_parquet(&a)), by_magnitude);
    assert_eq!(ids(&read_parquet(&b)), by_magnitude);
    // The CSV as the catalogue itself: every star is within 1 arcsec of itself.
    let own = dir.path().join("own.parquet");
    stream(&csv, &own, &stars, &["--maxsep", "1arcsec"]).success().stderr(contains("every one of the 13940 rows"));
    assert_eq!(read_parquet(&own).num_rows(), 0);
}

#[test]
fn a_reader_that_closes_the_pipe_early_stops_angcut_cleanly() {
    // `angcut stream IN - | head -c 100`: 100 bytes read, then the pipe closes.
    let mut child = Process::new(binary())
        .arg("stream")
        .arg(fixture("objects.parquet"))
        .args(["-", "-c"])
        .arg(fixture("hip2_bright.parquet"))
        .args(["--maxsep", "1mas", "--batch-size", "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first[..4], &[0xff; 4], "an Arrow IPC stream");
    drop(stdout);
    let status = wait_with_timeout(&mut child, Duration::from_secs(60));
    let mut messages = String::new();
    child.stderr.take().unwrap().read_to_string(&mut messages).unwrap();
    assert_eq!(status.code(), Some(141), "{messages}");
    assert!(messages.contains("the output pipe was closed"), "{messages}");
    assert!(!messages.contains("panicked") && !messages.contains("internal error"), "{messages}");
}

#[cfg(target_os = "linux")] // /dev/full: a device that is always full
#[test]
fn a_full_device_on_stdout_is_an_error() {
    let full = File::options().write(true).open("/dev/full").expect("Linux has /dev/full");
    let output = Process::new(binary())
        .arg("stream")
        .arg(fixture("objects.parquet"))
        .args(["-", "-c"])
        .arg(fixture("hip2_bright.parquet"))
        .args(["--maxsep", "1mas"])
        .stdout(full)
        .output()
        .unwrap();
    let messages = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{messages}");
    assert!(messages.contains("<stdout>: No space left on device"), "{messages}");
}

#[test]
fn stdin_takes_every_format_and_leaves_no_copy_behind() {
    let dir = tempfile::tempdir().unwrap();
    // The copy of stdin goes to TMPDIR: this one, so that what is left in it can be seen.
    let spool = tempfile::tempdir().unwrap();
    let stars = fixture("hip2_bright.parquet");
    let cut = |input: &str, stdin: Option<Vec<u8>>, out: &std::path::Path, extra: &[&str]| {
        let mut command = angcut();
        command.env("TMPDIR", spool.path()).arg("stream");
        match stdin {
            Some(bytes) => command.arg("-").write_stdin(bytes),
            None => command.arg(fixture(input)),
        };
        command.arg(out).arg("-c").arg(&stars).args(["--maxsep", "1deg"]).args(extra).assert()
    };
    for input in ["objects.parquet", "objects_2k.fits", "objects_2k.fits.gz", "objects_2k.csv.gz"] {
        let (by_name, by_stdin) = (dir.path().join("by_name.parquet"), dir.path().join("by_stdin.parquet"));
        cut(input, None, &by_name, &[]).success();
        let bytes = std::fs::read(fixture(input)).unwrap();
        cut(input, Some(bytes), &by_stdin, &[]).success().stderr(contains("removed"));
        assert_eq!(std::fs::read(&by_stdin).unwrap(), std::fs::read(&by_name).unwrap(), "{input}");
    }
    let out = dir.path().join("out.parquet");
    let objects = std::fs::read(fixture("objects.parquet")).unwrap();
    cut("", Some(Vec::new()), &out, &[]).code(2).stderr(contains("stdin is empty"));
    cut("", Some(objects.clone()), &out, &["--hdu", "1"])
        .code(2)
        .stderr(contains("<stdin>: an HDU (a table) is chosen only in a FITS file or a VOTable"));
    // A damaged file on stdin is reported as stdin, not as the temporary copy.
    let damaged = std::fs::read(fixture("truncated_page_header.parquet")).unwrap();
    cut("", Some(damaged), &out, &[]).code(1).stderr(contains("angcut: error: <stdin>: "));
    cut("", Some(objects[..objects.len() / 2].to_vec()), &out, &[]).code(1).stderr(contains("<stdin>: "));
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(spool.path()).unwrap().collect();
    assert!(left.is_empty(), "copies of stdin left behind: {left:?}");
}

#[test]
fn a_truncated_stream_on_stdin_and_the_wrong_pipes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let stars = fixture("hip2_bright.parquet");
    let run = |stdin: Vec<u8>, extra: &[&str]| {
        angcut()
            .args(["stream", "-"])
            .arg(&out)
            .arg("-c")
            .arg(&stars)
            .args(["--maxsep", "1deg"])
            .args(extra)
            .write_stdin(stdin)
            .assert()
    };
    // A truncated stream: a clear error, no output.
    let mut stream_bytes = Vec::new();
    let mut child = Process::new(binary())
        .arg("stream")
        .arg(fixture("objects.parquet"))
        .args(["-", "-c"])
        .arg(&stars)
        .args(["--maxsep", "1mas"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdout.take().unwrap().read_to_end(&mut stream_bytes).unwrap();
    assert!(child.wait().unwrap().success());
    stream_bytes.truncate(stream_bytes.len() / 2);
    run(stream_bytes, &[]).code(1).stderr(contains("<stdin>"));
    assert!(!out.exists());
    // Both from stdin cannot be.
    angcut()
        .args(["stream", "-"])
        .arg(&out)
        .args(["-c", "-", "--maxsep", "1deg"])
        .assert()
        .code(2)
        .stderr(contains("both"));
    // stdout takes only a stream.
    angcut()
        .arg("stream")
        .arg(fixture("objects.parquet"))
        .args(["-", "-c"])
        .arg(&stars)
        .args(["--maxsep", "1deg", "--output-format", "parquet"])
        .assert()
        .code(2)
        .stderr(contains("arrow-stream"));
}

/// The batches of an Arrow IPC file.
fn read_ipc_file(path: &std::path::Path) -> Vec<arrow::array::RecordBatch> {
    let reader = arrow::ipc::reader::FileReader::try_new(File::open(path).unwrap(), None).unwrap();
    reader.map(|batch| batch.unwrap()).collect()
}

#[test]
fn output_options_apply_to_every_output_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    let cut = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--maxsep", "30arcmin"];
        args.extend_from_slice(extra);
        stream(&objects, out, &stars, &args)
    };
    // --compression applies to Arrow IPC output: the same rows, in fewer bytes.
    let (plain, packed) = (dir.path().join("plain.arrow"), dir.path().join("packed.arrow"));
    cut(&plain, &[]).success();
    cut(&packed, &["--compression", "zstd"]).success();
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&packed) * 10 < size(&plain) * 8, "zstd: {} bytes against {}", size(&packed), size(&plain));
    assert_eq!(read_ipc_file(&packed), read_ipc_file(&plain));
    let expected = reference_kept(&positions(&objects), &positions(&stars), "30arcmin".parse::<Angle>().unwrap());
    let rows: usize = read_ipc_file(&packed).iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, expected.len());

    // --output-format applies to the rejected output as well as to OUT.
    let (kept, removed) = (dir.path().join("kept.parquet"), dir.path().join("removed.parquet"));
    cut(&kept, &["--output-format", "arrow", "--rejected", removed.to_str().unwrap()]).success();
    let kept_rows: usize = read_ipc_file(&kept).iter().map(|b| b.num_rows()).sum();
    let removed_rows: usize = read_ipc_file(&removed).iter().map(|b| b.num_rows()).sum();
    assert_eq!((kept_rows, removed_rows), (expected.len(), 20_000 - expected.len()));

    // Options that do not apply to the output's format are refused, not ignored.
    let refused = dir.path().join("refused.arrow");
    cut(&refused, &["--compression", "snappy"]).code(2).stderr(contains("--compression snappy does not apply to"));
    cut(&refused, &["--row-group-size", "1000"]).code(2).stderr(contains("--row-group-size applies to Parquet output"));
    let rejected_ipc = dir.path().join("refused.parquet");
    cut(&rejected_ipc, &["--output-format", "arrow-stream", "--compression", "gzip"])
        .code(2)
        .stderr(contains("does not apply to"));
    assert!(!refused.exists() && !rejected_ipc.exists());
}

#[test]
fn csv_and_tsv_catalogues_are_cut_as_the_parquet_one() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, stars) = (fixture("objects.parquet"), fixture("hip2_bright.parquet"));
    let expected = reference_kept(&positions(&objects), &positions(&stars), Angle::from_degrees(0.5));
    let rows: Vec<(i64, (f64, f64))> = ids(&read_parquet(&objects)).into_iter().zip(positions(&objects)).collect();
    // As people write them: comment lines first (and between rows), blanks around header names.
    for (name, sep) in [("objects.csv", ","), ("objects.tsv", "\t"), ("objects_tabs.txt", "\t")] {
        let mut text = format!("# synthetic objects\n# columns: id, ra, dec (deg)\n id {sep} ra {sep} dec \n");
        for (i, (id, (ra, dec))) in rows.iter().enumerate() {
            if i == 100 {
                text.push_str("# a comment between rows\n");
            }
            text.push_str(&format!("{id}{sep}{ra:.17e}{sep}{dec:.17e}\n"));
        }
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join("kept.parquet");
        stream(&input, &out, &stars, &["--maxsep", "30arcmin"]).success();
        assert_eq!(ids(&read_parquet(&out)), expected, "{name}");
    }
    // A header and no rows: an empty catalogue, cut into an empty output.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "# nothing observed\nid,ra,dec\n").unwrap();
    let out = dir.path().join("none.parquet");
    stream(&empty, &out, &stars, &["--maxsep", "30arcmin"]).success().stderr(predicates::str::contains("read 0 rows"));
    assert_eq!(read_parquet(&out).num_rows(), 0);
    // A value that is not a number: among the rows whose types are inferred, the column is text
    // and refused by name; after them, the value is refused with its line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,ra,dec\n1,10.0,20.0\n2,ten,20.0\n").unwrap();
    stream(&bad, &dir.path().join("bad.parquet"), &stars, &["--maxsep", "30arcmin"])
        .code(1)
        .stderr(contains("bad.csv: column 'ra' has type Utf8, but it must be numeric"));
    let late = dir.path().join("late.csv");
    let mut text = String::from("id,ra,dec\n");
    (0..10_050).for_each(|i| text.push_str(&format!("{i},10.5,-20.25\n")));
    text.push_str("10050,ten,20.0\n");
    std::fs::write(&late, text).unwrap();
    stream(&late, &dir.path().join("late.parquet"), &stars, &["--maxsep", "30arcmin"])
        .code(1)
        // The header is line 1, the 10,050 good rows lines 2 to 10,051.
        .stderr(contains("late.csv: line 10052: column 'ra': 'ten' is not a value of type Float64"));
    assert!(!dir.path().join("late.parquet").exists() && !dir.path().join("bad.parquet").exists());
}
