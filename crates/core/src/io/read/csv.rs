//! CSV and TSV with a header line, column types inferred: `#` comment lines skipped anywhere,
//! header names trimmed, a column with no value in the rows looked at read as float64 (so a
//! header-only file is an empty catalogue, not one whose `ra` has no type).

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use super::ArrowSource;
use crate::error::Error;

/// Rows looked at to infer the columns' types.
const INFER_ROWS: usize = 10_000;

/// Text with a header, fields separated by `delimiter` (`,` or tab).
pub(super) fn open_csv(path: &Path, mut file: File, batch_size: usize, delimiter: u8) -> Result<ArrowSource, Error> {
    let arrow_error = |source| Error::Arrow { path: path.to_path_buf(), source };
    let format = arrow::csv::reader::Format::default().with_header(true).with_delimiter(delimiter).with_comment(b'#');
    let (inferred, _) = format.infer_schema(BufReader::new(&mut file), Some(INFER_ROWS)).map_err(arrow_error)?;
    file.rewind().map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            let data_type = if f.data_type() == &DataType::Null { DataType::Float64 } else { f.data_type().clone() };
            Field::new(f.name().trim(), data_type, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_delimiter(delimiter)
        .with_comment(b'#')
        .with_batch_size(batch_size)
        .build(BufReader::new(file))
        .map_err(arrow_error)?;
    Ok(ArrowSource::new(path, schema, reader))
}
