//! VOTable output: one TABLE serialised as BINARY2 (IVOA VOTable 1.4), what TOPCAT, astropy and
//! the archives read and what angcut reads back, so a table that came as a VOTable leaves as one.
//!
//! Written by hand: the CDS `votable` crate cannot be built beside the other dependencies (see
//! `io/read/votable.rs`), and BINARY2 is small: per row, a bit per column flagging nulls, then each
//! value big-endian, a variable-length one after its 32-bit count; the bytes go out base64-encoded
//! in lines of 76 characters, a batch at a time, so memory is one batch whatever the table's size.
//!
//! Types: boolean to `boolean`; UInt8 to `unsignedByte`; Int8 and Int16 to `short`, UInt16 and
//! Int32 to `int`, UInt32 and Int64 to `long` (VOTable's integers are signed: each unsigned type
//! goes to the next wider one, losslessly), UInt64 to `long` while its values fit (a larger one is
//! an error naming its row); Float16 and Float32 to `float`, Float64 to `double`; text to
//! `unicodeChar` (`arraysize="*"`, UTF-16): a streamed column cannot know ahead that all its
//! text is ASCII, and astropy refuses a `char` byte beyond it (VOTable 1.6 may make `char`
//! UTF-8, but the readers of today do not);
//! binary to `unsignedByte` arrays; lists and fixed-size lists of these numbers to arrays
//! (`arraysize="*"` or `"N"`). The `unit`, `ucd` and `description` of each field's metadata
//! become the FIELD's (as the VOTable reader keeps them), and the schema's metadata one INFO
//! per key. Other types (structs, dates, lists of
//! text) are refused by name before anything is written.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, LargeBinaryArray, LargeListArray, LargeStringArray, PrimitiveArray,
    RecordBatch,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Field, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, SchemaRef, UInt8Type, UInt64Type,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::escape::escape;
use tempfile::NamedTempFile;

use super::BatchSink;
use super::commit::{FinishedOutput, PartialOutput, create_partial, durable_buffered};
use crate::error::Error;
use crate::io::votable::Kind;
use crate::io::{DESCRIPTION_KEY, UCD_KEY, UNIT_KEY};

/// Raw bytes per base64 line: 57 bytes make 76 characters, MIME's line length.
const LINE_BYTES: usize = 57;

/// The VOTable datatypes written: an element of each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Boolean,
    UByte,
    Short,
    Int,
    Long,
    Float,
    Double,
}

impl Element {
    /// The element type a column of `data_type` is written as, or `None` if VOTable has none.
    fn of(data_type: &DataType) -> Option<Element> {
        Some(match data_type {
            DataType::Boolean => Element::Boolean,
            DataType::UInt8 => Element::UByte,
            DataType::Int8 | DataType::Int16 => Element::Short,
            DataType::UInt16 | DataType::Int32 => Element::Int,
            DataType::UInt32 | DataType::Int64 | DataType::UInt64 => Element::Long,
            DataType::Float16 | DataType::Float32 => Element::Float,
            DataType::Float64 => Element::Double,
            _ => return None,
        })
    }

    /// The VOTable datatype: its name and Arrow type are [`Kind`]'s, written once for the reader
    /// and the writer.
    fn kind(self) -> Kind {
        match self {
            Element::Boolean => Kind::Boolean,
            Element::UByte => Kind::UByte,
            Element::Short => Kind::Short,
            Element::Int => Kind::Int,
            Element::Long => Kind::Long,
            Element::Float => Kind::Float,
            Element::Double => Kind::Double,
        }
    }

    /// The bytes of a null value (flagged null by BINARY2's bits for a cell, or inside an array
    /// where only a float can say it: NaN).
    fn null_bytes(self) -> &'static [u8] {
        match self {
            Element::Boolean => b"?",
            Element::UByte => &[0],
            Element::Short => &[0; 2],
            Element::Int => &[0; 4],
            Element::Long => &[0; 8],
            Element::Float => &[0x7f, 0xc0, 0, 0],
            Element::Double => &[0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
        }
    }
}

/// How a column is laid out in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One value.
    Scalar(Element),
    /// Text, `unicodeChar` with `arraysize="*"`.
    Text,
    /// Bytes, `unsignedByte` with `arraysize="*"`.
    Bytes,
    /// `n` values.
    Fixed(Element, usize),
    /// Any number of values.
    Variable(Element),
}

impl Layout {
    fn of(field: &Field) -> Option<Layout> {
        let element = |item: &Field| Element::of(item.data_type());
        Some(match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Layout::Text,
            DataType::Dictionary(_, value) if matches!(**value, DataType::Utf8 | DataType::LargeUtf8) => Layout::Text,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Layout::Bytes,
            DataType::FixedSizeBinary(n) => Layout::Fixed(Element::UByte, usize::try_from(*n).ok()?),
            DataType::FixedSizeList(item, n) => Layout::Fixed(element(item)?, usize::try_from(*n).ok()?),
            DataType::List(item) | DataType::LargeList(item) => Layout::Variable(element(item)?),
            other => Layout::Scalar(Element::of(other)?),
        })
    }

    /// The type each batch's column is cast to before it is written.
    fn arrow_type(self, field: &Field) -> DataType {
        let item = |element: Element| std::sync::Arc::new(Field::new("item", element.kind().element_type(), true));
        match self {
            Layout::Scalar(element) => element.kind().element_type(),
            Layout::Text => DataType::LargeUtf8,
            Layout::Bytes => DataType::LargeBinary,
            Layout::Fixed(element, n) => match field.data_type() {
                DataType::FixedSizeBinary(_) => DataType::FixedSizeBinary(n as i32),
                _ => DataType::FixedSizeList(item(element), n as i32),
            },
            Layout::Variable(element) => DataType::LargeList(item(element)),
        }
    }

    /// The FIELD's `datatype` and `arraysize` attributes.
    fn attributes(self) -> String {
        match self {
            Layout::Scalar(element) => format!("datatype=\"{}\"", element.kind().name()),
            Layout::Text => "datatype=\"unicodeChar\" arraysize=\"*\"".to_string(),
            Layout::Bytes => "datatype=\"unsignedByte\" arraysize=\"*\"".to_string(),
            Layout::Fixed(element, n) => format!("datatype=\"{}\" arraysize=\"{n}\"", element.kind().name()),
            Layout::Variable(element) => format!("datatype=\"{}\" arraysize=\"*\"", element.kind().name()),
        }
    }
}

/// A VOTable file under a temporary name beside its destination.
pub struct VoTableFileSink {
    destination: PathBuf,
    out: BufWriter<NamedTempFile>,
    layouts: Vec<Layout>,
    schema: SchemaRef,
    /// The rows' bytes not yet encoded: fewer than [`LINE_BYTES`] between batches.
    pending: Vec<u8>,
    /// Rows written so far, to name a row in an error (counted from 1).
    rows: u64,
    // Declared after `out`, so it is dropped after the temporary file is deleted.
    partial: Option<PartialOutput>,
}

impl VoTableFileSink {
    /// Creates the temporary file for rows of `schema` and writes the table's header. A column
    /// VOTable cannot hold is a usage error naming it, before anything is written.
    pub fn create(destination: &Path, schema: SchemaRef) -> Result<VoTableFileSink, Error> {
        let mut layouts = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let Some(layout) = Layout::of(field) else {
                return Err(Error::Usage(format!(
                    "{}: column '{}' ({}) cannot be written as a VOTable: write Parquet or Arrow instead",
                    destination.display(),
                    field.name(),
                    field.data_type()
                )));
            };
            layouts.push(layout);
        }
        let (file, partial) = create_partial(destination, ".vot.partial")?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let header = header(&schema, &layouts, destination);
        out.write_all(header.as_bytes()).map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
        Ok(VoTableFileSink {
            destination: destination.to_path_buf(),
            out,
            layouts,
            schema,
            pending: Vec::new(),
            rows: 0,
            partial: Some(partial),
        })
    }

    /// Encodes the whole lines of `pending` and keeps the rest for the next batch.
    fn flush_lines(&mut self, last: bool) -> Result<(), Error> {
        let whole = if last { self.pending.len() } else { self.pending.len() / LINE_BYTES * LINE_BYTES };
        let mut text = Vec::with_capacity(whole / LINE_BYTES * 77 + 80);
        let mut line = [0u8; 76];
        for chunk in self.pending[..whole].chunks(LINE_BYTES) {
            let n = BASE64
                .encode_slice(chunk, &mut line)
                .map_err(|e| Error::Internal { path: self.destination.clone(), message: format!("base64: {e}") })?;
            text.extend_from_slice(&line[..n]);
            text.push(b'\n');
        }
        self.pending.drain(..whole);
        self.out.write_all(&text).map_err(|source| Error::Io { path: self.destination.clone(), source })
    }
}

/// The document up to the first byte of the data stream.
fn header(schema: &SchemaRef, layouts: &[Layout], destination: &Path) -> String {
    let mut text = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<VOTABLE version=\"1.4\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
        " xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\">\n",
        "<RESOURCE type=\"results\">\n",
    ));
    // The schema's key-value metadata (a catalogue's provenance, a survey's release) as INFO
    // elements, in key order; not Arrow's own copy of the schema, which means nothing here.
    let mut keys: Vec<&String> = schema.metadata().keys().filter(|k| !k.starts_with("ARROW:")).collect();
    keys.sort();
    for key in keys {
        let value = &schema.metadata()[key];
        text.push_str(&format!("<INFO name=\"{}\" value=\"{}\"/>\n", escape(key.as_str()), escape(value.as_str())));
    }
    let name = destination.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    text.push_str(&format!("<TABLE name=\"{}\">\n", escape(name.as_str())));
    for (field, layout) in schema.fields().iter().zip(layouts) {
        let metadata = field.metadata();
        text.push_str(&format!("<FIELD name=\"{}\" {}", escape(field.name().as_str()), layout.attributes()));
        for key in [UNIT_KEY, UCD_KEY] {
            if let Some(value) = metadata.get(key).filter(|v| !v.is_empty()) {
                text.push_str(&format!(" {key}=\"{}\"", escape(value.as_str())));
            }
        }
        match metadata.get(DESCRIPTION_KEY).filter(|v| !v.is_empty()) {
            Some(description) => {
                text.push_str(&format!(">\n<DESCRIPTION>{}</DESCRIPTION>\n</FIELD>\n", escape(description.as_str())))
            }
            None => text.push_str("/>\n"),
        }
    }
    text.push_str("<DATA>\n<BINARY2>\n<STREAM encoding=\"base64\">\n");
    text
}

const TRAILER: &str = "</STREAM>\n</BINARY2>\n</DATA>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n";

/// One batch's column, cast to the type it is written from.
enum Values<'a> {
    Scalar(Elements<'a>),
    Text(&'a LargeStringArray),
    Bytes(&'a LargeBinaryArray),
    FixedBytes(&'a arrow::array::FixedSizeBinaryArray),
    Fixed(Elements<'a>, usize),
    Variable(&'a LargeListArray, Elements<'a>),
}

/// The values of one element type.
enum Elements<'a> {
    Boolean(&'a BooleanArray),
    UByte(&'a PrimitiveArray<UInt8Type>),
    Short(&'a PrimitiveArray<Int16Type>),
    Int(&'a PrimitiveArray<Int32Type>),
    Long(&'a PrimitiveArray<Int64Type>),
    Float(&'a PrimitiveArray<Float32Type>),
    Double(&'a PrimitiveArray<Float64Type>),
}

impl<'a> Elements<'a> {
    fn of(array: &'a dyn Array, element: Element) -> Elements<'a> {
        match element {
            Element::Boolean => Elements::Boolean(array.as_boolean()),
            Element::UByte => Elements::UByte(array.as_primitive()),
            Element::Short => Elements::Short(array.as_primitive()),
            Element::Int => Elements::Int(array.as_primitive()),
            Element::Long => Elements::Long(array.as_primitive()),
            Element::Float => Elements::Float(array.as_primitive()),
            Element::Double => Elements::Double(array.as_primitive()),
        }
    }

    fn element(&self) -> Element {
        match self {
            Elements::Boolean(_) => Element::Boolean,
            Elements::UByte(_) => Element::UByte,
            Elements::Short(_) => Element::Short,
            Elements::Int(_) => Element::Int,
            Elements::Long(_) => Element::Long,
            Elements::Float(_) => Element::Float,
            Elements::Double(_) => Element::Double,
        }
    }

    fn is_null(&self, i: usize) -> bool {
        match self {
            Elements::Boolean(a) => a.is_null(i),
            Elements::UByte(a) => a.is_null(i),
            Elements::Short(a) => a.is_null(i),
            Elements::Int(a) => a.is_null(i),
            Elements::Long(a) => a.is_null(i),
            Elements::Float(a) => a.is_null(i),
            Elements::Double(a) => a.is_null(i),
        }
    }

    /// Appends value `i` (the caller handles a null one).
    fn put(&self, i: usize, out: &mut Vec<u8>) {
        match self {
            Elements::Boolean(a) => out.push(if a.value(i) { b'T' } else { b'F' }),
            Elements::UByte(a) => out.push(a.value(i)),
            Elements::Short(a) => out.extend_from_slice(&a.value(i).to_be_bytes()),
            Elements::Int(a) => out.extend_from_slice(&a.value(i).to_be_bytes()),
            Elements::Long(a) => out.extend_from_slice(&a.value(i).to_be_bytes()),
            Elements::Float(a) => out.extend_from_slice(&a.value(i).to_be_bytes()),
            Elements::Double(a) => out.extend_from_slice(&a.value(i).to_be_bytes()),
        }
    }

    /// Appends elements `range` of an array cell: a null element is NaN for a float and `?` for a
    /// boolean; an integer array has no way to say it, so that is an error.
    fn put_items(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) -> Result<(), String> {
        for i in range {
            if self.is_null(i) {
                match self.element() {
                    element @ (Element::Float | Element::Double | Element::Boolean) => {
                        out.extend_from_slice(element.null_bytes())
                    }
                    _ => return Err("an integer array with a null element, which a VOTable cannot hold".into()),
                }
            } else {
                self.put(i, out);
            }
        }
        Ok(())
    }
}

/// Appends a variable-length cell's count.
fn put_count(count: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let count = u32::try_from(count).map_err(|_| format!("{count} values in one cell, more than a VOTable holds"))?;
    out.extend_from_slice(&count.to_be_bytes());
    Ok(())
}

impl Values<'_> {
    /// Appends row `i`'s cell; a null cell is flagged by the caller and written as a placeholder.
    fn put(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Values::Scalar(elements) => elements.put(i, out),
            Values::Text(a) => {
                // The count is of UTF-16 code units, two bytes each, written as they come.
                let count_at = out.len();
                out.extend_from_slice(&[0; 4]);
                let mut units = 0usize;
                for unit in a.value(i).encode_utf16() {
                    out.extend_from_slice(&unit.to_be_bytes());
                    units += 1;
                }
                let mut count = Vec::with_capacity(4);
                put_count(units, &mut count)?;
                out[count_at..count_at + 4].copy_from_slice(&count);
            }
            Values::Bytes(a) => {
                let bytes = a.value(i);
                put_count(bytes.len(), out)?;
                out.extend_from_slice(bytes);
            }
            Values::FixedBytes(a) => out.extend_from_slice(a.value(i)),
            Values::Fixed(elements, n) => elements.put_items(i * n..(i + 1) * n, out)?,
            Values::Variable(a, elements) => {
                let offsets = a.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                put_count(end - start, out)?;
                elements.put_items(start..end, out)?;
            }
        }
        Ok(())
    }

    /// Appends what stands for a null cell.
    fn put_null(&self, out: &mut Vec<u8>) {
        match self {
            Values::Scalar(elements) => out.extend_from_slice(elements.element().null_bytes()),
            Values::Text(_) | Values::Bytes(_) | Values::Variable(..) => out.extend_from_slice(&[0; 4]),
            Values::FixedBytes(a) => out.extend(std::iter::repeat_n(0, a.value_length() as usize)),
            Values::Fixed(elements, n) => {
                for _ in 0..*n {
                    out.extend_from_slice(elements.element().null_bytes());
                }
            }
        }
    }
}

impl<'a> Values<'a> {
    fn of(array: &'a ArrayRef, layout: Layout) -> Values<'a> {
        match layout {
            Layout::Scalar(element) => Values::Scalar(Elements::of(array.as_ref(), element)),
            Layout::Text => Values::Text(array.as_string()),
            Layout::Bytes => Values::Bytes(array.as_binary()),
            Layout::Fixed(element, n) => match array.data_type() {
                DataType::FixedSizeBinary(_) => Values::FixedBytes(array.as_fixed_size_binary()),
                _ => {
                    let list = array.as_fixed_size_list();
                    Values::Fixed(Elements::of(list.values().as_ref(), element), n)
                }
            },
            Layout::Variable(element) => {
                let list = array.as_list::<i64>();
                Values::Variable(list, Elements::of(list.values().as_ref(), element))
            }
        }
    }
}

/// The first value of an unsigned 64-bit column (or list of them) beyond a `long`, as the row
/// within the batch and the value: the cast to `long` would make it null.
fn beyond_long(array: &dyn Array) -> Option<(usize, u64)> {
    let too_big = |items: &PrimitiveArray<UInt64Type>| {
        items.iter().position(|v| v.is_some_and(|v| v > i64::MAX as u64)).map(|i| (i, items.value(i)))
    };
    match array.data_type() {
        DataType::UInt64 => too_big(array.as_primitive()),
        DataType::FixedSizeList(item, n) if item.data_type() == &DataType::UInt64 => {
            // A fixed-size list's values are exactly its cells', sliced with it.
            let n = (*n as usize).max(1);
            too_big(array.as_fixed_size_list().values().as_primitive()).map(|(i, v)| (i / n, v))
        }
        DataType::List(item) if item.data_type() == &DataType::UInt64 => {
            let list = array.as_list::<i32>();
            (0..list.len()).find_map(|row| too_big(list.value(row).as_primitive()).map(|(_, v)| (row, v)))
        }
        DataType::LargeList(item) if item.data_type() == &DataType::UInt64 => {
            let list = array.as_list::<i64>();
            (0..list.len()).find_map(|row| too_big(list.value(row).as_primitive()).map(|(_, v)| (row, v)))
        }
        _ => None,
    }
}

impl BatchSink for VoTableFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        if batch.num_columns() != self.layouts.len() {
            let message = format!("a batch of {} columns for a table of {}", batch.num_columns(), self.layouts.len());
            return Err(Error::Internal { path: self.destination.clone(), message });
        }
        let mut columns = Vec::with_capacity(self.layouts.len());
        for ((array, field), layout) in batch.columns().iter().zip(self.schema.fields()).zip(&self.layouts) {
            if let Some((row, value)) = beyond_long(array.as_ref()) {
                return Err(Error::VoTable {
                    path: self.destination.clone(),
                    message: format!(
                        "row {}, column '{}': {value} is beyond a VOTable long (at most {}): write Parquet, Arrow or FITS instead",
                        self.rows + row as u64 + 1,
                        field.name(),
                        i64::MAX
                    ),
                });
            }
            let target = layout.arrow_type(field);
            let cast = if array.data_type() == &target { Ok(array.clone()) } else { cast(array, &target) }
                .map_err(|source| Error::Arrow { path: self.destination.clone(), source })?;
            columns.push(cast);
        }
        let values: Vec<Values> = columns.iter().zip(&self.layouts).map(|(a, &l)| Values::of(a, l)).collect();
        let flag_bytes = self.layouts.len().div_ceil(8);
        for row in 0..batch.num_rows() {
            let flags_at = self.pending.len();
            self.pending.resize(flags_at + flag_bytes, 0);
            for (c, (value, array)) in values.iter().zip(&columns).enumerate() {
                if array.is_null(row) {
                    self.pending[flags_at + c / 8] |= 0x80 >> (c % 8);
                    value.put_null(&mut self.pending);
                } else if let Err(problem) = value.put(row, &mut self.pending) {
                    let column = self.schema.field(c).name();
                    let message = format!("row {}, column '{column}': {problem}", self.rows + row as u64 + 1);
                    return Err(Error::VoTable { path: self.destination.clone(), message });
                }
            }
        }
        self.rows += batch.num_rows() as u64;
        self.flush_lines(false)
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        self.flush_lines(true)?;
        let VoTableFileSink { destination, mut out, mut partial, .. } = *self;
        out.write_all(TRAILER.as_bytes()).map_err(|source| Error::Io { path: destination.clone(), source })?;
        durable_buffered(out, &destination, &mut partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::read::open_catalogue;
    use arrow::array::{
        BinaryArray, FixedSizeListBuilder, Float32Array, Float64Array, Int8Array, Int64Array, ListBuilder, StringArray,
        StructArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
    };
    use arrow::datatypes::Schema;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn write(path: &Path, batches: &[RecordBatch]) -> Result<(), Error> {
        let mut sink = Box::new(VoTableFileSink::create(path, batches[0].schema())?);
        for batch in batches {
            sink.write(batch)?;
        }
        sink.finish()?.commit()
    }

    fn read_back(path: &Path, batch_size: usize) -> RecordBatch {
        let mut catalogue = open_catalogue(path, batch_size, None).unwrap();
        let mut batches = Vec::new();
        while let Some(batch) = catalogue.source.next_batch() {
            batches.push(batch.unwrap());
        }
        arrow::compute::concat_batches(&catalogue.source.schema(), &batches).unwrap()
    }

    /// Every type the writer takes, with nulls, in the types it writes them as.
    fn every_type() -> RecordBatch {
        let mut fixed = FixedSizeListBuilder::new(arrow::array::Float64Builder::new(), 2);
        let mut list = ListBuilder::new(arrow::array::Int32Builder::new());
        for row in 0..5 {
            fixed.values().append_value(row as f64);
            fixed.values().append_option((row != 1).then_some(-0.5));
            fixed.append(row != 3);
            for k in 0..row {
                list.values().append_value(k * 1000);
            }
            list.append(row != 2);
        }
        let (fixed, list) = (fixed.finish(), list.finish());
        let unit = HashMap::from([
            ("unit".to_string(), "deg".to_string()),
            ("ucd".to_string(), "pos.eq.ra;meta.main".to_string()),
            ("description".to_string(), "right ascension <ICRS> & more".to_string()),
        ]);
        let fields: Vec<(Field, ArrayRef)> = vec![
            (
                Field::new("ra", DataType::Float64, true).with_metadata(unit),
                Arc::new(Float64Array::from(vec![0.0, 359.9, 1e-300, f64::MAX, -0.0])),
            ),
            (
                Field::new("mag", DataType::Float32, true),
                Arc::new(Float32Array::from(vec![
                    Some(1.5),
                    None,
                    Some(f32::NAN),
                    Some(-3.25),
                    Some(f32::MIN_POSITIVE),
                ])),
            ),
            (
                Field::new("half", DataType::Float16, true),
                cast(
                    &(Arc::new(Float32Array::from(vec![Some(0.5), None, None, None, None])) as ArrayRef),
                    &DataType::Float16,
                )
                .unwrap(),
            ),
            (
                Field::new("flag", DataType::Boolean, true),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(false)])),
            ),
            (
                Field::new("i8", DataType::Int8, true),
                Arc::new(Int8Array::from(vec![Some(-128), Some(127), None, Some(0), Some(-1)])),
            ),
            (
                Field::new("u8", DataType::UInt8, true),
                Arc::new(UInt8Array::from(vec![Some(255), None, Some(0), Some(1), Some(2)])),
            ),
            (
                Field::new("u16", DataType::UInt16, true),
                Arc::new(UInt16Array::from(vec![Some(65535), Some(0), None, Some(7), Some(8)])),
            ),
            (
                Field::new("u32", DataType::UInt32, true),
                Arc::new(UInt32Array::from(vec![Some(u32::MAX), Some(0), Some(1), None, Some(3)])),
            ),
            (
                Field::new("id", DataType::Int64, true),
                Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), Some(0), None, Some(-7)])),
            ),
            (
                Field::new("bits", DataType::UInt64, true),
                Arc::new(UInt64Array::from(vec![Some(i64::MAX as u64), Some(0), None, Some(5), Some(1 << 62)])),
            ),
            (
                Field::new("name", DataType::Utf8, true),
                Arc::new(StringArray::from(vec![Some("a <b> & 'c'"), Some(""), None, Some("λ Ori ✨ 𝔸"), Some("x")])),
            ),
            (
                Field::new("blob", DataType::Binary, true),
                Arc::new(BinaryArray::from_opt_vec(vec![Some(b"\x00\xff"), None, Some(b""), Some(b"z"), Some(b"yy")])),
            ),
            (Field::new("vec", fixed.data_type().clone(), true), Arc::new(fixed)),
            (Field::new("epochs", list.data_type().clone(), true), Arc::new(list)),
        ];
        let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = fields.into_iter().unzip();
        let metadata = HashMap::from([
            ("source".to_string(), "Hipparcos 2 <I/311> & more".to_string()),
            ("release".to_string(), "DR1".to_string()),
            ("ARROW:schema".to_string(), "AAAA".to_string()),
        ]);
        RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, metadata)), columns).unwrap()
    }

    #[test]
    fn every_type_reads_back_as_written_in_any_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.vot");
        let batch = every_type();
        // Batches of 2, 1 and 2 rows: rows straddle the base64 lines and the batches.
        write(&path, &[batch.slice(0, 2), batch.slice(2, 1), batch.slice(3, 2)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let infos = "<INFO name=\"release\" value=\"DR1\"/>\n<INFO name=\"source\" value=\"Hipparcos 2 &lt;I/311&gt; &amp; more\"/>\n<TABLE";
        assert!(text.contains(infos) && !text.contains("ARROW:schema"), "{text}");
        let stream = text.split("<STREAM encoding=\"base64\">\n").nth(1).unwrap().split("</STREAM>").next().unwrap();
        assert!(stream.lines().count() > 2 && stream.lines().all(|line| line.len() <= 76), "{stream}");
        for batch_size in [1, 3, 100] {
            let back = read_back(&path, batch_size);
            assert_eq!(back.num_rows(), 5);
            // The metadata comes back from the INFOs, all but Arrow's own schema.
            let mut expected = batch.schema().metadata().clone();
            expected.remove("ARROW:schema");
            assert_eq!(back.schema().metadata(), &expected);
            let column = |name: &str| back.column_by_name(name).unwrap().clone();
            let written = |name: &str| batch.column_by_name(name).unwrap().clone();
            // Read back as the types they are written as: the same values, wider where needed.
            for (name, as_written) in [
                ("ra", DataType::Float64),
                ("mag", DataType::Float32),
                ("half", DataType::Float32),
                ("flag", DataType::Boolean),
                ("i8", DataType::Int16),
                ("u8", DataType::UInt8),
                ("u16", DataType::Int32),
                ("u32", DataType::Int64),
                ("id", DataType::Int64),
                ("bits", DataType::Int64),
                ("name", DataType::Utf8),
            ] {
                let want = cast(&written(name), &as_written).unwrap();
                assert_eq!(column(name).data_type(), &as_written, "{name}");
                if name == "mag" {
                    // NaN reads back null, as astropy reads a NaN float.
                    let got = column(name);
                    let got = got.as_primitive::<Float32Type>();
                    assert_eq!(
                        got.iter().collect::<Vec<_>>(),
                        vec![Some(1.5), None, None, Some(-3.25), Some(f32::MIN_POSITIVE)]
                    );
                } else {
                    assert_eq!(&column(name), &want, "{name}");
                }
            }
            let blob: Vec<Option<Vec<u8>>> = column("blob")
                .as_list::<i32>()
                .iter()
                .map(|cell| cell.map(|c| c.as_primitive::<UInt8Type>().values().to_vec()))
                .collect();
            assert_eq!(blob, vec![Some(vec![0, 255]), None, Some(vec![]), Some(vec![b'z']), Some(vec![b'y', b'y'])]);
            let vec = column("vec");
            let vec = vec.as_fixed_size_list();
            assert!(vec.is_null(3) && vec.is_valid(2));
            let items: Vec<Option<f64>> = vec.values().as_primitive::<Float64Type>().iter().collect();
            assert_eq!(&items[..6], &[Some(0.0), Some(-0.5), Some(1.0), None, Some(2.0), Some(-0.5)]);
            let epochs = column("epochs");
            let epochs: Vec<Option<Vec<i32>>> = epochs
                .as_list::<i32>()
                .iter()
                .map(|cell| cell.map(|c| c.as_primitive::<Int32Type>().values().to_vec()))
                .collect();
            assert_eq!(
                epochs,
                vec![Some(vec![]), Some(vec![0]), None, Some(vec![0, 1000, 2000]), Some(vec![0, 1000, 2000, 3000])]
            );
            let ra = back.schema().field_with_name("ra").unwrap().metadata().clone();
            assert_eq!(ra.get("unit").map(String::as_str), Some("deg"));
            assert_eq!(ra.get("ucd").map(String::as_str), Some("pos.eq.ra;meta.main"));
            assert_eq!(ra.get("description").map(String::as_str), Some("right ascension <ICRS> & more"));
        }
    }

    #[test]
    fn a_table_of_no_rows_is_a_valid_votable_of_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.vot");
        let batch = every_type();
        let sink = Box::new(VoTableFileSink::create(&path, batch.schema()).unwrap());
        sink.finish().unwrap().commit().unwrap();
        let back = read_back(&path, 10);
        assert_eq!(back.num_rows(), 0);
        let names = |schema: SchemaRef| schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
        assert_eq!(names(back.schema()), names(batch.schema()));
    }

    #[test]
    fn an_unsigned_value_beyond_a_long_is_an_error_naming_its_row_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.vot");
        let schema = Arc::new(Schema::new(vec![Field::new("bits", DataType::UInt64, true)]));
        let first = RecordBatch::try_new(schema.clone(), vec![Arc::new(UInt64Array::from(vec![1, 2, 3]))]).unwrap();
        let second =
            RecordBatch::try_new(schema, vec![Arc::new(UInt64Array::from(vec![Some(4), None, Some(u64::MAX)]))])
                .unwrap();
        let error = write(&path, &[first, second]).unwrap_err().to_string();
        assert!(error.contains("row 6, column 'bits': 18446744073709551615 is beyond a VOTable long"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no output, no partial file");
    }

    #[test]
    fn an_integer_array_with_a_null_element_is_an_error_naming_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.vot");
        let mut list = ListBuilder::new(arrow::array::Int16Builder::new());
        list.append_value([Some(1), Some(2)]);
        list.append_value([Some(3), None]);
        let array = list.finish();
        let schema = Arc::new(Schema::new(vec![Field::new("n", array.data_type().clone(), true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap();
        let error = write(&path, &[batch]).unwrap_err().to_string();
        assert!(error.contains("row 2, column 'n': an integer array with a null element"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_column_a_votable_cannot_hold_is_refused_by_name_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let inner = StructArray::from(vec![(
            Arc::new(Field::new("x", DataType::Float64, true)),
            Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
        )]);
        let mut texts = ListBuilder::new(arrow::array::StringBuilder::new());
        texts.append_value([Some("a")]);
        let texts = texts.finish();
        for (name, data_type) in [("pos", inner.data_type().clone()), ("names", texts.data_type().clone())] {
            let schema = Arc::new(Schema::new(vec![
                Field::new("ra", DataType::Float64, true),
                Field::new(name, data_type.clone(), true),
            ]));
            let Err(error) = VoTableFileSink::create(&dir.path().join("out.vot"), schema) else { panic!("{name}") };
            assert!(error.is_usage());
            assert!(
                error.to_string().contains(&format!("column '{name}' ({data_type}) cannot be written as a VOTable")),
                "{error}"
            );
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no partial file");
        }
    }
}
