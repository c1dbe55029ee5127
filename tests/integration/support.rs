//! Helpers shared by the CLI tests: writing and reading small Parquet catalogues, running angcut.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use assert_cmd::Command;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use angcut::sky::{SearchRadius, chord2};
use angcut::{Angle, unit_vector};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

pub fn angcut() -> Command {
    Command::cargo_bin("angcut").expect("the angcut binary is built")
}

/// `angcut stream INPUT OUT -c CONTAMINANTS EXTRA...`, run to completion.
pub fn stream(input: &Path, out: &Path, contaminants: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    angcut().arg("stream").arg(input).arg(out).arg("-c").arg(contaminants).args(extra).assert()
}

/// Writes `batches` to a Parquet file in row groups of `row_group` rows.
pub fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch], row_group: usize) {
    let props =
        parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(row_group)).build();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// Reads a whole Parquet file as one batch.
pub fn read_parquet(path: &Path) -> RecordBatch {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    // The builder's schema carries the file's metadata; the reader's batches carry only fields.
    let schema = builder.schema().clone();
    let reader = builder.build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// A narrow (id, ra, dec) catalogue from explicit positions.
pub fn narrow(positions: &[(f64, f64)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ra", DataType::Float64, true),
        Field::new("dec", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..positions.len() as i64)),
        Arc::new(Float64Array::from_iter_values(positions.iter().map(|p| p.0))),
        Arc::new(Float64Array::from_iter_values(positions.iter().map(|p| p.1))),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

pub fn write_narrow(path: &Path, positions: &[(f64, f64)], row_group: usize) {
    let batch = narrow(positions);
    write_parquet(path, batch.schema(), &[batch], row_group);
}

pub fn column_f64(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let column = batch.column_by_name(name).unwrap();
    let cast = arrow::compute::cast(column, &DataType::Float64).unwrap();
    cast.as_primitive::<Float64Type>().values().to_vec()
}

pub fn ids(batch: &RecordBatch) -> Vec<i64> {
    batch.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec()
}

/// The scalar reference: the row numbers of the objects with no contaminant strictly within
/// `maxsep`, by plain loops over every pair.
pub fn reference_kept(objects: &[(f64, f64)], contaminants: &[(f64, f64)], maxsep: Angle) -> Vec<i64> {
    reference_kept_with_radii(objects, contaminants, &vec![maxsep; contaminants.len()])
}

/// The scalar reference with a radius per contaminant.
pub fn reference_kept_with_radii(objects: &[(f64, f64)], contaminants: &[(f64, f64)], radii: &[Angle]) -> Vec<i64> {
    let stars: Vec<_> = contaminants.iter().map(|&(r, d)| unit_vector(r, d)).collect();
    let limits: Vec<SearchRadius> =
        radii.iter().map(|&r| SearchRadius::new(r).expect("a radius in (0, 180deg]")).collect();
    objects
        .iter()
        .enumerate()
        .filter(|(_, (r, d))| {
            let o = unit_vector(*r, *d);
            !stars.iter().zip(&limits).any(|(s, radius)| radius.contains(chord2(&o, s)))
        })
        .map(|(i, _)| i as i64)
        .collect()
}

/// The (ra, dec) pairs of a Parquet catalogue's `ra` and `dec` columns.
pub fn positions(path: &Path) -> Vec<(f64, f64)> {
    let batch = read_parquet(path);
    let (ra, dec) = (column_f64(&batch, "ra"), column_f64(&batch, "dec"));
    assert_eq!(batch.column_by_name("ra").unwrap().null_count(), 0);
    ra.into_iter().zip(dec).collect()
}

/// Files in `dir` other than the ones named: what a run left behind.
pub fn leftovers(dir: &Path, expected: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !expected.contains(&name.as_str()))
        .collect()
}
