//! A file for the Parquet reader that treats every read past its end as an error.
//!
//! The parquet crate (60.1) reads page headers from a plain `Read` and skips unknown Thrift
//! fields with `io::copy(take(n))`, which stops silently at the end of the file: a damaged header
//! that declares a list of two billion doubles then makes two billion empty reads, a hang of
//! hours (found by `fuzz/read_catalogue`). With this file an empty read is an error, so the same
//! input fails at once as a truncated file. A valid file never reads past its end: its pages lie
//! before the footer, and the footer is read with `get_bytes`, which is checked against the
//! length before anything is allocated (a damaged footer can declare a chunk of exabytes).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use bytes::Bytes;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};

/// A file and its length, as a [`ChunkReader`] that fails on reads past the end.
pub struct BoundedFile {
    file: File,
    len: u64,
}

impl BoundedFile {
    pub fn new(file: File) -> std::io::Result<BoundedFile> {
        let len = file.metadata()?.len();
        Ok(BoundedFile { file, len })
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
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(start))?;
        Ok(BufReader::new(NoReadsPastEnd(file)))
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
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buffer)?;
        Ok(buffer.into())
    }
}

/// A reader whose end of file is an error rather than an empty read.
pub struct NoReadsPastEnd(File);

impl Read for NoReadsPastEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 if !buf.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the file (is it truncated?)",
            )),
            n => Ok(n),
        }
    }
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
}
