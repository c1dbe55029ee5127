//! Column chunks of a Parquet input filtered as stored pages, for the row groups a cut touches
//! (the copy route of [`super::StoredCopySink`]): each data page that loses rows is decompressed,
//! its definition levels and values (PLAIN, or dictionary indices) taken for the kept rows and
//! compressed again with the chunk's codec, its dictionary page kept as it is; a page that loses
//! no row is copied byte for byte, one that loses all is left out. Nothing is decoded into Arrow
//! nor encoded again by the Arrow writer, which is most of what a cut of a wide file costs.
//!
//! The parquet crate decodes pages into values and encodes values into pages, but does not edit
//! pages in their encoded form; this module does that, and only that. What it cannot carry (a
//! repeated column, DELTA_* or BYTE_STREAM_SPLIT values, bit-packed v1 levels, LZ4/LZO/Brotli) is reported as [`Filtered::Unsupported`], and the caller decodes instead.
//!
//! A filtered page is written without page statistics (its chunk's min/max stand for it, as
//! bounds); the chunk's null count is made exact by subtracting the nulls of the removed rows.
//! Filtered chunks and those copied whole get an offset index (their pages' places and first
//! rows, which readers use to skip pages) and, where the input had one, a column index (page
//! min/max and null counts: `column_index`).

mod codec;
mod column_index;
mod header;
mod hybrid;

use std::ops::Range;

use bytes::Bytes;
use parquet::basic::Type as PhysicalType;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::{Statistics, ValueStatistics};

use codec::PageCodec;
use column_index::PageBounds;

use super::parallel_writer::PageIndexes;
use header::{DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE, DataHeader, PageHeader};

/// Parquet's `Encoding` numbers that filtered pages may use (RLE: levels, and v2 pages' booleans).
const PLAIN: i32 = 0;
const PLAIN_DICTIONARY: i32 = 2;
const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;

/// A column chunk filtered, or why it could not be.
pub(crate) enum Filtered {
    /// The kept rows' pages, and their metadata (offsets counted from the start of `bytes`).
    Chunk { bytes: Bytes, close: Box<ColumnCloseResult> },
    /// What this route cannot carry; the row group is decoded instead.
    Unsupported(String),
}

/// How PLAIN lays out a column's values.
#[derive(Clone, Copy)]
enum Layout {
    /// One bit each (BOOLEAN).
    Bits,
    /// So many bytes each.
    Fixed(usize),
    /// A 4-byte length, then the bytes (BYTE_ARRAY).
    Lengths,
}

/// Checks `bytes`, column chunk `column` copied as stored: its page headers read, its pages fill
/// it exactly, each page with a checksum matches it. Returns its page indexes: the offset index
/// if it has no repetition, and its column index `input_index` (the input's) as it is, if that
/// has an entry for each of its pages.
pub(crate) fn check_stored(
    bytes: &[u8],
    column: &ColumnChunkMetaData,
    input_index: Option<&ColumnIndexMetaData>,
) -> Result<PageIndexes, String> {
    let mut index = OffsetIndexBuilder::new();
    let mut pages = 0u64;
    let start = column.byte_range().0;
    let start = i64::try_from(start).map_err(|_| "a column chunk beyond 2^63 bytes")?;
    let mut at = 0;
    while at < bytes.len() {
        let (header, _, end) = next_page(bytes, at)?;
        if let (DATA_PAGE | DATA_PAGE_V2, Some(data)) = (header.kind, &header.data) {
            let rows = if header.kind == DATA_PAGE { data.num_values } else { data.num_rows };
            index.append_offset_and_size(start + at as i64, (end - at) as i32);
            index.append_row_count(i64::from(rows));
            pages += 1;
        }
        at = end;
    }
    let offset = (column.column_descr().max_rep_level() == 0).then(|| index.build());
    let column = input_index.filter(|input| offset.is_some() && input.num_pages() == pages).cloned();
    Ok(PageIndexes { offset, column })
}

/// Where the bytes that a 4-byte little-endian length at `at` of `bytes` announces lie (PLAIN
/// byte arrays, v1 pages' levels, v2 pages' booleans), if they are all there.
fn prefixed(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let length = bytes.get(at..at.checked_add(4)?)?;
    let start = at + 4;
    let end = start.checked_add(u32::from_le_bytes(length.try_into().ok()?) as usize)?;
    (end <= bytes.len()).then_some(start..end)
}

/// The header of the page at `at` in a column chunk's `bytes`, its length, and where the page
/// ends; its checksum checked if it has one.
fn next_page(bytes: &[u8], at: usize) -> Result<(PageHeader, usize, usize), String> {
    let (header, header_length) = header::read(&bytes[at..]).map_err(|e| e.to_string())?;
    let size = usize::try_from(header.compressed_size).map_err(|_| "a page of negative size")?;
    let end = (at + header_length).checked_add(size).filter(|&end| end <= bytes.len());
    let end = end.ok_or("a page runs past the end of its column chunk")?;
    if header.crc.is_some_and(|crc| crc32fast::hash(&bytes[at + header_length..end]) != crc as u32) {
        return Err("Page CRC checksum mismatch".into());
    }
    if i32::try_from(end - at).is_err() {
        return Err("a page of more than 2 GB".into());
    }
    Ok((header, header_length, end))
}

/// Why a chunk's metadata already says that [`filter_chunk`] cannot filter it, if it does (its
/// pages may still refuse): a repeated column, a codec this module does not compress with, a
/// value encoding it does not filter.
pub(crate) fn refuses(column: &ColumnChunkMetaData) -> Option<String> {
    use parquet::basic::Encoding;
    if column.column_descr().max_rep_level() > 0 {
        return Some("a repeated column".into());
    }
    if PageCodec::of(column.compression()).is_none() {
        // The codec's name, without the level the parquet crate shows beside it.
        let codec = column.compression().to_string();
        return Some(format!("{} compression", codec.split('(').next().unwrap_or_default()));
    }
    let unfilterable = |encoding: &Encoding| {
        matches!(
            encoding,
            Encoding::DELTA_BINARY_PACKED
                | Encoding::DELTA_LENGTH_BYTE_ARRAY
                | Encoding::DELTA_BYTE_ARRAY
                | Encoding::BYTE_STREAM_SPLIT
        )
    };
    column.encodings().find(unfilterable).map(|encoding| format!("{encoding} values"))
}

/// Filters `bytes`, the column chunk `column` of a row group of `rows` rows, to the rows of
/// `kept` (sorted, disjoint ranges of the row group's rows); `input_index` is the chunk's column
/// index, if the input has one. An error is the input's damage.
pub(crate) fn filter_chunk(
    bytes: &[u8],
    column: &ColumnChunkMetaData,
    input_index: Option<&ColumnIndexMetaData>,
    kept: &[Range<u64>],
    rows: u64,
) -> Result<Filtered, String> {
    if let Some(why) = refuses(column) {
        return Ok(Filtered::Unsupported(why));
    }
    let descr = column.column_descr();
    let codec = PageCodec::of(column.compression()).ok_or("a codec refused")?;
    let layout = match descr.physical_type() {
        PhysicalType::BOOLEAN => Layout::Bits,
        PhysicalType::INT32 | PhysicalType::FLOAT => Layout::Fixed(4),
        PhysicalType::INT64 | PhysicalType::DOUBLE => Layout::Fixed(8),
        PhysicalType::INT96 => Layout::Fixed(12),
        PhysicalType::FIXED_LEN_BYTE_ARRAY => {
            Layout::Fixed(usize::try_from(descr.type_length()).map_err(|_| "a negative fixed length")?)
        }
        PhysicalType::BYTE_ARRAY => Layout::Lengths,
    };
    let max_def = u32::try_from(descr.max_def_level()).map_err(|_| "a negative definition level")?;
    let format = Format { codec, layout, max_def, level_width: hybrid::bit_width(max_def) };
    // The removed rows' nulls are counted only where the statistics count nulls at all.
    let stated_nulls = column.statistics().and_then(Statistics::null_count_opt);
    let count_nulls = max_def > 0 && stated_nulls.is_some_and(|n| n > 0);

    let mut out = Vec::with_capacity(bytes.len());
    let (mut dictionary_offset, mut data_offset) = (None, None);
    let (mut uncompressed, mut values, mut removed_nulls) = (0i64, 0i64, 0u64);
    let (mut at, mut row, mut cursor) = (0usize, 0u64, 0usize);
    // The output's offset index: its data pages' places and first rows; and its column index.
    let mut index = OffsetIndexBuilder::new();
    let mut bounds = PageBounds::new(input_index, descr.physical_type());
    let mut page_number = 0;
    while at < bytes.len() {
        let (header, header_length, end) = next_page(bytes, at)?;
        let (stored, payload) = (&bytes[at..end], &bytes[at + header_length..end]);
        at = end;
        let stored_size = i64::from(header.uncompressed_size) + header_length as i64;
        match header.kind {
            DICTIONARY_PAGE => {
                dictionary_offset.get_or_insert(out.len() as i64);
                out.extend_from_slice(stored);
                uncompressed += stored_size;
                continue;
            }
            DATA_PAGE | DATA_PAGE_V2 => {}
            other => return Ok(Filtered::Unsupported(format!("a page of type {other}"))),
        }
        let data = header.data.as_ref().ok_or("a data page without its data page header")?;
        let page_rows = if header.kind == DATA_PAGE { data.num_values } else { data.num_rows };
        let page_rows = u64::try_from(page_rows).map_err(|_| "a page of a negative row count")?;
        let page = row..row + page_rows;
        row += page_rows;
        let number = page_number;
        page_number += 1;
        let ranges = overlap(kept, &mut cursor, page);
        let kept_rows: usize = ranges.iter().map(ExactSizeIterator::len).sum();
        if kept_rows as u64 == page_rows {
            data_offset.get_or_insert(out.len() as i64);
            index.append_offset_and_size(out.len() as i64, stored.len() as i32);
            index.append_row_count(page_rows as i64);
            if let Some(bounds) = bounds.as_mut() {
                bounds.copied(number);
            }
            out.extend_from_slice(stored);
            uncompressed += stored_size;
            values += i64::from(data.num_values);
            continue;
        }
        if kept_rows == 0 && header.kind == DATA_PAGE_V2 {
            removed_nulls += u64::try_from(data.num_nulls).map_err(|_| "a negative null count")?;
            continue;
        }
        if kept_rows == 0 && !count_nulls {
            continue;
        }
        if let Some(why) = format.refuses(&header, data) {
            return Ok(Filtered::Unsupported(why));
        }
        let decoded = format.decode(&header, data, payload, page_rows as usize)?;
        let selection = decoded.select(&format, &ranges);
        removed_nulls += (decoded.nulls - selection.nulls) as u64;
        if kept_rows == 0 {
            continue;
        }
        let (page_header, payload) = format.encode(&header, data, &decoded, &ranges, kept_rows, &selection)?;
        data_offset.get_or_insert(out.len() as i64);
        let start = out.len();
        header::write(&page_header, &mut out);
        uncompressed += (out.len() - start) as i64 + i64::from(page_header.uncompressed_size);
        out.extend_from_slice(&payload);
        let size = i32::try_from(out.len() - start).map_err(|_| "a page of more than 2 GB")?;
        index.append_offset_and_size(start as i64, size);
        index.append_row_count(kept_rows as i64);
        if let Some(bounds) = bounds.as_mut() {
            bounds.filtered(number, kept_rows, selection.nulls);
        }
        values += kept_rows as i64;
    }
    if row != rows {
        return Err(format!("pages of {row} rows in a row group of {rows}"));
    }
    let data_offset = data_offset.ok_or("no page holds the kept rows")?;
    let null_count = match stated_nulls {
        Some(stated) => {
            Some(stated.checked_sub(removed_nulls).ok_or("fewer nulls in its statistics than in its pages")?)
        }
        None => None,
    };
    let mut builder = ColumnChunkMetaData::builder(column.column_descr_ptr())
        .set_compression_codec(column.compression_codec())
        .set_encodings_mask(*column.encodings_mask())
        .set_num_values(values)
        .set_total_compressed_size(out.len() as i64)
        .set_total_uncompressed_size(uncompressed)
        .set_data_page_offset(data_offset)
        .set_dictionary_page_offset(dictionary_offset);
    if let Some(statistics) = column.statistics() {
        builder = builder.set_statistics(as_bounds(statistics, null_count));
    }
    let metadata = builder.build().map_err(|e| e.to_string())?;
    let kept_rows = kept.iter().map(|r| r.end - r.start).sum();
    let close = ColumnCloseResult {
        bytes_written: out.len() as u64,
        rows_written: kept_rows,
        metadata,
        bloom_filter: None,
        column_index: bounds.and_then(|b| b.finish(page_number)),
        offset_index: Some(index.build()),
    };
    Ok(Filtered::Chunk { bytes: Bytes::from(out), close: Box::new(close) })
}

/// The parts of `kept` that lie in `page` (rows of the row group), as rows of the page; `cursor`
/// is the first run that may still reach into a later page.
fn overlap(kept: &[Range<u64>], cursor: &mut usize, page: Range<u64>) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    while let Some(run) = kept.get(*cursor) {
        if run.start >= page.end {
            break;
        }
        let (from, to) = (run.start.max(page.start), run.end.min(page.end));
        if from < to {
            ranges.push((from - page.start) as usize..(to - page.start) as usize);
        }
        if run.end > page.end {
            break;
        }
        *cursor += 1;
    }
    ranges
}

/// A column's pages as stored: codec, value layout and definition levels.
struct Format {
    codec: PageCodec,
    layout: Layout,
    max_def: u32,
    level_width: u8,
}

/// A data page decompressed: its definition levels (none if the column is required), as stored
/// and decoded, and its values' bytes (`buffer[values_at..]`: a v1 page's levels and values are
/// decompressed together, and left where they are rather than copied apart).
struct Decoded {
    stored_levels: Vec<u8>,
    levels: Vec<u32>,
    rows: usize,
    buffer: Vec<u8>,
    values_at: usize,
    /// How many values it holds (its rows less its nulls), and how many nulls.
    present: usize,
    nulls: usize,
}

/// The kept rows of a page: the ranges of the page's values they hold, their nulls.
struct Selection {
    values: Vec<Range<usize>>,
    nulls: usize,
}

impl Format {
    /// Why a data page cannot be filtered here, if it cannot.
    fn refuses(&self, header: &PageHeader, data: &DataHeader) -> Option<String> {
        let rle_booleans = data.encoding == RLE && matches!(self.layout, Layout::Bits);
        if !(matches!(data.encoding, PLAIN | PLAIN_DICTIONARY | RLE_DICTIONARY) || rle_booleans) {
            return Some(format!("{} values", encoding_name(data.encoding)));
        }
        if header.kind == DATA_PAGE && self.max_def > 0 && data.definition_encoding != RLE {
            return Some(format!("{} definition levels", encoding_name(data.definition_encoding)));
        }
        if header.kind == DATA_PAGE_V2 && data.repetition_length != 0 {
            return Some("repetition levels in a column without repetition".into());
        }
        None
    }

    fn decode(&self, header: &PageHeader, data: &DataHeader, payload: &[u8], rows: usize) -> Result<Decoded, String> {
        let size = usize::try_from(header.uncompressed_size).map_err(|_| "a page of negative size")?;
        let (levels, buffer, values_at) = if header.kind == DATA_PAGE {
            let page = self.codec.decompress(payload, size)?;
            let levels = if self.max_def > 0 { prefixed(&page, 0).ok_or("definition levels cut short")? } else { 0..0 };
            (page[levels.clone()].to_vec(), page, levels.end)
        } else {
            let length = usize::try_from(data.definition_length).map_err(|_| "negative definition levels")?;
            let levels = payload.get(..length).ok_or("definition levels cut short")?;
            let stored = &payload[length..];
            let values = if data.is_compressed {
                let size = size.checked_sub(length).ok_or("a page smaller than its levels")?;
                self.codec.decompress(stored, size)?
            } else {
                stored.to_vec()
            };
            (levels.to_vec(), values, 0)
        };
        let mut decoded =
            Decoded { stored_levels: levels, levels: Vec::new(), rows, buffer, values_at, present: rows, nulls: 0 };
        if self.max_def > 0 {
            hybrid::decode(&decoded.stored_levels, self.level_width, rows, &mut decoded.levels)?;
            decoded.present = decoded.levels.iter().filter(|&&l| l == self.max_def).count();
            decoded.nulls = rows - decoded.present;
        }
        Ok(decoded)
    }

    /// The values of `page` in `kept` (ranges of its values), encoded as they were, appended to
    /// `out`.
    fn filter_values(
        &self,
        encoding: i32,
        page: &Decoded,
        kept: &[Range<usize>],
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let values = page.values();
        let short = || "values cut short".to_string();
        match (encoding, self.layout) {
            (PLAIN, Layout::Fixed(width)) => {
                if values.len() < page.present * width {
                    return Err(short());
                }
                for range in kept {
                    out.extend_from_slice(&values[range.start * width..range.end * width]);
                }
            }
            (PLAIN, Layout::Bits) => {
                if values.len() * 8 < page.present {
                    return Err(short());
                }
                for (count, i) in kept.iter().flat_map(Clone::clone).enumerate() {
                    if count % 8 == 0 {
                        out.push(0);
                    }
                    let bit = (values[i / 8] >> (i % 8)) & 1;
                    *out.last_mut().ok_or_else(short)? |= bit << (count % 8);
                }
            }
            (PLAIN, Layout::Lengths) => {
                // Walks the lengths up to each kept range, and copies the range whole.
                let (mut at, mut index) = (0usize, 0usize);
                let mut walk = |to: usize, at: &mut usize| -> Result<(), String> {
                    while index < to {
                        *at = prefixed(values, *at).ok_or_else(short)?.end;
                        index += 1;
                    }
                    Ok(())
                };
                for range in kept {
                    walk(range.start, &mut at)?;
                    let from = at;
                    walk(range.end, &mut at)?;
                    out.extend_from_slice(&values[from..at]);
                }
            }
            (RLE, _) => {
                // Booleans as v2 pages store them: a 4-byte length, then hybrid runs of 1 bit.
                let runs = &values[prefixed(values, 0).ok_or_else(short)?];
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                hybrid::filter(runs, 1, page.present, kept, out)?;
                let length = (out.len() - at - 4) as u32;
                out[at..at + 4].copy_from_slice(&length.to_le_bytes());
            }
            (_, _) => {
                // Dictionary indices: a byte of bit width, then the hybrid runs.
                if page.present == 0 {
                    out.extend_from_slice(values);
                    return Ok(());
                }
                let width = *values.first().ok_or_else(short)?;
                out.push(width);
                hybrid::filter(&values[1..], width, page.present, kept, out)?;
            }
        }
        Ok(())
    }

    /// A filtered page's header and stored bytes: the levels of `page`'s rows `kept` (`rows`
    /// in all) and the values of `selection`, compressed as the page was.
    fn encode(
        &self,
        header: &PageHeader,
        data: &DataHeader,
        page: &Decoded,
        kept: &[Range<usize>],
        rows: usize,
        selection: &Selection,
    ) -> Result<(PageHeader, Vec<u8>), String> {
        let rows = i32::try_from(rows).map_err(|_| "a page of more than 2^31 rows")?;
        let mut levels = Vec::new();
        if self.max_def > 0 {
            hybrid::filter(&page.stored_levels, self.level_width, page.rows, kept, &mut levels)?;
        }
        let too_large = |_| "a page of more than 2 GB".to_string();
        // The values are filtered straight into the buffer that is compressed.
        let (uncompressed, payload, data) = if header.kind == DATA_PAGE {
            let mut body = Vec::with_capacity(levels.len() + 4 + page.values().len());
            if self.max_def > 0 {
                body.extend_from_slice(&(levels.len() as u32).to_le_bytes());
                body.extend_from_slice(&levels);
            }
            self.filter_values(data.encoding, page, &selection.values, &mut body)?;
            let data = DataHeader { num_values: rows, ..data.clone() };
            (body.len(), self.codec.compress(&body)?, data)
        } else {
            let mut values = Vec::with_capacity(page.values().len());
            self.filter_values(data.encoding, page, &selection.values, &mut values)?;
            let uncompressed = levels.len() + values.len();
            let values = if data.is_compressed { self.codec.compress(&values)? } else { values };
            let nulls = i32::try_from(selection.nulls).map_err(too_large)?;
            let definition_length = i32::try_from(levels.len()).map_err(too_large)?;
            levels.extend_from_slice(&values);
            let data =
                DataHeader { num_values: rows, num_rows: rows, num_nulls: nulls, definition_length, ..data.clone() };
            (uncompressed, levels, data)
        };
        let page_header = PageHeader {
            kind: header.kind,
            uncompressed_size: i32::try_from(uncompressed).map_err(too_large)?,
            compressed_size: i32::try_from(payload.len()).map_err(too_large)?,
            // A page that had a checksum keeps one.
            crc: header.crc.map(|_| crc32fast::hash(&payload) as i32),
            data: Some(data),
        };
        Ok((page_header, payload))
    }
}

impl Decoded {
    /// The page's values as stored (PLAIN values, or a dictionary page's indices).
    fn values(&self) -> &[u8] {
        &self.buffer[self.values_at..]
    }

    /// The rows of `ranges`: their levels, their values' ranges, their nulls.
    fn select(&self, format: &Format, ranges: &[Range<usize>]) -> Selection {
        let present = |rows: Range<usize>| {
            if format.max_def == 0 {
                rows.len()
            } else {
                self.levels[rows].iter().filter(|&&l| l == format.max_def).count()
            }
        };
        let mut selection = Selection { values: Vec::with_capacity(ranges.len()), nulls: 0 };
        let (mut row, mut value) = (0, 0);
        for range in ranges {
            value += present(row..range.start);
            let count = present(range.clone());
            selection.values.push(value..value + count);
            selection.nulls += range.len() - count;
            value += count;
            row = range.end;
        }
        selection
    }
}

/// Parquet's name of encoding `number`.
fn encoding_name(number: i32) -> String {
    let names = [
        "PLAIN",
        "GROUP_VAR_INT",
        "PLAIN_DICTIONARY",
        "RLE",
        "BIT_PACKED",
        "DELTA_BINARY_PACKED",
        "DELTA_LENGTH_BYTE_ARRAY",
        "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY",
        "BYTE_STREAM_SPLIT",
    ];
    usize::try_from(number)
        .ok()
        .and_then(|n| names.get(n))
        .map_or_else(|| format!("encoding {number}"), |n| n.to_string())
}

/// `statistics` as bounds of a chunk that lost rows: its min and max (still true bounds, marked
/// inexact), `null_count` for its nulls, no distinct or NaN count (no longer known).
fn as_bounds(statistics: &Statistics, null_count: Option<u64>) -> Statistics {
    let deprecated = statistics.is_min_max_deprecated();
    macro_rules! bounds {
        ($($variant:ident),*) => {
            match statistics {
                $(Statistics::$variant(s) => Statistics::$variant(
                    ValueStatistics::new(s.min_opt().cloned(), s.max_opt().cloned(), None, null_count, deprecated)
                        .with_min_is_exact(false)
                        .with_max_is_exact(false)
                        .with_backwards_compatible_min_max(s.is_min_max_backwards_compatible()),
                ),)*
            }
        };
    }
    bounds!(Boolean, Int32, Int64, Int96, Float, Double, ByteArray, FixedLenByteArray)
}

#[cfg(test)]
mod tests {
    use super::prefixed;

    #[test]
    fn a_length_prefix_announces_bytes_only_if_they_are_there() {
        let bytes = [3, 0, 0, 0, b'a', b'b', b'c', 1, 0, 0, 0];
        assert_eq!(prefixed(&bytes, 0), Some(4..7));
        assert_eq!(prefixed(&bytes, 7), None, "one byte announced, none there");
        assert_eq!(prefixed(&bytes, 9), None, "the length itself cut short");
        assert_eq!(prefixed(&[0, 0, 0, 0], 0), Some(4..4));
        assert_eq!(prefixed(&[255, 255, 255, 255, 0], 0), None);
        assert_eq!(prefixed(&bytes, usize::MAX - 1), None);
    }
}
