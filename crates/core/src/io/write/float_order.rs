//! Float statistics every reader uses: the footer's column orders for float columns rewritten
//! from IEEE 754 total order to the type-defined order.
//!
//! The parquet crate (since 55) declares its float columns' min/max under the `IEEE_754_TOTAL_ORDER`
//! column order that newer readers understand, and pyarrow 26 (so pandas, astropy, LSDB, HATS)
//! does not: it ignores such statistics, and a cut's output loses the row-group pruning on `ra`,
//! `dec` and every magnitude that its input had. The values it writes are also valid bounds under
//! the classic `TYPE_DEFINED_ORDER` (signed float comparison) that every reader takes: NaN is left
//! out of min/max unless a chunk holds nothing else (and readers ignore a NaN bound, as the format
//! says), and -0.0/+0.0 may only make a bound look tighter by a zero's sign, which the format tells
//! readers to allow for. So the footer is patched in place: each float column's order, the thrift
//! union `{2: IEEE754TotalOrder}`, becomes `{1: TypeDefinedOrder}`, three bytes for three bytes,
//! so that no offset in the file moves. The parquet crate has no option for it (its footer writer
//! derives the orders from the schema), hence this small reader of the thrift compact protocol.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::io::thrift::{Compact, LIST, STRUCT, invalid};

/// `FileMetaData.column_orders` is its field 7.
const COLUMN_ORDERS: i16 = 7;
/// A `ColumnOrder` union holding `IEEE_754_TOTAL_ORDER` (field 2, an empty struct), and the same
/// holding `TYPE_ORDER` (field 1).
const IEEE_754: [u8; 3] = [0x20 | STRUCT, 0, 0];
const TYPE_DEFINED: [u8; 3] = [0x10 | STRUCT, 0, 0];

/// Rewrites the float column orders of the Parquet file `file` (complete, footer written).
/// Returns how many columns it changed.
pub(crate) fn use_type_defined_float_order(file: &File) -> std::io::Result<usize> {
    let length = file.metadata()?.len();
    let mut tail = [0u8; 8];
    if length < 12 {
        return Err(invalid("too short for a Parquet file"));
    }
    file.read_exact_at(&mut tail, length - 8)?;
    if &tail[4..] != b"PAR1" {
        return Err(invalid("no Parquet magic at its end (an encrypted footer?)"));
    }
    let footer_length = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    let start = length.checked_sub(8 + footer_length).ok_or_else(|| invalid("a footer longer than the file"))?;
    let mut footer = vec![0u8; footer_length as usize];
    file.read_exact_at(&mut footer, start)?;
    let changed = patch_footer(&mut footer)?;
    if changed > 0 {
        file.write_all_at(&footer, start)?;
    }
    Ok(changed)
}

/// Patches a thrift-encoded `FileMetaData` in place; returns how many orders it changed.
fn patch_footer(footer: &mut [u8]) -> std::io::Result<usize> {
    let positions = ieee_orders(footer)?;
    for &at in &positions {
        footer[at..at + 3].copy_from_slice(&TYPE_DEFINED);
    }
    Ok(positions.len())
}

/// Where, in a thrift-encoded `FileMetaData`, the column orders that say IEEE 754 lie.
fn ieee_orders(footer: &[u8]) -> std::io::Result<Vec<usize>> {
    let mut reader = Compact::new(footer);
    let mut last_id = 0i16;
    while let Some((kind, id)) = reader.field_header(&mut last_id)? {
        if id != COLUMN_ORDERS || kind != LIST {
            reader.skip(kind)?;
            continue;
        }
        let (element, count) = reader.collection_header()?;
        if element != STRUCT {
            return Err(invalid("column orders that are not structs"));
        }
        let mut positions = Vec::new();
        for _ in 0..count {
            let at = reader.at;
            if footer.get(at..at + 3) == Some(&IEEE_754[..]) {
                positions.push(at);
            }
            reader.skip(STRUCT)?;
        }
        return Ok(positions);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::basic::{ColumnOrder, SortOrder};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::statistics::Statistics;

    use super::*;

    /// A file of every kind of column the orders differ for, as the parquet crate writes it.
    fn written(path: &std::path::Path) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ra", DataType::Float64, true),
            Field::new("mag", DataType::Float32, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![3, 1, 2])),
            Arc::new(Float64Array::from(vec![Some(10.5), None, Some(-0.25)])),
            Arc::new(Float32Array::from(vec![f32::NAN, 21.5, 19.0])),
            Arc::new(StringArray::from(vec!["b", "a", "c"])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn orders(path: &std::path::Path) -> Vec<ColumnOrder> {
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        reader.metadata().file_metadata().column_orders().unwrap().clone()
    }

    #[test]
    fn float_columns_get_the_type_defined_order_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        written(&path);
        assert_eq!(orders(&path)[1], ColumnOrder::IEEE_754_TOTAL_ORDER, "what the crate writes, or no need for this");
        let before = std::fs::read(&path).unwrap();

        let changed = use_type_defined_float_order(&File::options().read(true).write(true).open(&path).unwrap());
        assert_eq!(changed.unwrap(), 2, "ra and mag");
        let after = std::fs::read(&path).unwrap();
        assert_eq!(before.len(), after.len());
        assert_eq!(before.iter().zip(&after).filter(|(a, b)| a != b).count(), 2, "one byte per float column");

        let signed = ColumnOrder::TYPE_DEFINED_ORDER(SortOrder::SIGNED);
        let got = orders(&path);
        assert_eq!(got[1], signed);
        assert_eq!(got[2], signed);
        assert!(
            matches!(got[0], ColumnOrder::TYPE_DEFINED_ORDER(_))
                && matches!(got[3], ColumnOrder::TYPE_DEFINED_ORDER(_))
        );
        // The statistics read back under the new order: NaN left out of the bounds.
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let chunk = reader.metadata().row_group(0);
        match (chunk.column(1).statistics(), chunk.column(2).statistics()) {
            (Some(Statistics::Double(ra)), Some(Statistics::Float(mag))) => {
                assert_eq!((ra.min_opt(), ra.max_opt(), ra.null_count_opt()), (Some(&-0.25), Some(&10.5), Some(1)));
                assert_eq!((mag.min_opt(), mag.max_opt()), (Some(&19.0), Some(&21.5)));
            }
            other => panic!("{other:?}"),
        }
        // The values are untouched.
        let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(batch.num_rows(), 3);
        // Patching again finds nothing left to change.
        let again = use_type_defined_float_order(&File::options().read(true).write(true).open(&path).unwrap());
        assert_eq!(again.unwrap(), 0);
    }

    #[test]
    fn a_damaged_footer_is_an_error_not_a_panic() {
        for footer in
            [vec![0x19, 0x2c], vec![0xff; 40], vec![0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]
        {
            let mut bytes = footer.clone();
            assert!(patch_footer(&mut bytes).is_err(), "{footer:x?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.parquet");
        std::fs::write(&path, b"PAR1").unwrap();
        assert!(use_type_defined_float_order(&File::open(&path).unwrap()).is_err());
    }
}
