//! Arrow IPC files and streams: a file's footer checked before its reader trusts it.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use crate::error::Error;

/// Checks that every record batch and dictionary an Arrow IPC file's footer lists lies inside
/// the file. The IPC reader allocates (and zeroes) each block's declared length before reading
/// it, so a damaged footer declaring gigabytes would cost that much memory before the read
/// fails (found by `fuzz/read_catalogue`: 4 GB for a 10 kB file).
pub(super) fn check_ipc_blocks(path: &Path, file: &mut File) -> Result<(), Error> {
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
