//! Opening any catalogue a user gives, recognised by its content: Parquet, an Arrow IPC file, an
//! Arrow IPC stream (also on stdin, `-`), or CSV with a header (contaminant lists).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use crate::catalog::{ParquetCatalog, open_file};
use crate::error::{Error, panic_message};
use crate::pipeline::BatchSource;

/// The name that means stdin as IN (and stdout as OUT).
pub const STDIO: &str = "-";

/// How stdin is named in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// The formats angcut reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Parquet,
    IpcFile,
    IpcStream,
    Csv,
}

impl InputFormat {
    /// The format of a file that starts with `head`; `None` if nothing recognisable. CSV is
    /// recognised by the name `path` (`.csv`), or by a first line of text with a comma in it.
    pub fn detect(head: &[u8], path: &Path) -> Option<InputFormat> {
        if head.starts_with(b"PAR1") {
            return Some(InputFormat::Parquet);
        }
        if head.starts_with(b"ARROW1") {
            return Some(InputFormat::IpcFile);
        }
        // Every message of a stream (since Arrow 0.15) starts with the continuation marker.
        if head.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
            return Some(InputFormat::IpcStream);
        }
        let named_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let looks_like_csv = std::str::from_utf8(first_line).is_ok_and(|line| line.contains(','));
        (named_csv || looks_like_csv).then_some(InputFormat::Csv)
    }
}

/// An opened catalogue: its batches, and its row count if the format records one.
pub struct Catalogue {
    pub source: Box<dyn BatchSource>,
    pub format: InputFormat,
    pub rows: Option<u64>,
}

/// Opens `path` (`-` for stdin) in whatever format its content shows, with `batch_size` rows per
/// batch. CSV is accepted only if `allow_csv` (contaminant lists, not catalogues: CSV has no
/// types to write back). Unrecognised content is handed to the Parquet reader, whose message
/// says what is wrong with it.
pub fn open_catalogue(path: &Path, batch_size: usize, allow_csv: bool) -> Result<Catalogue, Error> {
    if path.as_os_str() == STDIO {
        return open_stdin(batch_size);
    }
    let mut file = open_file(path)?;
    let mut head = [0u8; 512];
    let read = read_head(&mut file, &mut head).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let format = match InputFormat::detect(&head[..read], path) {
        Some(InputFormat::Csv) if !allow_csv => None,
        found => found,
    };
    file.rewind().map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let (source, rows): (Box<dyn BatchSource>, Option<u64>) = match format {
        Some(InputFormat::IpcFile) => {
            check_ipc_blocks(path, &mut file)?;
            let reader = guarded(path, || arrow::ipc::reader::FileReader::try_new_buffered(file, None))?;
            (Box::new(ArrowSource::new(path, reader.schema(), reader)), None)
        }
        Some(InputFormat::IpcStream) => {
            let reader = guarded(path, || arrow::ipc::reader::StreamReader::try_new_buffered(file, None))?;
            (Box::new(ArrowSource::new(path, reader.schema(), reader)), None)
        }
        Some(InputFormat::Csv) => (Box::new(open_csv(path, file, batch_size)?), None),
        Some(InputFormat::Parquet) | None => {
            let catalog = ParquetCatalog::open(path, batch_size)?;
            let rows = Some(catalog.rows);
            (Box::new(catalog), rows)
        }
    };
    Ok(Catalogue { source, format: format.unwrap_or(InputFormat::Parquet), rows })
}

/// Checks that every record batch and dictionary an Arrow IPC file's footer lists lies inside
/// the file. The IPC reader allocates (and zeroes) each block's declared length before reading
/// it, so a damaged footer declaring gigabytes would cost that much memory before the read
/// fails (found by `fuzz/read_catalogue`: 4 GB for a 10 kB file).
fn check_ipc_blocks(path: &Path, file: &mut File) -> Result<(), Error> {
    let io_error = |source| Error::Io { path: path.to_path_buf(), source };
    let corrupt = |message: String| Error::Corrupt { path: path.to_path_buf(), message };
    let len = file.metadata().map_err(io_error)?.len();
    // The file ends with the footer, its length (i32, little-endian) and "ARROW1".
    let mut tail = [0u8; 10];
    if len < 16 {
        return Err(corrupt("too short for an Arrow IPC file".into()));
    }
    file.seek(std::io::SeekFrom::Start(len - 10)).map_err(io_error)?;
    file.read_exact(&mut tail).map_err(io_error)?;
    let footer_len = i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let footer_start = (len - 10).checked_sub(u64::try_from(footer_len).unwrap_or(u64::MAX));
    let Some(footer_start) = footer_start.filter(|_| footer_len > 0) else {
        return Err(corrupt(format!("its footer length ({footer_len}) does not fit the file ({len} bytes)")));
    };
    let mut footer = vec![0u8; footer_len as usize];
    file.seek(std::io::SeekFrom::Start(footer_start)).map_err(io_error)?;
    file.read_exact(&mut footer).map_err(io_error)?;
    file.rewind().map_err(io_error)?;
    // A footer that does not parse is left to the reader, whose message says why.
    let Ok(footer) = arrow::ipc::root_as_footer(&footer) else {
        return Ok(());
    };
    let blocks = footer.recordBatches().into_iter().chain(footer.dictionaries()).flatten();
    for block in blocks {
        let end = u64::try_from(block.offset())
            .ok()
            .zip(u64::try_from(block.metaDataLength()).ok())
            .zip(u64::try_from(block.bodyLength()).ok())
            .and_then(|((offset, meta), body)| offset.checked_add(meta)?.checked_add(body));
        if end.is_none_or(|end| end > footer_start) {
            return Err(corrupt(format!(
                "its footer lists a block of {} + {} bytes at offset {}, beyond the data ({footer_start} bytes)",
                block.metaDataLength(),
                block.bodyLength(),
                block.offset()
            )));
        }
    }
    Ok(())
}

/// Stdin must be an Arrow IPC stream: the other formats need to seek.
fn open_stdin(_batch_size: usize) -> Result<Catalogue, Error> {
    let name = Path::new(STDIN_NAME);
    let mut stdin = BufReader::with_capacity(1 << 20, std::io::stdin());
    let head = stdin.fill_buf().map_err(|source| Error::Io { path: name.to_path_buf(), source })?;
    match InputFormat::detect(head, name) {
        Some(InputFormat::IpcStream) => {}
        Some(InputFormat::Parquet | InputFormat::IpcFile) => {
            return Err(Error::Usage(
                "stdin holds a Parquet or Arrow IPC file, which can only be read from a file (it needs seeking); give its name instead of '-', or pipe an Arrow IPC stream".into(),
            ));
        }
        _ if head.is_empty() => {
            return Err(Error::Usage("stdin is empty: '-' reads an Arrow IPC stream from stdin".into()));
        }
        _ => {
            return Err(Error::Usage("stdin is not an Arrow IPC stream (which is what '-' reads)".into()));
        }
    }
    let reader = guarded(name, || arrow::ipc::reader::StreamReader::try_new(stdin, None))?;
    Ok(Catalogue {
        source: Box::new(ArrowSource::new(name, reader.schema(), reader)),
        format: InputFormat::IpcStream,
        rows: None,
    })
}

/// CSV with a header; column types inferred from the first 10,000 rows.
fn open_csv(path: &Path, mut file: File, batch_size: usize) -> Result<ArrowSource, Error> {
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

/// Reads up to `head.len()` bytes (fewer only at the end of the file).
fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Runs a reader's constructor, turning its errors and panics (on damaged input) into ours.
fn guarded<T>(path: &Path, open: impl FnOnce() -> Result<T, ArrowError>) -> Result<T, Error> {
    match catch_unwind(AssertUnwindSafe(open)) {
        Ok(Ok(reader)) => Ok(reader),
        Ok(Err(source)) => Err(Error::Arrow { path: path.to_path_buf(), source }),
        Err(payload) => Err(Error::Corrupt { path: path.to_path_buf(), message: panic_message(payload.as_ref()) }),
    }
}

/// Batches from any Arrow reader (IPC file or stream, CSV), with decoding panics contained.
pub struct ArrowSource {
    path: PathBuf,
    schema: SchemaRef,
    reader: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
}

impl ArrowSource {
    pub fn new(
        path: &Path,
        schema: SchemaRef,
        reader: impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
    ) -> ArrowSource {
        ArrowSource { path: path.to_path_buf(), schema, reader: Box::new(reader) }
    }
}

impl BatchSource for ArrowSource {
    fn path(&self) -> &Path {
        &self.path
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        next_guarded(&mut self.reader, &self.path)
    }
}

/// The next batch of `reader`, with its error, or a panic of its decoder (on a damaged file),
/// turned into an error naming `path`.
pub(crate) fn next_guarded(
    reader: &mut impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    path: &Path,
) -> Option<Result<RecordBatch, Error>> {
    match catch_unwind(AssertUnwindSafe(|| reader.next())) {
        Ok(None) => None,
        Ok(Some(Ok(batch))) => Some(Ok(batch)),
        Ok(Some(Err(source))) => Some(Err(Error::Arrow { path: path.to_path_buf(), source })),
        Err(payload) => {
            Some(Err(Error::Corrupt { path: path.to_path_buf(), message: panic_message(payload.as_ref()) }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_first_bytes() {
        let any = Path::new("catalogue.bin");
        assert_eq!(InputFormat::detect(b"PAR1\x15\x04", any), Some(InputFormat::Parquet));
        assert_eq!(InputFormat::detect(b"ARROW1\0\0", any), Some(InputFormat::IpcFile));
        assert_eq!(InputFormat::detect(&[0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0], any), Some(InputFormat::IpcStream));
        assert_eq!(InputFormat::detect(b"hip,ra,dec\n1,2,3\n", any), Some(InputFormat::Csv));
        assert_eq!(InputFormat::detect(b"ra\n1\n", Path::new("stars.CSV")), Some(InputFormat::Csv));
        assert_eq!(InputFormat::detect(b"just some notes\n", any), None);
        assert_eq!(InputFormat::detect(b"", any), None);
        assert_eq!(InputFormat::detect(&[0x89, b'P', b'N', b'G'], any), None);
    }
}
