//! A file for the Parquet reader that treats every read past its end as an error.
//!
//! The parquet crate (60.1) reads page headers from a plain `Read` and skips unknown Thrift
//! fields with `io::copy(take(n))`, which stops silently at the end of the file: a damaged header
//! that declares a list of two billion doubles then makes two billion empty reads, a hang of
//! hours (found by `fuzz/read_catalogue`). With this file an empty read is an error, so the same
//! input fails at once as a truncated file. A valid file never reads past its end: its pages lie
//! before the footer, and the footer is read with `get_bytes`, which is checked against the
//! length before anything is allocated (a damaged footer can declare a chunk of exabytes).
//!
//! Reads are positional (`pread`), never a seek then a read: the row groups of one file are
//! decoded on several threads at once, and handles cloned with `try_clone` would share one offset.

use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::Arc;

use bytes::Bytes;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};

/// A file and its length, as a [`ChunkReader`] that fails on reads past the end. Clones share
/// the open file.
#[derive(Clone)]
pub struct BoundedFile {
    file: Arc<File>,
    len: u64,
}

impl BoundedFile {
    pub fn new(file: File) -> std::io::Result<BoundedFile> {
        let len = file.metadata()?.len();
        Ok(BoundedFile { file: Arc::new(file), len })
    }
}

impl Length for BoundedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for BoundedFile {
    type T = BufReader<NoReadsPastEnd>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        Ok(BufReader::new(NoReadsPastEnd { file: self.file.clone(), at: start }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let end = start.checked_add(length as u64).filter(|&end| end <= self.len);
        if end.is_none() {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at offset {start} lie beyond the end of the file ({} bytes)",
                self.len
            )));
        }
        let mut buffer = vec![0; length];
        match read_exact_at(&self.file, &mut buffer, start) {
            Ok(()) => Ok(buffer.into()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(ParquetError::EOF(format!("the file ended within {length} bytes at offset {start}")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A reader from an offset of a shared file, whose end of file is an error rather than an
/// empty read.
pub struct NoReadsPastEnd {
    file: Arc<File>,
    at: u64,
}

impl Read for NoReadsPastEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match read_at(&self.file, buf, self.at)? {
            0 if !buf.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the file (is it truncated?)",
            )),
            n => {
                self.at += n as u64;
                Ok(n)
            }
        }
    }
}

/// Fills `buf` from `offset` of `file`, by position; the file ending first is `UnexpectedEof`.
pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads at `offset` without moving any shared file position.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Reads at `offset` (Windows moves the handle's position, which no reader here relies on).
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_within_the_file_work_and_past_its_end_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ten.bin");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = BoundedFile::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(file.len(), 10);
        assert_eq!(&file.get_bytes(2, 3).unwrap()[..], b"234");
        assert_eq!(&file.get_bytes(0, 10).unwrap()[..], b"0123456789");
        assert!(file.get_bytes(8, 3).unwrap_err().to_string().contains("beyond the end"));
        assert!(file.get_bytes(u64::MAX, 2).is_err(), "no overflow");
        let mut rest = Vec::new();
        let mut reader = file.get_read(6).unwrap();
        let mut four = [0u8; 4];
        reader.read_exact(&mut four).unwrap();
        assert_eq!(&four, b"6789");
        assert_eq!(reader.read_to_end(&mut rest).unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn readers_on_several_threads_do_not_move_each_others_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bytes.bin");
        let content: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = BoundedFile::new(File::open(&path).unwrap()).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let (file, content) = (file.clone(), &content);
                scope.spawn(move || {
                    for round in 0..500u64 {
                        let start = (thread * 997 + round * 13) % 4000;
                        let mut got = [0u8; 64];
                        file.get_read(start).unwrap().read_exact(&mut got).unwrap();
                        assert_eq!(&got[..], &content[start as usize..start as usize + 64]);
                        let bytes = file.get_bytes(start + 1, 32).unwrap();
                        assert_eq!(&bytes[..], &content[start as usize + 1..start as usize + 33]);
                    }
                });
            }
        });
    }
}
