//! FITS catalogues end to end: binary tables in (also gzipped, any HDU), cut as Parquet ones are;
//! damaged or table-less files refused naming the file, with nothing written.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::*;
use angcut::Angle;

/// The first 2,000 objects of objects.parquet, which fixtures/objects_2k.fits holds.
fn objects_2k() -> Vec<(f64, f64)> {
    positions(&fixture("objects.parquet"))[..2000].to_vec()
}

/// The stars of hip2_bright4.fits: those of hip2_bright.parquet brighter than Hp = 4.
fn bright_stars() -> Vec<(f64, f64)> {
    let table = read_parquet(&fixture("hip2_bright.parquet"));
    let mag = column_f64(&table, "hpmag");
    let all = positions(&fixture("hip2_bright.parquet"));
    all.into_iter().zip(mag).filter(|(_, m)| (*m as f32) < 4.0).map(|(p, _)| p).collect()
}

#[test]
fn a_fits_catalogue_is_cut_as_the_same_rows_in_parquet_are() {
    let dir = tempfile::tempdir().unwrap();
    let stars = bright_stars();
    assert_eq!(stars.len(), 480);
    let expected = reference_kept(&objects_2k(), &stars, Angle::from_degrees(2.0));
    assert!(expected.len() > 1000 && expected.len() < 1990, "{}", expected.len());
    for (input, hdu) in [("objects_2k.fits", None), ("objects_2k.fits.gz", None), ("objects_2k.fits", Some("objects"))]
    {
        let out = dir.path().join("kept.parquet");
        let mut args = vec!["--maxsep", "2deg"];
        args.extend(hdu.map(|h| ["--hdu", h]).iter().flatten());
        // FITS contaminants too (RAJ2000/DEJ2000, found by name).
        stream(&fixture(input), &out, &fixture("hip2_bright4.fits"), &args).success();
        let kept = read_parquet(&out);
        let ids: Vec<i64> = kept.column_by_name("ID").unwrap().as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(ids, expected, "{input}");
        let unit = kept.schema().field_with_name("RA").unwrap().metadata().get("unit").cloned();
        assert_eq!(unit.as_deref(), Some("deg"), "TUNIT becomes the field's unit");
        assert!(kept.schema().metadata()["fits:header"].contains("EXTNAME = 'OBJECTS '"));
    }
    // Small batches: ranges of 280 rows decoded on several lanes at once, kept in order.
    for threads in ["1", "2", "3"] {
        let out = dir.path().join("kept.parquet");
        let args = ["--maxsep", "2deg", "--batch-size", "70", "--threads", threads];
        stream(&fixture("objects_2k.fits"), &out, &fixture("hip2_bright4.fits"), &args).success();
        let ids: Vec<i64> =
            read_parquet(&out).column_by_name("ID").unwrap().as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(ids, expected, "{threads} threads");
    }
}

#[test]
fn a_wrong_hdu_is_a_usage_error_and_an_unreadable_column_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let kinds = fixture("fits_kinds.fits");
    let stars = fixture("hip2_bright4.fits");
    stream(&kinds, &out, &stars, &["--maxsep", "1deg", "--hdu", "9"])
        .code(2)
        .stderr(contains("fits_kinds.fits: has no HDU 9: its HDUs are 0 to 5"));
    stream(&kinds, &out, &stars, &["--maxsep", "1deg", "--hdu", "0"])
        .code(2)
        .stderr(contains("HDU 0 is an image, not a table"));
    stream(&kinds, &out, &stars, &["--maxsep", "1deg", "--contaminant-hdu", "nope"])
        .code(2)
        .stderr(contains("hip2_bright4.fits: has no HDU named 'nope'; its EXTNAMEs: STARS"));
    stream(&kinds, &out, &stars, &["--maxsep", "1deg", "--hdu", "BITS"])
        .code(1)
        .stderr(contains("fits_kinds.fits: HDU 3: column 'bits' holds bits (X), which angcut does not read"));
    stream(&fixture("objects.parquet"), &out, &stars, &["--maxsep", "1deg", "--hdu", "1"])
        .code(2)
        .stderr(contains("objects.parquet: an HDU (a table) is chosen only in a FITS file or a VOTable"));
    // The first table is read without --hdu; the second by name.
    stream(&kinds, &out, &stars, &["--maxsep", "1deg", "--hdu", "second"]).success();
    assert_eq!(read_parquet(&out).num_rows(), 2);
    assert_eq!(leftovers(dir.path(), &["out.parquet"]), Vec::<String>::new());
}

#[test]
fn damaged_or_tableless_fits_files_fail_naming_the_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("objects_2k.fits")).unwrap();
    let card = |text: &str| format!("{text:<80}");
    let primary_only = [
        card("SIMPLE  =                    T"),
        card("BITPIX  =                    8"),
        card("NAXIS   =                    0"),
        card("END"),
    ]
    .concat();
    let primary_only = format!("{primary_only:<2880}");
    let mut bad_header = good.clone();
    // NAXIS1 of the table says 25 bytes a row where its columns take 24.
    let at = bad_header.windows(10).position(|w| w == b"NAXIS1  = ").unwrap();
    bad_header[at..at + 80].copy_from_slice(card("NAXIS1  =                   25").as_bytes());
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "truncated.fits",
            good[..good.len() - 10_000].to_vec(),
            "truncated.fits: truncated: HDU 1 needs 53760 bytes, the file has 44720",
        ),
        ("image_only.fits", primary_only.into_bytes(), "image_only.fits: no binary table in its 1 HDU(s)"),
        ("bad_header.fits", bad_header, "bad_header.fits: reading the header of HDU 1: row width not = field widths"),
        ("half_card.fits", good[..2000].to_vec(), "half_card.fits: not a readable FITS file"),
    ];
    let stars = fixture("hip2_bright4.fits");
    for (name, bytes, message) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, &bytes).unwrap();
        let out = dir.path().join("out.parquet");
        stream(&input, &out, &stars, &["--maxsep", "1deg"])
            .code(1)
            .stderr(contains(message).and(contains("panicked").not()));
        assert!(!out.exists(), "{name}");
        assert_eq!(std::fs::read(&input).unwrap(), bytes, "{name}: the input is untouched");
        std::fs::remove_file(&input).unwrap();
    }
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
}

/// Found by users: a heap that starts after a gap (THEAP past the rows, PCOUNT counting the gap,
/// as STIL writes) was called truncation once the gap passed ~1,500 bytes: cfitsio's end of the
/// HDU counts the gap twice. fixtures/heap_gap.fits has a 3,000-byte gap.
#[test]
fn a_heap_after_a_gap_is_read_not_called_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    stream(&fixture("heap_gap.fits"), &out, &fixture("hip2_bright4.fits"), &["--maxsep", "1arcsec"]).success();
    let batch = read_parquet(&out);
    let counts = batch.column_by_name("counts").unwrap().as_list::<i32>();
    let rows: Vec<Vec<i32>> = (0..counts.len())
        .map(|i| counts.value(i).as_primitive::<arrow::datatypes::Int32Type>().values().to_vec())
        .collect();
    assert_eq!(rows, [vec![1, 2, 3], vec![4], vec![]]);
    assert_eq!(column_f64(&batch, "ra"), [10.0, 20.0, 30.0]);
}

/// Every batch of a FITS file's first table, read by angcut's reader, as one batch.
fn read_fits(path: &std::path::Path) -> arrow::array::RecordBatch {
    use angcut::io::read::BatchSource;
    let mut catalogue = angcut::io::read::FitsCatalog::open(path, false, None, 1000).unwrap();
    let mut batches = Vec::new();
    while let Some(batch) = catalogue.next_batch() {
        batches.push(batch.unwrap());
    }
    arrow::compute::concat_batches(&catalogue.schema(), &batches).unwrap()
}

#[test]
fn a_fits_table_written_back_holds_every_column_kind_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kinds.fits");
    // No star is within 1 arcsec of these five rows: all are kept, and must come back equal.
    stream(&fixture("fits_kinds.fits"), &out, &fixture("hip2_bright4.fits"), &["--maxsep", "1arcsec"]).success();
    let (before, after) = (read_fits(&fixture("fits_kinds.fits")), read_fits(&out));
    assert_eq!(after.num_rows(), 5);
    for (field, (a, b)) in before.schema().fields().iter().zip(before.columns().iter().zip(after.columns())) {
        // NaN is not equal to itself: compare the bits of float columns.
        let same = match a.data_type() {
            arrow::datatypes::DataType::Float64 => {
                let bits = |x: &arrow::array::ArrayRef| -> Vec<Option<u64>> {
                    x.as_primitive::<arrow::datatypes::Float64Type>().iter().map(|v| v.map(f64::to_bits)).collect()
                };
                bits(a) == bits(b)
            }
            arrow::datatypes::DataType::Float32 => {
                let bits = |x: &arrow::array::ArrayRef| -> Vec<Option<u32>> {
                    x.as_primitive::<arrow::datatypes::Float32Type>().iter().map(|v| v.map(f32::to_bits)).collect()
                };
                bits(a) == bits(b)
            }
            _ => a.to_data() == b.to_data(),
        };
        assert!(same, "column '{}': {a:?} became {b:?}", field.name());
        assert_eq!(after.schema().field_with_name(field.name()).unwrap(), field.as_ref(), "type, unit, TDIM");
    }
    let header = after.schema().metadata()["fits:header"].clone();
    assert!(header.contains("SURVEY  = 'TEST    '") && header.contains("EXTNAME = 'KINDS   '"), "{header}");
}

#[test]
fn parquet_to_fits_and_back_keeps_the_rows_the_cut_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let (fits, parquet) = (dir.path().join("kept.fits"), dir.path().join("kept.parquet"));
    let objects = fixture("objects.parquet");
    let stars = fixture("hip2_bright.parquet");
    stream(&objects, &parquet, &stars, &["--maxsep", "30arcmin"]).success();
    // Written in several batches, with the near objects flagged in a boolean column.
    stream(&objects, &fits, &stars, &["--maxsep", "30arcmin", "--batch-size", "3000"]).success();
    let (expected, got) = (read_parquet(&parquet), read_fits(&fits));
    assert_eq!(got.num_rows(), expected.num_rows());
    for name in ["id", "ra", "dec"] {
        assert_eq!(
            got.column_by_name(name).unwrap().to_data(),
            expected.column_by_name(name).unwrap().to_data(),
            "{name}"
        );
    }
    // And FITS back to Parquet, cut again with the same stars: nothing more goes.
    let again = dir.path().join("again.parquet");
    stream(&fits, &again, &stars, &["--maxsep", "30arcmin"]).success().stderr(contains("removed 0,"));
    assert_eq!(ids(&read_parquet(&again)), ids(&expected));
}

#[test]
fn a_column_fits_cannot_hold_is_refused_by_name_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("times.parquet");
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("ra", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("dec", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("day", arrow::datatypes::DataType::Date32, true),
    ]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(arrow::array::Float64Array::from(vec![1.0])),
            std::sync::Arc::new(arrow::array::Float64Array::from(vec![2.0])),
            std::sync::Arc::new(arrow::array::Date32Array::from(vec![Some(19000)])),
        ],
    )
    .unwrap();
    write_parquet(&input, schema, &[batch], 10);
    let out = dir.path().join("out.fits");
    stream(&input, &out, &fixture("hip2_bright4.fits"), &["--maxsep", "1deg"])
        .code(2)
        .stderr(contains("out.fits: column 'day' is Date32, which FITS cannot hold: write Parquet or Arrow instead"));
    stream(&input, &out, &fixture("hip2_bright4.fits"), &["--maxsep", "1deg", "--compression", "zstd"])
        .code(2)
        .stderr(contains("--compression does not apply to").and(contains("written as FITS")));
    assert_eq!(leftovers(dir.path(), &["times.parquet"]), Vec::<String>::new());
}

#[test]
fn variable_length_arrays_become_lists_and_are_written_back_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let far = dir.path().join("far.csv");
    std::fs::write(&far, "ra,dec\n20,0\n").unwrap();
    // The VARIABLE table's middle row (20, 0) is at the contaminant: removed.
    let out = dir.path().join("out.parquet");
    let input = fixture("fits_kinds.fits");
    stream(&input, &out, &far, &["--maxsep", "1deg", "--hdu", "variable"]).success();
    let kept = read_parquet(&out);
    let counts: Vec<Vec<i32>> = kept
        .column_by_name("counts")
        .unwrap()
        .as_list::<i32>()
        .iter()
        .map(|row| row.unwrap().as_primitive::<arrow::datatypes::Int32Type>().values().to_vec())
        .collect();
    assert_eq!(counts, [vec![1, 2, 3], vec![-5]]);
    let labels: Vec<&str> = kept.column_by_name("label").unwrap().as_string::<i32>().iter().flatten().collect();
    assert_eq!(labels, ["ab", "hello"]);

    // FITS -> FITS: the arrays as variable-length arrays again (64-bit descriptors), the same
    // rows as the Parquet output; the `PA` strings as fixed-width text.
    let fits_out = dir.path().join("out.fits");
    stream(&input, &fits_out, &far, &["--maxsep", "1deg", "--hdu", "variable"]).success();
    let back = read_fits(&fits_out);
    assert_eq!(back.schema().fields(), kept.schema().fields());
    assert_eq!(back.columns(), kept.columns());
    let spectrum = back.column_by_name("spectrum").unwrap().as_list::<i32>();
    assert_eq!(spectrum.value_offsets(), [0, 2, 2], "the second kept row's array is empty");
    assert_eq!(leftovers(dir.path(), &["far.csv", "out.parquet", "out.fits"]), Vec::<String>::new());
}

#[test]
fn a_fits_gz_output_is_the_fits_table_gzipped_and_reads_back() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (plain, gzipped) = (dir.path().join("kept.fits"), dir.path().join("kept.FITS.gz"));
    let objects = fixture("objects.parquet");
    let stars = fixture("hip2_bright.parquet");
    stream(&objects, &plain, &stars, &["--maxsep", "30arcmin"]).success();
    stream(&objects, &gzipped, &stars, &["--maxsep", "30arcmin", "--batch-size", "3000"]).success();
    let compressed = std::fs::read(&gzipped).unwrap();
    assert_eq!(&compressed[..2], &[0x1f, 0x8b], "gzip's magic");
    let mut table = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut table).unwrap();
    assert_eq!(table, std::fs::read(&plain).unwrap(), "the same FITS bytes, gzipped");
    assert!(compressed.len() < table.len());
    // Read back as an input: the same rows as the plain table.
    let again = dir.path().join("again.parquet");
    stream(&gzipped, &again, &stars, &["--maxsep", "30arcmin"]).success().stderr(contains("removed 0,"));
    assert_eq!(ids(&read_parquet(&again)), ids(&read_fits(&plain)));
    // Only FITS is written gzipped; no temporary file is left beside the outputs.
    let csv = dir.path().join("kept.csv.gz");
    stream(&objects, &csv, &stars, &["--maxsep", "30arcmin"]).code(2).stderr(contains("cannot tell which format"));
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["again.parquet", "kept.FITS.gz", "kept.fits"]);
}

/// The bytes of a FITS file's headers, as text (their cards are ASCII).
fn header_text(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let header_end = bytes.windows(4).rposition(|w| w == b"END ").unwrap_or(bytes.len()) + 80;
    String::from_utf8_lossy(&bytes[..header_end.min(bytes.len())]).into_owned()
}

#[test]
fn a_fits_to_fits_cut_copies_the_kept_rows_and_the_header_as_they_are() {
    use arrow::array::{Array, BooleanArray};
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("fits_kinds.fits");
    let all = read_fits(&input);
    // Stars on rows 1 and 3 (0-based) of the five.
    let (ra, dec) = (column_f64(&all, "ra"), column_f64(&all, "dec"));
    let stars = dir.path().join("stars.csv");
    std::fs::write(&stars, format!("ra,dec\n{:?},{:?}\n{:?},{:?}\n", ra[1], dec[1], ra[3], dec[3])).unwrap();
    let (kept, rejected) = (dir.path().join("kept.fits"), dir.path().join("near.fits"));
    let rejected_flag = format!("--rejected={}", rejected.display());
    stream(&input, &kept, &stars, &["--maxsep", "1arcsec", &rejected_flag]).success().stderr(contains("removed 2,"));
    let near = BooleanArray::from(vec![false, true, false, true, false]);
    let far = arrow::compute::not(&near).unwrap();
    for (path, rows) in [(&kept, &far), (&rejected, &near)] {
        let expected = arrow::compute::filter_record_batch(&all, rows).unwrap();
        let got = read_fits(path);
        assert_eq!(got.num_rows(), expected.num_rows());
        for (field, (a, b)) in all.schema().fields().iter().zip(expected.columns().iter().zip(got.columns())) {
            // The same bytes read the same way: NaNs too, so the arrays' data compare equal.
            assert_eq!(a.to_data(), b.to_data(), "{}: column '{}'", path.display(), field.name());
        }
        // The input's header, not one made from the Arrow schema: the scaled integer column is
        // still an `I` with its TSCAL and TZERO (decoded, it would be written as float64).
        let header = header_text(path);
        for card in ["TFORM15 = 'I", "TSCAL15 =", "TZERO15 =", "TNULL16 =", "SURVEY  = 'TEST    '", "HISTORY"] {
            assert!(header.contains(card), "{}: {card} in {header}", path.display());
        }
    }
    // A cut that adds a column writes every column anew, the scaled one as float64.
    let flagged = dir.path().join("flagged.fits");
    stream(&input, &flagged, &stars, &["--maxsep", "1arcsec", "--flag-column", "near"]).success();
    let got = read_fits(&flagged);
    assert_eq!(got.column_by_name("near").unwrap().as_boolean(), &near);
    assert_eq!(got.column_by_name("scaled").unwrap().to_data(), all.column_by_name("scaled").unwrap().to_data());
    let header = header_text(&flagged);
    assert!(header.contains("TFORM15 = '1D") && !header.contains("TSCAL15"), "{header}");
    assert_eq!(got.column_by_name("scaled").unwrap().null_count(), all.column_by_name("scaled").unwrap().null_count());
    assert_eq!(leftovers(dir.path(), &["flagged.fits", "kept.fits", "near.fits", "stars.csv"]), Vec::<String>::new());
}

/// Coordinates not in the table read but in another table of the file: the message says which
/// HDU has them and how to choose it, for the objects and for the contaminants; chosen, it cuts.
#[test]
fn coordinates_in_another_hdu_are_pointed_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let two = fixture("two_tables.fits");
    stream(&two, &out, &fixture("hip2_bright.parquet"), &["--maxsep", "1deg"])
        .code(2)
        .stderr(predicates::str::contains("HDU 2 ('STARS') has 'RAJ2000' and 'DEJ2000': give --hdu 2"));
    // Also from stdin, read through a temporary copy.
    let mut piped = angcut();
    piped.args(["stream", "-"]).arg(&out).arg("-c").arg(fixture("hip2_bright.parquet")).args(["--maxsep", "1deg"]);
    piped.pipe_stdin(&two).unwrap().assert().code(2).stderr(predicates::str::contains("give --hdu 2"));
    stream(&fixture("objects.parquet"), &out, &two, &["--maxsep", "1deg"])
        .code(2)
        .stderr(predicates::str::contains("give --contaminant-hdu 2"));
    assert!(!out.exists());
    stream(&fixture("objects.parquet"), &out, &two, &["--maxsep", "1deg", "--contaminant-hdu", "2"]).success();
    let chosen = read_parquet(&out).num_rows();
    let direct = dir.path().join("direct.parquet");
    stream(&fixture("objects.parquet"), &direct, &fixture("hip2_bright4.fits"), &["--maxsep", "1deg"]).success();
    assert_eq!(chosen, read_parquet(&direct).num_rows());
    assert!(chosen < 20_000);
}
