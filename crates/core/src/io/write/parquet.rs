//! Parquet output: columns encoded in parallel ([`ParallelParquetWriter`]), dictionary encoding
//! chosen per column from a sample ([`dictionary`]).

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use tempfile::NamedTempFile;

use super::commit::{FinishedOutput, PartialOutput, create_partial, durable};
use super::dictionary;
use super::float_order;
use super::parallel_writer::ParallelParquetWriter;
use super::{BatchSink, ParquetOutputOptions};
use crate::error::Error;

/// A Parquet file being written under a temporary name beside its destination.
///
/// The first `dictionary::SAMPLE_ROWS` rows are held back until the writer knows which columns
/// to dictionary-encode. Dropping the sink before [`BatchSink::finish`] deletes the temporary file.
pub struct ParquetFileSink {
    destination: PathBuf,
    schema: SchemaRef,
    options: ParquetOutputOptions,
    state: SinkState,
    // Declared after `state`, so it is dropped after the temporary file is deleted.
    _partial: PartialOutput,
}

enum SinkState {
    Sampling {
        file: NamedTempFile,
        sample: Vec<RecordBatch>,
        rows: usize,
    },
    Writing(Box<ParallelParquetWriter<NamedTempFile>>),
    /// Only after an error that took the file with it.
    Failed,
}

impl ParquetFileSink {
    /// Creates the temporary file beside `destination` for rows of `schema`.
    pub fn create(destination: &Path, schema: SchemaRef, options: &ParquetOutputOptions) -> Result<Self, Error> {
        // Fail now, not after the run, if the writer cannot represent the schema.
        parquet::arrow::ArrowSchemaConverter::new()
            .convert(&schema)
            .map_err(|source| Error::parquet_write(destination, source))?;
        let (file, partial) = create_partial(destination, ".parquet.partial")?;
        Ok(ParquetFileSink {
            destination: destination.to_path_buf(),
            schema,
            options: *options,
            state: SinkState::Sampling { file, sample: Vec::new(), rows: 0 },
            _partial: partial,
        })
    }

    /// The writer's settings: the chosen compression and row group size, the schema's metadata
    /// as Parquet key-value metadata, and dictionary encoding where the sample says it pays.
    fn properties(&self, sample: &[RecordBatch]) -> WriterProperties {
        let mut builder = WriterProperties::builder()
            .set_compression(self.options.compression.0)
            .set_max_row_group_row_count(Some(self.options.row_group_size.max(1)))
            .set_key_value_metadata(key_values(&self.schema));
        for (column, dictionary) in dictionary::choose_dictionary_columns(sample) {
            builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), dictionary);
        }
        builder.build()
    }

    /// Ends sampling: opens the writer and writes the held-back rows.
    fn start_writing(&mut self) -> Result<(), Error> {
        let (file, sample) = match std::mem::replace(&mut self.state, SinkState::Failed) {
            SinkState::Sampling { file, sample, .. } => (file, sample),
            other => {
                self.state = other;
                return Ok(());
            }
        };
        let properties = self.properties(&sample);
        let mut writer =
            ParallelParquetWriter::try_new(file, self.schema.clone(), properties).map_err(|e| self.parquet_error(e))?;
        for batch in &sample {
            writer.write(batch).map_err(|e| self.parquet_error(e))?;
        }
        self.state = SinkState::Writing(Box::new(writer));
        Ok(())
    }

    fn parquet_error(&self, source: parquet::errors::ParquetError) -> Error {
        Error::parquet_write(&self.destination, source)
    }
}

impl BatchSink for ParquetFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        match &mut self.state {
            SinkState::Sampling { sample, rows, .. } => {
                *rows += batch.num_rows();
                sample.push(batch.clone());
                if *rows >= dictionary::SAMPLE_ROWS {
                    self.start_writing()?;
                }
                Ok(())
            }
            SinkState::Writing(writer) => {
                writer.write(batch).map_err(|source| Error::parquet_write(&self.destination, source))
            }
            SinkState::Failed => {
                Err(Error::Internal { path: self.destination.clone(), message: "write after a failed write".into() })
            }
        }
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        self.start_writing()?;
        // `partial` is declared first, so on every return it is dropped after the lock below.
        let ParquetFileSink { destination, state, _partial: partial, .. } = *self;
        let SinkState::Writing(writer) = state else {
            return Err(Error::Internal { path: destination, message: "finish after a failed write".into() });
        };
        finish_file(*writer, &destination, partial)
    }
}

/// The schema's metadata as Parquet key-value metadata, so that readers that ignore the embedded
/// Arrow schema (pyarrow's `metadata`, DuckDB, Spark) still see it.
pub(super) fn key_values(schema: &SchemaRef) -> Option<Vec<KeyValue>> {
    let key_values: Vec<KeyValue> =
        schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
    (!key_values.is_empty()).then_some(key_values)
}

/// Writes the footer, declares the float columns' min/max under the column order every reader
/// takes ([`float_order`]: pyarrow ignores the parquet crate's), and makes the file durable.
pub(super) fn finish_file(
    writer: ParallelParquetWriter<NamedTempFile>,
    destination: &Path,
    partial: PartialOutput,
) -> Result<FinishedOutput, Error> {
    let temp = writer.into_inner().map_err(|source| Error::parquet_write(destination, source))?;
    float_order::use_type_defined_float_order(temp.as_file())
        .map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
    durable(temp, destination, partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that is full from its first byte.
    struct Full;

    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_reported_as_the_write_error_it_is() {
        let batch = crate::synthetic::narrow_batch(1_000, 0, &mut crate::synthetic::SplitMix64::new(3));
        let failed = ParallelParquetWriter::try_new(Full, batch.schema(), WriterProperties::default())
            .and_then(|mut writer| {
                writer.write(&batch)?;
                writer.into_inner().map(|_| ())
            })
            .expect_err("nothing can be written to a full device");
        let error = Error::parquet_write(Path::new("out.parquet"), failed);
        assert!(
            matches!(&error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{error:?}"
        );
        assert!(!error.to_string().contains("readable"), "{error}");
        assert!(error.to_string().starts_with("out.parquet: "), "{error}");
    }

    #[test]
    fn dictionary_encoding_only_on_the_repetitive_columns_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.parquet");
        let catalogue = crate::synthetic::Catalogue {
            rows: 40_000,
            seed: 1,
            schema: crate::synthetic::TableSchema::Wide,
            sky: crate::synthetic::Sky::Uniform,
        };
        crate::synthetic::write_catalogue(&path, &catalogue, &ParquetOutputOptions::default()).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader;
        let row_group = reader.metadata().row_group(0);
        let dictionary = |name: &str| {
            let column = row_group.columns().iter().find(|c| c.column_path().string() == name).unwrap();
            column.dictionary_page_offset().is_some()
        };
        for name in ["objtype", "survey_tag", "camcol", "run", "tile", "flags"] {
            assert!(dictionary(name), "{name} should be dictionary-encoded");
        }
        for name in ["id", "ra", "dec", "mag_r", "objname", "redshift"] {
            assert!(!dictionary(name), "{name} should be plain");
        }
        assert_eq!(reader.metadata().file_metadata().num_rows(), 40_000);
    }

    #[test]
    fn a_schema_parquet_cannot_hold_fails_before_any_output_exists() {
        use arrow::datatypes::{DataType, Field, Fields, Schema};
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.parquet");
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("ra", DataType::Float64, false),
            Field::new("nothing", DataType::Struct(Fields::empty()), true),
        ]));
        let err = ParquetFileSink::create(&out, schema, &ParquetOutputOptions::default()).err().unwrap();
        assert!(matches!(err, Error::ParquetWrite { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot write Parquet"), "{err}");
        assert!(err.to_string().contains("empty struct"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no output and no temporary file");
    }
}
