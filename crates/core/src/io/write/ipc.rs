//! Arrow IPC output: a file (or stream file) written atomically like the Parquet output, or a
//! stream to stdout for the next stage of a pipe.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use tempfile::NamedTempFile;

use super::BatchSink;
use super::commit::{FinishedOutput, PartialOutput, create_partial, durable_buffered};
use crate::error::Error;
use crate::io::STDOUT_NAME;

/// An IPC file (or a stream written to a file) under a temporary name beside its destination.
pub struct IpcFileSink {
    destination: PathBuf,
    writer: Option<IpcWriter>,
    // Declared after `writer`, so it is dropped after the temporary file is deleted.
    partial: Option<PartialOutput>,
}

enum IpcWriter {
    File(FileWriter<BufWriter<NamedTempFile>>),
    Stream(StreamWriter<BufWriter<NamedTempFile>>),
}

impl IpcFileSink {
    /// Creates the temporary file for rows of `schema`: the IPC stream format if `stream`, the
    /// file format (random access, what `.arrow`/`.feather` readers expect) otherwise.
    pub fn create(
        destination: &Path,
        schema: SchemaRef,
        stream: bool,
        compression: Option<CompressionType>,
        level: Option<i32>,
    ) -> Result<IpcFileSink, Error> {
        let options = write_options(compression, level).map_err(|source| arrow_error(destination, source))?;
        let (file, partial) = create_partial(destination, if stream { ".arrows.partial" } else { ".arrow.partial" })?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let writer = if stream {
            StreamWriter::try_new_with_options(out, &schema, options).map(IpcWriter::Stream)
        } else {
            FileWriter::try_new_with_options(out, &schema, options).map(IpcWriter::File)
        }
        .map_err(|source| arrow_error(destination, source))?;
        Ok(IpcFileSink { destination: destination.to_path_buf(), writer: Some(writer), partial: Some(partial) })
    }
}

impl BatchSink for IpcFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let result = match &mut self.writer {
            Some(IpcWriter::File(writer)) => writer.write(batch),
            Some(IpcWriter::Stream(writer)) => writer.write(batch),
            None => {
                return Err(Error::Internal { path: self.destination.clone(), message: "write after finish".into() });
            }
        };
        result.map_err(|source| arrow_error(&self.destination, source))
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        let destination = self.destination.clone();
        let error = |source| arrow_error(&destination, source);
        let out = match self.writer.take() {
            Some(IpcWriter::File(mut writer)) => {
                writer.finish().map_err(error)?;
                writer.into_inner().map_err(error)?
            }
            Some(IpcWriter::Stream(mut writer)) => {
                writer.finish().map_err(error)?;
                writer.into_inner().map_err(error)?
            }
            None => return Err(Error::Internal { path: destination, message: "finish twice".into() }),
        };
        durable_buffered(out, &destination, &mut self.partial)
    }
}

/// An Arrow IPC stream to stdout. Each batch is flushed as it is written, so the next stage of a
/// pipe starts at once; nothing is held back to retract on failure (a reader downstream sees the
/// stream end without its end-of-stream marker, which IPC readers report as an error).
pub struct IpcStreamSink {
    writer: StreamWriter<BufWriter<std::io::Stdout>>,
}

impl IpcStreamSink {
    /// The stream of rows of `schema`, its batches compressed with `compression` at `level`.
    pub fn stdout(
        schema: SchemaRef,
        compression: Option<CompressionType>,
        level: Option<i32>,
    ) -> Result<IpcStreamSink, Error> {
        let name = Path::new(STDOUT_NAME);
        let options = write_options(compression, level).map_err(|source| arrow_error(name, source))?;
        let out = BufWriter::with_capacity(1 << 20, std::io::stdout());
        let writer =
            StreamWriter::try_new_with_options(out, &schema, options).map_err(|source| arrow_error(name, source))?;
        Ok(IpcStreamSink { writer })
    }
}

impl BatchSink for IpcStreamSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let name = Path::new(STDOUT_NAME);
        self.writer.write(batch).map_err(|source| arrow_error(name, source))?;
        self.writer.get_mut().flush().map_err(|source| Error::Io { path: name.to_path_buf(), source })
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        let name = Path::new(STDOUT_NAME);
        self.writer.finish().map_err(|source| arrow_error(name, source))?;
        self.writer.get_mut().flush().map_err(|source| Error::Io { path: name.to_path_buf(), source })?;
        Ok(FinishedOutput::written())
    }
}

/// The IPC writer's options for batches compressed with `compression` at `level` (zstd only).
fn write_options(compression: Option<CompressionType>, level: Option<i32>) -> Result<IpcWriteOptions, ArrowError> {
    IpcWriteOptions::default().try_with_compression(compression)?.try_with_compression_level(level)
}

/// An I/O failure inside the IPC writer stays an I/O error (so a closed pipe is recognised).
fn arrow_error(path: &Path, source: ArrowError) -> Error {
    match source {
        ArrowError::IoError(_, source) => Error::Io { path: path.to_path_buf(), source },
        source => Error::Arrow { path: path.to_path_buf(), source },
    }
}
