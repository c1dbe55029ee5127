//! Opening any catalogue a user gives, recognised by its content (`detect`): Parquet, an Arrow
//! IPC file, an Arrow IPC stream, a FITS binary table, CSV or TSV with a header, or ECSV (the
//! last four also gzipped); any of them on stdin (`-`, see `stdin`).
//! Every reader is a [`BatchSource`]; whatever a damaged file makes a decoder do (an error or a
//! panic) comes out as an [`Error`] naming the file.

mod bounded_file;
mod csv;
pub mod ds9;
mod ecsv;
mod fits;
mod ipac;
mod ipc;
mod parquet;
mod stdin;
mod votable;

use std::io::Seek;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

pub use crate::io::formats::{Detected, InputFormat};
pub use fits::{FitsCatalog, HduChoice};
pub(crate) use parquet::ROW_NUMBERS;
pub use parquet::{ParquetCatalog, StoredParquet, open_file};

use crate::columns::CoordinateColumns;
use crate::error::{Error, panic_message};
use crate::io::{formats, is_stdio};
use csv::TextLayout;

/// A stream of record batches, read on the pipeline's reader thread.
pub trait BatchSource: Send {
    /// The file (or stream) name used in error messages.
    fn path(&self) -> &Path;
    /// The columns of every batch.
    fn schema(&self) -> SchemaRef;
    /// The next batch, `None` at the end.
    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>>;
    /// The source's rows as parts that can be decoded independently and at once (Parquet's row
    /// groups), if it has them and no batch has been read yet: the pipeline then decodes several
    /// on its own threads instead of calling `next_batch`.
    fn parts(&self) -> Option<Arc<dyn Parts>> {
        None
    }
    /// Before the first batch: makes every later batch (and part) hold only the columns
    /// `decoded` (indices in [`BatchSource::schema`], kept in schema order) and, last, a column
    /// that lets a writer of the same format copy the rows as the file stores them instead of
    /// decoding and encoding every column: a FITS table's rows, one fixed-width value per row
    /// (tables without variable-length arrays), or a Parquet file's row numbers. Returns the
    /// new schema, or `None` (nothing changed) if the format has no such rows.
    fn pass_rows_through(&mut self, _decoded: &[usize]) -> Option<SchemaRef> {
        None
    }
    /// After [`BatchSource::pass_rows_through`] on a Parquet file: the file as stored, whose
    /// row groups a Parquet writer copies (its batches' last column holds their row numbers).
    fn stored_parquet(&self) -> Option<Arc<StoredParquet>> {
        None
    }
    /// The file's other tables, for a message when the columns asked for are not in this one:
    /// each as the number that chooses it (`hdu`), its name if any, and its column names (only
    /// FITS files and VOTables have several).
    fn other_tables(&self) -> Vec<OtherTable> {
        Vec::new()
    }
    /// What the file's tables are called, as `--hdu` counts them: `HDU` (FITS) or `TABLE`.
    fn table_kind(&self) -> &'static str {
        "HDU"
    }
}

/// `error`, if it is a coordinate column not found in `source`'s table, told which of the file's
/// other tables has the coordinates (by the same rule, [`CoordinateColumns::resolve`]) and the
/// option (`hdu_option`, e.g. `--hdu`) that chooses it.
pub fn point_to_other_table(
    error: Error,
    source: &dyn BatchSource,
    axes: (Option<&str>, Option<&str>),
    flags: (&str, &str),
    hdu_option: &str,
) -> Error {
    let Error::Column { path, what, available } = error else { return error };
    let found = source.other_tables().into_iter().find_map(|table| {
        let fields: Vec<Field> = table.columns.iter().map(|c| Field::new(c, DataType::Float64, true)).collect();
        let columns = CoordinateColumns::resolve(&Schema::new(fields), &path, axes.0, axes.1, flags).ok()?;
        Some((table, columns))
    });
    let what = match found {
        Some((table, columns)) => {
            let named = table.name.map_or(String::new(), |name| format!(" ('{name}')"));
            let kind = source.table_kind();
            format!(
                "{what}; {kind} {}{named} has '{}' and '{}': give {hdu_option} {}",
                table.hdu, columns.ra_name, columns.dec_name, table.hdu
            )
        }
        None => what,
    };
    Error::Column { path, what, available }
}

/// Another table of a file than the one read (see [`BatchSource::other_tables`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OtherTable {
    /// Its HDU number (`--hdu N`).
    pub hdu: usize,
    /// Its EXTNAME, if it has one.
    pub name: Option<String>,
    /// Its columns' names.
    pub columns: Vec<String>,
}

/// Consecutive parts of a source's rows, each readable on its own (see [`BatchSource::parts`]).
pub trait Parts: Send + Sync {
    /// How many parts.
    fn count(&self) -> usize;
    /// The rows of part `part` (`< count()`), as the file records them.
    fn rows(&self, part: usize) -> u64;
    /// A source of part `part`'s batches: its rows in order, then the end.
    fn open(&self, part: usize) -> Result<Box<dyn BatchSource>, Error>;
}

/// An opened catalogue: its batches, and its row count if the format records one.
pub struct Catalogue {
    /// Its batches.
    pub source: Box<dyn BatchSource>,
    /// The format its content showed.
    pub format: InputFormat,
    /// Its row count, if the format records one (Parquet).
    pub rows: Option<u64>,
}

/// Opens `path` (`-` for stdin) in whatever format its content shows, with `batch_size` rows per
/// batch. `hdu` chooses a FITS file's table (the first binary table if `None`) or a VOTable's
/// (its number from 1, or its name or ID; the first with data if `None`); an error for any other
/// format. Unrecognised content is an [`Error::UnknownFormat`] saying what
/// it looks like (HDF5, a VOTable, ...) and what angcut reads, unless the file ends as Parquet
/// does: a damaged Parquet file gets the Parquet reader's own message.
pub fn open_catalogue(path: &Path, batch_size: usize, hdu: Option<&HduChoice>) -> Result<Catalogue, Error> {
    if is_stdio(path) {
        return stdin::open_stdin(batch_size, hdu);
    }
    let mut file = open_file(path)?;
    let mut head = [0u8; formats::HEAD_BYTES];
    let read =
        formats::read_head(&mut file, &mut head).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let detected = InputFormat::detect(&head[..read], path);
    file.rewind().map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let format = detected.map(|d| d.format);
    let gzip = detected.is_some_and(|d| d.gzip);
    check_hdu(hdu, format, path)?;
    let (source, rows): (Box<dyn BatchSource>, Option<u64>) = match format {
        Some(InputFormat::Fits) => {
            drop(file);
            let catalog = FitsCatalog::open(path, gzip, hdu, batch_size)?;
            let rows = Some(catalog.rows());
            (Box::new(catalog), rows)
        }
        Some(InputFormat::IpcFile) => {
            ipc::check_ipc_blocks(path, &mut file)?;
            let reader = guarded(path, || arrow::ipc::reader::FileReader::try_new_buffered(file, None))?;
            (Box::new(ArrowSource::new(path, reader.schema(), reader)), None)
        }
        Some(InputFormat::IpcStream) => {
            let reader = guarded(path, || arrow::ipc::reader::StreamReader::try_new_buffered(file, None))?;
            (Box::new(ArrowSource::new(path, reader.schema(), reader)), None)
        }
        Some(InputFormat::Csv) => {
            (Box::new(csv::open_csv(path, TextLayout { delimiter: b',', gzip }, batch_size)?), None)
        }
        Some(InputFormat::Tsv) => {
            (Box::new(csv::open_csv(path, TextLayout { delimiter: b'\t', gzip }, batch_size)?), None)
        }
        Some(InputFormat::Ecsv) => (Box::new(csv::open_ecsv(path, gzip, batch_size)?), None),
        Some(InputFormat::Ipac) => (Box::new(ipac::open_ipac(path, csv::open_bytes(path, gzip)?, batch_size)?), None),
        Some(InputFormat::VoTable) => {
            let again = path.to_path_buf();
            let reopen: votable::Reopen = Box::new(move || csv::open_bytes(&again, gzip));
            (Box::new(votable::open_votable(path, csv::open_bytes(path, gzip)?, Some(reopen), hdu, batch_size)?), None)
        }
        // A file that does not start as Parquet but ends as one is a damaged Parquet file: its
        // reader says what is wrong. Anything else is no format angcut reads, and says so.
        None if !ends_as_parquet(&mut file) => return Err(unknown_format(path, &head[..read])),
        // Detection never says Generated (rows made, not read).
        Some(InputFormat::Parquet | InputFormat::Generated) | None => {
            let catalog = ParquetCatalog::open(path, batch_size)?;
            let rows = Some(catalog.rows);
            (Box::new(catalog), rows)
        }
    };
    Ok(Catalogue { source, format: format.unwrap_or(InputFormat::Parquet), rows })
}

/// The error for a file of no format angcut reads, saying what it looks like if that is known.
pub(crate) fn unknown_format(path: &Path, head: &[u8]) -> Error {
    let looks = formats::looks_like(head).map_or(String::new(), |what| format!(" (it looks like {what})"));
    Error::UnknownFormat {
        path: path.to_path_buf(),
        message: format!("not a catalogue format angcut reads{looks}; it reads {}", formats::formats_read()),
    }
}

/// Whether the file's last bytes are Parquet's closing magic (the file is left where it was).
fn ends_as_parquet(file: &mut std::fs::File) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut tail = [0u8; 4];
    let ends = file.seek(SeekFrom::End(-4)).is_ok() && file.read_exact(&mut tail).is_ok() && &tail == b"PAR1";
    let _ = file.rewind();
    ends
}

/// An HDU (a table) is chosen only in a FITS file or a VOTable.
fn check_hdu(hdu: Option<&HduChoice>, format: Option<InputFormat>, path: &Path) -> Result<(), Error> {
    if hdu.is_some() && !matches!(format, Some(InputFormat::Fits | InputFormat::VoTable)) {
        return Err(Error::Usage(format!(
            "{}: an HDU (a table) is chosen only in a FITS file or a VOTable, and this is neither",
            path.display()
        )));
    }
    Ok(())
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
    /// Batches of `schema` from `reader`, named `path` in messages.
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
