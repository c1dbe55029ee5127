//! CSV with a header line, column types inferred.

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::Path;
use std::sync::Arc;

use super::ArrowSource;
use crate::error::Error;

/// CSV with a header; column types inferred from the first 10,000 rows.
pub(super) fn open_csv(path: &Path, mut file: File, batch_size: usize) -> Result<ArrowSource, Error> {
    let arrow_error = |source| Error::Arrow { path: path.to_path_buf(), source };
    let format = arrow::csv::reader::Format::default().with_header(true);
    let (schema, _) = format.infer_schema(BufReader::new(&mut file), Some(10_000)).map_err(arrow_error)?;
    file.rewind().map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let schema = Arc::new(schema);
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_batch_size(batch_size)
        .build(BufReader::new(file))
        .map_err(arrow_error)?;
    Ok(ArrowSource::new(path, schema, reader))
}
