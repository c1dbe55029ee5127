//! Catalogue output: Parquet (`parquet`), an Arrow IPC file or stream (`ipc`), CSV (`csv`), a FITS
//! binary table (`fits`) or a VOTable (`votable`), each written
//! under a temporary name and moved into place by `commit` only when everything succeeded, so a
//! failed run never leaves a partial OUT; or an IPC stream to stdout for the next stage of a pipe.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use ::parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::Error;
pub use crate::io::formats::OutputFormat;
use crate::io::formats::{self, Gzip};
use crate::io::is_stdio;
use crate::io::read::StoredParquet;
use crate::spelling::Spelling;

mod commit;
mod csv;
mod dictionary;
mod fits;
mod float_order;
mod ipc;
mod pages;
mod parallel_writer;
mod parquet;
mod parquet_copy;
mod votable;
mod writeback;

pub use commit::{FinishedOutput, commit_all, remove_partial_outputs, write_whole};
pub use csv::CsvFileSink;
pub use fits::FitsFileSink;
pub use ipc::{IpcFileSink, IpcStreamSink};
pub use parquet::ParquetFileSink;
pub use parquet_copy::StoredCopySink;
pub use votable::VoTableFileSink;

impl OutputFormat {
    /// The format an output name implies: `-` is a stream to stdout, any other name is looked
    /// up by its extension in the formats table ([`formats::written_extensions`]); a format
    /// written gzipped (FITS) may end in `.gz` too. Any other name is a usage error: writing
    /// Parquet bytes into `out.txt` would only surprise whoever opens it.
    pub fn for_path(path: &Path, spelling: Spelling) -> Result<OutputFormat, Error> {
        if is_stdio(path) {
            return Ok(OutputFormat::IpcStream);
        }
        let gzip = gzipped(path);
        let format = formats::written()
            .find(|(f, _)| f.names(path) && (!gzip || f.gzip == Gzip::ReadWrite))
            .map(|(_, output)| output);
        format.ok_or_else(|| {
            Error::Usage(format!(
                "{}: cannot tell which format to write from the name: end it in {}, or give {}",
                path.display(),
                formats::written_extensions(),
                spelling.option("output_format")
            ))
        })
    }
}

/// Whether an output named `path` is written gzip-compressed (FITS): its name ends in `.gz`.
pub(crate) fn gzipped(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(formats::GZIP_EXTENSION))
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<OutputFormat, String> {
        let lower = text.to_ascii_lowercase();
        match formats::written().find(|(f, _)| f.written_as.contains(&lower.as_str())) {
            Some((_, output)) => Ok(output),
            None => Err(format!("unknown output format '{text}': use {}", formats::written_names())),
        }
    }
}

/// How the outputs of a job are to be written, as asked: [`OutputOptions::resolve`] turns it into
/// one output's [`OutputSettings`], refusing what does not apply to that output's format.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OutputOptions {
    /// The format of every output (kept and rejected); `None` takes it from each output's name
    /// ([`OutputFormat::for_path`]).
    pub format: Option<OutputFormat>,
    /// `None`: zstd level 1 for Parquet, none for Arrow IPC. Arrow IPC takes `none`, `lz4` and
    /// `zstd` (with a level) only.
    pub compression: Option<OutputCompression>,
    /// Rows per row group (Parquet only); `None`: [`DEFAULT_ROW_GROUP_SIZE`].
    pub row_group_size: Option<usize>,
    /// Encode every column of a Parquet output from a Parquet input again, as with any other
    /// input, instead of copying the row groups the cut leaves whole (also implied by an explicit
    /// `compression` or `row_group_size`).
    pub rewrite: bool,
    /// How messages name the options.
    pub spelling: Spelling,
}

/// One output's format and encoding, resolved and checked by [`OutputOptions::resolve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputSettings {
    /// A Parquet file, written with these options.
    Parquet(ParquetOutputOptions),
    /// A CSV file.
    Csv,
    /// A FITS file.
    Fits,
    /// A VOTable (BINARY2).
    VoTable,
    /// An Arrow IPC file, or a stream (`stream`), with its batches compressed by `compression`.
    Ipc {
        /// The stream format (else the file format).
        stream: bool,
        /// The batches' codec, if any.
        compression: Option<arrow::ipc::CompressionType>,
        /// The codec's level (zstd only).
        level: Option<i32>,
    },
}

impl OutputOptions {
    /// The settings of the output `path` (`-` is stdout): its format, from the options or its
    /// name, and the compression and row group size that format takes. An option that does not
    /// apply to the format is a usage error, never silently dropped.
    pub fn resolve(&self, path: &Path) -> Result<OutputSettings, Error> {
        let format = match self.format {
            Some(format) => format,
            None => OutputFormat::for_path(path, self.spelling)?,
        };
        let o = |field| self.spelling.option(field);
        if is_stdio(path) && format != OutputFormat::IpcStream {
            let format = o("output_format");
            return Err(Error::Usage(format!("stdout ('-') takes an Arrow IPC stream: use {format} arrow-stream")));
        }
        let plain = |settings: OutputSettings, what: &str| {
            let refused =
                [("compression", self.compression.is_some()), ("row_group_size", self.row_group_size.is_some())];
            match refused.iter().find(|(_, given)| *given) {
                Some((option, _)) => {
                    Err(Error::Usage(format!("{} does not apply to {}, written as {what}", o(option), path.display())))
                }
                None => Ok(settings),
            }
        };
        let stream = match format {
            OutputFormat::Csv => return plain(OutputSettings::Csv, "CSV (plain text)"),
            OutputFormat::Fits => return plain(OutputSettings::Fits, "FITS (uncompressed rows)"),
            OutputFormat::VoTable => return plain(OutputSettings::VoTable, "a VOTable (base64 rows)"),
            OutputFormat::Parquet => {
                let row_group_size = self.row_group_size.unwrap_or(DEFAULT_ROW_GROUP_SIZE);
                if row_group_size == 0 {
                    return Err(Error::Usage(format!("{} must be at least 1", o("row_group_size"))));
                }
                // What the output asks of its encoding explicitly, the input's stored row groups
                // cannot give: then every column is encoded again.
                let copy_stored = !self.rewrite && self.compression.is_none() && self.row_group_size.is_none();
                return Ok(OutputSettings::Parquet(ParquetOutputOptions {
                    compression: self.compression.unwrap_or_default(),
                    row_group_size,
                    copy_stored,
                }));
            }
            OutputFormat::IpcFile => false,
            OutputFormat::IpcStream => true,
        };
        if self.row_group_size.is_some() {
            return Err(Error::Usage(format!(
                "{} applies to Parquet output, but {} is written as Arrow IPC (its batches are {} rows)",
                o("row_group_size"),
                path.display(),
                o("batch_size")
            )));
        }
        use arrow::ipc::CompressionType;
        let (compression, level) = match self.compression.map(|c| c.0) {
            None | Some(Compression::UNCOMPRESSED) => (None, None),
            Some(Compression::LZ4_RAW | Compression::LZ4) => (Some(CompressionType::LZ4_FRAME), None),
            Some(Compression::ZSTD(level)) => (Some(CompressionType::ZSTD), Some(level.compression_level())),
            Some(other) => {
                let name = match other {
                    Compression::SNAPPY => "snappy",
                    Compression::GZIP(_) => "gzip",
                    Compression::BROTLI(_) => "brotli",
                    _ => "with this codec",
                };
                return Err(Error::Usage(format!(
                    "{}{name} does not apply to {}, written as Arrow IPC: use none, lz4 or zstd",
                    self.spelling.before_value("compression"),
                    path.display()
                )));
            }
        };
        Ok(OutputSettings::Ipc { stream, compression, level })
    }
}

/// Opens the sink for `destination` with `settings` ([`OutputOptions::resolve`]): `-` is stdout,
/// any other name a file written under a temporary name and moved into place once committed.
///
/// `stored` is a Parquet input whose rows were passed through ([`BatchSource::pass_rows_through`]:
/// `schema` then holds its row numbers), for a Parquet output to copy its row groups from.
///
/// [`BatchSource::pass_rows_through`]: crate::io::read::BatchSource::pass_rows_through
pub fn create_sink(
    destination: &Path,
    settings: &OutputSettings,
    schema: SchemaRef,
    stored: Option<&Arc<StoredParquet>>,
) -> Result<Box<dyn BatchSink>, Error> {
    match (settings, stored) {
        (OutputSettings::Parquet(options), Some(input)) if options.copy_stored => {
            return Ok(Box::new(StoredCopySink::create(destination, &schema, input.clone(), options)?));
        }
        (_, Some(_)) => {
            let message = "rows passed through for an output that cannot copy them".to_string();
            return Err(Error::Internal { path: destination.to_path_buf(), message });
        }
        (_, None) => {}
    }
    match *settings {
        OutputSettings::Ipc { compression, level, .. } if is_stdio(destination) => {
            Ok(Box::new(IpcStreamSink::stdout(schema, compression, level)?))
        }
        OutputSettings::Parquet(options) => Ok(Box::new(ParquetFileSink::create(destination, schema, &options)?)),
        OutputSettings::Csv => Ok(Box::new(CsvFileSink::create(destination, schema)?)),
        OutputSettings::Fits => Ok(Box::new(FitsFileSink::create(destination, schema)?)),
        OutputSettings::VoTable => Ok(Box::new(VoTableFileSink::create(destination, schema)?)),
        OutputSettings::Ipc { stream, compression, level } => {
            Ok(Box::new(IpcFileSink::create(destination, schema, stream, compression, level)?))
        }
    }
}

/// Rows per output row group unless told otherwise: large enough for efficient scans, small
/// enough that the writer's buffered row group stays a few tens of MB for wide tables.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 131_072;

/// How the output's pages are compressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputCompression(pub Compression);

impl Default for OutputCompression {
    /// zstd level 1: within a few percent of level 3's size, and faster to write.
    fn default() -> Self {
        OutputCompression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
    }
}

impl FromStr for OutputCompression {
    type Err = String;

    /// `none`, `snappy`, `lz4`, `zstd`, `gzip`, `brotli`, optionally with a level: `zstd(3)`, `zstd:3`.
    fn from_str(text: &str) -> Result<Self, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (name, level) = match lower.split_once(['(', ':']) {
            Some((name, rest)) => {
                let digits = rest.trim_end_matches(')');
                let level: i32 = digits
                    .parse()
                    .map_err(|_| format!("compression level '{digits}' in '{text}' is not an integer"))?;
                (name.to_string(), Some(level))
            }
            None => (lower, None),
        };
        let bad_level = |e: ::parquet::errors::ParquetError| format!("{text}: {e}");
        let codec = match (name.as_str(), level) {
            ("none" | "uncompressed", None) => Compression::UNCOMPRESSED,
            ("snappy", None) => Compression::SNAPPY,
            ("lz4", None) => Compression::LZ4_RAW,
            ("zstd", None) => return Ok(OutputCompression::default()),
            ("zstd", Some(l)) => Compression::ZSTD(ZstdLevel::try_new(l).map_err(bad_level)?),
            ("gzip", l) => Compression::GZIP(GzipLevel::try_new(l.unwrap_or(6) as u32).map_err(bad_level)?),
            ("brotli", l) => Compression::BROTLI(BrotliLevel::try_new(l.unwrap_or(1) as u32).map_err(bad_level)?),
            ("none" | "uncompressed" | "snappy" | "lz4", Some(_)) => {
                return Err(format!("{name} takes no level"));
            }
            _ => {
                return Err(format!(
                    "unknown compression '{text}': use none, snappy, lz4, zstd, gzip or brotli (a level as zstd(3))"
                ));
            }
        };
        Ok(OutputCompression(codec))
    }
}

/// How to write the output file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParquetOutputOptions {
    /// How its pages are compressed.
    pub compression: OutputCompression,
    /// Rows per row group.
    pub row_group_size: usize,
    /// From a Parquet input whose rows are passed through: copy the row groups the output gets
    /// whole as they are stored ([`StoredCopySink`]).
    pub copy_stored: bool,
}

impl Default for ParquetOutputOptions {
    fn default() -> Self {
        ParquetOutputOptions {
            compression: OutputCompression::default(),
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
            copy_stored: true,
        }
    }
}

/// What became of a Parquet input's row groups in a Parquet output ([`StoredCopySink`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowGroupCounts {
    /// Written as the input stores them: every row kept.
    pub copied: u64,
    /// Filtered, having lost rows: their column chunks as stored pages, or re-encoded.
    pub filtered: u64,
    /// Column chunks of filtered row groups whose pages could not be filtered: decoded again,
    /// filtered and encoded.
    pub reencoded_chunks: u64,
    /// Why the first chunk re-encoded could not be filtered as pages (the column and what of
    /// its pages: an encoding, a codec, a repetition).
    pub reencoded_because: Option<String>,
}

impl RowGroupCounts {
    /// Adds another output's counts.
    pub fn add(&mut self, other: &RowGroupCounts) {
        self.copied += other.copied;
        self.filtered += other.filtered;
        self.reencoded_chunks += other.reencoded_chunks;
        if self.reencoded_because.is_none() {
            self.reencoded_because.clone_from(&other.reencoded_because);
        }
    }
}

/// Where the kept rows go, in order.
pub trait BatchSink: Send {
    /// Writes the next batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error>;
    /// Completes the output and makes it durable, still under its temporary name: it appears
    /// under its final name only when the result is committed ([`FinishedOutput::commit`]), so a
    /// job with several outputs can finish them all before any of them appears.
    fn finish(self: Box<Self>) -> Result<FinishedOutput, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_names_and_levels() {
        assert_eq!("zstd".parse::<OutputCompression>(), Ok(OutputCompression::default()));
        assert_eq!(
            "ZSTD(3)".parse::<OutputCompression>().map(|c| c.0),
            Ok(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        );
        assert_eq!("snappy".parse::<OutputCompression>().map(|c| c.0), Ok(Compression::SNAPPY));
        assert_eq!("none".parse::<OutputCompression>().map(|c| c.0), Ok(Compression::UNCOMPRESSED));
        assert!("zstd(99)".parse::<OutputCompression>().is_err());
        assert!("snappy(2)".parse::<OutputCompression>().is_err());
        assert!("zip".parse::<OutputCompression>().unwrap_err().contains("unknown compression"));
        assert!("gzip:x".parse::<OutputCompression>().unwrap_err().contains("not an integer"));
    }
}
