//! The library's error type: every variant names the file, and the column and row where known.

use std::path::PathBuf;

use arrow::datatypes::DataType;

/// What went wrong, with enough context for a user to find it in their data.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // each variant says what it means in its message; fields are named for what they hold
pub enum Error {
    /// The command line asks for something impossible (same file in and out, ...).
    #[error("{0}")]
    Usage(String),

    /// Contaminant options given beside a contaminant set already indexed, which has said
    /// everything they would (named by field, in name order).
    #[error("a contaminant set given already indexed has its positions, radii and kernel: drop {}", .0.join(", "))]
    OptionsForGivenSet(Vec<&'static str>),

    /// A mask given already read, with options that describe a mask file (named by field, in name
    /// order): it has its layers, epoch and kernel.
    #[error("a mask given already read has its layers, epoch and kernel: drop {}", .0.join(", "))]
    OptionsForGivenMask(Vec<&'static str>),

    /// A FITS file that cannot be read or written as a table, with cfitsio's reason or ours.
    #[error("{}: {message}", path.display())]
    Fits { path: PathBuf, message: String },

    /// A pixel map (HealSparse, HEALPix, MOC) that cannot be read, with the reason.
    #[error("{}: {message}", path.display())]
    PixelMap { path: PathBuf, message: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not a readable Parquet file: {}", path.display(), tidy_message(&source.to_string()))]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// Writing a Parquet output failed (its schema, or the encoder); I/O failures are [`Error::Io`].
    #[error("{}: cannot write Parquet: {}", path.display(), tidy_message(&source.to_string()))]
    ParquetWrite {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error("{}: {}", path.display(), tidy_message(&source.to_string()))]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A line of a text catalogue (CSV, TSV, ECSV) that cannot be read, counted from 1 as an
    /// editor shows it (comment lines included).
    #[error("{}: line {line}: {message}", path.display())]
    TextRow { path: PathBuf, line: u64, message: String },

    /// A VOTable that cannot be read: where (its table row and column, or XML byte) and why.
    #[error("{}: {message}", path.display())]
    VoTable { path: PathBuf, message: String },
    /// An image's WCS (for DS9 regions in pixels) that cannot be read.
    #[error("{}: {message}", path.display())]
    Wcs { path: PathBuf, message: String },

    /// A file in no format angcut reads: what it looks like, and what angcut reads.
    #[error("{}: {message}", path.display())]
    UnknownFormat { path: PathBuf, message: String },

    /// The reader panicked on a damaged file; the panic is contained and reported here.
    #[error("{}: the file is corrupt ({message})", path.display())]
    Corrupt { path: PathBuf, message: String },

    #[error("{}: {what}; available columns: {}", path.display(), available.join(", "))]
    Column { path: PathBuf, what: String, available: Vec<String> },

    #[error("{}: column '{column}' has type {data_type}, but it must be numeric (float, integer or decimal)", path.display())]
    ColumnType { path: PathBuf, column: String, data_type: DataType },

    #[error("{}: row {row}, column '{column}': {problem} (use {option} keep or drop to let such objects through)", path.display())]
    InvalidObject { path: PathBuf, row: u64, column: String, problem: String, option: String },

    #[error("{}: row {row}, column '{column}': {problem}; every contaminant needs a valid position", path.display())]
    InvalidContaminant { path: PathBuf, row: u64, column: String, problem: String },

    #[error("{}: row {row}, column '{column}': {problem}", path.display())]
    InvalidRadius { path: PathBuf, row: u64, column: String, problem: String },

    /// One of several inputs has other columns than the first.
    #[error("{}: its columns differ from those of {}: {difference}; all inputs of one run must share a schema", path.display(), first.display())]
    SchemaChange { path: PathBuf, first: PathBuf, difference: String },

    /// The contaminants cannot be indexed (a radius out of range, ...).
    #[error(transparent)]
    Index(#[from] crate::kernel::IndexError),

    /// A worker thread panicked; this is a bug in angcut, reported instead of crashing.
    #[error("internal error while processing {}: {message}", path.display())]
    Internal { path: PathBuf, message: String },
}

impl Error {
    /// Usage errors are fixed by changing the command line; they exit with code 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Usage(_) | Error::OptionsForGivenSet(_) | Error::OptionsForGivenMask(_) | Error::Column { .. }
        )
    }

    /// The same error about `to` where it named `from`: a temporary copy (stdin spooled to a
    /// file) reported under the name the user gave.
    pub(crate) fn renamed(mut self, from: &std::path::Path, to: &std::path::Path) -> Error {
        let path = match &mut self {
            Error::Fits { path, .. }
            | Error::PixelMap { path, .. }
            | Error::Io { path, .. }
            | Error::Parquet { path, .. }
            | Error::ParquetWrite { path, .. }
            | Error::Arrow { path, .. }
            | Error::TextRow { path, .. }
            | Error::Corrupt { path, .. }
            | Error::VoTable { path, .. }
            | Error::Wcs { path, .. }
            | Error::UnknownFormat { path, .. }
            | Error::Column { path, .. }
            | Error::ColumnType { path, .. }
            | Error::InvalidObject { path, .. }
            | Error::InvalidContaminant { path, .. }
            | Error::InvalidRadius { path, .. }
            | Error::SchemaChange { path, .. }
            | Error::Internal { path, .. } => path,
            Error::Usage(_) | Error::OptionsForGivenSet(_) | Error::OptionsForGivenMask(_) | Error::Index(_) => {
                return self;
            }
        };
        if path == from {
            *path = to.to_path_buf();
        }
        self
    }

    /// The output was a pipe whose reader went away (`angcut ... - | head`): not a crash, but
    /// the output is incomplete.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl Error {
    /// A failure of the Parquet writer on `path`: an I/O error inside it (a full disk) is reported
    /// as the I/O error it is, anything else as [`Error::ParquetWrite`].
    pub fn parquet_write(path: &std::path::Path, source: parquet::errors::ParquetError) -> Error {
        match source {
            parquet::errors::ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::Io { path: path.to_path_buf(), source: *io },
                Err(other) => Error::ParquetWrite {
                    path: path.to_path_buf(),
                    source: parquet::errors::ParquetError::External(other),
                },
            },
            source => Error::ParquetWrite { path: path.to_path_buf(), source },
        }
    }
}

/// The arrow and parquet crates' message without their nested "Parquet error: " (and similar)
/// prefixes and echoed parts: "Parquet argument error: Parquet error: Page CRC checksum mismatch:
/// Parquet argument error: Parquet error: Page CRC checksum mismatch" becomes "Page CRC checksum
/// mismatch".
fn tidy_message(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        let noise = matches!(part, "Parquet error" | "Parquet argument error" | "External" | "External error");
        if !noise && !parts.contains(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

/// The message a caught panic carries, whatever its payload type.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_messages_lose_their_echoes() {
        let source = parquet::errors::ParquetError::General(
            "Invalid Parquet file. Corrupt footer: Parquet error: Invalid Parquet file. Corrupt footer".into(),
        );
        let error = Error::Parquet { path: "notes.txt".into(), source };
        assert_eq!(error.to_string(), "notes.txt: not a readable Parquet file: Invalid Parquet file. Corrupt footer");
        assert_eq!(
            tidy_message(
                "Parquet argument error: Parquet error: Page CRC checksum mismatch: Parquet argument error: Parquet error: Page CRC checksum mismatch"
            ),
            "Page CRC checksum mismatch"
        );
        assert_eq!(tidy_message("External: failed to fill whole buffer"), "failed to fill whole buffer");
    }
}
