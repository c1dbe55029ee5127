//! Parquet's RLE/bit-packed hybrid encoding, of definition levels and dictionary indices: decoded
//! (levels, to count a page's nulls) and filtered as stored ([`filter`]), at the same bit width.
//! (The parquet crate's encoder and decoder are private to it.)

use std::ops::Range;

/// The bits a value up to `max` needs.
pub(super) fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Decodes `count` values of `bit_width` bits from `bytes`, appending them to `out`; returns how
/// many bytes they took. The padding of a last bit-packed run is read and dropped.
pub(super) fn decode(bytes: &[u8], bit_width: u8, count: usize, out: &mut Vec<u32>) -> Result<usize, String> {
    let mut runs = Runs::new(bytes, bit_width)?;
    let mut left = count;
    out.reserve(count);
    while left > 0 {
        match runs.next()? {
            Run::Packed { bytes, groups } => {
                for g in 0..groups {
                    let values = unpack(group(bytes, runs.width, g), runs.width, runs.mask);
                    let take = left.min(8);
                    out.extend_from_slice(&values[..take]);
                    left -= take;
                    if left == 0 {
                        break;
                    }
                }
            }
            Run::Repeat { value, count } => {
                let repeat = count.min(left);
                out.extend(std::iter::repeat_n(value, repeat));
                left -= repeat;
            }
        }
    }
    Ok(runs.at)
}

/// One run of a hybrid stream.
enum Run<'a> {
    /// `groups` groups of 8 values bit-packed in `bytes`, `width` bytes each.
    Packed { bytes: &'a [u8], groups: usize },
    /// `count` times `value`.
    Repeat { value: u32, count: usize },
}

/// Group `g` of a bit-packed run's `bytes` of `width`-byte groups (no bytes if `width` is 0).
fn group(bytes: &[u8], width: usize, g: usize) -> &[u8] {
    &bytes[g * width..(g + 1) * width]
}

/// The runs of a hybrid stream, read in order from its bytes: `at` is where the next starts.
struct Runs<'a> {
    bytes: &'a [u8],
    at: usize,
    width: usize,
    mask: u32,
}

impl<'a> Runs<'a> {
    fn new(bytes: &'a [u8], bit_width: u8) -> Result<Self, String> {
        if bit_width > 32 {
            return Err(format!("a bit width of {bit_width}"));
        }
        let width = usize::from(bit_width);
        let mask = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
        Ok(Runs { bytes, at: 0, width, mask })
    }

    /// The next run, checked: its bytes all there, a repeated value within the bit width.
    fn next(&mut self) -> Result<Run<'a>, String> {
        let bytes = self.bytes;
        let (header, length) = varint(&bytes[self.at..]).ok_or("a run header cut short")?;
        self.at += length;
        if header & 1 == 1 {
            let groups = usize::try_from(header >> 1).map_err(|_| "a bit-packed run too long")?;
            let size = groups.checked_mul(self.width).ok_or("a bit-packed run too long")?;
            let end = self.at.checked_add(size).ok_or("a bit-packed run too long")?;
            let run = bytes.get(self.at..end).ok_or("a bit-packed run cut short")?;
            self.at = end;
            return Ok(Run::Packed { bytes: run, groups });
        }
        let count = usize::try_from(header >> 1).map_err(|_| "a run too long")?;
        if count == 0 {
            return Err("an empty run".into());
        }
        let value_bytes = self.width.div_ceil(8);
        let value = bytes.get(self.at..self.at + value_bytes).ok_or("a run's value cut short")?;
        let mut word = [0u8; 4];
        word[..value_bytes].copy_from_slice(value);
        let value = u32::from_le_bytes(word);
        if value & !self.mask != 0 {
            return Err(format!("a value of {value} in {} bits", self.width));
        }
        self.at += value_bytes;
        Ok(Run::Repeat { value, count })
    }
}

/// The values at `kept` (sorted, disjoint ranges of positions below `count`) of `bytes`, a
/// stream of `count` values of `bit_width` bits, appended to `out` as such a stream; returns how
/// many bytes of `bytes` the values took.
///
/// Written by hand, since a page that loses a row or two would otherwise be decoded and encoded
/// whole: a repeat run is shortened to what it keeps, a bit-packed group of 8 that keeps all its
/// values is copied as it is stored, and only a group cut in two is unpacked, its kept values
/// written as runs of their own (which keeps the copied groups aligned on 8 values). So the
/// work follows the cuts, not the page's size. The stream written differs from what [`encode`]
/// would write of the same values, and reads back as them.
pub(super) fn filter(
    bytes: &[u8],
    bit_width: u8,
    count: usize,
    kept: &[Range<usize>],
    out: &mut Vec<u8>,
) -> Result<usize, String> {
    let mut runs = Runs::new(bytes, bit_width)?;
    let mut spliced = Spliced { width: bit_width, packed: Vec::new(), loose: Vec::new() };
    let mut kept = Kept { ranges: kept, cursor: 0 };
    let mut position = 0usize;
    while position < count {
        match runs.next()? {
            Run::Packed { bytes, groups } => {
                for g in 0..groups {
                    let start = position + 8 * g;
                    if start >= count {
                        break;
                    }
                    // (Values past `count` are the last group's padding: never kept.)
                    let end = (start + 8).min(count);
                    let taken = kept.count(start..end);
                    let group = group(bytes, runs.width, g);
                    if taken == 8 {
                        spliced.copy_group(group, out);
                    } else if taken > 0 {
                        let values = unpack(group, runs.width, runs.mask);
                        let picked = (start..end).filter(|&i| kept.contains(i)).map(|i| values[i - start]);
                        spliced.loose.extend(picked);
                    }
                }
                position = position.saturating_add(groups.saturating_mul(8));
            }
            Run::Repeat { value, count: repeat } => {
                let end = position.saturating_add(repeat).min(count);
                spliced.repeat(value, kept.count(position..end), out);
                position = position.saturating_add(repeat);
            }
        }
    }
    spliced.flush(out, true);
    Ok(runs.at)
}

/// The 8 values of a bit-packed group of `width` bytes.
fn unpack(group: &[u8], width: usize, mask: u32) -> [u32; 8] {
    let mut values = [0u32; 8];
    let (mut acc, mut bits, mut next) = (0u64, 0usize, group.iter());
    for value in &mut values {
        while bits < width {
            acc |= u64::from(*next.next().unwrap_or(&0)) << bits;
            bits += 8;
        }
        *value = acc as u32 & mask;
        acc >>= width;
        bits -= width;
    }
    values
}

/// Sorted, disjoint ranges of positions, asked about in increasing order.
struct Kept<'a> {
    ranges: &'a [Range<usize>],
    cursor: usize,
}

impl Kept<'_> {
    /// Moves past the ranges that end at or before `from`.
    fn skip_to(&mut self, from: usize) {
        while self.ranges.get(self.cursor).is_some_and(|r| r.end <= from) {
            self.cursor += 1;
        }
    }

    /// How many positions of `span` are kept.
    fn count(&mut self, span: Range<usize>) -> usize {
        self.skip_to(span.start);
        self.ranges[self.cursor..]
            .iter()
            .take_while(|r| r.start < span.end)
            .map(|r| r.end.min(span.end).saturating_sub(r.start.max(span.start)))
            .sum()
    }

    fn contains(&mut self, position: usize) -> bool {
        self.skip_to(position);
        self.ranges.get(self.cursor).is_some_and(|r| r.start <= position)
    }
}

/// A hybrid stream being written from pieces of another: bit-packed groups copied as they are,
/// and values that are not in such groups.
struct Spliced {
    width: u8,
    /// Copied groups not yet written, 8 values each.
    packed: Vec<u8>,
    /// Values not yet written, after the copied groups.
    loose: Vec<u32>,
}

impl Spliced {
    /// A group of 8 values kept whole, as stored (a zero-width one is no bytes).
    fn copy_group(&mut self, group: &[u8], out: &mut Vec<u8>) {
        if self.width == 0 {
            // No bytes to copy: the values are zeros.
            self.loose.extend([0; 8]);
            return;
        }
        if !self.loose.is_empty() {
            // Copied groups follow loose values only in a run of their own.
            self.flush(out, false);
        }
        self.packed.extend_from_slice(group);
    }

    /// `count` times `value`.
    fn repeat(&mut self, value: u32, count: usize, out: &mut Vec<u8>) {
        if count < 8 {
            self.loose.extend(std::iter::repeat_n(value, count));
            return;
        }
        self.flush(out, false);
        push_varint(out, (count as u64) << 1);
        out.extend_from_slice(&value.to_le_bytes()[..usize::from(self.width).div_ceil(8)]);
    }

    /// Writes what is pending: the copied groups, then the loose values, whose last partial
    /// group of 8 is padded only at the end of the stream (`last`).
    fn flush(&mut self, out: &mut Vec<u8>, last: bool) {
        if !self.packed.is_empty() {
            let groups = self.packed.len() / usize::from(self.width);
            push_varint(out, ((groups as u64) << 1) | 1);
            out.append(&mut self.packed);
        }
        if !self.loose.is_empty() {
            encode_ending(&self.loose, self.width, out, last);
            self.loose.clear();
        }
    }
}

/// Encodes `values` of `bit_width` bits, appending them to `out`: runs of 8 or more equal values
/// as repeats, the rest bit-packed in groups of 8 (the last group padded with zeros). (The tests
/// write streams with it; pages are written by [`filter`].)
#[cfg(test)]
fn encode(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    encode_ending(values, bit_width, out, true);
}

/// [`encode`], with the last group padded only if `pad` (at the end of a stream); otherwise its
/// values are written as repeat runs, so that more runs may follow.
fn encode_ending(values: &[u32], bit_width: u8, out: &mut Vec<u8>, pad: bool) {
    let mut packed: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let value = values[i];
        let run = values[i..].iter().take_while(|&&v| v == value).count();
        if run >= 8 && packed.len().is_multiple_of(8) {
            flush_packed(&mut packed, bit_width, out);
            push_varint(out, (run as u64) << 1);
            out.extend_from_slice(&value.to_le_bytes()[..usize::from(bit_width).div_ceil(8)]);
            i += run;
        } else {
            // Short runs, or the start of a long one that completes the bit-packed group.
            let take = if run >= 8 { 8 - packed.len() % 8 } else { run };
            packed.extend(std::iter::repeat_n(value, take));
            i += take;
        }
    }
    let tail = if pad { Vec::new() } else { packed.split_off(packed.len() - packed.len() % 8) };
    flush_packed(&mut packed, bit_width, out);
    let mut i = 0;
    while i < tail.len() {
        let run = tail[i..].iter().take_while(|&&v| v == tail[i]).count();
        push_varint(out, (run as u64) << 1);
        out.extend_from_slice(&tail[i].to_le_bytes()[..usize::from(bit_width).div_ceil(8)]);
        i += run;
    }
}

fn flush_packed(packed: &mut Vec<u32>, bit_width: u8, out: &mut Vec<u8>) {
    if packed.is_empty() {
        return;
    }
    let groups = packed.len().div_ceil(8);
    packed.resize(groups * 8, 0);
    push_varint(out, ((groups as u64) << 1) | 1);
    // Each value's bits after the last one's; 8 values of `width` bits fill `width` bytes.
    let width = usize::from(bit_width);
    out.reserve(groups * width);
    let (mut acc, mut bits) = (0u64, 0usize);
    for &value in packed.iter() {
        acc |= u64::from(value) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    packed.clear();
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A ULEB128 value and its length.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encoded_values_decode_to_themselves(
            width in 0u8..=32,
            runs in prop::collection::vec((any::<u32>(), 1usize..20), 0..40),
        ) {
            let mask = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            let values: Vec<u32> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v & mask, n)).collect();
            let mut bytes = vec![0xAB];
            encode(&values, width, &mut bytes);
            let mut decoded = Vec::new();
            let used = decode(&bytes[1..], width, values.len(), &mut decoded).unwrap();
            prop_assert_eq!(used, bytes.len() - 1);
            prop_assert_eq!(decoded, values);
        }
    }

    /// Random sorted, disjoint ranges below `count`, from `cuts` (positions and lengths).
    fn ranges_of(count: usize, cuts: &[(usize, usize)]) -> Vec<Range<usize>> {
        let mut starts: Vec<(usize, usize)> = cuts.iter().map(|&(at, len)| (at % (count + 1), len)).collect();
        starts.sort();
        let (mut ranges, mut from) = (Vec::new(), 0);
        for (at, len) in starts {
            if at > from {
                ranges.push(from..at);
            }
            from = from.max(at + len).min(count);
        }
        if from < count {
            ranges.push(from..count);
        }
        ranges
    }

    proptest! {
        #[test]
        fn a_filtered_stream_reads_back_as_the_kept_values(
            width in 0u8..=32,
            runs in prop::collection::vec((any::<u32>(), 1usize..30), 0..40),
            cuts in prop::collection::vec((any::<usize>(), 0usize..12), 0..8),
            shuffle in any::<bool>(),
        ) {
            let mask = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            let mut values: Vec<u32> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v & mask, n)).collect();
            if shuffle {
                // Mostly bit-packed groups rather than repeats.
                let mut rng = SplitMix64::new(values.len() as u64);
                values.iter_mut().for_each(|v| *v = rng.next_u64() as u32 & mask);
            }
            let mut kept = ranges_of(values.len(), &cuts);
            if shuffle {
                // Empty ranges too, as the values of kept rows that are all null give.
                kept = kept.into_iter().flat_map(|r| [r.start..r.start, r]).collect();
            }
            let expected: Vec<u32> = kept.iter().flat_map(|r| values[r.clone()].iter().copied()).collect();
            let mut bytes = Vec::new();
            encode(&values, width, &mut bytes);
            bytes.extend_from_slice(b"after");
            let mut filtered = Vec::new();
            let used = filter(&bytes, width, values.len(), &kept, &mut filtered).unwrap();
            prop_assert_eq!(&bytes[used..], b"after");
            let mut decoded = Vec::new();
            let read = decode(&filtered, width, expected.len(), &mut decoded).unwrap();
            prop_assert_eq!(read, filtered.len(), "no bytes left over");
            prop_assert_eq!(decoded, expected);
        }
    }

    #[test]
    fn filtering_copies_whole_groups_as_stored() {
        // 4,096 values of 10 bits, bit-packed (no repeats); one removed: the stream stays about
        // as long, and its first groups are the input's bytes.
        let mut rng = SplitMix64::new(3);
        let values: Vec<u32> = (0..4096).map(|_| rng.next_u64() as u32 & 1023).collect();
        let mut bytes = Vec::new();
        encode(&values, 10, &mut bytes);
        let mut filtered = Vec::new();
        filter(&bytes, 10, 4096, &[0..2000, 2001..4096], &mut filtered).unwrap();
        assert!(filtered.len() <= bytes.len() + 24, "{} against {}", filtered.len(), bytes.len());
        // Groups 0..250 (2,000 values) copied: the same 2,500 bytes after the run headers.
        let first = bytes.windows(2500).position(|w| filtered.windows(2500).any(|f| f == w));
        assert!(first.is_some(), "the first 250 groups copied as stored");
        let mut decoded = Vec::new();
        decode(&filtered, 10, 4095, &mut decoded).unwrap();
        assert_eq!(decoded[..2000], values[..2000]);
        assert_eq!(decoded[2000..], values[2001..]);
    }

    #[test]
    fn reads_what_the_parquet_crate_writes() {
        // Definition levels of a nullable column, written by the parquet crate's own encoder
        // through a page of an optional INT32 column, are the nulls' pattern.
        use parquet::basic::Encoding;
        use parquet::column::page::Page;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let mut rng = SplitMix64::new(7);
        let values: Vec<Option<i32>> =
            (0..5_000).map(|i: i32| (rng.below(3) != 0 || i % 100 < 30).then_some(i)).collect();
        let array = arrow::array::Int32Array::from(values.clone());
        let batch = arrow::array::RecordBatch::try_from_iter([("x", std::sync::Arc::new(array) as _)]).unwrap();
        let mut file = Vec::new();
        let properties = parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_compression(parquet::basic::Compression::UNCOMPRESSED)
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut file, batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let mut pages = reader.get_row_group(0).unwrap().get_column_page_reader(0).unwrap();
        let mut levels = Vec::new();
        while let Some(page) = pages.get_next_page().unwrap() {
            let Page::DataPage { buf, num_values, def_level_encoding, .. } = page else { continue };
            assert_eq!(def_level_encoding, Encoding::RLE);
            let length = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
            let stream = &buf[4..4 + length];
            let used = decode(stream, 1, num_values as usize, &mut levels).unwrap();
            assert!(used <= length);
            // Every third run of 5 rows removed, filtered as stored, reads back as those kept.
            let rows = num_values as usize;
            let kept: Vec<Range<usize>> = (0..rows).step_by(15).map(|s| s..(s + 10).min(rows)).collect();
            let mut filtered = Vec::new();
            assert_eq!(filter(stream, 1, rows, &kept, &mut filtered).unwrap(), used);
            let mut back = Vec::new();
            decode(&filtered, 1, kept.iter().map(ExactSizeIterator::len).sum(), &mut back).unwrap();
            let page = &levels[levels.len() - rows..];
            let expected: Vec<u32> = kept.iter().flat_map(|r| page[r.clone()].iter().copied()).collect();
            assert_eq!(back, expected);
        }
        let expected: Vec<u32> = values.iter().map(|v| u32::from(v.is_some())).collect();
        assert_eq!(levels, expected);
    }
}
