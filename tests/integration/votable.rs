//! VOTables end to end (fixtures written by astropy, fixtures/make_votables.py): the three
//! serialisations cut to the same rows as the scalar reference finds, with the same columns;
//! a table chosen with --hdu; gzipped, on stdin and as contaminants; a bad cell named by row and
//! column, with nothing written.

use std::io::Write;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use predicates::str::contains;

use crate::support::*;
use angcut::Angle;

const SERIALISATIONS: [&str; 3] = ["votable_tabledata.vot", "votable_binary.vot", "votable_binary2.vot"];

/// A contaminant far from every object of the fixtures (none within 1 arcsec of it).
fn far(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("far.csv");
    std::fs::write(&path, "ra,dec\n0.5,0.5\n").unwrap();
    path
}

#[test]
fn every_serialisation_is_cut_as_its_positions_say_with_every_column_kept() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.parquet");
    stream(&fixture("votable_tabledata.vot"), &all, &far(dir.path()), &["--maxsep", "1arcsec"]).success();
    let all = read_parquet(&all);
    assert_eq!((all.num_rows(), all.num_columns()), (60, 15));
    let objects: Vec<(f64, f64)> = column_f64(&all, "ra").into_iter().zip(column_f64(&all, "dec")).collect();
    let stars = positions(&fixture("hip2_bright.parquet"));
    let expected = reference_kept(&objects, &stars, Angle::from_degrees(1.0));
    assert!(expected.len() > 5 && expected.len() < 55, "{}", expected.len());
    let source_ids = all.column_by_name("source_id").unwrap().as_primitive::<Int64Type>();
    let expected: Vec<i64> = expected.iter().map(|&row| source_ids.value(row as usize)).collect();
    let mut outputs = Vec::new();
    for name in SERIALISATIONS {
        let out = dir.path().join(format!("{name}.parquet"));
        stream(&fixture(name), &out, &fixture("hip2_bright.parquet"), &["--maxsep", "1deg"]).success();
        let kept = read_parquet(&out);
        let kept_ids = kept.column_by_name("source_id").unwrap().as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(kept_ids, expected, "{name}");
        outputs.push(kept);
    }
    assert_eq!(outputs[0], outputs[1], "TABLEDATA and BINARY");
    assert_eq!(outputs[0], outputs[2], "TABLEDATA and BINARY2");
    let schema = outputs[0].schema();
    let ra = schema.field_with_name("ra").unwrap().metadata();
    assert_eq!(ra.get("unit").map(String::as_str), Some("deg"));
    assert_eq!(ra.get("ucd").map(String::as_str), Some("pos.eq.ra;meta.main"));
}

#[test]
fn a_table_is_chosen_with_hdu_and_a_table_without_coordinates_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let two = fixture("two_tables.vot");
    for choice in ["2", "sources"] {
        stream(&two, &out, &far(dir.path()), &["--maxsep", "1arcsec", "--hdu", choice]).success();
        assert_eq!(read_parquet(&out).num_rows(), 10, "--hdu {choice}");
    }
    // The first table (the default) has no coordinates: a usage error naming the columns and
    // the table that has them, also gzipped, on stdin and as contaminants.
    let hint = "TABLE 2 ('sources') has 'ra' and 'dec': give --hdu 2";
    std::fs::remove_file(&out).unwrap();
    stream(&two, &out, &far(dir.path()), &["--maxsep", "1arcsec"])
        .code(2)
        .stderr(contains("two_tables.vot"))
        .stderr(contains("night, seeing"))
        .stderr(contains(hint));
    let gz = dir.path().join("two.vot.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&std::fs::read(&two).unwrap()).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    stream(&gz, &out, &far(dir.path()), &["--maxsep", "1arcsec"]).code(2).stderr(contains(hint));
    let mut piped = angcut();
    piped.args(["stream", "-"]).arg(&out).arg("-c").arg(far(dir.path())).args(["--maxsep", "1arcsec"]);
    piped.pipe_stdin(&two).unwrap().assert().code(2).stderr(contains("<stdin>")).stderr(contains(hint));
    stream(&fixture("objects.parquet"), &out, &two, &["--maxsep", "1arcsec"])
        .code(2)
        .stderr(contains("TABLE 2 ('sources') has 'ra' and 'dec': give --contaminant-hdu 2"));
    assert!(!out.exists());
    stream(&two, &out, &far(dir.path()), &["--maxsep", "1arcsec", "--hdu", "3"])
        .code(2)
        .stderr(contains("no TABLE 3 in this VOTable; its tables are: log, sources"));
}

#[test]
fn a_gzipped_votable_a_votable_on_stdin_and_votable_contaminants_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let stars = fixture("hip2_bright.parquet");
    let plain = dir.path().join("plain.parquet");
    stream(&fixture("votable_binary2.vot"), &plain, &stars, &["--maxsep", "1deg"]).success();
    let plain = read_parquet(&plain);

    let gz = dir.path().join("objects.vot.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&std::fs::read(fixture("votable_binary2.vot")).unwrap()).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let out = dir.path().join("gz.parquet");
    stream(&gz, &out, &stars, &["--maxsep", "1deg"]).success();
    assert_eq!(read_parquet(&out), plain);

    let out = dir.path().join("stdin.parquet");
    angcut()
        .args(["stream", "-"])
        .arg(&out)
        .arg("-c")
        .arg(&stars)
        .args(["--maxsep", "1deg"])
        .pipe_stdin(fixture("votable_tabledata.vot"))
        .unwrap()
        .assert()
        .success();
    assert_eq!(read_parquet(&out), plain);

    // As contaminants: objects near the 60 sources are those near the same positions in CSV.
    let csv = dir.path().join("sources.csv");
    let all = dir.path().join("all.parquet");
    stream(&fixture("votable_binary.vot"), &all, &far(dir.path()), &["--maxsep", "1arcsec"]).success();
    let all = read_parquet(&all);
    let rows: Vec<String> =
        column_f64(&all, "ra").iter().zip(column_f64(&all, "dec")).map(|(ra, dec)| format!("{ra:?},{dec:?}")).collect();
    std::fs::write(&csv, format!("ra,dec\n{}\n", rows.join("\n"))).unwrap();
    let (near_vot, near_csv) = (dir.path().join("near_vot.parquet"), dir.path().join("near_csv.parquet"));
    stream(&fixture("objects.parquet"), &near_vot, &fixture("votable_binary.vot"), &["--maxsep", "2deg"]).success();
    stream(&fixture("objects.parquet"), &near_csv, &csv, &["--maxsep", "2deg"]).success();
    let kept = read_parquet(&near_vot);
    assert!(kept.num_rows() > 0 && kept.num_rows() < read_parquet(&fixture("objects.parquet")).num_rows());
    assert_eq!(kept, read_parquet(&near_csv));
}

#[test]
fn a_bad_cell_is_named_by_file_row_and_column_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("votable_tabledata.vot")).unwrap();
    // The third row's dec.
    let mut cells = text.match_indices("<TR>").nth(2).map(|(at, _)| at).unwrap();
    cells += text[cells..].find("</TD>").unwrap() + 5;
    let start = cells + text[cells..].find("<TD>").unwrap() + 4;
    let end = start + text[start..].find("</TD>").unwrap();
    let broken = dir.path().join("broken.vot");
    std::fs::write(&broken, format!("{}12..5{}", &text[..start], &text[end..])).unwrap();
    let out = dir.path().join("out.parquet");
    stream(&broken, &out, &far(dir.path()), &["--maxsep", "1arcsec"])
        .code(1)
        .stderr(contains("broken.vot: table row 3, column 'dec': '12..5' is not a number"));
    assert_eq!(leftovers(dir.path(), &["broken.vot", "far.csv"]), Vec::<String>::new());
}

#[test]
fn a_votable_is_written_as_binary2_and_reads_back_as_the_parquet_cut_of_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let stars = fixture("hip2_bright.parquet");
    for name in SERIALISATIONS {
        let (parquet, vot) = (dir.path().join("cut.parquet"), dir.path().join("cut.vot"));
        stream(&fixture(name), &parquet, &stars, &["--maxsep", "1deg"]).success();
        // The rejected rows too, named .dat and so written by --output-format alone.
        let rejected = dir.path().join("rejected.dat");
        let mut command = angcut();
        command.arg("stream").arg(fixture(name)).arg(&vot).arg("-c").arg(&stars).args(["--maxsep", "1deg"]);
        command.args(["--output-format", "votable", "--rejected"]).arg(&rejected).assert().success();
        assert!(std::fs::read_to_string(&vot).unwrap().contains("<BINARY2>"), "{name}");
        // Read back through angcut (a contaminant far from everything keeps every row).
        let (again, rejected_again) = (dir.path().join("again.parquet"), dir.path().join("rejected.parquet"));
        stream(&vot, &again, &far(dir.path()), &["--maxsep", "1arcsec"]).success();
        stream(&rejected, &rejected_again, &far(dir.path()), &["--maxsep", "1arcsec"]).success();
        let (direct, again) = (read_parquet(&parquet), read_parquet(&again));
        assert!(direct.num_rows() > 5, "{name}");
        assert_eq!(again, direct, "{name}");
        assert_eq!(read_parquet(&rejected_again).num_rows() + direct.num_rows(), 60, "{name}");
    }
    // A name that says no format is refused, listing the VOTable's names among the others.
    let out = dir.path().join("cut.txt");
    stream(&fixture("votable_binary2.vot"), &out, &stars, &["--maxsep", "1deg"])
        .code(2)
        .stderr(contains(".vot/.votable/.xml"));
    assert!(!out.exists());
}
