//! Which columns to dictionary-encode, decided from the data.
//!
//! Parquet writers dictionary-encode every column by default. On columns with few distinct values
//! (flags, bands, survey tags) that makes pages small and fast to read; on high-cardinality ones
//! (coordinates, magnitudes, names) the writer hashes every value, fills a dictionary page, gives
//! up and falls back to plain encoding: measured on the wide benchmark table, that costs over half
//! of the encoding time and makes the file larger. So angcut samples the first rows it writes and
//! keeps dictionary encoding only where at most one value in [`DISTINCT_SHARE_LIMIT`] is new.

use std::collections::HashSet;
use std::hash::Hash;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;

/// Dictionary-encode a column when its sample has at most one distinct value per this many values.
pub const DISTINCT_SHARE_LIMIT: usize = 10;

/// Rows sampled before deciding: enough that a column of a few thousand distinct values is seen
/// as such, few enough to buffer without notice.
pub const SAMPLE_ROWS: usize = 16_384;

/// For each top-level column whose encoding can be decided from its values, whether to
/// dictionary-encode it; other columns (nested, boolean, already dictionary-typed) are left out
/// and keep the writer's default.
pub fn choose_dictionary_columns(sample: &[RecordBatch]) -> Vec<(String, bool)> {
    let Some(first) = sample.first() else {
        return Vec::new();
    };
    let schema = first.schema();
    schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(i, field)| {
            let arrays: Vec<&ArrayRef> = sample.iter().map(|batch| batch.column(i)).collect();
            few_distinct_values(&arrays).map(|few| (field.name().clone(), few))
        })
        .collect()
}

/// Whether the non-null values of `arrays` (one column) have few distinct values; `None` for
/// types this does not judge.
fn few_distinct_values(arrays: &[&ArrayRef]) -> Option<bool> {
    let values: usize = arrays.iter().map(|a| a.len() - a.null_count()).sum();
    let limit = values / DISTINCT_SHARE_LIMIT;
    macro_rules! primitive {
        ($t:ty, $key:expr) => {
            count_up_to(limit, arrays.iter().flat_map(|a| a.as_primitive::<$t>().iter().flatten().map($key)))
        };
    }
    let distinct = match arrays.first()?.data_type() {
        DataType::Int8 => primitive!(Int8Type, |v| v as i64),
        DataType::Int16 => primitive!(Int16Type, |v| v as i64),
        DataType::Int32 => primitive!(Int32Type, |v| v as i64),
        DataType::Int64 => primitive!(Int64Type, |v| v),
        DataType::UInt8 => primitive!(UInt8Type, |v| v as i64),
        DataType::UInt16 => primitive!(UInt16Type, |v| v as i64),
        DataType::UInt32 => primitive!(UInt32Type, |v| v as i64),
        DataType::UInt64 => primitive!(UInt64Type, |v| v as i64),
        DataType::Date32 => primitive!(Date32Type, |v| v as i64),
        DataType::Date64 => primitive!(Date64Type, |v| v),
        DataType::Float32 => primitive!(Float32Type, |v| v.to_bits() as i64),
        DataType::Float64 => primitive!(Float64Type, |v| v.to_bits() as i64),
        DataType::Utf8 => count_up_to(limit, arrays.iter().flat_map(|a| a.as_string::<i32>().iter().flatten())),
        DataType::LargeUtf8 => count_up_to(limit, arrays.iter().flat_map(|a| a.as_string::<i64>().iter().flatten())),
        DataType::Utf8View => count_up_to(limit, arrays.iter().flat_map(|a| a.as_string_view().iter().flatten())),
        DataType::Binary => count_up_to(limit, arrays.iter().flat_map(|a| a.as_binary::<i32>().iter().flatten())),
        DataType::LargeBinary => count_up_to(limit, arrays.iter().flat_map(|a| a.as_binary::<i64>().iter().flatten())),
        _ => return None,
    };
    Some(distinct <= limit)
}

/// The number of distinct items, counting stopped once it passes `limit`.
fn count_up_to<T: Hash + Eq>(limit: usize, items: impl Iterator<Item = T>) -> usize {
    let mut seen = HashSet::new();
    for item in items {
        if seen.insert(item) && seen.len() > limit {
            break;
        }
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int32Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn dictionary_only_where_values_repeat() {
        let n = 10_000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("ra", DataType::Float64, false),
            Field::new("band", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, false),
            Field::new("tile", DataType::Int32, false),
            Field::new("flag", DataType::Boolean, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.01))),
                Arc::new(StringArray::from_iter((0..n).map(|i| (i % 3 != 0).then_some(["g", "r"][i % 2])))),
                Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("J{i:06}")))),
                // 999 distinct of 10,000: just within the limit; 1,001 would not be.
                Arc::new(Int32Array::from_iter_values((0..n).map(|i| (i % 999) as i32))),
                Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
            ],
        )
        .unwrap();
        let chosen = choose_dictionary_columns(&[batch.slice(0, 4_000), batch.slice(4_000, 6_000)]);
        let expected = [("ra", false), ("band", true), ("name", false), ("tile", true)];
        assert_eq!(chosen, expected.map(|(c, d)| (c.to_string(), d)).to_vec());
        assert!(choose_dictionary_columns(&[]).is_empty());
    }

    #[test]
    fn counting_stops_past_the_limit() {
        assert_eq!(count_up_to(5, 0..1_000_000), 6);
        assert_eq!(count_up_to(5, [1, 1, 2, 2].into_iter()), 2);
    }
}
