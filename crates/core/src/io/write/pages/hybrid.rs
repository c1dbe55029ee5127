//! Parquet's RLE/bit-packed hybrid encoding, of definition levels and dictionary indices: decoded
//! to be filtered, and encoded again at the same bit width. (The parquet crate's encoder and
//! decoder are private to it.)

/// The bits a value up to `max` needs.
pub(super) fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Decodes `count` values of `bit_width` bits from `bytes`, appending them to `out`; returns how
/// many bytes they took. The padding of a last bit-packed run is read and dropped.
pub(super) fn decode(bytes: &[u8], bit_width: u8, count: usize, out: &mut Vec<u32>) -> Result<usize, String> {
    if bit_width > 32 {
        return Err(format!("a bit width of {bit_width}"));
    }
    let width = usize::from(bit_width);
    let value_bytes = width.div_ceil(8);
    let mask = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
    let (mut at, mut left) = (0usize, count);
    out.reserve(count);
    while left > 0 {
        let (header, length) = varint(&bytes[at..]).ok_or("a run header cut short")?;
        at += length;
        if header & 1 == 1 {
            let groups = usize::try_from(header >> 1).map_err(|_| "a bit-packed run too long")?;
            let size = groups.checked_mul(width).ok_or("a bit-packed run too long")?;
            let run = bytes.get(at..at.checked_add(size).ok_or("a bit-packed run too long")?);
            let run = run.ok_or("a bit-packed run cut short")?;
            let values = (groups * 8).min(left);
            // Little-endian bit order: value i holds bits i*width .. (i+1)*width. The run holds
            // all of them (8 per `width` bytes).
            let (mut acc, mut bits, mut next) = (0u64, 0usize, run.iter());
            for _ in 0..values {
                while bits < width {
                    acc |= u64::from(*next.next().ok_or("a bit-packed run cut short")?) << bits;
                    bits += 8;
                }
                out.push(acc as u32 & mask);
                acc >>= width;
                bits -= width;
            }
            at += size;
            left -= values;
        } else {
            let repeat = usize::try_from(header >> 1).map_err(|_| "a run too long")?;
            if repeat == 0 {
                return Err("an empty run".into());
            }
            let value = bytes.get(at..at + value_bytes).ok_or("a run's value cut short")?;
            let mut word = [0u8; 4];
            word[..value_bytes].copy_from_slice(value);
            let value = u32::from_le_bytes(word);
            if value & !mask != 0 {
                return Err(format!("a value of {value} in {bit_width} bits"));
            }
            let repeat = repeat.min(left);
            out.extend(std::iter::repeat_n(value, repeat));
            at += value_bytes;
            left -= repeat;
        }
    }
    Ok(at)
}

/// Encodes `values` of `bit_width` bits, appending them to `out`: runs of 8 or more equal values
/// as repeats, the rest bit-packed in groups of 8 (the last group padded with zeros).
pub(super) fn encode(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
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
    flush_packed(&mut packed, bit_width, out);
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
            let used = decode(&buf[4..4 + length], 1, num_values as usize, &mut levels).unwrap();
            assert!(used <= length);
        }
        let expected: Vec<u32> = values.iter().map(|v| u32::from(v.is_some())).collect();
        assert_eq!(levels, expected);
    }
}
