//! Catalogue output: Parquet written to a temporary file beside OUT, renamed into place only when
//! everything succeeded, so a failed run never leaves a partial OUT. Columns are encoded in
//! parallel ([`ParallelParquetWriter`]) with dictionary encoding chosen per column
//! ([`dictionary`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use tempfile::NamedTempFile;

use crate::error::Error;

pub mod dictionary;
mod ipc;
mod parallel_writer;

pub use ipc::{IpcFileSink, IpcStreamSink, STDOUT_NAME};
pub use parallel_writer::ParallelParquetWriter;

/// The formats angcut writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    IpcFile,
    /// The Arrow IPC stream format, what `-` writes to stdout.
    IpcStream,
}

impl OutputFormat {
    /// The format an output name implies: `-` is a stream to stdout, `.arrow`/`.feather`/`.ipc`
    /// an IPC file, `.arrows` an IPC stream, anything else Parquet.
    pub fn for_path(path: &Path) -> OutputFormat {
        if path.as_os_str() == crate::input::STDIO {
            return OutputFormat::IpcStream;
        }
        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("arrow" | "feather" | "ipc") => OutputFormat::IpcFile,
            Some("arrows") => OutputFormat::IpcStream,
            _ => OutputFormat::Parquet,
        }
    }
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<OutputFormat, String> {
        match text.to_ascii_lowercase().as_str() {
            "parquet" => Ok(OutputFormat::Parquet),
            "arrow" | "ipc" | "feather" => Ok(OutputFormat::IpcFile),
            "arrow-stream" | "ipc-stream" | "arrows" => Ok(OutputFormat::IpcStream),
            _ => Err(format!("unknown output format '{text}': use parquet, arrow or arrow-stream")),
        }
    }
}

/// Opens the sink for `destination` in `format`: `-` is stdout (an IPC stream only), any other
/// name a file written under a temporary name and moved into place by [`BatchSink::finish`].
pub fn create_sink(
    destination: &Path,
    format: OutputFormat,
    schema: SchemaRef,
    options: &ParquetOutputOptions,
) -> Result<Box<dyn BatchSink>, Error> {
    let stdout = destination.as_os_str() == crate::input::STDIO;
    match format {
        OutputFormat::IpcStream if stdout => Ok(Box::new(IpcStreamSink::stdout(schema)?)),
        _ if stdout => {
            Err(Error::Usage("stdout ('-') takes an Arrow IPC stream: use --output-format arrow-stream".into()))
        }
        OutputFormat::Parquet => Ok(Box::new(ParquetFileSink::create(destination, schema, options)?)),
        OutputFormat::IpcFile => Ok(Box::new(IpcFileSink::create(destination, schema, false)?)),
        OutputFormat::IpcStream => Ok(Box::new(IpcFileSink::create(destination, schema, true)?)),
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
        let bad_level = |e: parquet::errors::ParquetError| format!("{text}: {e}");
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
    pub compression: OutputCompression,
    pub row_group_size: usize,
}

impl Default for ParquetOutputOptions {
    fn default() -> Self {
        ParquetOutputOptions { compression: OutputCompression::default(), row_group_size: DEFAULT_ROW_GROUP_SIZE }
    }
}

/// Temporary outputs being written now, so that a signal handler can remove them before exiting
/// (destructors do not run when a process is killed by a signal).
static PARTIAL_OUTPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary output still being written. For a handler of SIGINT/SIGTERM that is
/// about to exit: afterwards no partial file is left, and no output was renamed into place unless
/// it was complete (renaming holds the same lock).
pub fn remove_partial_outputs() {
    let partial = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for path in partial.iter() {
        let _ = std::fs::remove_file(path);
    }
}

/// Keeps a temporary output on the list while it exists.
struct PartialOutput(PathBuf);

impl PartialOutput {
    fn register(path: &Path) -> PartialOutput {
        PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(path.to_path_buf());
        PartialOutput(path.to_path_buf())
    }
}

impl Drop for PartialOutput {
    fn drop(&mut self) {
        let mut partial = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        partial.retain(|path| path != &self.0);
    }
}

/// Where the kept rows go, in order.
pub trait BatchSink: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error>;
    /// Completes the output and makes it durable, still under its temporary name: it appears
    /// under its final name only when the result is committed ([`FinishedOutput::commit`]), so a
    /// job with several outputs can finish them all before any of them appears.
    fn finish(self: Box<Self>) -> Result<FinishedOutput, Error>;
}

/// A complete output waiting to be moved into place. Dropped without [`commit`](Self::commit),
/// it deletes its temporary file: the destination is left as it was.
#[must_use = "an output that is not committed is deleted"]
pub struct FinishedOutput {
    // `None` for outputs that have no temporary file (stdout).
    pending: Option<(tempfile::TempPath, PathBuf, PartialOutput)>,
}

impl FinishedOutput {
    /// For an output written in place (a stream to stdout): nothing left to do.
    pub fn written() -> FinishedOutput {
        FinishedOutput { pending: None }
    }

    /// Renames the temporary file to its destination.
    pub fn commit(self) -> Result<(), Error> {
        let Some((temp, destination, partial)) = self.pending else {
            return Ok(());
        };
        // Under the lock, so a signal handler either removes the temporary file first or finds the
        // output complete under its final name.
        let lock = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        temp.persist(&destination).map_err(|e| Error::Io { path: destination.clone(), source: e.error })?;
        drop(lock);
        drop(partial);
        Ok(())
    }
}

/// Commits every output, in order: the job they belong to succeeded.
pub fn commit_all(outputs: Vec<FinishedOutput>) -> Result<(), Error> {
    outputs.into_iter().try_for_each(FinishedOutput::commit)
}

/// A Parquet file being written under a temporary name beside its destination.
///
/// The first [`dictionary::SAMPLE_ROWS`] rows are held back until the writer knows which columns
/// to dictionary-encode. Dropping the sink before [`BatchSink::finish`] deletes the temporary file.
pub struct ParquetFileSink {
    destination: PathBuf,
    schema: SchemaRef,
    options: ParquetOutputOptions,
    state: SinkState,
    writeback: Writeback,
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
            .map_err(|source| Error::Parquet { path: destination.to_path_buf(), source })?;
        let (file, partial) = create_partial(destination, ".parquet.partial")?;
        Ok(ParquetFileSink {
            destination: destination.to_path_buf(),
            schema,
            options: *options,
            writeback: Writeback::start(file.as_file()),
            state: SinkState::Sampling { file, sample: Vec::new(), rows: 0 },
            _partial: partial,
        })
    }

    /// The writer's settings: the chosen compression and row group size, the schema's metadata
    /// as Parquet key-value metadata, and dictionary encoding where the sample says it pays.
    fn properties(&self, sample: &[RecordBatch]) -> WriterProperties {
        // Parquet key-value metadata carries the schema's metadata too, so readers that ignore the
        // embedded Arrow schema (pyarrow's `metadata`, DuckDB, Spark) still see it.
        let key_values =
            self.schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect::<Vec<_>>();
        let mut builder = WriterProperties::builder()
            .set_compression(self.options.compression.0)
            .set_max_row_group_row_count(Some(self.options.row_group_size.max(1)))
            .set_key_value_metadata((!key_values.is_empty()).then_some(key_values));
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
        Error::Parquet { path: self.destination.clone(), source }
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
                writer.write(batch).map_err(|source| Error::Parquet { path: self.destination.clone(), source })?;
                self.writeback.wrote_up_to(writer.bytes_written());
                Ok(())
            }
            SinkState::Failed => {
                Err(Error::Internal { path: self.destination.clone(), message: "write after a failed write".into() })
            }
        }
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        self.start_writing()?;
        // `partial` is declared first, so on every return it is dropped after the lock below.
        let ParquetFileSink { destination, state, writeback, _partial: partial, .. } = *self;
        drop(writeback); // waits for a flush in progress
        let SinkState::Writing(writer) = state else {
            return Err(Error::Internal { path: destination, message: "finish after a failed write".into() });
        };
        let temp: NamedTempFile =
            writer.into_inner().map_err(|source| Error::Parquet { path: destination.clone(), source })?;
        durable(temp, &destination, partial)
    }
}

/// Creates a temporary file beside `destination` (named `.angcut-*SUFFIX`), on the list that
/// signal handlers clean up.
fn create_partial(destination: &Path, suffix: &str) -> Result<(NamedTempFile, PartialOutput), Error> {
    let dir = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".angcut-").suffix(suffix);
    // An ordinary new file's permissions (0666 less the umask), not the private 0600 of a temp file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let file = builder.tempfile_in(dir).map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
    let partial = PartialOutput::register(file.path());
    Ok((file, partial))
}

/// Syncs a complete temporary file to disk and closes it (a job with thousands of outputs must
/// not hold thousands of descriptors), ready to be renamed to `destination`.
fn durable(temp: NamedTempFile, destination: &Path, partial: PartialOutput) -> Result<FinishedOutput, Error> {
    temp.as_file().sync_all().map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
    Ok(FinishedOutput { pending: Some((temp.into_temp_path(), destination.to_path_buf(), partial)) })
}

/// Flushes the output to disk in the background while it is written, so that the final `fsync`
/// (which makes the rename safe after a crash) finds little left to do: on a 1.3 GB output it
/// took 0.5 s at the end of the run otherwise. Only a hint: errors are left to that final fsync.
struct Writeback {
    requests: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    requested_at: usize,
}

/// Bytes written between two background flushes.
const WRITEBACK_EVERY: usize = 64 << 20;

impl Writeback {
    fn start(file: &std::fs::File) -> Writeback {
        let idle = Writeback { requests: None, thread: None, requested_at: 0 };
        let Ok(file) = file.try_clone() else {
            return idle;
        };
        let (requests, pending) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new().name("angcut-writeback".into()).spawn(move || {
            for () in pending {
                let _ = file.sync_data();
            }
        });
        match thread {
            Ok(thread) => Writeback { requests: Some(requests), thread: Some(thread), requested_at: 0 },
            Err(_) => idle,
        }
    }

    /// Asks for a flush every [`WRITEBACK_EVERY`] bytes, unless one is still running.
    fn wrote_up_to(&mut self, bytes: usize) {
        if bytes >= self.requested_at + WRITEBACK_EVERY
            && let Some(requests) = &self.requests
            && requests.try_send(()).is_ok()
        {
            self.requested_at = bytes;
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The files a job reads, so that no output can replace one of them (by any name: hard links
/// and `..` included).
pub struct InputIdentities(std::collections::HashMap<FileIdentity, PathBuf>);

impl InputIdentities {
    pub fn of<'a>(inputs: impl IntoIterator<Item = &'a Path>) -> InputIdentities {
        let known = inputs.into_iter().filter_map(|input| Some((FileIdentity::of(input)?, input.to_path_buf())));
        InputIdentities(known.collect())
    }

    /// The input that `output` is, if it is one.
    fn find(&self, output: &Path) -> Option<&Path> {
        self.0.get(&FileIdentity::of(output)?).map(PathBuf::as_path)
    }
}

/// Refuses an output path that would destroy an input, or that cannot be created; its directory
/// must exist unless `create_dirs`.
pub fn check_output_path(output: &Path, inputs: &InputIdentities, create_dirs: bool) -> Result<(), Error> {
    if output.is_dir() {
        return Err(Error::Usage(format!("output {} is a directory; give a file name", output.display())));
    }
    if let Some(input) = inputs.find(output) {
        return Err(Error::Usage(format!(
            "output {} is the same file as input {}; angcut never overwrites its inputs",
            output.display(),
            input.display()
        )));
    }
    let parent = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !create_dirs && !parent.is_dir() {
        return Err(Error::Usage(format!(
            "cannot write {}: directory {} does not exist",
            output.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Would writing `a` and `b` write the same file? Either may not exist yet: their directories
/// are compared as the file system resolves them, then their names.
pub fn same_destination(a: &Path, b: &Path) -> bool {
    if same_file(a, b) {
        return true;
    }
    let resolved = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some((parent.canonicalize().ok()?, p.file_name()?.to_os_string()))
    };
    matches!((resolved(a), resolved(b)), (Some(a), Some(b)) if a == b)
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((FileIdentity::of(a), FileIdentity::of(b)), (Some(a), Some(b)) if a == b)
}

/// What makes a file itself: device and inode on unix (catching hard links), else its canonical
/// path. `None` if it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileIdentity {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Canonical(PathBuf),
}

impl FileIdentity {
    fn of(path: &Path) -> Option<FileIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let metadata = std::fs::metadata(path).ok()?;
            Some(FileIdentity::Inode(metadata.dev(), metadata.ino()))
        }
        #[cfg(not(unix))]
        {
            path.canonicalize().ok().map(FileIdentity::Canonical)
        }
    }
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
        assert!(matches!(err, Error::Parquet { .. }), "{err:?}");
        assert!(err.to_string().contains("empty struct"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no output and no temporary file");
    }

    #[test]
    fn refuses_to_overwrite_an_input_even_through_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.parquet");
        std::fs::write(&input, b"x").unwrap();
        let alias = dir.path().join("sub/../in.parquet");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let inputs = InputIdentities::of([input.as_path()]);
        let err = check_output_path(&alias, &inputs, false).unwrap_err();
        assert!(err.to_string().contains("same file as input"), "{err}");
        assert!(check_output_path(dir.path(), &inputs, false).unwrap_err().to_string().contains("is a directory"));
        let missing = dir.path().join("nowhere/out.parquet");
        assert!(check_output_path(&missing, &inputs, false).unwrap_err().to_string().contains("does not exist"));
        assert!(check_output_path(&missing, &inputs, true).is_ok());
        assert!(check_output_path(&dir.path().join("out.parquet"), &inputs, false).is_ok());
    }
}
