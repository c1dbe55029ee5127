//! CSV output: a header line, then one line per row, written atomically like every output file.
//! Floats are written in their shortest form that reads back to the same double.
//!
//! Each batch is formatted into a buffer that this sink then writes itself: arrow's CSV writer
//! turns an I/O error into text, and a full disk must stay the I/O error it is.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::csv::WriterBuilder;
use arrow::datatypes::{DataType, SchemaRef};
use tempfile::NamedTempFile;

use super::BatchSink;
use super::commit::{FinishedOutput, PartialOutput, create_partial, durable_buffered};
use crate::error::Error;

/// A CSV file under a temporary name beside its destination.
pub struct CsvFileSink {
    destination: PathBuf,
    out: Option<BufWriter<NamedTempFile>>,
    /// One batch as CSV text, reused from batch to batch.
    buffer: Vec<u8>,
    header_written: bool,
    schema: SchemaRef,
    // Declared after `writer`, so it is dropped after the temporary file is deleted.
    partial: Option<PartialOutput>,
}

impl CsvFileSink {
    /// Creates the temporary file for rows of `schema`, whose columns must all be flat (CSV has
    /// no lists or structs): a nested column is a usage error naming it, before anything is written.
    pub fn create(destination: &Path, schema: SchemaRef) -> Result<CsvFileSink, Error> {
        if let Some(field) = schema.fields().iter().find(|f| f.data_type().is_nested() || is_binary(f.data_type())) {
            // A vector of fixed length is a FITS column; other nested types are not.
            let formats = match field.data_type() {
                DataType::FixedSizeList(..) => "Parquet, Arrow or FITS",
                _ => "Parquet or Arrow",
            };
            return Err(Error::Usage(format!(
                "{}: column '{}' ({}) cannot be written as CSV: write {formats} instead",
                destination.display(),
                field.name(),
                field.data_type()
            )));
        }
        let (file, partial) = create_partial(destination, ".csv.partial")?;
        let out = BufWriter::with_capacity(1 << 20, file);
        Ok(CsvFileSink {
            destination: destination.to_path_buf(),
            out: Some(out),
            buffer: Vec::new(),
            header_written: false,
            schema,
            partial: Some(partial),
        })
    }
}

fn is_binary(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_))
}

impl BatchSink for CsvFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let Some(out) = &mut self.out else {
            return Err(Error::Internal { path: self.destination.clone(), message: "write after finish".into() });
        };
        self.buffer.clear();
        let mut writer = WriterBuilder::new().with_header(!self.header_written).build(&mut self.buffer);
        writer.write(batch).map_err(|source| Error::Arrow { path: self.destination.clone(), source })?;
        drop(writer);
        self.header_written = true;
        out.write_all(&self.buffer).map_err(|source| Error::Io { path: self.destination.clone(), source })
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        let destination = self.destination.clone();
        let Some(mut out) = self.out.take() else {
            return Err(Error::Internal { path: destination, message: "finish twice".into() });
        };
        if !self.header_written {
            // No batch came: the file still says what its columns are.
            let schema = self.schema.clone();
            let empty = RecordBatch::new_empty(schema);
            let mut writer = WriterBuilder::new().with_header(true).build(&mut self.buffer);
            writer.write(&empty).map_err(|source| Error::Arrow { path: destination.clone(), source })?;
            drop(writer);
            out.write_all(&self.buffer).map_err(|source| Error::Io { path: destination.clone(), source })?;
        }
        durable_buffered(out, &destination, &mut self.partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn a_nested_column_is_refused_by_name_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let item = Arc::new(Field::new("item", DataType::Float32, true));
        let schema = Arc::new(Schema::new(vec![
            Field::new("ra", DataType::Float64, false),
            Field::new("flux", DataType::List(item), true),
        ]));
        let Err(error) = CsvFileSink::create(&dir.path().join("out.csv"), schema) else { panic!("a list column") };
        assert!(error.is_usage());
        assert!(error.to_string().contains("column 'flux' (List(Float32)) cannot be written as CSV"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no partial file");
    }
}
