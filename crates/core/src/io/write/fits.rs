//! FITS output: one binary table after an empty primary HDU, written atomically like every
//! output file. cfitsio writes the headers and moves the rows (see `io/fits.rs`); here each
//! Arrow column becomes a FITS column and its values big-endian bytes in the rows.
//!
//! What FITS cannot say directly, and how it is said:
//! - unsigned integers: the TZERO convention (UInt16 as `I` with TZERO 32768, and so on; Int8 as
//!   `B` with TZERO -128), as astropy, fitsio and TOPCAT read them;
//! - null integers: TNULLn, the type's extreme stored value (the most negative; the most positive
//!   for the unsigned kinds), written only if the column has nulls; a column holding both nulls
//!   and that very value cannot be written and is refused by name;
//! - null floats: NaN; null booleans: FITS's undefined logical (a zero byte); null strings: an
//!   empty string (FITS has none);
//! - strings: `rA`, `r` the longest value's bytes. The width is set by the first batch and widened
//!   by cfitsio (`ffmvec`, which moves the rows already written) when a longer value comes,
//!   at least doubling each time, so the rows are moved a few times at most.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use tempfile::NamedTempFile;

use super::BatchSink;
use super::commit::{FinishedOutput, PartialOutput, create_partial, durable};
use crate::error::Error;
use crate::io::UNIT_KEY;
use crate::io::fits::{FitsHandle, HEADER_KEY, is_structural, parse_card};

/// How one Arrow column is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Logical,
    /// An integer of `bytes` stored bytes; `flip` applies the TZERO half-range convention.
    Int {
        bytes: usize,
        flip: bool,
    },
    Float32,
    Float64,
    Text,
}

impl Kind {
    fn code(self) -> char {
        match self {
            Kind::Logical => 'L',
            Kind::Int { bytes: 1, .. } => 'B',
            Kind::Int { bytes: 2, .. } => 'I',
            Kind::Int { bytes: 4, .. } => 'J',
            Kind::Int { .. } => 'K',
            Kind::Float32 => 'E',
            Kind::Float64 => 'D',
            Kind::Text => 'A',
        }
    }

    fn element_bytes(self) -> usize {
        match self {
            Kind::Logical | Kind::Text => 1,
            Kind::Int { bytes, .. } => bytes,
            Kind::Float32 => 4,
            Kind::Float64 => 8,
        }
    }

    /// TZERO for the unsigned conventions, as the exact text FITS readers expect.
    fn zero(self) -> Option<&'static str> {
        match self {
            Kind::Int { bytes: 1, flip: true } => Some("-128"),
            Kind::Int { bytes: 2, flip: true } => Some("32768"),
            Kind::Int { bytes: 4, flip: true } => Some("2147483648"),
            Kind::Int { bytes: 8, flip: true } => Some("9223372036854775808"),
            _ => None,
        }
    }

    /// The stored value that stands for null (TNULL): the extreme stored value that is least
    /// likely data, the most negative physical value for signed kinds, the largest for unsigned.
    fn null_stored(self) -> i64 {
        match self {
            // B is stored unsigned: 255 is UInt8's largest; with the flip, stored 0 is Int8's -128.
            Kind::Int { bytes: 1, flip: false } => 255,
            Kind::Int { bytes: 1, flip: true } => 0,
            Kind::Int { bytes: 8, flip: false } => i64::MIN,
            Kind::Int { bytes, flip: false } => -(1i64 << (8 * bytes as u32 - 1)),
            Kind::Int { bytes: 8, flip: true } => i64::MAX,
            Kind::Int { bytes, flip: true } => (1i64 << (8 * bytes as u32 - 1)) - 1,
            _ => 0,
        }
    }
}

/// One output column: its kind, elements per row (characters for text) and byte offset.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    repeat: usize,
    offset: usize,
    nullable_int: bool,
    /// Whether a null was written (its TNULL must stay) and whether a value equal to the null
    /// stand-in was (then TNULL must go, or the column cannot be written).
    wrote_null: bool,
    wrote_sentinel: bool,
}

impl Column {
    fn width(&self) -> usize {
        self.kind.element_bytes() * self.repeat
    }
}

/// The kind and elements per row of an Arrow type; the reason if FITS cannot hold it.
fn kind_of(data_type: &DataType) -> Result<(Kind, usize), String> {
    let scalar = |t: &DataType| -> Option<Kind> {
        Some(match t {
            DataType::Boolean => Kind::Logical,
            DataType::UInt8 => Kind::Int { bytes: 1, flip: false },
            DataType::Int8 => Kind::Int { bytes: 1, flip: true },
            DataType::Int16 => Kind::Int { bytes: 2, flip: false },
            DataType::UInt16 => Kind::Int { bytes: 2, flip: true },
            DataType::Int32 => Kind::Int { bytes: 4, flip: false },
            DataType::UInt32 => Kind::Int { bytes: 4, flip: true },
            DataType::Int64 => Kind::Int { bytes: 8, flip: false },
            DataType::UInt64 => Kind::Int { bytes: 8, flip: true },
            DataType::Float16 | DataType::Float32 => Kind::Float32,
            DataType::Float64 => Kind::Float64,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
            DataType::Dictionary(_, value) if value.is_string() => Kind::Text,
            _ => return None,
        })
    };
    match data_type {
        DataType::FixedSizeList(item, size) => match scalar(item.data_type()) {
            Some(Kind::Text) | None => {
                Err(format!("a list of {}, which FITS cannot hold as a column", item.data_type()))
            }
            Some(kind) => Ok((kind, (*size).max(0) as usize)),
        },
        // FITS's variable-length arrays (P, Q) could; angcut reads them but does not write them yet.
        DataType::List(_) | DataType::LargeList(_) | DataType::ListView(_) | DataType::LargeListView(_) => {
            Err(format!("{data_type}, a list of varying length, which angcut does not write to FITS"))
        }
        other => scalar(other).map(|kind| (kind, 1)).ok_or_else(|| format!("{other}, which FITS cannot hold")),
    }
}

/// A FITS file under a temporary name beside its destination.
pub struct FitsFileSink {
    destination: PathBuf,
    schema: SchemaRef,
    columns: Vec<Column>,
    /// Open once the table exists (at the first batch, which sets the string widths).
    handle: Option<FitsHandle>,
    rows: u64,
    buffer: Vec<u8>,
    temp: Option<NamedTempFile>,
    // Declared after `temp`, so it is dropped after the temporary file is deleted.
    partial: Option<PartialOutput>,
    /// Whether the finished file is gzipped (named `.gz`).
    gzip: bool,
}

impl FitsFileSink {
    /// Creates the temporary file for rows of `schema`; a column FITS cannot hold is a usage
    /// error naming it, before anything is written.
    pub fn create(destination: &Path, schema: SchemaRef) -> Result<FitsFileSink, Error> {
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let (kind, repeat) = kind_of(field.data_type()).map_err(|why| {
                Error::Usage(format!(
                    "{}: column '{}' is {why}: write Parquet or Arrow instead",
                    destination.display(),
                    field.name()
                ))
            })?;
            columns.push(Column {
                name: field.name().clone(),
                kind,
                repeat: if kind == Kind::Text { 1 } else { repeat },
                offset: 0,
                nullable_int: field.is_nullable() && matches!(kind, Kind::Int { .. }),
                wrote_null: false,
                wrote_sentinel: false,
            });
        }
        let (mut temp, partial) = create_partial(destination, ".fits.partial")?;
        // An empty primary HDU, for cfitsio to open the file and append the table to: the four
        // mandatory cards and END, in one 2880-byte block.
        let cards = [
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
            "NAXIS   =                    0",
            "EXTEND  =                    T",
            "END",
        ];
        let mut primary: String = cards.iter().map(|card| format!("{card:<80}")).collect();
        primary.push_str(&" ".repeat(2880 - primary.len()));
        temp.write_all(primary.as_bytes())
            .and_then(|()| temp.flush())
            .map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
        Ok(FitsFileSink {
            destination: destination.to_path_buf(),
            schema,
            columns,
            handle: None,
            rows: 0,
            buffer: Vec::new(),
            temp: Some(temp),
            partial: Some(partial),
            gzip: super::gzipped(destination),
        })
    }

    fn temp_path(&self) -> Result<PathBuf, Error> {
        self.temp
            .as_ref()
            .map(|t| t.path().to_path_buf())
            .ok_or_else(|| Error::Internal { path: self.destination.clone(), message: "no temporary file".into() })
    }

    /// The table's header, its string widths those of `first` (the first batch, if any).
    fn create_table(&mut self, first: Option<&RecordBatch>) -> Result<FitsHandle, Error> {
        if let Some(batch) = first {
            for (column, array) in self.columns.iter_mut().zip(batch.columns()) {
                if column.kind == Kind::Text {
                    column.repeat = longest_string(array).max(1);
                }
            }
        }
        self.lay_out();
        let mut handle = FitsHandle::open(&self.temp_path()?, true).map_err(|e| self.named(e))?;
        let names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let forms: Vec<String> = self.columns.iter().map(|c| format!("{}{}", c.repeat, c.kind.code())).collect();
        let units: Vec<String> =
            self.schema.fields().iter().map(|f| f.metadata().get(UNIT_KEY).cloned().unwrap_or_default()).collect();
        handle.create_table(&names, &forms, &units).map_err(|e| self.named(e))?;
        for (n, (column, field)) in self.columns.iter().zip(self.schema.fields()).enumerate() {
            let n = n + 1;
            if let Some(zero) = column.kind.zero() {
                handle.write_card(&format!("{:<8}= {zero:>20}", format!("TZERO{n}"))).map_err(|e| self.named(e))?;
                handle.write_card(&format!("{:<8}= {:>20}", format!("TSCAL{n}"), 1)).map_err(|e| self.named(e))?;
            }
            if column.nullable_int {
                let card = format!("{:<8}= {:>20}", format!("TNULL{n}"), column.kind.null_stored());
                handle.write_card(&card).map_err(|e| self.named(e))?;
            }
            if let Some(dim) = field.metadata().get("fits:tdim").filter(|_| column.kind != Kind::Text) {
                handle
                    .write_card(&format!("{:<8}= '{}'", format!("TDIM{n}"), dim.replace('\'', "''")))
                    .map_err(|e| self.named(e))?;
            }
        }
        // A FITS input's other keywords (EXTNAME, the survey's, HISTORY): those that describe the
        // table as a whole still hold; ones about a numbered column may not, and are left out.
        if let Some(header) = self.schema.metadata().get(HEADER_KEY) {
            for card in header.lines() {
                let key = parse_card(card).0;
                let numbered = key.starts_with('T') && key.ends_with(|c: char| c.is_ascii_digit());
                if !is_structural(&key) && !numbered && card.len() <= 80 {
                    handle.write_card(card).map_err(|e| self.named(e))?;
                }
            }
        }
        Ok(handle)
    }

    /// Column offsets from their widths.
    fn lay_out(&mut self) {
        let mut offset = 0;
        for column in &mut self.columns {
            column.offset = offset;
            offset += column.width();
        }
    }

    fn row_bytes(&self) -> usize {
        self.columns.iter().map(Column::width).sum()
    }

    /// An error about the temporary file, named after the destination.
    fn named(&self, error: Error) -> Error {
        match error {
            Error::Fits { message, .. } => Error::Fits { path: self.destination.clone(), message },
            other => other,
        }
    }

    /// Widens the string columns that `batch` holds longer values for (the rows already written
    /// are moved by cfitsio).
    fn widen(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let mut changed = false;
        for (n, (column, array)) in self.columns.iter_mut().zip(batch.columns()).enumerate() {
            if column.kind != Kind::Text {
                continue;
            }
            let longest = longest_string(array);
            if longest > column.repeat {
                let wider = longest.max(2 * column.repeat);
                let handle = self.handle.as_mut().ok_or_else(|| Error::Internal {
                    path: self.destination.clone(),
                    message: "widening before the table exists".into(),
                })?;
                handle.set_vector_length(n + 1, wider)?;
                column.repeat = wider;
                changed = true;
            }
        }
        if changed {
            self.lay_out();
        }
        Ok(())
    }
}

impl BatchSink for FitsFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        if self.handle.is_none() {
            let handle = self.create_table(Some(batch))?;
            self.handle = Some(handle);
        } else {
            self.widen(batch).map_err(|e| self.named(e))?;
        }
        let row_bytes = self.row_bytes();
        self.buffer.clear();
        self.buffer.resize(batch.num_rows() * row_bytes, 0);
        for (column, array) in self.columns.iter_mut().zip(batch.columns()) {
            encode(array, column, row_bytes, &mut self.buffer).map_err(|message| Error::Fits {
                path: self.destination.clone(),
                message: format!("column '{}': {message}", column.name),
            })?;
        }
        let first = self.rows;
        let handle = self
            .handle
            .as_mut()
            .ok_or_else(|| Error::Internal { path: self.destination.clone(), message: "no table".into() })?;
        handle.write_rows(first, &self.buffer).map_err(|e| match e {
            Error::Fits { message, .. } => Error::Fits { path: self.destination.clone(), message },
            other => other,
        })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        let mut handle = match self.handle.take() {
            Some(handle) => handle,
            None => self.create_table(None)?, // no rows: the table's header still says its columns
        };
        for (n, column) in self.columns.iter().enumerate() {
            if !column.nullable_int || column.wrote_null && !column.wrote_sentinel {
                continue;
            }
            if column.wrote_null {
                return Err(Error::Fits {
                    path: self.destination.clone(),
                    message: format!(
                        "column '{}' holds nulls and the value its FITS null stands for (stored {}): FITS cannot tell them apart; write Parquet or Arrow instead",
                        column.name,
                        column.kind.null_stored()
                    ),
                });
            }
            // No nulls: the column needs no TNULL (and with the stand-in value present, must not have one).
            handle.delete_key(&format!("TNULL{}", n + 1)).map_err(|e| self.named(e))?;
        }
        handle.close().map_err(|e| self.named(e))?;
        let temp = self
            .temp
            .take()
            .ok_or_else(|| Error::Internal { path: self.destination.clone(), message: "no temporary file".into() })?;
        let partial = self
            .partial
            .take()
            .ok_or_else(|| Error::Internal { path: self.destination.clone(), message: "no temporary file".into() })?;
        if !self.gzip {
            return durable(temp, &self.destination, partial);
        }
        // cfitsio would build a `.gz` output whole in memory; the finished table is gzipped from
        // its temporary file into a second one instead, as it streams.
        let (compressed, compressed_partial) = create_partial(&self.destination, ".fits.gz.partial")?;
        let io_error = |source| Error::Io { path: self.destination.clone(), source };
        let mut table = std::io::BufReader::with_capacity(1 << 20, temp.reopen().map_err(io_error)?);
        let out = std::io::BufWriter::with_capacity(1 << 20, compressed);
        let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::new(GZIP_LEVEL));
        std::io::copy(&mut table, &mut encoder).map_err(io_error)?;
        let out = encoder.finish().map_err(io_error)?;
        let compressed = out.into_inner().map_err(|e| io_error(e.into_error()))?;
        drop((temp, partial)); // the uncompressed table is no longer needed
        durable(compressed, &self.destination, compressed_partial)
    }
}

/// gzip's level for `.fits.gz` outputs. FITS tables of floats shrink little whatever the level,
/// and level 1 is several times faster than gzip's default 6 (see README "FITS in and out").
const GZIP_LEVEL: u32 = 1;

/// The longest value of a string column, in bytes.
fn longest_string(array: &ArrayRef) -> usize {
    let Ok(strings) = arrow::compute::cast(array, &DataType::Utf8) else { return 0 };
    strings.as_string::<i32>().iter().flatten().map(str::len).max().unwrap_or(0)
}

/// Writes `array`'s values into the rows of `out` (`row_bytes` each) at the column's offset.
fn encode(array: &ArrayRef, column: &mut Column, row_bytes: usize, out: &mut [u8]) -> Result<(), String> {
    let rows = array.len();
    let (offset, width, element) = (column.offset, column.width(), column.kind.element_bytes());
    if width == 0 {
        return Ok(());
    }
    // The column's slot in each row, and in it each element's.
    let fields = out.chunks_exact_mut(row_bytes).take(rows).map(|row| &mut row[offset..offset + width]);
    // A list's elements, each null where its row or itself is.
    let values: ArrayRef = match array.data_type() {
        DataType::FixedSizeList(..) => {
            let list = array.as_fixed_size_list();
            let values = list.values().slice(list.offset() * column.repeat, rows * column.repeat);
            match list.logical_nulls() {
                Some(rows_null) => {
                    let each = arrow::buffer::NullBuffer::from_iter(
                        (0..values.len()).map(|i| values.is_valid(i) && rows_null.is_valid(i / column.repeat)),
                    );
                    arrow::array::make_array(
                        values.to_data().into_builder().nulls(Some(each)).build().map_err(|e| e.to_string())?,
                    )
                }
                None => values,
            }
        }
        _ => array.clone(),
    };
    if column.kind == Kind::Text {
        let strings = arrow::compute::cast(&values, &DataType::Utf8).map_err(|e| e.to_string())?;
        let strings = strings.as_string::<i32>();
        for (r, field) in fields.enumerate() {
            let text = if strings.is_null(r) { "" } else { strings.value(r) };
            field.fill(b' ');
            field[..text.len()].copy_from_slice(text.as_bytes());
        }
        return Ok(());
    }
    // Each element's slot, row after row: nested loops over exact chunks (a flattened iterator
    // was a fifth of a FITS copy's time).
    let mut slots = Vec::with_capacity(rows * column.repeat);
    for field in fields {
        slots.extend(field.chunks_exact_mut(element));
    }
    let nulls = values.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    match column.kind {
        Kind::Logical => {
            let bools = values.as_boolean();
            for (i, slot) in slots.into_iter().enumerate() {
                slot[0] = if !valid(i) {
                    0
                } else if bools.value(i) {
                    b'T'
                } else {
                    b'F'
                };
            }
        }
        Kind::Float32 => {
            let floats = arrow::compute::cast(&values, &DataType::Float32).map_err(|e| e.to_string())?;
            let floats = floats.as_primitive::<arrow::datatypes::Float32Type>().values();
            for (i, slot) in slots.into_iter().enumerate() {
                let v = if valid(i) { floats[i] } else { f32::NAN };
                slot.copy_from_slice(&v.to_be_bytes());
            }
        }
        Kind::Float64 => {
            let floats = values.as_primitive::<arrow::datatypes::Float64Type>().values();
            for (i, slot) in slots.into_iter().enumerate() {
                let v = if valid(i) { floats[i] } else { f64::NAN };
                slot.copy_from_slice(&v.to_be_bytes());
            }
        }
        Kind::Int { bytes, .. } => {
            use arrow::datatypes as t;
            // Each type's values as the stored integer: the unsigned ones shifted by TZERO.
            let stored: Box<dyn Fn(usize) -> i64 + '_> = match values.data_type() {
                DataType::UInt8 => {
                    let a = values.as_primitive::<t::UInt8Type>();
                    Box::new(move |i| i64::from(a.value(i)))
                }
                DataType::Int8 => {
                    let a = values.as_primitive::<t::Int8Type>();
                    Box::new(move |i| i64::from(a.value(i)) + 128)
                }
                DataType::Int16 => {
                    let a = values.as_primitive::<t::Int16Type>();
                    Box::new(move |i| i64::from(a.value(i)))
                }
                DataType::UInt16 => {
                    let a = values.as_primitive::<t::UInt16Type>();
                    Box::new(move |i| i64::from(a.value(i)) - 32768)
                }
                DataType::Int32 => {
                    let a = values.as_primitive::<t::Int32Type>();
                    Box::new(move |i| i64::from(a.value(i)))
                }
                DataType::UInt32 => {
                    let a = values.as_primitive::<t::UInt32Type>();
                    Box::new(move |i| i64::from(a.value(i)) - (1 << 31))
                }
                DataType::Int64 => {
                    let a = values.as_primitive::<t::Int64Type>();
                    Box::new(move |i| a.value(i))
                }
                DataType::UInt64 => {
                    let a = values.as_primitive::<t::UInt64Type>();
                    Box::new(move |i| (a.value(i) ^ (1 << 63)) as i64)
                }
                other => return Err(format!("{other} is not an integer type")),
            };
            let sentinel = column.kind.null_stored();
            let watch = column.nullable_int;
            for (i, slot) in slots.into_iter().enumerate() {
                let v = if valid(i) {
                    let v = stored(i);
                    column.wrote_sentinel |= watch && v == sentinel;
                    v
                } else {
                    column.wrote_null = true;
                    sentinel
                };
                slot.copy_from_slice(&v.to_be_bytes()[8 - bytes..]);
            }
        }
        Kind::Text => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::read::{BatchSource, FitsCatalog};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    /// The field for a name and type, nullable (as every column read from a file is).
    fn field(name: &str, data_type: DataType) -> Arc<Field> {
        Arc::new(Field::new(name, data_type, true))
    }

    fn round_trip(batches: &[RecordBatch]) -> Vec<RecordBatch> {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.fits");
        let mut sink = Box::new(FitsFileSink::create(&out, batches[0].schema()).unwrap());
        for batch in batches {
            sink.write(batch).unwrap();
        }
        sink.finish().unwrap().commit().unwrap();
        let mut catalogue = FitsCatalog::open(&out, false, None, 4).unwrap();
        let mut back = Vec::new();
        while let Some(batch) = catalogue.next_batch() {
            back.push(batch.unwrap());
        }
        back
    }

    #[test]
    fn strings_widen_as_longer_ones_come() {
        let schema = Arc::new(Schema::new(vec![field("name", DataType::Utf8), field("x", DataType::Int32)]));
        let batch = |names: Vec<Option<&str>>, xs: Vec<Option<i32>>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(arrow::array::StringArray::from(names)), Arc::new(arrow::array::Int32Array::from(xs))],
            )
            .unwrap()
        };
        let back = round_trip(&[
            batch(vec![Some("ab"), None], vec![Some(1), None]),
            batch(vec![Some("a much longer name")], vec![Some(i32::MAX)]),
        ]);
        let all = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
        let names: Vec<Option<&str>> = all.column(0).as_string::<i32>().iter().collect();
        assert_eq!(names, [Some("ab"), Some(""), Some("a much longer name")]);
        let xs: Vec<Option<i32>> = all.column(1).as_primitive::<arrow::datatypes::Int32Type>().iter().collect();
        assert_eq!(xs, [Some(1), None, Some(i32::MAX)]);
    }
}
