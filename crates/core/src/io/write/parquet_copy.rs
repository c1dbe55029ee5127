//! Parquet output from a Parquet input without re-encoding what did not change: a row group all
//! of whose rows the output gets is copied as stored, its column chunks byte for byte (their
//! pages, encodings, compression and statistics: true bounds still), and only the columns the
//! cut adds (bits, flag, nearest) are encoded; a row group that lost rows has its column chunks
//! filtered as stored pages ([`super::pages`]) into a row group of its own. A column chunk whose
//! pages cannot be filtered so (a repeated column, DELTA_* encodings...) is decoded again, alone,
//! filtered and encoded, beside its row group's other chunks filtered as pages.
//!
//! The batches this sink is given hold only what the cut decoded (the coordinates), the input
//! row number of each row ([`ROW_NUMBERS`]) and the added columns: the input's other columns
//! never go through the pipeline. A row group is complete when a row of a later one arrives, or
//! at the end; one the cut emptied never arrives, and is not written.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{concat, filter};
use arrow::datatypes::{Schema, SchemaRef, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use parquet::schema::types::{ColumnPath, SchemaDescriptor, Type};
use rayon::prelude::*;
use tempfile::NamedTempFile;

use super::commit::{FinishedOutput, PartialOutput, create_partial};
use super::dictionary;
use super::pages::{self, Filtered};
use super::parallel_writer::{PageIndexes, ParallelParquetWriter};
use super::parquet::{finish_file, key_values};
use super::{BatchSink, ParquetOutputOptions, RowGroupCounts};
use crate::error::Error;
use crate::io::read::{ROW_NUMBERS, StoredParquet, next_guarded};

/// A Parquet output that copies its input's untouched row groups.
pub struct StoredCopySink {
    destination: PathBuf,
    input: Arc<StoredParquet>,
    writer: ParallelParquetWriter<NamedTempFile>,
    /// Where, in the batches given, the row numbers are (the decoded columns come before them,
    /// the added ones after).
    numbers: usize,
    /// For each column of the input, where the batches given hold it decoded, if they do: a row
    /// group's column chunk decoded again takes its values from them instead of decoding twice.
    decoded: Vec<Option<usize>>,
    /// The first input row of each row group, and the input's row count last.
    starts: Vec<u64>,
    gathered: Option<Gathered>,
    /// The row group before `gathered`, its chunks checked or filtered, not yet written.
    prepared: Option<Prepared>,
    /// The last row number given, to check that rows come in order.
    last_row: Option<u64>,
    row_groups: RowGroupCounts,
    // Declared after `writer`, so it is dropped after the temporary file is deleted.
    _partial: PartialOutput,
}

/// The rows given so far of one input row group: their numbers, as runs of consecutive rows (a
/// few per removed row, however large the row group), and the values of every column given but
/// the row numbers (the decoded ones, then the added ones).
struct Gathered {
    group: usize,
    runs: Vec<Range<u64>>,
    carried: Vec<Vec<ArrayRef>>,
}

impl Gathered {
    fn push(&mut self, rows: &[u64]) {
        for &row in rows {
            match self.runs.last_mut() {
                Some(run) if run.end == row => run.end += 1,
                _ => self.runs.push(row..row + 1),
            }
        }
    }

    fn rows(&self) -> u64 {
        self.runs.iter().map(|run| run.end - run.start).sum()
    }
}

/// A gathered row group whose chunks have been read and checked (all its rows kept: they are
/// copied) or filtered as pages, ready to be written.
struct Prepared {
    group: usize,
    runs: Vec<Range<u64>>,
    kept: u64,
    carried: Vec<Vec<ArrayRef>>,
    chunks: Chunks,
}

/// A prepared row group's column chunks.
enum Chunks {
    /// Every row kept: the chunks are copied as stored, with these page indexes.
    Stored(Vec<PageIndexes>),
    /// Some rows removed: each chunk filtered, or why it could not be.
    Filtered(Vec<Filtered>),
}

/// Reads the chunks of the row group `gathered` holds (input rows `rows`) and checks them, if
/// every row is kept, or filters them as pages, in parallel: the part of writing a row group
/// that needs no writer.
fn prepare(input: &StoredParquet, gathered: Gathered, rows: Range<u64>) -> Result<Prepared, Error> {
    let (group, kept) = (gathered.group, gathered.rows());
    let Gathered { runs, carried, .. } = gathered;
    let chunks = if kept == rows.end - rows.start {
        // What is copied is not decoded: its pages are checked as stored instead (a flipped
        // byte in a page with a checksum is caught as decoding would catch it; damage in one
        // without is copied, as `cp` would: `--rewrite` decodes every value), and their places
        // give the copy its offset index.
        Chunks::Stored(each_chunk(input, group, |leaf, column| {
            let bytes = read_chunk(input, group, column)?;
            pages::check_stored(&bytes, column, input.column_index(group, leaf))
                .map_err(|p| chunk_error(input, group, column, &p))
        })?)
    } else {
        let relative: Vec<Range<u64>> = runs.iter().map(|run| run.start - rows.start..run.end - rows.start).collect();
        Chunks::Filtered(each_chunk(input, group, |leaf, column| {
            // (`filter_chunk` would refuse it too, but after the chunk's bytes were read.)
            if let Some(why) = pages::refuses(column) {
                return Ok(Filtered::Unsupported(why));
            }
            let bytes = read_chunk(input, group, column)?;
            pages::filter_chunk(&bytes, column, input.column_index(group, leaf), &relative, rows.end - rows.start)
                .map_err(|p| chunk_error(input, group, column, &p))
        })?)
    };
    Ok(Prepared { group, runs, kept, carried, chunks })
}

/// `job` of each column chunk (its leaf number and metadata) of row group `group`, in parallel.
fn each_chunk<T: Send>(
    input: &StoredParquet,
    group: usize,
    job: impl Fn(usize, &ColumnChunkMetaData) -> Result<T, Error> + Sync,
) -> Result<Vec<T>, Error> {
    let metadata = input.metadata().row_group(group);
    let results: Vec<_> = metadata.columns().par_iter().enumerate().map(|(leaf, column)| job(leaf, column)).collect();
    // Through a Vec, so that of several damaged chunks the first column's is named, as
    // `Mask::read` does for layers (a parallel collect into a Result keeps whichever error
    // arrives first).
    results.into_iter().collect()
}

impl StoredCopySink {
    /// Creates the temporary file beside `destination` for batches of `given` (the decoded
    /// columns, `ROW_NUMBERS`, then the added columns) cut from `input`.
    pub fn create(
        destination: &Path,
        given: &SchemaRef,
        input: Arc<StoredParquet>,
        options: &ParquetOutputOptions,
    ) -> Result<Self, Error> {
        let internal = |message: &str| Error::Internal { path: destination.to_path_buf(), message: message.into() };
        let numbers = given.index_of(ROW_NUMBERS).map_err(|_| internal("the batches carry no row numbers"))?;
        let stored = input.schema();
        let mut fields: Vec<_> = stored.fields().iter().cloned().collect();
        fields.extend(given.fields()[numbers + 1..].iter().cloned());
        let schema = Arc::new(Schema::new_with_metadata(fields, given.metadata().clone()));
        let write_error = |source| Error::parquet_write(destination, source);
        // The input's own Parquet columns (a copied chunk must be of its column's very type), then
        // the added ones as the writer makes them.
        let added = Schema::new(given.fields()[numbers + 1..].to_vec());
        let added = parquet::arrow::ArrowSchemaConverter::new().convert(&added).map_err(write_error)?;
        let root = input.metadata().file_metadata().schema_descr().root_schema();
        let mut columns = root.get_fields().to_vec();
        columns.extend(added.root_schema().get_fields().iter().cloned());
        let root = Type::group_type_builder(root.name()).with_fields(columns).build().map_err(write_error)?;
        let parquet_schema = SchemaDescriptor::new(Arc::new(root));
        // Which columns of a row group decoded again are dictionary-encoded: as for any output,
        // from a sample of their values (the input's own writer may have used dictionaries where
        // they cost more than they save, as pyarrow does on every column).
        let sample = input.sample(dictionary::SAMPLE_ROWS)?;
        let (file, partial) = create_partial(destination, ".parquet.partial")?;
        let properties = properties(&schema, sample.as_ref(), options);
        let writer = ParallelParquetWriter::with_parquet_schema(file, schema, properties, Some(parquet_schema))
            .map_err(write_error)?;
        let starts = input.row_group_starts();
        let decoded = stored
            .fields()
            .iter()
            .map(|field| given.fields()[..numbers].iter().position(|g| g.name() == field.name()))
            .collect();
        Ok(StoredCopySink {
            destination: destination.to_path_buf(),
            input,
            writer,
            numbers,
            decoded,
            starts,
            gathered: None,
            prepared: None,
            last_row: None,
            row_groups: RowGroupCounts::default(),
            _partial: partial,
        })
    }

    fn internal(&self, message: String) -> Error {
        Error::Internal { path: self.destination.clone(), message }
    }

    fn write_error(&self, source: parquet::errors::ParquetError) -> Error {
        Error::parquet_write(&self.destination, source)
    }

    /// Writes the gathered row group, if there is one, overlapping its two steps with the row
    /// groups beside it: its chunks are read and checked or filtered ([`prepare`]: parallel
    /// work) while the row group before it is written (mostly one thread's: assembling it,
    /// re-encoding what could not be filtered, writing its bytes), which the other workers would
    /// otherwise wait out. `last`: no row group follows, so it is written too.
    fn flush_group(&mut self, last: bool) -> Result<(), Error> {
        let previous = self.prepared.take();
        if let Some(gathered) = self.gathered.take() {
            let input = self.input.clone();
            let rows = self.starts[gathered.group]..self.starts[gathered.group + 1];
            let (written, prepared) = rayon::join(
                || previous.map_or(Ok(()), |previous| self.write_prepared(previous)),
                || prepare(&input, gathered, rows),
            );
            // The earlier row group's error first: it is the first in the file.
            written?;
            self.prepared = Some(prepared?);
        } else if let Some(previous) = previous {
            self.write_prepared(previous)?;
        }
        if last && let Some(prepared) = self.prepared.take() {
            return self.write_prepared(prepared);
        }
        Ok(())
    }

    /// Writes a prepared row group: copied if it has every row, else filtered
    /// ([`Self::filter_group`]).
    fn write_prepared(&mut self, prepared: Prepared) -> Result<(), Error> {
        let Prepared { group, runs, kept, carried, chunks } = prepared;
        let added = carried[self.numbers..]
            .iter()
            .map(|pieces| concatenated(&self.destination, pieces))
            .collect::<Result<Vec<_>, _>>()?;
        match chunks {
            Chunks::Stored(indexes) => {
                let input = self.input.clone();
                let metadata = input.metadata().row_group(group);
                self.writer.copy_row_group(input.file(), metadata, indexes, &added).map_err(|e| self.write_error(e))?;
                self.row_groups.copied += 1;
            }
            Chunks::Filtered(filtered) => {
                self.filter_group(group, &runs, kept, filtered, &carried[..self.numbers], added)?;
                self.row_groups.filtered += 1;
            }
        }
        Ok(())
    }

    /// Writes the rows of `runs` (`kept` in all) of row group `group` as a row group of their
    /// own: each column chunk as [`pages`] filtered it (`filtered`), or, where its pages could not
    /// be, its column decoded again (or taken from `decoded`, the pieces of the columns the cut
    /// decoded), filtered and encoded; and the added columns' values `added` encoded.
    fn filter_group(
        &mut self,
        group: usize,
        runs: &[Range<u64>],
        kept: u64,
        filtered: Vec<Filtered>,
        decoded: &[Vec<ArrayRef>],
        added: Vec<ArrayRef>,
    ) -> Result<(), Error> {
        let input = self.input.clone();
        let metadata = input.metadata().row_group(group);
        // The chunks filtered, and the top-level columns of those that could not be.
        let descr = metadata.schema_descr();
        let (mut bytes, mut closes) = (Vec::with_capacity(filtered.len()), Vec::with_capacity(filtered.len()));
        let mut refused = vec![false; self.decoded.len()];
        for (leaf, (chunk, column)) in filtered.into_iter().zip(metadata.columns()).enumerate() {
            match chunk {
                Filtered::Chunk { bytes: stored, close } => {
                    bytes.push(Some(stored));
                    closes.push(Some(*close));
                }
                Filtered::Unsupported(why) => {
                    bytes.push(None);
                    closes.push(None);
                    refused[descr.get_column_root_idx(leaf)] = true;
                    self.row_groups.reencoded_chunks += 1;
                    let why = || format!("column '{}': {why}", column.column_path().string());
                    self.row_groups.reencoded_because.get_or_insert_with(why);
                }
            }
        }
        // The chunks that cannot be filtered are encoded from their columns' kept values: those
        // the cut decoded, given whole; the others decoded again a batch at a time, in parallel.
        let leaves = self.writer.leaves_to_encode(&closes);
        self.writer.start_row_group().map_err(|e| self.write_error(e))?;
        let mut roots = vec![None; self.decoded.len()];
        let mut readers = Vec::new();
        for root in (0..self.decoded.len()).filter(|&root| refused[root]) {
            match self.decoded[root] {
                Some(given) => roots[root] = Some(concatenated(&self.destination, &decoded[given])?),
                None => readers.push(KeptRows::new(&input, group, root, self.starts[group]..self.starts[group + 1])?),
            }
        }
        roots.extend(added.into_iter().map(Some));
        loop {
            self.writer.encode_leaves(&roots, &leaves).map_err(|e| self.write_error(e))?;
            let destination = self.destination.as_path();
            let next: Vec<Option<Result<ArrayRef, Error>>> =
                readers.par_iter_mut().map(|reader| reader.next(&input, destination, runs)).collect();
            if next.iter().all(Option::is_none) {
                break;
            }
            roots.fill(None);
            for (reader, values) in readers.iter().zip(next) {
                roots[reader.root] = values.transpose()?;
            }
        }
        readers.iter().try_for_each(|reader| reader.finish(&input))?;
        let chunks = bytes.iter().zip(closes).map(|(bytes, close)| bytes.as_ref().zip(close)).collect();
        self.writer.append_row_group(chunks, kept).map_err(|e| self.write_error(e))
    }
}

impl BatchSink for StoredCopySink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let numbers = batch.column(self.numbers).as_primitive::<UInt64Type>().values().clone();
        let mut offset = 0;
        while offset < numbers.len() {
            let first = numbers[offset];
            if self.last_row.is_some_and(|last| first <= last) {
                return Err(self.internal(format!("row {first} came after row {:?}", self.last_row)));
            }
            // The row group `first` lies in, and the given rows that lie in it too.
            let group = self.starts.partition_point(|&start| start <= first).saturating_sub(1);
            if group + 1 >= self.starts.len() {
                return Err(self.internal(format!("row {first} lies beyond the input's rows")));
            }
            let end = self.starts[group + 1];
            let count = numbers[offset..].partition_point(|&row| row < end);
            if self.gathered.as_ref().is_some_and(|g| g.group != group) {
                self.flush_group(false)?;
            }
            let carried_columns = batch.num_columns() - 1;
            let gathered = self.gathered.get_or_insert_with(|| Gathered {
                group,
                runs: Vec::new(),
                carried: vec![Vec::new(); carried_columns],
            });
            gathered.push(&numbers[offset..offset + count]);
            let given = (0..batch.num_columns()).filter(|&i| i != self.numbers);
            for (pieces, i) in gathered.carried.iter_mut().zip(given) {
                pieces.push(batch.column(i).slice(offset, count));
            }
            self.last_row = Some(numbers[offset + count - 1]);
            offset += count;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        self.flush_group(true)?;
        let StoredCopySink { destination, writer, _partial: partial, row_groups, .. } = *self;
        Ok(finish_file(writer, &destination, partial)?.with_row_groups(row_groups))
    }
}

/// A top-level column of a row group decoded again a batch at a time, each batch filtered to
/// the kept rows.
struct KeptRows {
    group: usize,
    root: usize,
    reader: ParquetRecordBatchReader,
    /// The input rows of the next batch, from `position` to the row group's `end`.
    position: u64,
    end: u64,
    /// The first of the kept runs that may overlap the next batch.
    run: usize,
}

impl KeptRows {
    /// Column `root` of row group `group` of `input`, whose rows are `rows`.
    fn new(input: &StoredParquet, group: usize, root: usize, rows: Range<u64>) -> Result<Self, Error> {
        let reader = input.column_reader(group, root)?;
        Ok(KeptRows { group, root, reader, position: rows.start, end: rows.end, run: 0 })
    }

    /// The values of the next batch's rows that lie in `runs` (for `destination`), if a batch
    /// is left.
    fn next(
        &mut self,
        input: &StoredParquet,
        destination: &Path,
        runs: &[Range<u64>],
    ) -> Option<Result<ArrayRef, Error>> {
        let batch = match next_guarded(&mut self.reader, &input.name)? {
            Ok(batch) => batch,
            Err(e) => return Some(Err(e)),
        };
        let (start, end) = (self.position, self.position + batch.num_rows() as u64);
        if end > self.end {
            return Some(Err(self.corrupt(input, "more rows than its footer records")));
        }
        // The kept rows of this batch: the parts of the runs that overlap it.
        let mut keep = vec![false; batch.num_rows()];
        while let Some(r) = runs.get(self.run) {
            let (from, to) = (r.start.max(start), r.end.min(end));
            if from < to {
                keep[(from - start) as usize..(to - start) as usize].fill(true);
            }
            if r.end > end {
                break;
            }
            self.run += 1;
        }
        self.position = end;
        let kept = filter(batch.column(0).as_ref(), &BooleanArray::from(keep));
        Some(kept.map_err(|source| Error::Arrow { path: destination.to_path_buf(), source }))
    }

    /// Checks that every row was read.
    fn finish(&self, input: &StoredParquet) -> Result<(), Error> {
        match self.position == self.end {
            true => Ok(()),
            false => Err(self.corrupt(input, "fewer rows than its footer records")),
        }
    }

    fn corrupt(&self, input: &StoredParquet, what: &str) -> Error {
        let schema = input.schema();
        Error::Corrupt {
            path: input.name.clone(),
            message: format!(
                "column '{}' of row group {} decodes to {what}",
                schema.field(self.root).name(),
                self.group
            ),
        }
    }
}

/// `pieces` of a column as one array, for `destination`.
fn concatenated(destination: &Path, pieces: &[ArrayRef]) -> Result<ArrayRef, Error> {
    concat(&pieces.iter().map(|a| a.as_ref()).collect::<Vec<_>>())
        .map_err(|source| Error::Arrow { path: destination.to_path_buf(), source })
}

/// The stored bytes of column chunk `column` of row group `group` of `input`.
fn read_chunk(input: &StoredParquet, group: usize, column: &ColumnChunkMetaData) -> Result<Bytes, Error> {
    let (start, length) = column.byte_range();
    let corrupt = |problem: &str| chunk_error(input, group, column, problem);
    let length = usize::try_from(length).map_err(|_| corrupt("a column chunk larger than memory"))?;
    input.file().get_bytes(start, length).map_err(|e| corrupt(&e.to_string()))
}

/// `problem` of a column chunk of `input`, named by its column and row group.
fn chunk_error(input: &StoredParquet, group: usize, column: &ColumnChunkMetaData, problem: &str) -> Error {
    Error::Corrupt {
        path: input.name.clone(),
        message: format!("{problem}, in column '{}' of row group {group}", column.column_path().string()),
    }
}

/// The writer's settings: the options' compression (for what is encoded), dictionary encoding
/// where the sample of the input's columns says it pays (for a column chunk decoded again), and
/// not for the added floats (separations: all different). Row groups are the input's.
fn properties(schema: &SchemaRef, sample: Option<&RecordBatch>, options: &ParquetOutputOptions) -> WriterProperties {
    let mut builder =
        WriterProperties::builder().set_compression(options.compression.0).set_key_value_metadata(key_values(schema));
    let sampled = sample.map(|s| dictionary::choose_dictionary_columns(std::slice::from_ref(s))).unwrap_or_default();
    for (column, dictionary) in sampled {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), dictionary);
    }
    let stored = sample.map_or(0, RecordBatch::num_columns);
    for field in schema.fields().iter().skip(stored).filter(|f| f.data_type().is_floating()) {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
    }
    builder.build()
}
