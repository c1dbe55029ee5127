//! VOTable (IVOA 1.1 to 1.5), as archives serve query results: the TABLEDATA, BINARY and BINARY2
//! serialisations, read as they stream (an XML event at a time, base64 a block at a time) into
//! Arrow batches, so memory is one batch whatever the file's size.
//!
//! Written here rather than with the CDS `votable` crate (0.7), which the field's services use:
//! that crate builds only against serde 1.0.228 exactly (it calls serde's private, versioned
//! `__private228` module, so any dependency needing a newer serde breaks the build), gives one
//! table different values in different serialisations (a NaN float is NaN from TABLEDATA but
//! null from BINARY; an empty string null from TABLEDATA but "" from BINARY), and allocates a
//! vector per row. The format itself is small: `quick-xml` reads the XML, `base64` the streams.
//!
//! Values follow astropy's reading of the same file, in every serialisation alike: an integer
//! equal to its FIELD's `VALUES null`, an empty TABLEDATA cell, a BINARY2 null flag and a NaN
//! float are null; an empty string is the empty string. Types: `boolean`/`bit` to boolean,
//! `unsignedByte`, `short`, `int`, `long`, `float`, `double` to UInt8 .. Float64, `char` and
//! `unicodeChar` (any 1-D `arraysize`) to text, numeric arrays to fixed-size lists (`arraysize="3"`,
//! or `2x3` flattened to 6) or lists (`*`), complex numbers to a list of two floats. `unit`,
//! `ucd` and the DESCRIPTION go to each field's metadata; the `name` and `value` of each INFO and
//! PARAM around the table (the VOTABLE's, its RESOURCEs', the TABLE's own before its data) to
//! the schema's, which Parquet and Arrow output keep and VOTable output writes back as INFOs.
//! A FITS-serialised table (`<FITS>`), an external stream (`href`) and arrays of strings are
//! refused by name.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, FixedSizeListBuilder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder, UInt8Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;

use super::{BatchSource, HduChoice, OtherTable};
use crate::error::Error;
use crate::io::votable::Kind;
use crate::io::{DESCRIPTION_KEY, UCD_KEY, UNIT_KEY};

/// How many elements a value holds (`arraysize`; several dimensions multiplied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Scalar,
    Fixed(usize),
    /// `*` or `N*` last: a count precedes each value in a binary stream.
    Variable,
}

impl Size {
    fn parse(arraysize: Option<&str>) -> Result<Size, String> {
        let Some(text) = arraysize.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(Size::Scalar) };
        let dims: Vec<&str> = text.split('x').collect();
        let (last, fixed) = dims.split_last().unwrap_or((&"", &[]));
        let mut count = 1usize;
        for dim in fixed {
            let n: usize = dim.trim().parse().map_err(|_| format!("arraysize '{text}' is not N, N*, * or NxM..."))?;
            count = count.checked_mul(n).ok_or_else(|| format!("arraysize '{text}' is too large"))?;
        }
        if last.ends_with('*') {
            let bound = last.trim_end_matches('*').trim();
            if !bound.is_empty() && bound.parse::<usize>().is_err() {
                return Err(format!("arraysize '{text}' is not N, N*, * or NxM..."));
            }
            return Ok(Size::Variable);
        }
        let n: usize = last.trim().parse().map_err(|_| format!("arraysize '{text}' is not N, N*, * or NxM..."))?;
        count = count.checked_mul(n).ok_or_else(|| format!("arraysize '{text}' is too large"))?;
        Ok(Size::Fixed(count))
    }
}

/// One FIELD: how its values are stored and read.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    size: Size,
    /// The integer that means null (`<VALUES null="...">`).
    null: Option<i64>,
    unit: Option<String>,
    ucd: Option<String>,
    description: Option<String>,
}

impl Column {
    fn data_type(&self) -> DataType {
        let element = self.kind.element_type();
        if self.kind.is_text() {
            return element;
        }
        let item = Arc::new(Field::new("item", element.clone(), true));
        match (self.size, self.kind.parts()) {
            (Size::Scalar, 1) => element,
            (Size::Scalar, parts) => DataType::FixedSizeList(item, parts as i32),
            (Size::Fixed(n), parts) => DataType::FixedSizeList(item, (n * parts) as i32),
            (Size::Variable, _) => DataType::List(item),
        }
    }

    fn field(&self) -> Field {
        let mut metadata = HashMap::new();
        for (key, value) in [(UNIT_KEY, &self.unit), (UCD_KEY, &self.ucd), (DESCRIPTION_KEY, &self.description)] {
            if let Some(value) = value {
                metadata.insert(key.to_string(), value.clone());
            }
        }
        Field::new(&self.name, self.data_type(), true).with_metadata(metadata)
    }
}

/// How the chosen table's rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serialisation {
    TableData,
    Binary,
    Binary2,
}

/// A VOTable's chosen table being read.
pub(super) struct VoTableSource {
    path: PathBuf,
    schema: SchemaRef,
    columns: Vec<Column>,
    xml: quick_xml::Reader<Box<dyn BufRead + Send>>,
    buffer: Vec<u8>,
    serialisation: Serialisation,
    /// A binary stream's decoded bytes not yet read, from `start`.
    decoded: Vec<u8>,
    start: usize,
    /// Base64 characters read but not yet decoded (fewer than a group of four at a time).
    pending: Vec<u8>,
    /// The stream's text has ended (its `<` was reached).
    stream_ended: bool,
    /// Rows read so far (row numbers in messages count from 1).
    rows: u64,
    batch_size: usize,
    done: bool,
    /// The table's number in the file (from 1), and how to read the file again from its start
    /// (for [`BatchSource::other_tables`]): `None` where it cannot be (the unit tests' text).
    table: usize,
    reopen: Option<Reopen>,
}

/// Reads a VOTable file again from its start (gzipped or not).
pub(super) type Reopen = Box<dyn Fn() -> Result<Box<dyn BufRead + Send>, Error> + Send>;

/// Opens the VOTable read from `bytes` (`path` names it in messages) at the table `table` chooses:
/// its number among the file's tables counting from 1, or its `name` or `ID`; the first table with
/// data if `None`.
pub(super) fn open_votable(
    path: &Path,
    bytes: Box<dyn BufRead + Send>,
    reopen: Option<Reopen>,
    table: Option<&HduChoice>,
    batch_size: usize,
) -> Result<VoTableSource, Error> {
    if table == Some(&HduChoice::Index(0)) {
        return Err(Error::Usage(format!(
            "{}: a VOTable's tables are numbered from 1 (HDU 1 is the first TABLE)",
            path.display()
        )));
    }
    let mut xml = quick_xml::Reader::from_reader(bytes);
    let mut buffer = Vec::new();
    let fault = |message: String| Error::VoTable { path: path.to_path_buf(), message };
    let xml_fault = |error: quick_xml::Error, at: u64| fault(format!("not valid XML at byte {at}: {error}"));
    let mut seen_votable = false;
    let mut tables = 0usize;
    let mut names: Vec<String> = Vec::new();
    // The INFOs and PARAMs of the VOTABLE and of each RESOURCE still open: the chosen table's
    // metadata, with its own.
    let mut levels: Vec<HashMap<String, String>> = vec![HashMap::new()];
    loop {
        let at = xml.buffer_position();
        let event = xml.read_event_into(&mut buffer).map_err(|e| xml_fault(e, at))?;
        match event {
            Event::Start(element) | Event::Empty(element) if element.local_name().as_ref() == b"VOTABLE" => {
                seen_votable = true;
            }
            Event::Start(element) if element.local_name().as_ref() == b"RESOURCE" => levels.push(HashMap::new()),
            Event::End(element) if element.local_name().as_ref() == b"RESOURCE" && levels.len() > 1 => {
                levels.pop();
            }
            Event::Start(element) | Event::Empty(element)
                if matches!(element.local_name().as_ref(), b"INFO" | b"PARAM") =>
            {
                if let Some(level) = levels.last_mut() {
                    note_metadata(&element, level);
                }
            }
            Event::Start(element) if element.local_name().as_ref() == b"TABLE" => {
                tables += 1;
                let chosen = match table {
                    None => true,
                    Some(HduChoice::Index(n)) => *n == tables,
                    Some(HduChoice::Name(wanted)) => {
                        [attribute(&element, "name"), attribute(&element, "ID")].iter().flatten().any(|n| n == wanted)
                    }
                };
                names.push(table_name(&element, tables));
                let end = element.name().as_ref().to_vec();
                buffer.clear();
                if chosen {
                    match read_table(path, &mut xml, &mut buffer)? {
                        Some(table) if table.columns.is_empty() => {
                            return Err(fault(format!("TABLE {} has no FIELD", names[tables - 1])));
                        }
                        Some(Table { columns, serialisation, has_rows, metadata: own }) => {
                            // Inner levels override outer ones, the table's own all of them.
                            let metadata: HashMap<String, String> = levels.into_iter().chain([own]).flatten().collect();
                            let fields = columns.iter().map(Column::field).collect::<Vec<_>>();
                            let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
                            return Ok(VoTableSource {
                                path: path.to_path_buf(),
                                schema,
                                columns,
                                xml,
                                buffer,
                                serialisation,
                                decoded: Vec::new(),
                                start: 0,
                                pending: Vec::new(),
                                stream_ended: false,
                                rows: 0,
                                batch_size: batch_size.max(1),
                                done: !has_rows,
                                table: tables,
                                reopen,
                            });
                        }
                        // A table with no data: the first with data is the default.
                        None if table.is_none() => continue,
                        None => return Err(fault(format!("TABLE {} has no DATA", names[tables - 1]))),
                    }
                }
                let at = xml.buffer_position();
                xml.read_to_end_into(QName(&end), &mut buffer).map_err(|e| xml_fault(e, at))?;
            }
            // `<TABLE/>`: a table (it counts for --hdu) with nothing in it.
            Event::Empty(element) if element.local_name().as_ref() == b"TABLE" => {
                tables += 1;
                names.push(table_name(&element, tables));
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !seen_votable {
        return Err(fault("no <VOTABLE> element: not a VOTable".into()));
    }
    Err(match table {
        None => fault("the VOTable has no TABLE with data".into()),
        Some(choice) => Error::Usage(format!(
            "{}: no TABLE {} in this VOTable; its tables are: {}",
            path.display(),
            match choice {
                HduChoice::Index(n) => n.to_string(),
                HduChoice::Name(name) => format!("'{name}'"),
            },
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        )),
    })
}

/// A start tag's attribute, unescaped.
fn attribute(element: &BytesStart, name: &str) -> Option<String> {
    element.try_get_attribute(name).ok().flatten().and_then(|a| a.unescape_value().ok()).map(|v| v.into_owned())
}

/// An INFO's or PARAM's `name` and `value`, as schema metadata (VOTable output writes each
/// metadata key back as an INFO).
fn note_metadata(element: &BytesStart, metadata: &mut HashMap<String, String>) {
    if let (Some(name), Some(value)) = (attribute(element, "name"), attribute(element, "value")) {
        metadata.insert(name, value);
    }
}

/// What a TABLE says before its rows.
struct Table {
    columns: Vec<Column>,
    /// How the rows are written, and whether there are any (`<TABLEDATA/>` has none).
    serialisation: Serialisation,
    has_rows: bool,
    /// Its INFOs and PARAMs (outside FIELDs).
    metadata: HashMap<String, String>,
}

/// Reads a TABLE up to the start of its rows (the reader is left inside TABLEDATA, or just
/// after a binary STREAM's start tag); `None` if the table ends without DATA.
fn read_table(
    path: &Path,
    xml: &mut quick_xml::Reader<Box<dyn BufRead + Send>>,
    buffer: &mut Vec<u8>,
) -> Result<Option<Table>, Error> {
    let fault = |message: String| Error::VoTable { path: path.to_path_buf(), message };
    let mut columns: Vec<Column> = Vec::new();
    let mut metadata = HashMap::new();
    // Inside a FIELD (its DESCRIPTION and VALUES belong to it), and inside its DESCRIPTION.
    let mut in_field = false;
    let mut in_description = false;
    let mut serialisation = None;
    loop {
        let at = xml.buffer_position();
        let event = xml.read_event_into(buffer).map_err(|e| fault(format!("not valid XML at byte {at}: {e}")))?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                let empty = matches!(event, Event::Empty(_));
                match element.local_name().as_ref() {
                    b"FIELD" => {
                        columns.push(column(element, columns.len()).map_err(fault)?);
                        in_field = !empty;
                    }
                    b"VALUES" if in_field => {
                        if let (Some(column), Some(null)) = (columns.last_mut(), attribute(element, "null")) {
                            column.null = parse_integer(&null).ok();
                        }
                    }
                    b"DESCRIPTION" if in_field && !empty => in_description = true,
                    b"INFO" | b"PARAM" if !in_field => note_metadata(element, &mut metadata),
                    b"TABLEDATA" => {
                        buffer.clear();
                        let serialisation = Serialisation::TableData;
                        return Ok(Some(Table { columns, serialisation, has_rows: !empty, metadata }));
                    }
                    b"BINARY" => serialisation = Some(Serialisation::Binary),
                    b"BINARY2" => serialisation = Some(Serialisation::Binary2),
                    b"FITS" => {
                        return Err(fault(
                            "the table's data is a FITS file (<FITS>): read that FITS file itself".into(),
                        ));
                    }
                    b"STREAM" => {
                        if attribute(element, "href").is_some() {
                            return Err(fault("the table's data is an external stream (href): fetch it first".into()));
                        }
                        match attribute(element, "encoding").as_deref() {
                            Some("base64") => {}
                            other => {
                                return Err(fault(format!(
                                    "a STREAM encoded as {}: angcut reads base64 streams",
                                    other.unwrap_or("nothing (raw bytes)")
                                )));
                            }
                        }
                        if empty {
                            return Err(fault("an empty STREAM".into()));
                        }
                        break;
                    }
                    _ => {}
                }
            }
            Event::Text(text) if in_description => {
                let text = text.unescape().map_err(|e| fault(format!("a DESCRIPTION: {e}")))?;
                if let Some(column) = columns.last_mut() {
                    let joined = column.description.take().unwrap_or_default() + text.trim();
                    column.description = Some(joined);
                }
            }
            Event::End(element) => match element.local_name().as_ref() {
                b"FIELD" => in_field = false,
                b"DESCRIPTION" => in_description = false,
                b"TABLE" => return Ok(None),
                _ => {}
            },
            Event::Eof => return Err(fault("the file ends inside a TABLE".into())),
            _ => {}
        }
        buffer.clear();
    }
    buffer.clear();
    let serialisation = serialisation.ok_or_else(|| fault("a STREAM outside BINARY or BINARY2".into()))?;
    Ok(Some(Table { columns, serialisation, has_rows: true, metadata }))
}

/// A FIELD's column (`index` names an unnamed one).
/// A FIELD's column name: its `name`, else its `ID`, else `colN` (`index` counts from 0).
fn field_name(element: &BytesStart, index: usize) -> String {
    attribute(element, "name").or_else(|| attribute(element, "ID")).unwrap_or_else(|| format!("col{}", index + 1))
}

/// A TABLE's name in messages: its `name`, else its `ID`, else `#N` (`number` counts from 1).
fn table_name(element: &BytesStart, number: usize) -> String {
    attribute(element, "name").or_else(|| attribute(element, "ID")).unwrap_or_else(|| format!("#{number}"))
}

/// Every TABLE of the VOTable read from `bytes` but the one numbered `except`: its number, name
/// and FIELD names, the DATA skipped. For a message only, so a file that stops parsing gives the
/// tables found before.
fn other_tables(mut xml: quick_xml::Reader<Box<dyn BufRead + Send>>, except: usize) -> Vec<OtherTable> {
    let (mut buffer, mut tables, mut number) = (Vec::new(), Vec::new(), 0usize);
    let mut current: Option<OtherTable> = None;
    while let Ok(event) = xml.read_event_into(&mut buffer) {
        match event {
            Event::Start(ref element) | Event::Empty(ref element) if element.local_name().as_ref() == b"TABLE" => {
                number += 1;
                let table = OtherTable { hdu: number, name: Some(table_name(element, number)), columns: Vec::new() };
                match event {
                    Event::Empty(_) => tables.push(table),
                    _ => current = Some(table),
                }
            }
            Event::Start(ref element) | Event::Empty(ref element) if element.local_name().as_ref() == b"FIELD" => {
                if let Some(table) = &mut current {
                    table.columns.push(field_name(element, table.columns.len()));
                }
            }
            Event::Start(element) if element.local_name().as_ref() == b"DATA" => {
                let end = element.name().as_ref().to_vec();
                if xml.read_to_end_into(QName(&end), &mut Vec::new()).is_err() {
                    break;
                }
            }
            Event::End(element) if element.local_name().as_ref() == b"TABLE" => tables.extend(current.take()),
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    tables.retain(|table| table.hdu != except);
    tables
}

fn column(element: &BytesStart, index: usize) -> Result<Column, String> {
    let name = field_name(element, index);
    let datatype = attribute(element, "datatype").ok_or_else(|| format!("FIELD '{name}' has no datatype"))?;
    let kind = Kind::parse(&datatype)
        .ok_or_else(|| format!("FIELD '{name}' has datatype '{datatype}', which VOTable does not define"))?;
    let arraysize = attribute(element, "arraysize");
    let size = Size::parse(arraysize.as_deref()).map_err(|e| format!("FIELD '{name}': {e}"))?;
    if kind.is_text() && arraysize.as_deref().is_some_and(|a| a.contains('x')) {
        return Err(format!(
            "FIELD '{name}' is an array of strings (arraysize '{}'): angcut does not read those",
            arraysize.unwrap_or_default()
        ));
    }
    Ok(Column {
        name,
        kind,
        size,
        null: None,
        unit: attribute(element, "unit"),
        ucd: attribute(element, "ucd"),
        description: None,
    })
}

/// A TABLEDATA integer: decimal or `0x` hexadecimal.
fn parse_integer(text: &str) -> Result<i64, ()> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        // Hexadecimal is the bit pattern (0xFFFF in a short is -1), as astropy reads it.
        Some(hex) => u64::from_str_radix(hex, 16).map(|v| v as i64).map_err(|_| ())?,
        None => digits.parse::<i64>().map_err(|_| ())?,
    };
    Ok(if negative { value.wrapping_neg() } else { value })
}

/// One element's value, as read from either serialisation.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
}

/// The columns' builders for one batch.
struct Builders(Vec<Box<dyn ArrayBuilder>>);

impl Builders {
    fn new(columns: &[Column], capacity: usize) -> Builders {
        Builders(
            columns
                .iter()
                .map(|column| -> Box<dyn ArrayBuilder> {
                    let element = element_builder(column.kind, if column.size == Size::Scalar { capacity } else { 0 });
                    if column.kind.is_text() {
                        return element;
                    }
                    match (column.size, column.kind.parts()) {
                        (Size::Scalar, 1) => element,
                        (Size::Scalar, parts) => Box::new(FixedSizeListBuilder::new(element, parts as i32)),
                        (Size::Fixed(n), parts) => Box::new(FixedSizeListBuilder::new(element, (n * parts) as i32)),
                        (Size::Variable, _) => Box::new(ListBuilder::new(element)),
                    }
                })
                .collect(),
        )
    }

    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
        // The builders name list items "item", as the schema does.
        let arrays: Vec<ArrayRef> = self.0.iter_mut().map(|b| b.finish()).collect();
        RecordBatch::try_new(schema.clone(), arrays)
    }
}

fn element_builder(kind: Kind, capacity: usize) -> Box<dyn ArrayBuilder> {
    match kind {
        Kind::Boolean | Kind::Bit => Box::new(BooleanBuilder::with_capacity(capacity)),
        Kind::UByte => Box::new(UInt8Builder::with_capacity(capacity)),
        Kind::Short => Box::new(Int16Builder::with_capacity(capacity)),
        Kind::Int => Box::new(Int32Builder::with_capacity(capacity)),
        Kind::Long => Box::new(Int64Builder::with_capacity(capacity)),
        Kind::Float | Kind::FloatComplex => Box::new(Float32Builder::with_capacity(capacity)),
        Kind::Double | Kind::DoubleComplex => Box::new(Float64Builder::with_capacity(capacity)),
        Kind::Char | Kind::UnicodeChar => Box::new(StringBuilder::with_capacity(capacity, capacity * 8)),
    }
}

/// Appends an element to a builder made by [`element_builder`] for `kind`. A value out of its
/// type's range (a TABLEDATA `300` in an unsignedByte) is an error.
fn append(builder: &mut dyn ArrayBuilder, kind: Kind, value: Scalar) -> Result<(), String> {
    fn push<B: ArrayBuilder, T>(builder: &mut dyn ArrayBuilder, value: Option<T>, put: impl FnOnce(&mut B, Option<T>)) {
        // The builder was made for this kind (element_builder); nothing else reaches here.
        if let Some(builder) = builder.as_any_mut().downcast_mut::<B>() {
            put(builder, value);
        }
    }
    let int = |v: Scalar| -> Option<i64> {
        match v {
            Scalar::Int(i) => Some(i),
            _ => None,
        }
    };
    let range = |value: Option<i64>, min: i64, max: i64| -> Result<Option<i64>, String> {
        match value {
            Some(v) if v < min || v > max => Err(format!("{v} is out of the range of {kind:?}")),
            other => Ok(other),
        }
    };
    match kind {
        Kind::Boolean | Kind::Bit => {
            let v = match value {
                Scalar::Bool(b) => Some(b),
                _ => None,
            };
            push::<BooleanBuilder, _>(builder, v, |b, v| b.append_option(v));
        }
        Kind::UByte => {
            // astropy reads unsignedByte as the byte's bits: -1 in TABLEDATA is 255.
            let v = range(int(value), -128, 255)?.map(|v| v as u8);
            push::<UInt8Builder, _>(builder, v, |b, v| b.append_option(v));
        }
        Kind::Short => {
            let v = range(int(value), i16::MIN as i64, u16::MAX as i64)?.map(|v| v as i16);
            push::<Int16Builder, _>(builder, v, |b, v| b.append_option(v));
        }
        Kind::Int => {
            let v = range(int(value), i32::MIN as i64, u32::MAX as i64)?.map(|v| v as i32);
            push::<Int32Builder, _>(builder, v, |b, v| b.append_option(v));
        }
        Kind::Long => push::<Int64Builder, _>(builder, int(value), |b, v| b.append_option(v)),
        Kind::Float | Kind::FloatComplex => {
            let v = match value {
                Scalar::Float(f) if !f.is_nan() => Some(f as f32),
                _ => None,
            };
            push::<Float32Builder, _>(builder, v, |b, v| b.append_option(v));
        }
        Kind::Double | Kind::DoubleComplex => {
            let v = match value {
                Scalar::Float(f) if !f.is_nan() => Some(f),
                _ => None,
            };
            push::<Float64Builder, _>(builder, v, |b, v| b.append_option(v));
        }
        // Strings are appended whole (append_text), never an element at a time.
        Kind::Char | Kind::UnicodeChar => {}
    }
    Ok(())
}

/// Appends a whole value of `column` (its elements, already parsed; `None` for null).
fn append_value(builder: &mut dyn ArrayBuilder, column: &Column, elements: Option<&[Scalar]>) -> Result<(), String> {
    let null_int = |value: Scalar| match (value, column.null) {
        (Scalar::Int(v), Some(null)) if v == null => Scalar::Null,
        _ => value,
    };
    let width = match (column.size, column.kind.parts()) {
        (Size::Scalar, 1) => {
            let value = match elements {
                None => Scalar::Null,
                Some([one]) => null_int(*one),
                Some(many) => return Err(format!("{} values where the FIELD holds one", many.len())),
            };
            return append(builder, column.kind, value);
        }
        (Size::Scalar, parts) => Some(parts),
        (Size::Fixed(n), parts) => Some(n * parts),
        (Size::Variable, _) => None,
    };
    let any = builder.as_any_mut();
    if let Some(width) = width {
        // The builder was made for this column (Builders::new); nothing else reaches here.
        let Some(list) = any.downcast_mut::<FixedSizeListBuilder<Box<dyn ArrayBuilder>>>() else { return Ok(()) };
        match elements {
            Some(elements) if elements.len() != width => {
                return Err(format!("{} values where its arraysize holds {width}", elements.len()));
            }
            Some(elements) => {
                for &e in elements {
                    append(list.values().as_mut(), column.kind, null_int(e))?;
                }
            }
            None => {
                for _ in 0..width {
                    append(list.values().as_mut(), column.kind, Scalar::Null)?;
                }
            }
        }
        list.append(elements.is_some());
    } else {
        let Some(list) = any.downcast_mut::<ListBuilder<Box<dyn ArrayBuilder>>>() else { return Ok(()) };
        let elements_given = elements.unwrap_or_default();
        if !elements_given.len().is_multiple_of(column.kind.parts()) {
            return Err(format!("{} values: complex numbers come in pairs", elements_given.len()));
        }
        for &e in elements_given {
            append(list.values().as_mut(), column.kind, null_int(e))?;
        }
        list.append(elements.is_some());
    }
    Ok(())
}

/// Appends a scalar number from its big-endian bytes straight to its builder, as
/// [`decode_elements`] and [`append_value`] would (NaN and the FIELD's null value are null) but
/// without the list of elements between: the common case, and most of a binary stream's cost.
/// False for the kinds it leaves to them (bits, booleans, complex numbers, text).
#[inline]
fn append_binary_scalar(builder: &mut dyn ArrayBuilder, column: &Column, raw: &[u8]) -> bool {
    fn put<B: ArrayBuilder>(builder: &mut dyn ArrayBuilder, append: impl FnOnce(&mut B)) -> bool {
        // The builder was made for this kind (element_builder).
        builder.as_any_mut().downcast_mut::<B>().map(append).is_some()
    }
    let int = |v: i64| (column.null != Some(v)).then_some(v);
    match column.kind {
        Kind::Double => put(builder, |b: &mut Float64Builder| {
            let v = f64::from_be_bytes(raw.try_into().unwrap_or_default());
            b.append_option((!v.is_nan()).then_some(v))
        }),
        Kind::Float => put(builder, |b: &mut Float32Builder| {
            let v = f32::from_be_bytes(raw.try_into().unwrap_or_default());
            b.append_option((!v.is_nan()).then_some(v))
        }),
        Kind::Long => put(builder, |b: &mut Int64Builder| {
            b.append_option(int(i64::from_be_bytes(raw.try_into().unwrap_or_default())))
        }),
        Kind::Int => put(builder, |b: &mut Int32Builder| {
            let v = i32::from_be_bytes(raw.try_into().unwrap_or_default());
            b.append_option(int(v as i64).map(|_| v))
        }),
        Kind::Short => put(builder, |b: &mut Int16Builder| {
            let v = i16::from_be_bytes(raw.try_into().unwrap_or_default());
            b.append_option(int(v as i64).map(|_| v))
        }),
        Kind::UByte => put(builder, |b: &mut UInt8Builder| {
            let v = raw.first().copied().unwrap_or_default();
            b.append_option(int(v as i64).map(|_| v))
        }),
        _ => false,
    }
}

/// Appends a string value (or a null) to a text column's builder.
fn append_text(builder: &mut dyn ArrayBuilder, text: Option<&str>) {
    if let Some(builder) = builder.as_any_mut().downcast_mut::<StringBuilder>() {
        builder.append_option(text);
    }
}

/// A TABLEDATA cell's elements: whitespace-separated values (bits may also run together).
fn parse_cell(kind: Kind, text: &str, out: &mut Vec<Scalar>) -> Result<(), String> {
    out.clear();
    let bad = |what: &str, token: &str| format!("'{token}' is not {what}");
    if kind == Kind::Bit {
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            out.push(match c {
                '0' => Scalar::Bool(false),
                '1' => Scalar::Bool(true),
                _ => return Err(bad("a bit (0 or 1)", text.trim())),
            });
        }
        return Ok(());
    }
    for token in text.split_ascii_whitespace() {
        out.push(match kind {
            Kind::Boolean => match token {
                "T" | "t" | "1" | "true" | "TRUE" | "True" => Scalar::Bool(true),
                "F" | "f" | "0" | "false" | "FALSE" | "False" => Scalar::Bool(false),
                "?" => Scalar::Null,
                _ => return Err(bad("a boolean (T, F or ?)", token)),
            },
            Kind::UByte | Kind::Short | Kind::Int | Kind::Long => {
                Scalar::Int(parse_integer(token).map_err(|()| bad("an integer", token))?)
            }
            _ => Scalar::Float(parse_float(token).ok_or_else(|| bad("a number", token))?),
        });
    }
    Ok(())
}

/// A TABLEDATA float: decimal, `NaN`, `Inf`, `+Inf`, `-Inf` (any case).
fn parse_float(token: &str) -> Option<f64> {
    token.parse::<f64>().ok()
}

impl VoTableSource {
    fn fault(&self, message: String) -> Error {
        Error::VoTable { path: self.path.clone(), message }
    }

    fn row_fault(&self, column: &Column, message: String) -> Error {
        self.fault(format!("table row {}, column '{}': {message}", self.rows + 1, column.name))
    }

    /// Reads up to a batch of TABLEDATA rows into `builders`; the count read.
    fn read_tabledata(&mut self, builders: &mut Builders) -> Result<usize, Error> {
        let mut read = 0;
        let mut cells: Vec<Option<String>> = Vec::with_capacity(self.columns.len());
        let mut cell: Option<String> = None;
        let mut elements = Vec::new();
        while read < self.batch_size {
            let at = self.xml.buffer_position();
            let event = self.xml.read_event_into(&mut self.buffer).map_err(|e| Error::VoTable {
                path: self.path.clone(),
                message: format!("not valid XML at byte {at}: {e}"),
            })?;
            match event {
                Event::Start(e) if e.local_name().as_ref() == b"TR" => cells.clear(),
                Event::Start(e) if e.local_name().as_ref() == b"TD" => {
                    if attribute(&e, "encoding").is_some() {
                        let message = "a TD with its own encoding: angcut reads plain TABLEDATA cells".to_string();
                        self.buffer.clear();
                        return Err(self.fault(format!("table row {}: {message}", self.rows + 1)));
                    }
                    cell = Some(String::new());
                }
                Event::Empty(e) if e.local_name().as_ref() == b"TD" => cells.push(Some(String::new())),
                Event::Text(text) => {
                    if let Some(cell) = cell.as_mut() {
                        let text = text.unescape().map_err(|e| Error::VoTable {
                            path: self.path.clone(),
                            message: format!("table row {}: {e}", self.rows + 1),
                        })?;
                        cell.push_str(&text);
                    }
                }
                Event::CData(text) => {
                    if let Some(cell) = cell.as_mut() {
                        cell.push_str(&String::from_utf8_lossy(&text));
                    }
                }
                Event::End(e) if e.local_name().as_ref() == b"TD" => cells.push(cell.take()),
                Event::End(e) if e.local_name().as_ref() == b"TR" => {
                    self.buffer.clear();
                    if cells.len() != self.columns.len() {
                        return Err(self.fault(format!(
                            "table row {} has {} cells where the table has {} FIELDs",
                            self.rows + 1,
                            cells.len(),
                            self.columns.len()
                        )));
                    }
                    for (index, column) in self.columns.iter().enumerate() {
                        let text = cells[index].as_deref().unwrap_or_default();
                        let builder = builders.0[index].as_mut();
                        if column.kind.is_text() {
                            append_text(builder, Some(text));
                            continue;
                        }
                        // A blank cell is null, but for a variable-length array: the empty
                        // one (as its binary form, a count of 0, is).
                        let blank = text.trim().is_empty() && column.size != Size::Variable;
                        let parsed = if blank {
                            None
                        } else {
                            parse_cell(column.kind, text, &mut elements).map_err(|m| self.row_fault(column, m))?;
                            Some(elements.as_slice())
                        };
                        append_value(builder, column, parsed).map_err(|m| self.row_fault(column, m))?;
                    }
                    self.rows += 1;
                    read += 1;
                }
                Event::End(e) if e.local_name().as_ref() == b"TABLEDATA" => {
                    self.done = true;
                    break;
                }
                Event::Eof => {
                    self.buffer.clear();
                    return Err(self.fault("the file ends inside TABLEDATA (is it truncated?)".into()));
                }
                _ => {}
            }
            self.buffer.clear();
        }
        self.buffer.clear();
        Ok(read)
    }

    /// Makes at least `n` decoded bytes available from the stream; false if it ended before
    /// (with fewer).
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        while self.decoded.len() - self.start < n {
            if self.stream_ended {
                return Ok(false);
            }
            if self.start > 0 {
                self.decoded.drain(..self.start);
                self.start = 0;
            }
            let reader = self.xml.get_mut();
            let buffer = reader.fill_buf().map_err(|source| Error::Io { path: self.path.clone(), source })?;
            if buffer.is_empty() {
                return Err(self.fault("the file ends inside a binary STREAM (is it truncated?)".into()));
            }
            let (text, ended) = match memchr_lt(buffer) {
                Some(end) => (&buffer[..end], true),
                None => (buffer, false),
            };
            push_without_whitespace(text, &mut self.pending);
            let taken = text.len();
            reader.consume(taken);
            self.stream_ended = ended;
            // Whole groups of four decode now; the rest waits for the next chunk (or the end).
            let whole = if ended { self.pending.len() } else { self.pending.len() / 4 * 4 };
            if whole > 0 {
                let group = &self.pending[..whole];
                base64::engine::general_purpose::STANDARD.decode_vec(group, &mut self.decoded).map_err(|e| {
                    Error::VoTable { path: self.path.clone(), message: format!("the binary STREAM is not base64: {e}") }
                })?;
                self.pending.drain(..whole);
            }
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let slice = &self.decoded[self.start..self.start + n];
        self.start += n;
        slice
    }

    /// Reads up to a batch of BINARY or BINARY2 rows into `builders`; the count read.
    fn read_binary(&mut self, builders: &mut Builders) -> Result<usize, Error> {
        let flags = if self.serialisation == Serialisation::Binary2 { self.columns.len().div_ceil(8) } else { 0 };
        let mut elements = Vec::new();
        // One row's null flags, one value's bytes and text, reused: no allocation per value.
        let (mut null_flags, mut raw, mut text) = (Vec::new(), Vec::new(), String::new());
        let mut read = 0;
        let columns = std::mem::take(&mut self.columns);
        let result = (|| {
            while read < self.batch_size {
                // A row's first byte decides whether there is another row.
                if !self.fill(1)? {
                    self.finish_stream()?;
                    break;
                }
                null_flags.clear();
                null_flags.extend_from_slice(self.truncated(flags)?);
                for (index, column) in columns.iter().enumerate() {
                    let null = flags > 0 && null_flags[index / 8] & (0x80 >> (index % 8)) != 0;
                    let count = match column.size {
                        Size::Scalar => 1,
                        Size::Fixed(n) => n,
                        Size::Variable => {
                            let count = self.truncated(4)?;
                            u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize
                        }
                    };
                    let bytes = if column.kind == Kind::Bit { count.div_ceil(8) } else { count * column.kind.width() };
                    let value = self.truncated(bytes)?;
                    let builder = builders.0[index].as_mut();
                    if column.size == Size::Scalar && !null && append_binary_scalar(builder, column, value) {
                        continue;
                    }
                    raw.clear();
                    raw.extend_from_slice(value);
                    if column.kind.is_text() {
                        decode_text(column.kind, &raw, &mut text);
                        append_text(builder, (!null).then_some(text.as_str()));
                        continue;
                    }
                    if null {
                        append_value(builder, column, None).map_err(|m| self.row_fault(column, m))?;
                        continue;
                    }
                    decode_elements(column.kind, &raw, count, &mut elements);
                    // A BINARY value with every element null (a NaN float, a null integer) is
                    // the value null when it is a scalar: append_value sees its single element.
                    append_value(builder, column, Some(&elements)).map_err(|m| self.row_fault(column, m))?;
                }
                self.rows += 1;
                read += 1;
            }
            Ok(read)
        })();
        self.columns = columns;
        result
    }

    /// The next `n` decoded bytes, or an error saying the stream ends inside a row.
    fn truncated(&mut self, n: usize) -> Result<&[u8], Error> {
        if !self.fill(n)? {
            return Err(self.fault(format!("the binary STREAM ends inside table row {}", self.rows + 1)));
        }
        Ok(self.take(n))
    }

    /// After a stream's last row: its closing tags, checked.
    fn finish_stream(&mut self) -> Result<(), Error> {
        if self.decoded.len() > self.start {
            return Err(self.fault(format!("the binary STREAM ends inside table row {}", self.rows + 1)));
        }
        self.done = true;
        Ok(())
    }
}

/// Where a `<` stands in `bytes`.
fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'<', bytes)
}

/// Appends `text` to `out` without its ASCII whitespace: a line at a time, copied whole when it
/// has none (a base64 stream's lines, 76 characters as writers break them), else byte by byte.
fn push_without_whitespace(text: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text).chain([text.len()]) {
        let line = &text[start..end];
        // Every whitespace byte is at most a space; base64's characters are all above it.
        if line.iter().fold(true, |clean, &b| clean & (b > b' ')) {
            out.extend_from_slice(line);
        } else {
            out.extend(line.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        }
        start = (end + 1).min(text.len());
    }
}

/// A binary char or unicodeChar value as text, into `out`: up to its first NUL (the padding), as
/// astropy reads it.
fn decode_text(kind: Kind, raw: &[u8], out: &mut String) {
    out.clear();
    if kind == Kind::UnicodeChar {
        let units = raw.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).take_while(|&u| u != 0);
        out.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
    } else {
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        out.push_str(&String::from_utf8_lossy(&raw[..end]));
    }
}

/// A binary value's `count` elements (big-endian) as scalars.
fn decode_elements(kind: Kind, raw: &[u8], count: usize, out: &mut Vec<Scalar>) {
    out.clear();
    match kind {
        // A single bit is any bit of its byte: the standard packs it first (0x80, as STIL
        // writes), astropy writes 0x08; both read it back so.
        Kind::Bit if count == 1 && raw.len() == 1 => out.push(Scalar::Bool(raw[0] != 0)),
        Kind::Bit => {
            out.extend((0..count).map(|i| Scalar::Bool(raw[i / 8] & (0x80 >> (i % 8)) != 0)));
        }
        Kind::Boolean => out.extend(raw.iter().map(|&b| match b {
            b'T' | b't' | b'1' => Scalar::Bool(true),
            b'F' | b'f' | b'0' => Scalar::Bool(false),
            _ => Scalar::Null,
        })),
        Kind::UByte => out.extend(raw.iter().map(|&b| Scalar::Int(b as i64))),
        Kind::Short => out.extend(raw.chunks_exact(2).map(|c| Scalar::Int(i16::from_be_bytes([c[0], c[1]]) as i64))),
        Kind::Int => out.extend(
            raw.chunks_exact(4).map(|c| Scalar::Int(i32::from_be_bytes(c.try_into().unwrap_or_default()) as i64)),
        ),
        Kind::Long => {
            out.extend(raw.chunks_exact(8).map(|c| Scalar::Int(i64::from_be_bytes(c.try_into().unwrap_or_default()))))
        }
        Kind::Float | Kind::FloatComplex => out.extend(
            raw.chunks_exact(4).map(|c| Scalar::Float(f32::from_be_bytes(c.try_into().unwrap_or_default()) as f64)),
        ),
        Kind::Double | Kind::DoubleComplex => {
            out.extend(raw.chunks_exact(8).map(|c| Scalar::Float(f64::from_be_bytes(c.try_into().unwrap_or_default()))))
        }
        Kind::Char | Kind::UnicodeChar => {}
    }
}

impl BatchSource for VoTableSource {
    fn path(&self) -> &Path {
        &self.path
    }

    /// The file's other tables, read again from its start (only on the error path: a message
    /// naming the table that has the coordinates).
    fn table_kind(&self) -> &'static str {
        "TABLE"
    }

    fn other_tables(&self) -> Vec<OtherTable> {
        match self.reopen.as_ref().map(|reopen| reopen()) {
            Some(Ok(bytes)) => other_tables(quick_xml::Reader::from_reader(bytes), self.table),
            _ => Vec::new(),
        }
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        if self.done {
            return None;
        }
        let mut builders = Builders::new(&self.columns, self.batch_size);
        let read = match self.serialisation {
            Serialisation::TableData => self.read_tabledata(&mut builders),
            Serialisation::Binary | Serialisation::Binary2 => self.read_binary(&mut builders),
        };
        match read {
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
            Ok(0) => None,
            Ok(_) => {
                Some(builders.finish(&self.schema).map_err(|source| Error::Arrow { path: self.path.clone(), source }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::compute::concat_batches;
    use arrow::datatypes::{Float64Type, Int16Type, Int32Type, Int64Type};

    fn open_text(text: &str, table: Option<&HduChoice>, batch_size: usize) -> Result<VoTableSource, Error> {
        let bytes: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        open_votable(Path::new("t.vot"), bytes, None, table, batch_size)
    }

    /// Every row of `source`, as one batch.
    fn read_all(mut source: VoTableSource) -> Result<RecordBatch, Error> {
        let schema = source.schema();
        let mut batches = Vec::new();
        while let Some(batch) = source.next_batch() {
            batches.push(batch?);
        }
        Ok(concat_batches(&schema, &batches).unwrap())
    }

    /// A fixture file read through a buffer of `capacity` bytes, `batch_size` rows a batch.
    fn read_fixture(name: &str, capacity: usize, batch_size: usize) -> RecordBatch {
        let file = std::fs::File::open(format!("../../fixtures/{name}")).unwrap();
        let bytes: Box<dyn BufRead + Send> = Box::new(std::io::BufReader::with_capacity(capacity, file));
        read_all(open_votable(Path::new(name), bytes, None, None, batch_size).unwrap()).unwrap()
    }

    fn table(fields: &str, rows: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<VOTABLE version=\"1.4\"><RESOURCE><TABLE>{fields}<DATA><TABLEDATA>{rows}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
        )
    }

    #[test]
    fn arraysizes_are_element_counts() {
        assert_eq!(Size::parse(None), Ok(Size::Scalar));
        assert_eq!(Size::parse(Some(" ")), Ok(Size::Scalar));
        assert_eq!(Size::parse(Some("3")), Ok(Size::Fixed(3)));
        assert_eq!(Size::parse(Some("2x3")), Ok(Size::Fixed(6)));
        assert_eq!(Size::parse(Some("*")), Ok(Size::Variable));
        assert_eq!(Size::parse(Some("10*")), Ok(Size::Variable));
        assert_eq!(Size::parse(Some("3x*")), Ok(Size::Variable));
        assert!(Size::parse(Some("x")).is_err());
        assert!(Size::parse(Some("3y")).is_err());
        assert!(Size::parse(Some("99999999999x99999999999")).is_err());
    }

    #[test]
    fn integers_are_decimal_or_hexadecimal_bit_patterns() {
        assert_eq!(parse_integer("42"), Ok(42));
        assert_eq!(parse_integer(" -7 "), Ok(-7));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer("0x1F"), Ok(31));
        assert_eq!(parse_integer("0xFFFFFFFFFFFFFFFF"), Ok(-1));
        assert_eq!(parse_integer("1.5"), Err(()));
        assert_eq!(parse_integer(""), Err(()));
    }

    #[test]
    fn the_three_serialisations_give_the_same_columns_in_any_batches_and_buffers() {
        let reference = read_fixture("votable_tabledata.vot", 1 << 16, 1000);
        assert_eq!(reference.num_rows(), 60);
        assert_eq!(reference.num_columns(), 15);
        for name in ["votable_tabledata.vot", "votable_binary.vot", "votable_binary2.vot"] {
            // A 7-byte buffer splits base64 groups, tags and entities everywhere.
            for (capacity, batch) in [(1 << 16, 1000), (7, 7), (64, 1)] {
                let batch = read_fixture(name, capacity, batch);
                assert_eq!(batch.schema(), reference.schema(), "{name}");
                for (field, (got, want)) in
                    reference.schema().fields().iter().zip(batch.columns().iter().zip(reference.columns()))
                {
                    assert_eq!(got, want, "{name} through {capacity} bytes: column {}", field.name());
                }
            }
        }
        let schema = reference.schema();
        let ra = schema.field_with_name("ra").unwrap();
        assert_eq!(ra.metadata().get(UNIT_KEY).map(String::as_str), Some("deg"));
        assert_eq!(ra.metadata().get(UCD_KEY).map(String::as_str), Some("pos.eq.ra;meta.main"));
        assert_eq!(
            ra.metadata().get(DESCRIPTION_KEY).map(String::as_str),
            Some("Right ascension (ICRS) & <epoch J2000>")
        );
        let column = |name: &str| reference.column_by_name(name).unwrap().clone();
        // NaN every 17th row is null; VALUES null is null; empty strings stay strings.
        assert_eq!(column("mag").null_count(), 4);
        assert!(column("mag").is_null(17));
        assert_eq!(column("nobs").as_primitive::<Int16Type>().null_count(), 9);
        assert_eq!(column("i32").as_primitive::<Int32Type>().null_count(), 6);
        assert_eq!(column("good").null_count(), 5);
        let names = column("name");
        assert_eq!(names.as_string::<i32>().value(0), "");
        assert_eq!(names.as_string::<i32>().value(1), "obj <1> &");
        assert_eq!(column("label").as_string::<i32>().value(3), "é3✓");
        assert_eq!(
            column("vec").data_type(),
            &DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float64, true)), 3)
        );
        assert_eq!(column("mat").as_fixed_size_list().value_length(), 6);
        assert_eq!(column("cplx").as_fixed_size_list().value_length(), 2);
        let spectrum = column("spectrum");
        let lengths: Vec<usize> = (0..8).map(|i| spectrum.as_list::<i32>().value(i).len()).collect();
        assert_eq!(lengths, [0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn tabledata_cells_as_astropy_reads_them() {
        let fields = r#"<FIELD name="ra" datatype="double"/><FIELD name="n" datatype="int"><VALUES null="-1"/></FIELD>
            <FIELD name="b" datatype="boolean"/><FIELD name="s" datatype="char" arraysize="*"/><FIELD name="v" datatype="short" arraysize="2"/>"#;
        let rows = "<TR><TD>1.5</TD><TD>0x10</TD><TD>T</TD><TD>a&amp;b</TD><TD>1 2</TD></TR>\n\
            <TR><TD>NaN</TD><TD>-1</TD><TD>?</TD><TD><![CDATA[<x>]]></TD><TD/></TR>\n\
            <TR><TD>-Inf</TD><TD></TD><TD>false</TD><TD/><TD> 3  4 </TD></TR>";
        let batch = read_all(open_text(&table(fields, rows), None, 2).unwrap()).unwrap();
        let ra = batch.column(0).as_primitive::<Float64Type>();
        assert_eq!((ra.value(0), ra.is_null(1), ra.value(2)), (1.5, true, f64::NEG_INFINITY));
        let n = batch.column(1).as_primitive::<Int32Type>();
        assert_eq!((n.value(0), n.is_null(1), n.is_null(2)), (16, true, true));
        let b = batch.column(2).as_boolean();
        assert_eq!((b.value(0), b.is_null(1), b.value(2)), (true, true, false));
        let s = batch.column(3).as_string::<i32>();
        assert_eq!((s.value(0), s.value(1), s.value(2)), ("a&b", "<x>", ""));
        let v = batch.column(4).as_fixed_size_list();
        assert_eq!(v.value(0).as_primitive::<Int16Type>().values().to_vec(), [1, 2]);
        assert!(v.is_null(1));
        assert_eq!(v.value(2).as_primitive::<Int16Type>().values().to_vec(), [3, 4]);
    }

    #[test]
    fn a_bad_cell_is_named_by_row_and_column() {
        let fields = r#"<FIELD name="ra" datatype="double"/><FIELD name="q" datatype="unsignedByte"/>"#;
        let message =
            |rows: &str| read_all(open_text(&table(fields, rows), None, 10).unwrap()).unwrap_err().to_string();
        let ok = "<TR><TD>1</TD><TD>2</TD></TR>";
        assert_eq!(
            message(&format!("{ok}<TR><TD>1.2.3</TD><TD>2</TD></TR>")),
            "t.vot: table row 2, column 'ra': '1.2.3' is not a number"
        );
        assert!(
            message(&format!("{ok}<TR><TD>1</TD><TD>300</TD></TR>")).contains("table row 2, column 'q': 300 is out of")
        );
        assert_eq!(
            message(&format!("{ok}{ok}<TR><TD>1</TD></TR>")),
            "t.vot: table row 3 has 1 cells where the table has 2 FIELDs"
        );
        let cut = table(fields, ok);
        let truncated = &cut[..cut.find("</TABLEDATA>").unwrap()];
        let error = read_all(open_text(truncated, None, 10).unwrap()).unwrap_err().to_string();
        assert!(error.contains("ends inside TABLEDATA"), "{error}");
    }

    #[test]
    fn a_truncated_binary_stream_names_the_row() {
        let text = std::fs::read_to_string("../../fixtures/votable_binary2.vot").unwrap();
        let start = text.find("<STREAM").unwrap();
        let start = start + text[start..].find('>').unwrap() + 1;
        let stream_end = text.find("</STREAM>").unwrap();
        // Half the stream's base64 (whole groups of four), then the closing tags: the stream
        // ends inside a row.
        let base64: String = text[start..stream_end].chars().filter(|c| !c.is_whitespace()).collect();
        let half = &base64[..base64.len() / 2 / 4 * 4];
        let broken = format!("{}{half}{}", &text[..start], &text[stream_end..]);
        let error = read_all(open_text(&broken, None, 1000).unwrap()).unwrap_err().to_string();
        assert!(error.starts_with("t.vot: the binary STREAM ends inside table row "), "{error}");
        let garbage = format!("{}{}!!!!{}", &text[..start], &base64[..32], &text[stream_end..]);
        let error = read_all(open_text(&garbage, None, 1000).unwrap()).unwrap_err().to_string();
        assert!(error.contains("is not base64"), "{error}");
    }

    /// Whitespace anywhere in a stream is dropped, whole lines or not, and nothing else is.
    #[test]
    fn stream_whitespace_is_dropped_line_by_line() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"QUJD\nREVG\n", b"QUJDREVG"),
            (b"QU JD\r\n\tREVG", b"QUJDREVG"),
            (b"\n\n  \n", b""),
            (b"AAAA", b"AAAA"),
            (b"A\x01B\nC", b"A\x01BC"),
        ];
        for (text, expected) in cases {
            let mut out = b"x".to_vec();
            push_without_whitespace(text, &mut out);
            assert_eq!(out[1..], *expected, "{:?}", String::from_utf8_lossy(text));
        }
    }

    /// The INFOs and PARAMs around the chosen table (the VOTABLE's, its RESOURCEs', its own,
    /// the innermost winning) become the schema's metadata; those of other resources and of
    /// FIELDs do not.
    #[test]
    fn infos_and_params_around_the_table_are_its_metadata() {
        let text = r#"<VOTABLE version="1.4"><INFO name="QUERY_STATUS" value="OK"/><INFO name="release" value="outer"/>
<RESOURCE><INFO name="first" value="not ours"/><TABLE name="a"><FIELD name="x" datatype="int"/><DATA><TABLEDATA/></DATA></TABLE></RESOURCE>
<RESOURCE type="results"><INFO name="release" value="DR3">as of 2026</INFO>
<TABLE name="b"><PARAM name="epoch" datatype="double" value="2016.0" unit="yr"><DESCRIPTION>the epoch</DESCRIPTION></PARAM>
<FIELD name="ra" datatype="double"><VALUES><OPTION name="o" value="1"/></VALUES></FIELD><PARAM name="unnamed_value"/>
<DATA><TABLEDATA><TR><TD>1.5</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"#;
        let source = open_text(text, Some(&HduChoice::Index(2)), 10).unwrap();
        let metadata = source.schema().metadata().clone();
        let expected = [("QUERY_STATUS", "OK"), ("release", "DR3"), ("epoch", "2016.0")];
        let expected: HashMap<String, String> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(metadata, expected);
        assert_eq!(read_all(source).unwrap().num_rows(), 1);
        // The first table gets the VOTABLE's INFOs and its own resource's.
        let first = open_text(text, None, 10).unwrap().schema().metadata().clone();
        assert_eq!(first.get("release").map(String::as_str), Some("outer"));
        assert_eq!(first.get("first").map(String::as_str), Some("not ours"));
    }

    #[test]
    fn a_table_is_chosen_by_number_name_or_id() {
        let two = std::fs::read_to_string("../../fixtures/two_tables.vot").unwrap();
        let names = |choice: Option<&HduChoice>| -> Vec<String> {
            open_text(&two, choice, 10).unwrap().schema().fields().iter().map(|f| f.name().clone()).collect()
        };
        assert_eq!(names(None), ["night", "seeing"]);
        assert_eq!(names(Some(&HduChoice::Index(1))), ["night", "seeing"]);
        assert_eq!(names(Some(&HduChoice::Index(2))), ["ra", "dec", "source_id"]);
        assert_eq!(names(Some(&HduChoice::Name("sources".into()))), ["ra", "dec", "source_id"]);
        let second = read_all(open_text(&two, Some(&HduChoice::Index(2)), 3).unwrap()).unwrap();
        let objects = read_fixture("votable_binary2.vot", 1 << 16, 100);
        assert_eq!(second.num_rows(), 10);
        assert_eq!(
            second.column(2).as_primitive::<Int64Type>(),
            &objects.column(2).as_primitive::<Int64Type>().slice(0, 10)
        );
        let error = |choice: HduChoice| open_text(&two, Some(&choice), 10).err().unwrap().to_string();
        assert_eq!(error(HduChoice::Index(3)), "t.vot: no TABLE 3 in this VOTable; its tables are: log, sources");
        assert_eq!(
            error(HduChoice::Name("x".into())),
            "t.vot: no TABLE 'x' in this VOTable; its tables are: log, sources"
        );
        assert!(error(HduChoice::Index(0)).contains("numbered from 1"));
    }

    #[test]
    fn the_other_tables_are_listed_with_their_fields_and_their_data_skipped() {
        let two = std::fs::read_to_string("../../fixtures/two_tables.vot").unwrap();
        // A third table: empty, and one with unnamed fields and BINARY2 data.
        let binary = std::fs::read_to_string("../../fixtures/votable_binary2.vot").unwrap();
        let third = &binary[binary.find("<TABLE").unwrap()..binary.rfind("</TABLE>").unwrap() + 8];
        let third = third.replacen("<TABLE", "<TABLE ID=\"objects\"", 1).replacen("name=\"ra\"", "", 1);
        let last = two.rfind("</RESOURCE>").unwrap();
        let text = format!("{}<TABLE/>{third}{}", &two[..last], &two[last..]);
        let tables = |except: usize| {
            let bytes: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.clone().into_bytes()));
            other_tables(quick_xml::Reader::from_reader(bytes), except)
        };
        let found = tables(1);
        let summary: Vec<(usize, Option<&str>, usize)> =
            found.iter().map(|t| (t.hdu, t.name.as_deref(), t.columns.len())).collect();
        assert_eq!(summary, [(2, Some("sources"), 3), (3, Some("#3"), 0), (4, Some("objects"), 15)]);
        assert_eq!(found[0].columns, ["ra", "dec", "source_id"]);
        // The FIELD without a name is named by its ID, as when it is read.
        assert_eq!(&found[2].columns[..2], ["ra", "dec"]);
        assert_eq!(tables(2).iter().map(|t| t.hdu).collect::<Vec<_>>(), [1, 3, 4]);
        // Text that stops being XML gives the tables found before.
        let broken = format!("{}<<<", &text[..text.find("<TABLE/>").unwrap()]);
        let bytes: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(broken.into_bytes()));
        assert_eq!(other_tables(quick_xml::Reader::from_reader(bytes), 0).len(), 2);
    }

    #[test]
    fn what_is_not_read_is_refused_by_name() {
        let refused = |fields: &str, data: &str| {
            let text = format!("<VOTABLE><RESOURCE><TABLE>{fields}<DATA>{data}</DATA></TABLE></RESOURCE></VOTABLE>");
            open_text(&text, None, 10).err().unwrap().to_string()
        };
        let ra = r#"<FIELD name="ra" datatype="double"/>"#;
        assert!(refused(ra, "<FITS><STREAM href=\"x.fits\"/></FITS>").contains("is a FITS file"));
        assert!(refused(ra, "<BINARY2><STREAM href=\"http://x\"/></BINARY2>").contains("external stream"));
        assert!(refused(ra, "<BINARY><STREAM encoding=\"gzip\">x</STREAM></BINARY>").contains("encoded as gzip"));
        assert!(
            refused(r#"<FIELD name="s" datatype="char" arraysize="8x*"/>"#, "<TABLEDATA/>")
                .contains("array of strings")
        );
        assert!(refused(r#"<FIELD name="s" datatype="string"/>"#, "<TABLEDATA/>").contains("datatype 'string'"));
        assert!(refused("", "<TABLEDATA/>").contains("has no FIELD"));
        let error = open_text("<VOTABLE><RESOURCE/></VOTABLE>", None, 10).err().unwrap().to_string();
        assert_eq!(error, "t.vot: the VOTable has no TABLE with data");
        let error = open_text("<html></html>", None, 10).err().unwrap().to_string();
        assert_eq!(error, "t.vot: no <VOTABLE> element: not a VOTable");
        // An empty table is a table of no rows.
        let empty = open_text(&table(ra, ""), None, 10).unwrap();
        assert_eq!(empty.schema().fields().len(), 1);
        let mut empty = open_text(
            &format!("<VOTABLE><RESOURCE><TABLE>{ra}<DATA><TABLEDATA/></DATA></TABLE></RESOURCE></VOTABLE>"),
            None,
            10,
        )
        .unwrap();
        assert!(empty.next_batch().is_none());
    }
}
