//! Parquet catalogues: the footer read once, record batches decoded on demand, damaged files
//! reported (never a panic) and no read past the file's end ([`BoundedFile`]).

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::bounded_file::BoundedFile;
use super::{BatchSource, next_guarded};
use crate::error::{Error, panic_message};

/// An open Parquet catalogue, streaming record batches.
pub struct ParquetCatalog {
    /// The file, for messages.
    pub path: PathBuf,
    /// The columns of its batches.
    pub schema: SchemaRef,
    /// Rows in the file, from its footer.
    pub rows: u64,
    reader: ParquetRecordBatchReader,
}

impl ParquetCatalog {
    /// Opens `path` and reads its footer; batches of `batch_size` rows follow on demand.
    pub fn open(path: &Path, batch_size: usize) -> Result<ParquetCatalog, Error> {
        Self::open_projected(path, batch_size, None)
    }

    /// Opens `path` decoding only the root columns `columns` (all if `None`).
    pub fn open_projected(path: &Path, batch_size: usize, columns: Option<&[usize]>) -> Result<ParquetCatalog, Error> {
        let file = open_file(path)?;
        let file = BoundedFile::new(file).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        // The parquet crate can panic on some damaged footers; contain that and say so.
        let built = catch_unwind(AssertUnwindSafe(|| {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
            let builder = match columns {
                Some(roots) => {
                    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
                    builder.with_projection(mask)
                }
                None => builder,
            };
            let schema = builder.schema().clone();
            Ok::<_, parquet::errors::ParquetError>((builder.with_batch_size(batch_size).build()?, rows, schema))
        }));
        match built {
            Ok(Ok((reader, rows, schema))) => Ok(ParquetCatalog {
                path: path.to_path_buf(),
                schema: if columns.is_some() { reader_schema(&reader) } else { schema },
                rows,
                reader,
            }),
            Ok(Err(source)) => Err(Error::Parquet { path: path.to_path_buf(), source }),
            Err(payload) => Err(Error::Corrupt { path: path.to_path_buf(), message: panic_message(payload.as_ref()) }),
        }
    }

    /// The next batch, or `None` at the end of the file. A panic in the decoder becomes an error.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        next_guarded(&mut self.reader, &self.path)
    }
}

fn reader_schema(reader: &ParquetRecordBatchReader) -> SchemaRef {
    use arrow::array::RecordBatchReader;
    reader.schema()
}

/// Opens a file for reading, with an error that says which file and why.
pub fn open_file(path: &Path) -> Result<File, Error> {
    let io_error = |source| Error::Io { path: path.to_path_buf(), source };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if metadata.is_dir() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory, not a catalogue file",
        )));
    }
    File::open(path).map_err(io_error)
}

impl BatchSource for ParquetCatalog {
    fn path(&self) -> &Path {
        &self.path
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        ParquetCatalog::next_batch(self)
    }
}
