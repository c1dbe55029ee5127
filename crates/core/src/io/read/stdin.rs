//! Stdin as IN. An Arrow IPC stream is read as it comes (it needs no seeking); any other format
//! angcut reads (Parquet, an IPC file, FITS, CSV, TSV, ECSV, gzipped or not) is first copied to
//! a temporary file, since those readers seek (Parquet's footer is at the end, cfitsio and the
//! text readers' type inference go back to the start): memory stays bounded, disk holds a copy.

use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tempfile::NamedTempFile;

use super::{ArrowSource, BatchSource, Catalogue, HduChoice, InputFormat, Parts, check_hdu, guarded, open_catalogue};
use crate::error::Error;
use crate::io::STDIN_NAME;

/// Opens stdin: an IPC stream directly, anything else through a temporary copy (in the system's
/// temporary directory, `$TMPDIR`), deleted when the catalogue is dropped.
pub(super) fn open_stdin(batch_size: usize, hdu: Option<&HduChoice>) -> Result<Catalogue, Error> {
    let name = Path::new(STDIN_NAME);
    let io_error = |source| Error::Io { path: name.to_path_buf(), source };
    let mut stdin = BufReader::with_capacity(1 << 20, std::io::stdin());
    let head = stdin.fill_buf().map_err(io_error)?;
    if head.is_empty() {
        return Err(Error::Usage("stdin is empty: '-' reads a catalogue from stdin".into()));
    }
    let format = InputFormat::detect(head, name).map(|d| d.format);
    check_hdu(hdu, format, name)?;
    if format == Some(InputFormat::IpcStream) {
        let reader = guarded(name, || arrow::ipc::reader::StreamReader::try_new(stdin, None))?;
        return Ok(Catalogue {
            source: Box::new(ArrowSource::new(name, reader.schema(), reader)),
            format: InputFormat::IpcStream,
            rows: None,
        });
    }
    let mut copy = tempfile::Builder::new().prefix(".angcut-stdin-").tempfile().map_err(io_error)?;
    let mut writer = BufWriter::with_capacity(1 << 20, copy.as_file_mut());
    std::io::copy(&mut stdin, &mut writer).map_err(io_error)?;
    writer.into_inner().map_err(|error| io_error(error.into_error()))?;
    let temp = copy.path().to_path_buf();
    let opened = open_catalogue(&temp, batch_size, hdu).map_err(|error| error.renamed(&temp, name))?;
    Ok(Catalogue {
        source: Box::new(Spooled { source: opened.source, temp, copy: Arc::new(copy) }),
        format: opened.format,
        rows: opened.rows,
    })
}

/// A catalogue read from stdin's temporary copy, named `<stdin>` in every message.
struct Spooled {
    source: Box<dyn BatchSource>,
    temp: PathBuf,
    /// The copy, deleted when the last reader of it (this or a part's) is dropped.
    copy: Arc<NamedTempFile>,
}

impl BatchSource for Spooled {
    fn path(&self) -> &Path {
        Path::new(STDIN_NAME)
    }

    fn schema(&self) -> SchemaRef {
        self.source.schema()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        self.source.next_batch().map(|batch| batch.map_err(|error| error.renamed(&self.temp, self.path())))
    }

    fn pass_rows_through(&mut self, decoded: &[usize]) -> Option<SchemaRef> {
        self.source.pass_rows_through(decoded)
    }

    fn stored_parquet(&self) -> Option<Arc<super::StoredParquet>> {
        self.source.stored_parquet().map(|stored| Arc::new(stored.renamed(Path::new(STDIN_NAME))))
    }

    fn other_tables(&self) -> Vec<super::OtherTable> {
        self.source.other_tables()
    }

    fn table_kind(&self) -> &'static str {
        self.source.table_kind()
    }

    fn parts(&self) -> Option<Arc<dyn Parts>> {
        let parts = self.source.parts()?;
        Some(Arc::new(SpooledParts { parts, temp: self.temp.clone(), copy: self.copy.clone() }))
    }
}

/// The parts of stdin's copy, each read as a [`Spooled`] source.
struct SpooledParts {
    parts: Arc<dyn Parts>,
    temp: PathBuf,
    copy: Arc<NamedTempFile>,
}

impl Parts for SpooledParts {
    fn count(&self) -> usize {
        self.parts.count()
    }

    fn rows(&self, part: usize) -> u64 {
        self.parts.rows(part)
    }

    fn open(&self, part: usize) -> Result<Box<dyn BatchSource>, Error> {
        let source = self.parts.open(part).map_err(|error| error.renamed(&self.temp, Path::new(STDIN_NAME)))?;
        Ok(Box::new(Spooled { source, temp: self.temp.clone(), copy: self.copy.clone() }))
    }
}
