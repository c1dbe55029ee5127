//! A Parquet writer that encodes the columns of each row group in parallel.
//!
//! parquet's `ArrowWriter` encodes (and compresses) one column after another on the calling thread,
//! and that was most of angcut's wall time. Here each column has its own
//! [`ArrowColumnWriter`]; every batch is split into leaf columns that are encoded at once on the
//! current rayon pool, and a full row group's column chunks are appended to the file in schema
//! order. The file is byte-for-byte what the parquet crate itself would write with the same
//! properties, only sooner.

use std::io::Write;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescriptor;
use rayon::prelude::*;

/// A copied or filtered column chunk's page index: its offset index (its pages' places and first
/// rows) and its column index (their min/max and null counts), where they can be given.
#[derive(Default)]
pub(crate) struct PageIndexes {
    /// Given for every chunk of a column without repetition.
    pub(crate) offset: Option<OffsetIndexMetaData>,
    /// Given where the input's chunk had one (and an offset index is given).
    pub(crate) column: Option<ColumnIndexMetaData>,
}

pub struct ParallelParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// One writer per leaf column of the row group being filled.
    columns: Vec<ArrowColumnWriter>,
    buffered_rows: usize,
    row_group_rows: usize,
    row_groups: usize,
}

impl<W: Write + Send> ParallelParquetWriter<W> {
    /// Starts a file of `schema` rows, with row groups of `properties.max_row_group_row_count()`
    /// rows (unbounded if unset).
    pub fn try_new(out: W, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        Self::with_parquet_schema(out, schema, properties, None)
    }

    /// [`Self::try_new`], the file declaring `parquet_schema` (Parquet columns that the Arrow
    /// schema's columns are written into) instead of the one made from the Arrow schema.
    pub fn with_parquet_schema(
        out: W,
        schema: SchemaRef,
        properties: WriterProperties,
        parquet_schema: Option<SchemaDescriptor>,
    ) -> Result<Self> {
        let row_group_rows = properties.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        // ArrowWriter sets up what the low-level writer needs (the Arrow schema in the footer,
        // coerced types) exactly as for its own files.
        let mut options = ArrowWriterOptions::new().with_properties(properties);
        if let Some(parquet_schema) = parquet_schema {
            options = options.with_parquet_schema(parquet_schema);
        }
        let (file, factory) =
            ArrowWriter::try_new_with_options(out, schema.clone(), options)?.into_serialized_writer()?;
        let columns = factory.create_column_writers(0)?;
        Ok(ParallelParquetWriter { file, factory, schema, columns, buffered_rows: 0, row_group_rows, row_groups: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let rows = (batch.num_rows() - offset).min(self.row_group_rows - self.buffered_rows);
            self.encode(&batch.slice(offset, rows))?;
            offset += rows;
            if self.buffered_rows == self.row_group_rows {
                self.flush_row_group()?;
            }
        }
        Ok(())
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(ParquetError::General(format!(
                "a batch's schema differs from the file's: {:?} vs {:?}",
                batch.schema().fields(),
                self.schema.fields()
            )));
        }
        let leaves: Vec<ArrowLeafColumn> = self
            .schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| compute_leaves(field, column))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        if leaves.len() != self.columns.len() {
            return Err(ParquetError::General("leaf columns do not match the column writers".into()));
        }
        self.columns.par_iter_mut().zip(leaves.par_iter()).try_for_each(|(writer, leaf)| writer.write(leaf))?;
        self.buffered_rows += batch.num_rows();
        Ok(())
    }

    /// Copies a row group of another file as it is stored, its column chunks byte for byte (they
    /// must be this file's first leaf columns, of the same types), and adds `added`, the values
    /// of this file's remaining columns for its rows, encoded. Ends the row group being filled
    /// first, so the copy is a row group of its own. `indexes` are the chunks' page indexes
    /// (their pages' places in `reader`, and their column indexes), where known.
    pub fn copy_row_group<R: ChunkReader>(
        &mut self,
        reader: &R,
        group: &RowGroupMetaData,
        indexes: Vec<PageIndexes>,
        added: &[ArrayRef],
    ) -> Result<()> {
        let rows = group.num_rows().max(0) as u64;
        let chunks: Vec<_> = group
            .columns()
            .iter()
            .zip(indexes)
            .map(|(column, indexes)| {
                let close = ColumnCloseResult {
                    bytes_written: column.compressed_size().max(0) as u64,
                    rows_written: rows,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: indexes.column,
                    offset_index: indexes.offset,
                };
                Some((reader, close))
            })
            .collect();
        self.start_row_group()?;
        let mut roots = vec![None; self.schema.fields().len().saturating_sub(added.len())];
        roots.extend(added.iter().cloned().map(Some));
        self.encode_leaves(&roots, &self.leaves_to_encode(&chunks))?;
        self.append_row_group(chunks, rows)
    }

    /// Ends the row group being filled, so that the next is assembled by [`Self::encode_leaves`]
    /// and [`Self::append_row_group`].
    pub fn start_row_group(&mut self) -> Result<()> {
        self.flush_row_group()
    }

    /// For each leaf column, whether `chunks` (see [`Self::append_row_group`]) leaves it to be
    /// encoded.
    pub fn leaves_to_encode<T>(&self, chunks: &[Option<T>]) -> Vec<bool> {
        (0..self.columns.len()).map(|leaf| chunks.get(leaf).is_none_or(Option::is_none)).collect()
    }

    /// Encodes, into the row group being assembled, the next values of the leaf columns marked
    /// in `leaves` whose top-level column `roots` gives values for (one entry per top-level
    /// column of the file); the leaves of one call in parallel.
    pub fn encode_leaves(&mut self, roots: &[Option<ArrayRef>], leaves: &[bool]) -> Result<()> {
        let fields = self.schema.fields();
        if roots.len() != fields.len() || leaves.len() != self.columns.len() {
            return Err(ParquetError::General("values for other columns than the file's".into()));
        }
        let split: Vec<Option<Vec<ArrowLeafColumn>>> = fields
            .iter()
            .zip(roots)
            .map(|(field, values)| values.as_ref().map(|values| compute_leaves(field, values)).transpose())
            .collect::<Result<_>>()?;
        let descr = self.file.schema_descr();
        let mut first_leaf = vec![None; fields.len()];
        let mut work = Vec::new();
        for (i, writer) in self.columns.iter_mut().enumerate() {
            let root = descr.get_column_root_idx(i);
            let first = *first_leaf[root].get_or_insert(i);
            if let (true, Some(values)) = (leaves[i], &split[root]) {
                let leaf = values.get(i - first).ok_or_else(|| ParquetError::General("a leaf went missing".into()))?;
                work.push((writer, leaf));
            }
        }
        work.into_par_iter().try_for_each(|(writer, leaf)| writer.write(leaf))
    }

    /// Ends the row group assembled since [`Self::start_row_group`], of `rows` rows: for each
    /// leaf column in the file's order, `chunks` holds the column chunk encoded already (read
    /// from its reader where its metadata says; of this file's column's very type), or `None`
    /// for one whose values [`Self::encode_leaves`] was given; the leaves past its end are such
    /// too.
    pub fn append_row_group<R: ChunkReader>(
        &mut self,
        mut chunks: Vec<Option<(&R, ColumnCloseResult)>>,
        rows: u64,
    ) -> Result<()> {
        let misfit = |what: &str| Err(ParquetError::General(format!("a row group does not fit the file: {what}")));
        if self.buffered_rows != 0 || chunks.len() > self.columns.len() {
            return misfit("other columns");
        }
        chunks.resize_with(self.columns.len(), || None);
        let writers = std::mem::take(&mut self.columns);
        let encode: Vec<ArrowColumnWriter> =
            writers.into_iter().zip(&chunks).filter(|(_, chunk)| chunk.is_none()).map(|(writer, _)| writer).collect();
        let mut encoded = encode.into_par_iter().map(ArrowColumnWriter::close).collect::<Result<Vec<_>>>()?.into_iter();
        self.row_groups += 1;
        self.columns = self.factory.create_column_writers(self.row_groups)?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            let written = match chunk {
                Some((reader, close)) => {
                    let written = close.rows_written;
                    row_group.append_column(reader, close)?;
                    written
                }
                None => {
                    let Some(encoded) = encoded.next() else { return misfit("a column went missing") };
                    let written = encoded.close().rows_written;
                    encoded.append_to_row_group(&mut row_group)?;
                    written
                }
            };
            if written != rows {
                return misfit(&format!("a column of {written} rows in a row group of {rows}"));
            }
        }
        row_group.close()?;
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<()> {
        if self.buffered_rows == 0 {
            return Ok(());
        }
        self.row_groups += 1;
        let next = self.factory.create_column_writers(self.row_groups)?;
        let columns = std::mem::replace(&mut self.columns, next);
        // Closing flushes each column's last page: also worth doing in parallel.
        let chunks = columns.into_par_iter().map(ArrowColumnWriter::close).collect::<Result<Vec<_>>>()?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.buffered_rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and returns the output.
    pub fn into_inner(mut self) -> Result<W> {
        self.flush_row_group()?;
        self.file.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SplitMix64, wide_batch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn wide(rows: usize, seed: u64) -> RecordBatch {
        let mut rng = SplitMix64::new(seed);
        let (ra, dec) = (0..rows).map(|_| rng.next_position()).unzip();
        wide_batch(0, ra, dec, &mut rng)
    }

    #[test]
    fn writes_what_arrow_writer_writes() {
        let batches = [wide(5_000, 1), wide(0, 2), wide(7_001, 3), wide(1, 4)];
        let schema = batches[0].schema();
        let properties = || WriterProperties::builder().set_max_row_group_row_count(Some(3_000)).build();
        let mut parallel = ParallelParquetWriter::try_new(Vec::new(), schema.clone(), properties()).unwrap();
        let mut plain = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties())).unwrap();
        for batch in &batches {
            parallel.write(batch).unwrap();
            plain.write(batch).unwrap();
        }
        let (parallel, plain) = (parallel.into_inner().unwrap(), plain.into_inner().unwrap());
        assert_eq!(parallel, plain, "the same bytes as ArrowWriter");

        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(parallel)).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 5); // 12,002 rows in groups of 3,000
        let read: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let read = arrow::compute::concat_batches(&schema, &read).unwrap();
        assert_eq!(read, arrow::compute::concat_batches(&schema, &batches).unwrap());
    }

    #[test]
    fn an_empty_file_is_valid() {
        let schema = wide(1, 1).schema();
        let writer = ParallelParquetWriter::try_new(Vec::new(), schema, WriterProperties::default()).unwrap();
        let bytes = writer.into_inner().unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    }
}
