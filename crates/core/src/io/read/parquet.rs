//! Parquet catalogues: the footer read once, record batches decoded on demand, damaged files
//! reported (never a panic) and no read past the file's end ([`BoundedFile`]).

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use super::bounded_file::BoundedFile;
use super::{BatchSource, Parts, next_guarded};
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
    /// Its row groups, to be decoded on several threads at once.
    groups: Arc<RowGroups>,
    /// Whether `reader` has been asked for a batch (its row groups are then no longer offered).
    started: bool,
}

/// What a reader of any of a file's row groups needs: the footer read once, shared.
struct RowGroups {
    path: PathBuf,
    file: BoundedFile,
    metadata: ArrowReaderMetadata,
    projection: ProjectionMask,
    batch_size: usize,
}

impl RowGroups {
    /// A reader of `groups` (all if `None`), with the crate's errors and panics made ours.
    fn reader(&self, groups: Option<Vec<usize>>) -> Result<ParquetRecordBatchReader, Error> {
        let built = catch_unwind(AssertUnwindSafe(|| {
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(self.file.clone(), self.metadata.clone())
                .with_projection(self.projection.clone())
                .with_batch_size(self.batch_size);
            match groups {
                Some(groups) => builder.with_row_groups(groups),
                None => builder,
            }
            .build()
        }));
        flatten(&self.path, built)
    }
}

impl Parts for RowGroups {
    fn count(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    fn rows(&self, part: usize) -> u64 {
        self.metadata.metadata().row_group(part).num_rows().max(0) as u64
    }

    fn open(&self, part: usize) -> Result<Box<dyn BatchSource>, Error> {
        let reader = self.reader(Some(vec![part]))?;
        Ok(Box::new(super::ArrowSource::new(&self.path, reader.schema(), reader)))
    }
}

/// The parquet crate's result, or its panic on a damaged file, as ours.
fn flatten<T>(path: &Path, built: std::thread::Result<parquet::errors::Result<T>>) -> Result<T, Error> {
    match built {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(Error::Parquet { path: path.to_path_buf(), source }),
        Err(payload) => Err(Error::Corrupt { path: path.to_path_buf(), message: panic_message(payload.as_ref()) }),
    }
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
        let metadata = catch_unwind(AssertUnwindSafe(|| ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())));
        let metadata = flatten(path, metadata)?;
        let rows = metadata.metadata().file_metadata().num_rows().max(0) as u64;
        let projection = match columns {
            Some(roots) => ProjectionMask::roots(metadata.parquet_schema(), roots.iter().copied()),
            None => ProjectionMask::all(),
        };
        let groups = RowGroups { path: path.to_path_buf(), file, metadata, projection, batch_size };
        let reader = groups.reader(None)?;
        let schema = if columns.is_some() { reader.schema() } else { groups.metadata.schema().clone() };
        Ok(ParquetCatalog { path: path.to_path_buf(), schema, rows, reader, groups: Arc::new(groups), started: false })
    }

    /// The next batch, or `None` at the end of the file. A panic in the decoder becomes an error.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        self.started = true;
        next_guarded(&mut self.reader, &self.path)
    }
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

    fn parts(&self) -> Option<Arc<dyn Parts>> {
        (!self.started).then(|| self.groups.clone() as Arc<dyn Parts>)
    }
}
