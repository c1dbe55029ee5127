//! Stdin as IN: an Arrow IPC stream, the only format that needs no seeking.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{ArrowSource, Catalogue, InputFormat, guarded};
use crate::error::Error;
use crate::io::STDIN_NAME;

/// Stdin must be an Arrow IPC stream: the other formats need to seek.
pub(super) fn open_stdin() -> Result<Catalogue, Error> {
    let name = Path::new(STDIN_NAME);
    let mut stdin = BufReader::with_capacity(1 << 20, std::io::stdin());
    let head = stdin.fill_buf().map_err(|source| Error::Io { path: name.to_path_buf(), source })?;
    match InputFormat::detect(head, name).map(|d| d.format) {
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
