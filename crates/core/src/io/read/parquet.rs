//! Parquet catalogues: the footer read once, record batches decoded on demand, damaged files
//! reported (never a panic) and no read past the file's end ([`BoundedFile`]).

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchReader, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use parquet::file::metadata::page_index::{PageIndex, PageIndexProvider};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::page_index::column_index::ColumnIndexMetaData;

use super::bounded_file::BoundedFile;
use super::{BatchSource, Parts, next_guarded};
use crate::error::{Error, panic_message};

/// The column of input row numbers (UInt64, from 0) that a Parquet source adds to its batches
/// once its rows are passed through ([`BatchSource::pass_rows_through`]): a writer of Parquet
/// copies the row groups whose every row it gets, and decodes again only the rows it gets of
/// the others.
pub(crate) const ROW_NUMBERS: &str = "__parquet_row";

/// An open Parquet catalogue, streaming record batches.
pub struct ParquetCatalog {
    /// The file, for messages.
    pub path: PathBuf,
    /// The columns of its batches.
    pub schema: SchemaRef,
    /// Rows in the file, from its footer.
    pub rows: u64,
    reader: Numbered,
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
    /// With rows passed through: the schema of the batches, their row numbers added last.
    numbered: Option<SchemaRef>,
}

/// A Parquet input as it is stored, for a writer that copies its row groups (those whose every
/// row it is given) and decodes again the rows it is given of the others.
pub struct StoredParquet {
    /// The input, as messages name it.
    pub name: PathBuf,
    file: BoundedFile,
    metadata: ArrowReaderMetadata,
    batch_size: usize,
    /// The file's column index (page min/max), if it has one.
    indexed: Option<Arc<PageIndex>>,
}

impl StoredParquet {
    /// The same file, named `name` in messages (stdin's copy is named as stdin).
    pub(crate) fn renamed(&self, name: &Path) -> StoredParquet {
        StoredParquet {
            name: name.to_path_buf(),
            file: self.file.clone(),
            metadata: self.metadata.clone(),
            batch_size: self.batch_size,
            indexed: self.indexed.clone(),
        }
    }

    /// The column index of column chunk `column` of row group `group`, if the file has one.
    pub(crate) fn column_index(&self, group: usize, column: usize) -> Option<&ColumnIndexMetaData> {
        self.indexed.as_ref()?.column_index(group, column)
    }

    /// The first row of each row group, and the file's row count last.
    pub fn row_group_starts(&self) -> Vec<u64> {
        row_group_starts(&self.metadata)
    }

    /// The file's footer.
    pub fn metadata(&self) -> &parquet::file::metadata::ParquetMetaData {
        self.metadata.metadata()
    }

    /// Every column of the file, as Arrow reads them.
    pub fn schema(&self) -> SchemaRef {
        self.metadata.schema().clone()
    }

    /// The file, to copy column chunks from.
    pub(crate) fn file(&self) -> &BoundedFile {
        &self.file
    }

    /// The first rows of the file (up to `rows`, every column), or `None` if it has none.
    pub fn sample(&self, rows: usize) -> Result<Option<RecordBatch>, Error> {
        if self.metadata.metadata().num_row_groups() == 0 {
            return Ok(None);
        }
        let source = (self.name.as_path(), &self.file, &self.metadata);
        let mut reader = build_reader(source, ProjectionMask::all(), Some(vec![0]), rows.max(1))?;
        next_guarded(&mut reader, &self.name).transpose()
    }

    /// A reader of the root column `column` of row group `group`, in batches of the job's size.
    pub fn column_reader(&self, group: usize, column: usize) -> Result<ParquetRecordBatchReader, Error> {
        let projection = ProjectionMask::roots(self.metadata.parquet_schema(), [column]);
        build_reader((self.name.as_path(), &self.file, &self.metadata), projection, Some(vec![group]), self.batch_size)
    }
}

/// The file's column index, if any of its chunks has one; `None` also if it cannot be read (a
/// reader does not need it: the copy is then written without one).
fn with_column_index(file: &BoundedFile, metadata: &ParquetMetaData) -> Option<Arc<PageIndex>> {
    let has = metadata.row_groups().iter().flat_map(|group| group.columns()).any(|c| c.column_index_offset().is_some());
    if !has {
        return None;
    }
    let reader = ParquetMetaDataReader::new_with_metadata(metadata.clone())
        .with_column_index_policy(PageIndexPolicy::Optional)
        .with_offset_index_policy(PageIndexPolicy::Skip);
    let (_, index) = catch_unwind(AssertUnwindSafe(|| reader.read_page_index_and_finish(file))).ok()?.ok()?;
    index.map(Arc::new)
}

/// Whether the Parquet writer can write the file's columns, as Arrow reads them, into the very
/// Parquet columns the file stores (the same physical types and levels; the output declares the
/// input's own schema, so annotations and names stay as they are), so that a file can hold its
/// column chunks copied beside rows encoded again; and whether the file declares its statistics'
/// column orders (files from before format 2.4 may hold min/max by an order readers no longer
/// assume). INT96 timestamps are refused: the writer does not write them back.
fn written_back_as_stored(metadata: &ArrowReaderMetadata) -> bool {
    let file = metadata.metadata().file_metadata();
    let Ok(written) = parquet::arrow::ArrowSchemaConverter::new().convert(metadata.schema()) else { return false };
    let stored = file.schema_descr();
    let same = |i: usize| {
        let (w, s) = (written.column(i), stored.column(i));
        w.physical_type() == s.physical_type()
            && w.type_length() == s.type_length()
            && w.max_def_level() == s.max_def_level()
            && w.max_rep_level() == s.max_rep_level()
            && s.physical_type() != parquet::basic::Type::INT96
    };
    file.column_orders().is_some()
        && written.num_columns() == stored.num_columns()
        && (0..stored.num_columns()).all(same)
}

/// A reader's batches with their input row numbers added as a last column, or as they are.
struct Numbered {
    reader: ParquetRecordBatchReader,
    /// The batches' schema with the row numbers, if they are added.
    schema: Option<SchemaRef>,
    next_row: u64,
}

impl Iterator for Numbered {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(error) => return Some(Err(error)),
        };
        let Some(schema) = &self.schema else { return Some(Ok(batch)) };
        let rows = batch.num_rows() as u64;
        let numbers: ArrayRef = Arc::new(UInt64Array::from_iter_values(self.next_row..self.next_row + rows));
        self.next_row += rows;
        let mut columns = batch.columns().to_vec();
        columns.push(numbers);
        Some(RecordBatch::try_new(schema.clone(), columns))
    }
}

/// The first row of each of a file's row groups, and its row count last.
fn row_group_starts(metadata: &ArrowReaderMetadata) -> Vec<u64> {
    let groups = metadata.metadata().row_groups();
    let mut starts = Vec::with_capacity(groups.len() + 1);
    starts.push(0u64);
    for group in groups {
        starts.push(starts[starts.len() - 1] + group.num_rows().max(0) as u64);
    }
    starts
}

impl RowGroups {
    /// `reader` with row numbers from `first_row` if this file's rows are passed through.
    fn numbered(&self, reader: ParquetRecordBatchReader, first_row: u64) -> Numbered {
        Numbered { reader, schema: self.numbered.clone(), next_row: first_row }
    }

    /// A reader of `groups` (all if `None`), with the crate's errors and panics made ours.
    fn reader(&self, groups: Option<Vec<usize>>) -> Result<ParquetRecordBatchReader, Error> {
        let source = (self.path.as_path(), &self.file, &self.metadata);
        build_reader(source, self.projection.clone(), groups, self.batch_size)
    }
}

/// A reader of `source`'s (name, file, footer) root columns `projection` of row groups `groups`
/// (all if `None`), with the crate's errors and panics made ours.
fn build_reader(
    (name, file, metadata): (&Path, &BoundedFile, &ArrowReaderMetadata),
    projection: ProjectionMask,
    groups: Option<Vec<usize>>,
    batch_size: usize,
) -> Result<ParquetRecordBatchReader, Error> {
    let built = catch_unwind(AssertUnwindSafe(|| {
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file.clone(), metadata.clone())
            .with_projection(projection)
            .with_batch_size(batch_size);
        match groups {
            Some(groups) => builder.with_row_groups(groups),
            None => builder,
        }
        .build()
    }));
    flatten(name, built)
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
        let schema = self.numbered.clone().unwrap_or_else(|| reader.schema());
        let first_row = row_group_starts(&self.metadata).get(part).copied().unwrap_or(0);
        Ok(Box::new(super::ArrowSource::new(&self.path, schema, self.numbered(reader, first_row))))
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
        let groups = RowGroups { path: path.to_path_buf(), file, metadata, projection, batch_size, numbered: None };
        let reader = groups.reader(None)?;
        let schema = if columns.is_some() { reader.schema() } else { groups.metadata.schema().clone() };
        let reader = groups.numbered(reader, 0);
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

    /// Decodes only the columns `decoded`, and adds each row's number in the file as a last
    /// column (`ROW_NUMBERS`): a Parquet writer copies the row groups it gets whole
    /// ([`BatchSource::stored_parquet`]).
    fn pass_rows_through(&mut self, decoded: &[usize]) -> Option<SchemaRef> {
        let whole = self.groups.metadata.schema().clone();
        let clash = whole.fields().iter().any(|f| f.name() == ROW_NUMBERS);
        if self.started || self.groups.numbered.is_some() || clash || !written_back_as_stored(&self.groups.metadata) {
            return None;
        }
        let mut roots = decoded.to_vec();
        roots.sort_unstable();
        roots.dedup();
        let projection = ProjectionMask::roots(self.groups.metadata.parquet_schema(), roots.iter().copied());
        let mut fields: Vec<Field> = roots.iter().map(|&i| whole.field(i).clone()).collect();
        fields.push(Field::new(ROW_NUMBERS, DataType::UInt64, false));
        let schema = Arc::new(Schema::new_with_metadata(fields, whole.metadata().clone()));
        let groups = RowGroups {
            path: self.groups.path.clone(),
            file: self.groups.file.clone(),
            metadata: self.groups.metadata.clone(),
            projection,
            batch_size: self.groups.batch_size,
            numbered: Some(schema.clone()),
        };
        let reader = groups.reader(None).ok()?;
        self.reader = groups.numbered(reader, 0);
        self.groups = Arc::new(groups);
        self.schema = schema.clone();
        Some(schema)
    }

    fn stored_parquet(&self) -> Option<Arc<StoredParquet>> {
        let groups = &self.groups;
        groups.numbered.as_ref()?;
        Some(Arc::new(StoredParquet {
            name: self.path.clone(),
            file: groups.file.clone(),
            metadata: groups.metadata.clone(),
            batch_size: groups.batch_size,
            indexed: with_column_index(&groups.file, groups.metadata.metadata()),
        }))
    }
}
