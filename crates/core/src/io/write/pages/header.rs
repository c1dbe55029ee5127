//! Parquet page headers: read as stored in a column chunk, and written for a page angcut has
//! filtered (the parquet crate's header types and thrift writer are private to it).

use crate::io::thrift::{BOOL_FALSE, BOOL_TRUE, Compact, CompactWriter, I32, STRUCT};

/// `PageHeader.type` values (Parquet's `PageType`).
pub(super) const DATA_PAGE: i32 = 0;
pub(super) const DICTIONARY_PAGE: i32 = 2;
pub(super) const DATA_PAGE_V2: i32 = 3;

/// What angcut reads of a page header (page statistics are skipped: a filtered page is written
/// without them, the column chunk's bounds standing for its pages).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct PageHeader {
    pub kind: i32,
    pub uncompressed_size: i32,
    pub compressed_size: i32,
    pub crc: Option<i32>,
    /// Of a data page (v1 or v2).
    pub data: Option<DataHeader>,
}

/// A data page's header, v1 (`DataPageHeader`) or v2 (`DataPageHeaderV2`, whose levels are stored
/// uncompressed before the values).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct DataHeader {
    pub num_values: i32,
    pub encoding: i32,
    /// v1: the levels' encodings.
    pub definition_encoding: i32,
    pub repetition_encoding: i32,
    /// v2 only.
    pub num_nulls: i32,
    pub num_rows: i32,
    pub definition_length: i32,
    pub repetition_length: i32,
    pub is_compressed: bool,
}

/// Reads the page header at the start of `bytes`; returns it and its length in bytes.
pub(super) fn read(bytes: &[u8]) -> std::io::Result<(PageHeader, usize)> {
    let mut reader = Compact::new(bytes);
    let mut header = PageHeader::default();
    let mut last = 0;
    while let Some((kind, id)) = reader.field_header(&mut last)? {
        match (id, kind) {
            (1, I32) => header.kind = reader.i32()?,
            (2, I32) => header.uncompressed_size = reader.i32()?,
            (3, I32) => header.compressed_size = reader.i32()?,
            (4, I32) => header.crc = Some(reader.i32()?),
            (5, STRUCT) => header.data = Some(read_data(&mut reader, false)?),
            (8, STRUCT) => header.data = Some(read_data(&mut reader, true)?),
            _ => reader.skip(kind)?,
        }
    }
    Ok((header, reader.at))
}

fn read_data(reader: &mut Compact, v2: bool) -> std::io::Result<DataHeader> {
    // A v2 page's values are compressed unless it says otherwise.
    let mut data = DataHeader { is_compressed: true, ..DataHeader::default() };
    let mut last = 0;
    while let Some((kind, id)) = reader.field_header(&mut last)? {
        match (v2, id, kind) {
            (_, 1, I32) => data.num_values = reader.i32()?,
            (false, 2, I32) | (true, 4, I32) => data.encoding = reader.i32()?,
            (false, 3, I32) => data.definition_encoding = reader.i32()?,
            (false, 4, I32) => data.repetition_encoding = reader.i32()?,
            (true, 2, I32) => data.num_nulls = reader.i32()?,
            (true, 3, I32) => data.num_rows = reader.i32()?,
            (true, 5, I32) => data.definition_length = reader.i32()?,
            (true, 6, I32) => data.repetition_length = reader.i32()?,
            (true, 7, BOOL_TRUE) => data.is_compressed = true,
            (true, 7, BOOL_FALSE) => data.is_compressed = false,
            _ => reader.skip(kind)?,
        }
    }
    Ok(data)
}

/// Writes `header` (a data page's) as thrift compact bytes, to `out`.
pub(super) fn write(header: &PageHeader, out: &mut Vec<u8>) {
    let mut writer = CompactWriter::new(std::mem::take(out));
    writer.begin_struct(None);
    writer.i32_field(1, header.kind);
    writer.i32_field(2, header.uncompressed_size);
    writer.i32_field(3, header.compressed_size);
    if let Some(crc) = header.crc {
        writer.i32_field(4, crc);
    }
    if let Some(data) = &header.data {
        if header.kind == DATA_PAGE_V2 {
            writer.begin_struct(Some(8));
            writer.i32_field(1, data.num_values);
            writer.i32_field(2, data.num_nulls);
            writer.i32_field(3, data.num_rows);
            writer.i32_field(4, data.encoding);
            writer.i32_field(5, data.definition_length);
            writer.i32_field(6, data.repetition_length);
            writer.bool_field(7, data.is_compressed);
        } else {
            writer.begin_struct(Some(5));
            writer.i32_field(1, data.num_values);
            writer.i32_field(2, data.encoding);
            writer.i32_field(3, data.definition_encoding);
            writer.i32_field(4, data.repetition_encoding);
        }
        writer.end_struct();
    }
    writer.end_struct();
    *out = writer.bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back_as_written() {
        for kind in [DATA_PAGE, DATA_PAGE_V2] {
            let header = PageHeader {
                kind,
                uncompressed_size: 1_048_576,
                compressed_size: 70_001,
                crc: Some(-5),
                data: Some(DataHeader {
                    num_values: 20_000,
                    encoding: 8,
                    definition_encoding: if kind == DATA_PAGE { 3 } else { 0 },
                    repetition_encoding: if kind == DATA_PAGE { 3 } else { 0 },
                    num_nulls: if kind == DATA_PAGE { 0 } else { 17 },
                    num_rows: if kind == DATA_PAGE { 0 } else { 20_000 },
                    definition_length: if kind == DATA_PAGE { 0 } else { 2_500 },
                    repetition_length: 0,
                    is_compressed: kind == DATA_PAGE,
                }),
            };
            let mut bytes = vec![9, 9];
            write(&header, &mut bytes);
            bytes.extend_from_slice(b"page");
            let (read_back, length) = read(&bytes[2..]).unwrap();
            assert_eq!(read_back, header);
            assert_eq!(&bytes[2 + length..], b"page");
        }
    }
}
