//! Parquet to Parquet with row groups copied as stored: every output equals, value for value and
//! with the same schema and metadata, what the route that decodes and encodes every column
//! (`--rewrite`) writes; a copied row group's column chunks are the input's bytes; a run says
//! how many row groups it copied and filtered and how many column chunks it re-encoded. On
//! inputs of every column kind the Parquet writer makes (nulls, NaN, strings, dictionaries,
//! lists, structs, timestamps), in row groups of 128 rows, several pages each, v1 and v2 data
//! pages, page index on and off, DELTA_* and BYTE_STREAM_SPLIT values beside PLAIN ones.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, TimestampMicrosecondArray, UInt16Array,
};
use arrow::datatypes::{DataType, Field, Fields, Int32Type, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use parquet::schema::types::ColumnPath;

use predicates::prelude::PredicateBooleanExt;

use crate::support::*;

const ROWS: usize = 1_000;
const GROUP: usize = 128;

/// A catalogue of every column kind, sorted by RA so that a star touches few row groups.
fn catalogue() -> RecordBatch {
    let n = ROWS;
    let ra: Vec<f64> = (0..n).map(|i| i as f64 * 0.3).collect();
    let dec: Vec<f64> = (0..n).map(|i| ((i * 37) % 160) as f64 - 80.0).collect();
    let mag: Vec<Option<f32>> = (0..n)
        .map(|i| {
            if i % 17 == 0 {
                None
            } else if i % 23 == 0 {
                Some(f32::NAN)
            } else {
                Some(i as f32 * 0.01)
            }
        })
        .collect();
    let name: Vec<Option<String>> = (0..n).map(|i| (i % 11 != 0).then(|| format!("obj-{i}"))).collect();
    let tag: Vec<&str> = (0..n).map(|i| ["star", "galaxy", "qso"][i % 3]).collect();
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(
        (0..n).map(|i| (i % 7 != 0).then(|| (0..(i % 4) as i32).map(Some).collect::<Vec<_>>())),
    );
    let point = StructArray::from(vec![
        (
            Arc::new(Field::new("x", DataType::Int32, false)),
            Arc::new(Int32Array::from_iter_values(0..n as i32)) as ArrayRef,
        ),
        (
            Arc::new(Field::new("label", DataType::Utf8, true)),
            Arc::new(StringArray::from_iter((0..n).map(|i| (i % 5 != 0).then(|| format!("p{i}"))))) as ArrayRef,
        ),
    ]);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from_iter_values(0..n as i64))),
        ("ra", Arc::new(Float64Array::from(ra))),
        ("dec", Arc::new(Float64Array::from(dec))),
        ("mag", Arc::new(Float32Array::from(mag))),
        ("name", Arc::new(StringArray::from(name))),
        ("tag", Arc::new(StringArray::from(tag))),
        ("good", Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 13 != 0).then_some(i % 2 == 0))))),
        ("counts", Arc::new(list)),
        ("point", Arc::new(point)),
        (
            "seen",
            Arc::new(TimestampMicrosecondArray::from_iter_values((0..n as i64).map(|i| 1_700_000_000_000_000 + i))),
        ),
        ("band", Arc::new(UInt16Array::from_iter_values((0..n).map(|i| (i % 5) as u16)))),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), array.null_count() > 0 || *name == "mag"))
        .collect();
    let mut schema = Schema::new(Fields::from(fields));
    schema.metadata.insert("survey".to_string(), "test".to_string());
    RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, a)| a).collect()).unwrap()
}

/// The catalogue written by the Parquet writer with `properties`.
fn write(path: &Path, properties: WriterProperties) {
    let batch = catalogue();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// The ways the inputs are written, and how many of the flat columns (and of the struct's
/// fields) in each row group are written in encodings that cannot be filtered as pages.
fn variants() -> Vec<(&'static str, WriterProperties, u64)> {
    let base = || {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(GROUP))
            .set_data_page_row_count_limit(40)
            .set_write_batch_size(40)
    };
    // DELTA_* and BYTE_STREAM_SPLIT values: on a column the cut decodes (ra), on one it does not
    // (id), and on a struct's field; the other columns are filtered as pages beside them.
    let mut deltas = base().set_compression(Compression::SNAPPY);
    for (column, encoding) in [
        ("id", Encoding::DELTA_BINARY_PACKED),
        ("ra", Encoding::BYTE_STREAM_SPLIT),
        ("name", Encoding::DELTA_BYTE_ARRAY),
        ("point.x", Encoding::DELTA_BINARY_PACKED),
    ] {
        let path = ColumnPath::from(column.split('.').map(String::from).collect::<Vec<_>>());
        deltas = deltas.set_column_dictionary_enabled(path.clone(), false).set_column_encoding(path, encoding);
    }
    vec![
        ("v1_snappy_page_index", base().set_compression(Compression::SNAPPY).build(), 0),
        (
            "v2_zstd_chunk_statistics",
            base()
                .set_writer_version(WriterVersion::PARQUET_2_0)
                .set_compression(Compression::ZSTD(Default::default()))
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .build(),
            0,
        ),
        ("plain_uncompressed", base().set_dictionary_enabled(false).build(), 0),
        ("deltas_beside_plain", deltas.build(), 4),
    ]
}

/// Runs angcut on `input` with `args`, both routes; returns the stats JSON of the copying one
/// after checking that its output (and rejected output, if any) equals the rewriting one's.
fn both_routes(dir: &Path, input: &Path, args: &[&str], rejected: bool) -> String {
    let mut stats = String::new();
    for route in ["copy", "rewrite"] {
        let out = dir.join(format!("{route}.parquet"));
        let json = dir.join(format!("{route}.json"));
        let mut cmd = angcut();
        cmd.arg("stream").arg(input).arg(&out).args(args).arg("-q").arg("--stats-json").arg(&json);
        if rejected {
            cmd.arg("--rejected").arg(dir.join(format!("{route}-rejected.parquet")));
        }
        if route == "rewrite" {
            cmd.arg("--rewrite");
        }
        cmd.assert().success();
        if route == "copy" {
            stats = std::fs::read_to_string(&json).unwrap();
        }
    }
    let outputs = if rejected { vec!["", "-rejected"] } else { vec![""] };
    for suffix in outputs {
        let copy = read_parquet(&dir.join(format!("copy{suffix}.parquet")));
        let rewrite = read_parquet(&dir.join(format!("rewrite{suffix}.parquet")));
        assert_eq!(copy.schema(), rewrite.schema(), "{args:?}{suffix}: schemas differ");
        assert_eq!(copy, rewrite, "{args:?}{suffix}: values differ");
    }
    stats
}

/// `(copied, filtered, reencoded_chunks)` from a run's stats JSON.
fn row_groups(stats: &str) -> (u64, u64, u64) {
    let at = stats.rfind("\"row_groups\": {").expect("row group counts in the summary");
    let numbers: Vec<u64> = stats[at..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// Each column chunk's bytes, row group by row group.
fn chunks(path: &Path) -> Vec<Vec<Vec<u8>>> {
    let file = File::open(path).unwrap();
    let reader = SerializedFileReader::new(file.try_clone().unwrap()).unwrap();
    reader
        .metadata()
        .row_groups()
        .iter()
        .map(|group| {
            group
                .columns()
                .iter()
                .map(|c| {
                    let (start, length) = c.byte_range();
                    file.get_bytes(start, length as usize).unwrap().to_vec()
                })
                .collect()
        })
        .collect()
}

#[test]
fn copied_row_groups_equal_the_rewrite_route_for_every_column_kind() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    let stars = dir.path().join("stars.parquet");
    let far = dir.path().join("far.parquet");
    // Two stars on objects of row groups 1 and 5; one star far from every object.
    let batch = catalogue();
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    write_narrow(&stars, &[(ra[200], dec[200]), (ra[700], dec[700])], 10);
    write_narrow(&far, &[(0.0, 89.99)], 10);
    let groups = ROWS.div_ceil(GROUP) as u64;
    for (name, properties, unfilterable) in variants() {
        write(&input, properties);
        let far_flag = ["-c", far.to_str().unwrap(), "--maxsep", "1arcsec", "--flag-column", "near"];
        // Flag-only: nothing removed, every row group copied, its chunks the input's bytes.
        let stats = both_routes(dir.path(), &input, &far_flag, false);
        assert_eq!(row_groups(&stats), (groups, 0, 0), "{name}: {stats}");
        let (copied, original) = (chunks(&dir.path().join("copy.parquet")), chunks(&input));
        for (g, (out, stored)) in copied.iter().zip(&original).enumerate() {
            assert_eq!(&out[..stored.len()], &stored[..], "{name}: row group {g}'s chunks are not the input's bytes");
            assert_eq!(out.len(), stored.len() + 1, "{name}: the flag column is added");
        }
        // A cut that touches two row groups: those filtered, the list column's chunk (whose
        // pages cannot be) and the unfilterable ones re-encoded; the others copied.
        let cut = ["-c", stars.to_str().unwrap(), "--maxsep", "2deg"];
        let stats = both_routes(dir.path(), &input, &cut, false);
        let (copied, filtered, reencoded) = row_groups(&stats);
        assert!(copied > 0 && filtered >= 2 && copied + filtered <= groups, "{name}: {stats}");
        assert_eq!(reencoded, filtered * (1 + unfilterable), "{name}: {stats}");
        let first_refused = if unfilterable > 0 {
            "column 'id': DELTA_BINARY_PACKED values"
        } else {
            "column 'counts.list.item': a repeated column"
        };
        assert!(stats.contains(&format!("\"reencoded_because\": \"{first_refused}\"")), "{name}: {stats}");
        // The near rows, and the far ones as the rejected output, with the nearest columns.
        let invert = ["-c", stars.to_str().unwrap(), "--maxsep", "2deg", "--invert", "--nearest-columns"];
        both_routes(dir.path(), &input, &invert, true);
        // One thread and small batches: batches then run across row groups.
        let small = ["-c", stars.to_str().unwrap(), "--maxsep", "2deg", "--threads", "1", "--batch-size", "50"];
        both_routes(dir.path(), &input, &small, false);
    }
}

#[test]
fn touched_row_groups_of_flat_columns_are_filtered_as_pages() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    let stars = dir.path().join("stars.parquet");
    let batch = catalogue();
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    write_narrow(&stars, &[(ra[200], dec[200]), (ra[700], dec[700])], 10);
    // Every column but the list and the struct: each is one leaf without repetition.
    let flat = batch.project(&(0..batch.num_columns()).filter(|&i| ![7, 8].contains(&i)).collect::<Vec<_>>()).unwrap();
    assert!(flat.schema().fields().iter().all(|f| !f.data_type().is_nested()));
    // A struct's fields are leaves without repetition too (two definition levels deep).
    let with_struct = batch.project(&(0..batch.num_columns()).filter(|&i| i != 7).collect::<Vec<_>>()).unwrap();
    for (name, properties, unfilterable) in variants() {
        let mut writer =
            ArrowWriter::try_new(File::create(&input).unwrap(), with_struct.schema(), Some(properties.clone()))
                .unwrap();
        writer.write(&with_struct).unwrap();
        writer.close().unwrap();
        let stats = both_routes(dir.path(), &input, &["-c", stars.to_str().unwrap(), "--maxsep", "2deg"], false);
        let (_, filtered, reencoded) = row_groups(&stats);
        assert!(filtered >= 2 && reencoded == filtered * unfilterable, "{name} with a struct: {stats}");

        let mut writer = ArrowWriter::try_new(File::create(&input).unwrap(), flat.schema(), Some(properties)).unwrap();
        writer.write(&flat).unwrap();
        writer.close().unwrap();
        let small = ["--threads", "1", "--batch-size", "50"];
        for extra in [&[][..], &["--invert", "--nearest-columns"], &small] {
            let cut = [&["-c", stars.to_str().unwrap(), "--maxsep", "2deg"][..], extra].concat();
            let stats = both_routes(dir.path(), &input, &cut, extra.contains(&"--invert"));
            let (copied, filtered, reencoded) = row_groups(&stats);
            // (With --invert, the rejected output copies the untouched row groups.)
            // (id, ra, name: the struct's field is not in this file.)
            let unfilterable = unfilterable.saturating_sub(1);
            assert!(copied > 0 && filtered >= 2 && reencoded == filtered * unfilterable, "{name} {extra:?}: {stats}");
            // The statistics of a filtered chunk: its null count exact, its min and max bounds.
            let out = dir.path().join("copy.parquet");
            let reader = SerializedFileReader::new(File::open(&out).unwrap()).unwrap();
            let decoded = read_parquet(&out);
            let mut first = 0;
            for group in reader.metadata().row_groups() {
                let rows = decoded.slice(first, group.num_rows() as usize);
                first += rows.num_rows();
                for (column, chunk) in rows.columns().iter().zip(group.columns()) {
                    let statistics = chunk.statistics().expect("statistics kept");
                    let nulls = statistics.null_count_opt().expect("a null count");
                    assert_eq!(nulls, column.null_count() as u64, "{name}: {}", chunk.column_path());
                }
                let ra_bounds = group.column(1).statistics().unwrap();
                let (min, max) = (ra_bounds.min_bytes_opt().unwrap(), ra_bounds.max_bytes_opt().unwrap());
                let (min, max) =
                    (f64::from_le_bytes(min.try_into().unwrap()), f64::from_le_bytes(max.try_into().unwrap()));
                let values = column_f64(&rows, "ra");
                assert!(values.iter().all(|&v| min <= v && v <= max), "{name}: ra outside [{min}, {max}]");
            }
            assert_offset_indexes_find_the_rows(&out);
            // The input's page min/max (all but the variant with chunk statistics) carried over.
            let indexed = !name.starts_with("v2_zstd_chunk_statistics");
            assert_column_indexes_bound_their_pages(&out, indexed, flat.num_columns(), name);
        }
    }
}

/// Every column chunk of `path` has a column index if `indexed` (none otherwise, among its first
/// `from_input` columns: the columns angcut adds are encoded with one), and each page's entry holds for the rows the offset index places in it: its null count exact,
/// a null page exactly when all are null, every other value (numbers, strings) within its
/// min and max. Checked to fail: with the null count off by one for a filtered page, and with
/// a page's min raised, this failed.
fn assert_column_indexes_bound_their_pages(path: &Path, indexed: bool, from_input: usize, name: &str) {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::file::page_index::column_index::ColumnIndexMetaData as Index;
    let options = ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path).unwrap(), options).unwrap();
    let metadata = builder.metadata().clone();
    let all = read_parquet(path);
    let (mut first, mut pages_checked) = (0usize, 0);
    for g in 0..metadata.num_row_groups() {
        let rows = metadata.row_group(g).num_rows() as usize;
        let indexes = metadata.page_index_for_row_group(g);
        for (c, column) in all.columns().iter().enumerate() {
            let what = format!("{name}: row group {g}, column {}", all.schema().field(c).name());
            let Some(index) = indexes.column_index(c) else {
                assert!(!indexed, "{what}: no column index");
                continue;
            };
            assert!(indexed || c >= from_input, "{what}: a column index the input did not have");
            let starts: Vec<usize> =
                indexes.offset_index(c).unwrap().page_locations().iter().map(|l| l.first_row_index as usize).collect();
            assert_eq!(index.num_pages() as usize, starts.len(), "{what}: pages");
            for (p, &start) in starts.iter().enumerate() {
                let end = starts.get(p + 1).copied().unwrap_or(rows);
                let page = column.slice(first + start, end - start);
                assert_eq!(index.null_count(p), Some(page.null_count() as i64), "{what}, page {p}: nulls");
                assert_eq!(index.is_null_page(p), page.null_count() == page.len(), "{what}, page {p}: null page");
                if index.is_null_page(p) {
                    continue;
                }
                let numbers = match page.data_type() {
                    DataType::Timestamp(..) => arrow::compute::cast(&page, &DataType::Int64).unwrap(),
                    _ => page.clone(),
                };
                let (low, high) = match index {
                    Index::INT32(i) => (*i.min_value(p).unwrap() as f64, *i.max_value(p).unwrap() as f64),
                    Index::INT64(i) => (*i.min_value(p).unwrap() as f64, *i.max_value(p).unwrap() as f64),
                    Index::FLOAT(i) => (*i.min_value(p).unwrap() as f64, *i.max_value(p).unwrap() as f64),
                    Index::DOUBLE(i) => (*i.min_value(p).unwrap(), *i.max_value(p).unwrap()),
                    Index::BYTE_ARRAY(i) => {
                        let (low, high) = (i.min_value(p).unwrap(), i.max_value(p).unwrap());
                        let strings = arrow::compute::cast(&page, &DataType::Utf8).unwrap();
                        let strings = strings.as_any().downcast_ref::<StringArray>().unwrap();
                        for s in strings.iter().flatten() {
                            assert!(low <= s.as_bytes() && s.as_bytes() <= high, "{what}, page {p}: {s} out of bounds");
                        }
                        pages_checked += 1;
                        continue;
                    }
                    _ => continue,
                };
                let values = arrow::compute::cast(&numbers, &DataType::Float64).unwrap();
                let values = values.as_any().downcast_ref::<Float64Array>().unwrap();
                for v in values.iter().flatten().filter(|v| !v.is_nan()) {
                    assert!(low <= v && v <= high, "{what}, page {p}: {v} outside [{low}, {high}]");
                }
                pages_checked += 1;
            }
        }
        first += rows;
    }
    assert!(!indexed || pages_checked >= 10, "{name}: {pages_checked} pages checked");
}

/// Every column chunk of `path` has an offset index, and a reader that skips pages by it reads
/// the same rows as one that reads them all.
fn assert_offset_indexes_find_the_rows(path: &Path) {
    use parquet::arrow::arrow_reader::{
        ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
    };
    let options =
        ArrowReaderOptions::new().with_offset_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path).unwrap(), options).unwrap();
    let metadata = builder.metadata().clone();
    for g in 0..metadata.num_row_groups() {
        let indexes = metadata.page_index_for_row_group(g);
        for c in 0..metadata.row_group(g).num_columns() {
            let rows: i64 = metadata.row_group(g).num_rows();
            let index = indexes.offset_index(c).unwrap_or_else(|| panic!("row group {g} column {c}: no offset index"));
            let locations = index.page_locations();
            assert!(!locations.is_empty() && locations[0].first_row_index == 0, "row group {g} column {c}");
            assert!(locations.iter().all(|l| l.first_row_index < rows), "row group {g} column {c}");
        }
    }
    // 5 rows of every 95 (pages of 40 rows): most pages skipped.
    let total = metadata.file_metadata().num_rows() as usize;
    let (mut selectors, mut keep, mut at) = (Vec::new(), Vec::new(), 0);
    while at < total {
        let (take, skip) = (5.min(total - at), 90.min(total - at - 5.min(total - at)));
        selectors.push(RowSelector::select(take));
        selectors.push(RowSelector::skip(skip));
        keep.extend(std::iter::repeat_n(true, take).chain(std::iter::repeat_n(false, skip)));
        at += take + skip;
    }
    let selected: Vec<RecordBatch> =
        builder.with_row_selection(RowSelection::from(selectors)).build().unwrap().map(|b| b.unwrap()).collect();
    let all = read_parquet(path);
    let selected = arrow::compute::concat_batches(&all.schema(), &selected).unwrap();
    let expected = arrow::compute::filter_record_batch(&all, &BooleanArray::from(keep)).unwrap();
    assert_eq!(selected, expected, "{}: rows read by the offset indexes", path.display());
}

#[test]
fn a_damaged_page_of_a_filtered_row_group_is_an_error_naming_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, stars, out) =
        (dir.path().join("clean.parquet"), dir.path().join("stars.parquet"), dir.path().join("out.parquet"));
    let batch = catalogue();
    let flat = batch.project(&[0, 1, 2, 3, 4, 5, 6, 9, 10]).unwrap();
    let properties = variants().remove(0).1; // snappy, v1 pages
    let mut writer = ArrowWriter::try_new(File::create(&clean).unwrap(), flat.schema(), Some(properties)).unwrap();
    writer.write(&flat).unwrap();
    writer.close().unwrap();
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    // On rows 130 and 260: in the first pages (rows 128-167, 256-295) of row groups 1 and 2, so
    // those pages are decompressed.
    write_narrow(&stars, &[(ra[130], dec[130]), (ra[260], dec[260])], 10);
    let reader = SerializedFileReader::new(File::open(&clean).unwrap()).unwrap();
    // Row groups are prepared (read and filtered) while the one before is written: of two
    // damaged ones the first is still the one named, and a damaged one after a sound one is named.
    for (damaged, named) in [(&[1, 2][..], 1), (&[2], 2), (&[1], 1)] {
        let input = dir.path().join("in.parquet");
        let mut bytes = std::fs::read(&clean).unwrap();
        for &group in damaged {
            // Bytes inside the first data page of 'name'.
            let name = reader.metadata().row_group(group).column(4);
            assert_eq!(name.column_path().string(), "name");
            let at = name.data_page_offset() as usize + 30;
            bytes[at..at + 12].iter_mut().for_each(|b| *b ^= 0x5a);
        }
        std::fs::write(&input, bytes).unwrap();
        stream(&input, &out, &stars, &["--maxsep", "2deg"])
            .code(1)
            .stderr(predicates::str::contains("in.parquet: the file is corrupt ("))
            .stderr(predicates::str::contains(format!("in column 'name' of row group {named})")));
        assert!(!out.exists(), "{damaged:?}");
    }
}

#[test]
fn explicit_encoding_options_and_other_outputs_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    write(&input, variants().remove(0).1);
    let far = dir.path().join("far.parquet");
    write_narrow(&far, &[(0.0, 89.99)], 10);
    for extra in [&["--compression", "zstd(3)"][..], &["--row-group-size", "500"], &["--rewrite"]] {
        let out = dir.path().join("out.parquet");
        let json = dir.path().join("s.json");
        stream(&input, &out, &far, &[&["--maxsep", "1arcsec", "--stats-json", json.to_str().unwrap()], extra].concat())
            .success()
            .stderr(predicates::str::contains("row groups").not());
        assert!(std::fs::read_to_string(&json).unwrap().contains("\"row_groups\": null"), "{extra:?}");
        assert_eq!(read_parquet(&out), read_parquet(&input));
    }
}
