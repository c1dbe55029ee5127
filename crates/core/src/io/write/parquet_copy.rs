//! Parquet output from a Parquet input without re-encoding what did not change: a row group all
//! of whose rows the output gets is copied as stored, its column chunks byte for byte (their
//! pages, encodings, compression and statistics: true bounds still), and only the columns the
//! cut adds (bits, flag, nearest) are encoded; a row group that lost rows has its column chunks
//! filtered as stored pages ([`super::pages`]) into a row group of its own. Where a column's
//! pages cannot be filtered so (a nested column, DELTA_* encodings...), the row group is decoded
//! again, a batch at a time and each column on a thread of its own, filtered, and encoded as any
//! other input's rows (consecutive ones filling output row groups of the options' size).
//!
//! The batches this sink is given hold only what the cut decoded (the coordinates), the input
//! row number of each row ([`ROW_NUMBERS`]) and the added columns: the input's other columns
//! never go through the pipeline. A row group is complete when a row of a later one arrives, or
//! at the end; one the cut emptied never arrives, and is not written.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{concat, filter};
use arrow::datatypes::{Schema, SchemaRef, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use parquet::schema::types::{ColumnPath, SchemaDescriptor, Type};
use rayon::prelude::*;
use tempfile::NamedTempFile;

use super::commit::{FinishedOutput, PartialOutput, create_partial};
use super::dictionary;
use super::pages::{self, Filtered};
use super::parallel_writer::ParallelParquetWriter;
use super::parquet::{finish_file, key_values};
use super::{BatchSink, ParquetOutputOptions, RowGroupCounts};
use crate::error::Error;
use crate::io::read::{ROW_NUMBERS, StoredParquet, next_guarded};

/// A Parquet output that copies its input's untouched row groups.
pub struct StoredCopySink {
    destination: PathBuf,
    input: Arc<StoredParquet>,
    writer: ParallelParquetWriter<NamedTempFile>,
    /// The output's columns: the input's, then the added ones.
    schema: SchemaRef,
    /// Where, in the batches given, the row numbers are (the decoded columns come before them,
    /// the added ones after).
    numbers: usize,
    /// For each column of the input, where the batches given hold it decoded, if they do: a row
    /// group decoded again takes those columns from them instead of decoding them twice.
    decoded: Vec<Option<usize>>,
    /// The first input row of each row group, and the input's row count last.
    starts: Vec<u64>,
    gathered: Option<Gathered>,
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

impl StoredCopySink {
    /// Creates the temporary file beside `destination` for batches of `given` (the decoded
    /// columns, [`ROW_NUMBERS`], then the added columns) cut from `input`.
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
        let writer = ParallelParquetWriter::with_parquet_schema(file, schema.clone(), properties, Some(parquet_schema))
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
            schema,
            numbers,
            decoded,
            starts,
            gathered: None,
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

    /// Writes the gathered row group: copied if it has every row, else filtered as stored pages,
    /// else (a column whose pages cannot be) decoded again.
    fn flush_group(&mut self) -> Result<(), Error> {
        let Some(gathered) = self.gathered.take() else { return Ok(()) };
        let (group, kept) = (gathered.group, gathered.rows());
        let Gathered { runs, carried, .. } = gathered;
        let destination = self.destination.clone();
        let concatenated = |columns: &[Vec<ArrayRef>]| {
            columns
                .iter()
                .map(|pieces| concat(&pieces.iter().map(|a| a.as_ref()).collect::<Vec<_>>()))
                .collect::<Result<Vec<ArrayRef>, _>>()
                .map_err(|source| Error::Arrow { path: destination.clone(), source })
        };
        // Only a row group decoded again needs the decoded columns: the others are stored.
        let added = concatenated(&carried[self.numbers..])?;
        if kept == self.starts[group + 1] - self.starts[group] {
            let input = self.input.clone();
            let metadata = input.metadata().row_group(group);
            // What is copied is not decoded: its pages are checked as stored instead, and their
            // places give the copy its offset index.
            let indexes = metadata
                .columns()
                .par_iter()
                .map(|column| check_chunk(&input, group, column))
                .collect::<Result<Vec<_>, _>>()?;
            self.writer.copy_row_group(input.file(), metadata, indexes, &added).map_err(|e| self.write_error(e))?;
            self.row_groups.copied += 1;
        } else if let Some(refused) = self.filter_pages(group, &runs, kept, &added)? {
            self.row_groups.reencoded_because.get_or_insert(refused);
            let mut columns = concatenated(&carried[..self.numbers])?;
            columns.extend(added);
            self.reencode(group, &runs, kept, &columns)?;
            self.row_groups.reencoded += 1;
        } else {
            self.row_groups.filtered += 1;
        }
        Ok(())
    }

    /// Writes the rows of `runs` (`kept` in all) of row group `group` as a row group of their
    /// own, each column chunk filtered as stored pages ([`pages`]), and the added columns'
    /// values `added` encoded. Returns why not, having written nothing, if a column's pages
    /// cannot be filtered so.
    fn filter_pages(
        &mut self,
        group: usize,
        runs: &[Range<u64>],
        kept: u64,
        added: &[ArrayRef],
    ) -> Result<Option<String>, Error> {
        let input = self.input.clone();
        let metadata = input.metadata().row_group(group);
        let refusal =
            |column: &ColumnChunkMetaData, why: &str| format!("column '{}': {why}", column.column_path().string());
        if let Some((column, why)) = metadata.columns().iter().find_map(|c| pages::refuses(c).map(|why| (c, why))) {
            return Ok(Some(refusal(column, &why)));
        }
        let first = self.starts[group];
        let rows = self.starts[group + 1] - first;
        let relative: Vec<Range<u64>> = runs.iter().map(|run| run.start - first..run.end - first).collect();
        let filtered: Vec<Filtered> = metadata
            .columns()
            .par_iter()
            .map(|column| {
                let corrupt = |problem: &str| chunk_error(&input, group, column, problem);
                let (start, length) = column.byte_range();
                let length = usize::try_from(length).map_err(|_| corrupt("a column chunk larger than memory"))?;
                let bytes = input.file().get_bytes(start, length).map_err(|e| corrupt(&e.to_string()))?;
                pages::filter_chunk(&bytes, column, &relative, rows).map_err(|problem| corrupt(&problem))
            })
            .collect::<Result<_, _>>()?;
        let mut chunks = Vec::with_capacity(filtered.len());
        for (chunk, column) in filtered.into_iter().zip(metadata.columns()) {
            match chunk {
                Filtered::Chunk { bytes, close } => chunks.push((bytes, *close)),
                Filtered::Unsupported(why) => return Ok(Some(refusal(column, &why))),
            }
        }
        let (bytes, closes): (Vec<_>, Vec<_>) = chunks.into_iter().unzip();
        let chunks = bytes.iter().zip(closes).collect();
        self.writer.append_row_group(chunks, kept, added).map_err(|e| self.write_error(e))?;
        Ok(None)
    }

    /// Decodes the columns of row group `group` that were not decoded already again, a batch at
    /// a time (each on a thread of its own), keeps the rows of `runs` (`kept` in all), takes the
    /// decoded and added columns from `carried`, and encodes them.
    fn reencode(&mut self, group: usize, runs: &[Range<u64>], kept: u64, carried: &[ArrayRef]) -> Result<(), Error> {
        let undecoded: Vec<usize> = (0..self.decoded.len()).filter(|&c| self.decoded[c].is_none()).collect();
        let mut readers: Vec<ParquetRecordBatchReader> =
            undecoded.iter().map(|&c| self.input.column_reader(group, c)).collect::<Result<_, _>>()?;
        let input_name = self.input.name.clone();
        let corrupt = |what: &str| Error::Corrupt {
            path: input_name.clone(),
            message: format!("the columns of row group {group} decode to {what}"),
        };
        let (mut position, mut taken, mut run) = (self.starts[group], 0usize, 0usize);
        let group_end = self.starts[group + 1];
        let batch_size = self.input.batch_size() as u64;
        while position < group_end {
            // The column readers yield batches of the job's size within a row group.
            let length = batch_size.min(group_end - position) as usize;
            let pieces: Vec<Option<Result<RecordBatch, Error>>> =
                readers.par_iter_mut().map(|reader| next_guarded(reader, &input_name)).collect();
            let pieces: Vec<RecordBatch> = pieces
                .into_iter()
                .map(|piece| piece.ok_or_else(|| corrupt("fewer rows than its footer records")))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?;
            if pieces.iter().any(|p| p.num_rows() != length) {
                return Err(corrupt("batches of other lengths than its rows'"));
            }
            let end = position + length as u64;
            // The kept rows of this batch: the parts of the runs that overlap it.
            let mut keep = vec![false; length];
            let mut count = 0;
            while let Some(r) = runs.get(run) {
                let (from, to) = (r.start.max(position), r.end.min(end));
                if from < to {
                    keep[(from - position) as usize..(to - position) as usize].fill(true);
                    count += (to - from) as usize;
                }
                if r.end > end {
                    break;
                }
                run += 1;
            }
            if count > 0 {
                let keep = BooleanArray::from(keep);
                let arrow_error = |source| Error::Arrow { path: self.destination.clone(), source };
                let filtered: Vec<ArrayRef> = pieces
                    .par_iter()
                    .map(|piece| filter(piece.column(0).as_ref(), &keep))
                    .collect::<Result<_, _>>()
                    .map_err(arrow_error)?;
                // The input's columns in its order, decoded now or carried; then the added ones.
                let mut filtered = filtered.into_iter();
                let mut columns = Vec::with_capacity(self.schema.fields().len());
                for slot in &self.decoded {
                    let column = match slot {
                        Some(given) => Some(carried[*given].slice(taken, count)),
                        None => filtered.next(),
                    };
                    columns.push(column.ok_or_else(|| self.internal("a column went missing".into()))?);
                }
                columns.extend(carried[self.numbers..].iter().map(|column| column.slice(taken, count)));
                let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(arrow_error)?;
                self.writer.write(&batch).map_err(|e| self.write_error(e))?;
            }
            taken += count;
            position = end;
        }
        if readers.iter_mut().any(|reader| next_guarded(reader, &input_name).is_some()) {
            return Err(corrupt("more rows than its footer records"));
        }
        if taken as u64 != kept || position != self.starts[group + 1] {
            return Err(corrupt("other rows than its footer records"));
        }
        // Not ended here: the rows of row groups decoded one after another fill output row
        // groups of the options' size, as any other input's do; a copy ends them.
        Ok(())
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
                self.flush_group()?;
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
        self.flush_group()?;
        let StoredCopySink { destination, writer, _partial: partial, row_groups, .. } = *self;
        Ok(finish_file(writer, &destination, partial)?.with_row_groups(row_groups))
    }
}

/// Checks a column chunk of `input` that is copied without being decoded: its page headers read,
/// its pages fill it exactly, and each page whose writer stored a checksum (CRC-32 of the page as
/// stored) matches it, so that a flipped byte is caught as it would be on decoding. (Damage in a
/// page without a checksum is copied as it is, as `cp` would: `--rewrite` decodes every value.)
/// Returns the chunk's offset index, where its pages' rows are known.
fn check_chunk(
    input: &StoredParquet,
    group: usize,
    column: &ColumnChunkMetaData,
) -> Result<Option<OffsetIndexMetaData>, Error> {
    let (start, length) = column.byte_range();
    let corrupt = |problem: &str| chunk_error(input, group, column, problem);
    let length = usize::try_from(length).map_err(|_| corrupt("a column chunk larger than memory"))?;
    let bytes = input.file().get_bytes(start, length).map_err(|e| corrupt(&e.to_string()))?;
    pages::check_stored(&bytes, column, start).map_err(|problem| corrupt(&problem))
}

/// `problem` of a column chunk of `input`, named by its column and row group.
fn chunk_error(input: &StoredParquet, group: usize, column: &ColumnChunkMetaData, problem: &str) -> Error {
    Error::Corrupt {
        path: input.name.clone(),
        message: format!("{problem}, in column '{}' of row group {group}", column.column_path().string()),
    }
}

/// The writer's settings: the options' compression (for what is encoded), row groups of at most
/// the options' size for a decoded row group, dictionary encoding where the sample of the input's
/// columns says it pays, and not for the added floats (separations: all different).
fn properties(schema: &SchemaRef, sample: Option<&RecordBatch>, options: &ParquetOutputOptions) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(options.compression.0)
        .set_max_row_group_row_count(Some(options.row_group_size.max(1)))
        .set_key_value_metadata(key_values(schema));
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
